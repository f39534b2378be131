package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/product-service-lab/product-service/app/internal/httpapi"
	"github.com/product-service-lab/product-service/app/internal/telemetry"
)

// headSampledAPI is the router with tracing as serve wires it (a provider of NewSDKProvider and
// the head sampler of the same sampler), its spans recorded and its log lines in logs.
type headSampledAPI struct {
	router http.Handler
	spans  *tracetest.SpanRecorder
	logs   *bytes.Buffer
}

func newHeadSampledAPI(t *testing.T, sampler sdktrace.Sampler) *headSampledAPI {
	t.Helper()
	logs := &bytes.Buffer{}
	log, _, err := telemetry.NewLogger(logs, telemetry.LogOptions{Level: "info", Env: "test"})
	if err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewSpanRecorder()
	tp := telemetry.NewSDKProvider(spans, sampler, telemetry.TracingOptions{Env: "test"})
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	reg := prometheus.NewRegistry()
	store := &fakeStore{}
	router := httpapi.New(httpapi.Deps{
		Store: httpapi.Uncached(store), Cache: &fakeCache{store: store}, Gatherer: reg, Metrics: httpapi.NewMetrics(reg), Log: log,
		Tracer: tp, Sampler: telemetry.NewHeadSampler(sampler),
	}, httpapi.Options{MaxBodyBytes: 4 << 10, CacheMaxAge: 5 * time.Second, SlowRequest: time.Second})
	return &headSampledAPI{router: router, spans: spans, logs: logs}
}

// get serves GET /api/v1/products/1 with traceparent (when set) and returns X-Trace-ID and the
// access line's trace_id and span_id.
func (a *headSampledAPI) get(t *testing.T, traceparent string) (header, logTrace, logSpan string) {
	t.Helper()
	a.logs.Reset()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/products/1", nil)
	req.Header.Set(httpapi.UserIDHeader, "user-42")
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
		req.Header.Set("tracestate", "vendor=1")
	}
	w := httptest.NewRecorder()
	a.router.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	var line struct {
		TraceID string `json:"trace_id"`
		SpanID  string `json:"span_id"`
	}
	if err := json.Unmarshal(a.logs.Bytes(), &line); err != nil {
		t.Fatalf("access line %q: %v", a.logs.String(), err)
	}
	return w.Header().Get(httpapi.TraceIDHeader), line.TraceID, line.SpanID
}

const (
	incomingTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	incomingSpan  = "00f067aa0ba902b7"
)

// TestHeadSampling checks what a request gets whether its trace is sampled or not: an unsampled
// one starts no span but keeps its trace context (the incoming trace id, else a new one, in
// X-Trace-ID and in its log line with a span id of its own); a sampled one is traced as otelgin
// traces it, under the incoming parent or with the trace id the head decision was made for.
func TestHeadSampling(t *testing.T) {
	tests := []struct {
		name        string
		sampler     sdktrace.Sampler
		traceparent string
		wantSpan    bool
		wantTrace   string // "" is a new trace id
	}{
		{"ratio 0, no parent: unsampled", sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0)), "", false, ""},
		{"ratio 0, sampled parent: sampled", sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0)), "00-" + incomingTrace + "-" + incomingSpan + "-01", true, incomingTrace},
		{"ratio 1, unsampled parent: unsampled", sdktrace.ParentBased(sdktrace.TraceIDRatioBased(1)), "00-" + incomingTrace + "-" + incomingSpan + "-00", false, incomingTrace},
		{"ratio 1, no parent: sampled", sdktrace.ParentBased(sdktrace.TraceIDRatioBased(1)), "", true, ""},
		{"always off, sampled parent: unsampled", sdktrace.NeverSample(), "00-" + incomingTrace + "-" + incomingSpan + "-01", false, incomingTrace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newHeadSampledAPI(t, tt.sampler)
			header, logTrace, logSpan := a.get(t, tt.traceparent)
			if !trace.TraceID(mustTraceID(t, header)).IsValid() || header != logTrace {
				t.Fatalf("X-Trace-ID %q, log trace_id %q: want one valid trace id", header, logTrace)
			}
			if tt.wantTrace != "" && header != tt.wantTrace {
				t.Errorf("X-Trace-ID %s, want the incoming %s", header, tt.wantTrace)
			}
			if len(logSpan) != 16 || logSpan == incomingSpan {
				t.Errorf("log span_id %q: want a span id of the request's own", logSpan)
			}
			ended := a.spans.Ended()
			if !tt.wantSpan {
				if len(ended) != 0 {
					t.Fatalf("%d spans recorded, want none", len(ended))
				}
				return
			}
			if len(ended) != 1 {
				t.Fatalf("%d spans recorded, want the server span", len(ended))
			}
			sc := ended[0].SpanContext()
			if sc.TraceID().String() != header || sc.SpanID().String() != logSpan || !sc.IsSampled() {
				t.Errorf("server span %s/%s sampled %v, want the request's %s/%s, sampled", sc.TraceID(), sc.SpanID(), sc.IsSampled(), header, logSpan)
			}
			if tt.traceparent != "" && ended[0].Parent().SpanID().String() != incomingSpan {
				t.Errorf("server span's parent %s, want the incoming %s", ended[0].Parent().SpanID(), incomingSpan)
			}
		})
	}
}

// TestHeadSamplingAgreesWithProvider checks, request by request at a ratio of one half, that a
// request is traced exactly when the provider's sampler samples its trace id.
func TestHeadSamplingAgreesWithProvider(t *testing.T) {
	ratio := sdktrace.TraceIDRatioBased(0.5)
	a := newHeadSampledAPI(t, sdktrace.ParentBased(ratio))
	sampled := 0
	for i := range 200 {
		before := len(a.spans.Ended())
		header, _, _ := a.get(t, "")
		traced := len(a.spans.Ended()) > before
		want := ratio.ShouldSample(sdktrace.SamplingParameters{TraceID: mustTraceID(t, header)}).Decision == sdktrace.RecordAndSample
		if traced != want {
			t.Fatalf("request %d, trace %s: traced %v, the sampler says %v", i, header, traced, want)
		}
		if traced {
			sampled++
		}
	}
	if sampled == 0 || sampled == 200 {
		t.Errorf("%d of 200 requests sampled at one half", sampled)
	}
}

// mustTraceID parses a trace id in hex.
func mustTraceID(t *testing.T, s string) trace.TraceID {
	t.Helper()
	id, err := trace.TraceIDFromHex(s)
	if err != nil {
		t.Fatalf("trace id %q: %v", s, err)
	}
	return id
}

// TestAccessLineFields checks that the access line of a product read, written directly by the
// service's logger, has every field docs/telemetry.md documents (error only on failure), sampled
// or not.
func TestAccessLineFields(t *testing.T) {
	documented := []string{"app", "env", "level", "msg", "ts", "request_id", "trace_id", "span_id", "method", "route",
		"path", "status", "latency", "bytes", "client_ip", "user_agent", "cache", "preset", "user_id", "sample_rate"}
	for _, ratio := range []float64{0, 1} {
		a := newHeadSampledAPI(t, sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)))
		a.get(t, "")
		var line map[string]any
		if err := json.Unmarshal(a.logs.Bytes(), &line); err != nil {
			t.Fatalf("access line %q: %v", a.logs.String(), err)
		}
		for _, k := range documented {
			if _, ok := line[k]; !ok {
				t.Errorf("ratio %v: access line %s has no %q", ratio, a.logs.String(), k)
			}
		}
		if line["msg"] != "request" || line["route"] != "/api/v1/products/:id" || line["status"] != 200.0 || line["user_id"] != "user-42" {
			t.Errorf("ratio %v: access line %s", ratio, a.logs.String())
		}
	}
}
