package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/trace"
)

// sampledSpan and unsampledSpan are the span contexts of a sampled and an unsampled request.
var (
	sampledSpan = trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	unsampledSpan = trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10},
		SpanID:  trace.SpanID{0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8},
	})
)

// requestLine is an ordinary access line of a Redis hit.
func requestLine() RequestLine {
	return RequestLine{
		RequestID: "0b6f1a34-8f3e-4d5c-9a51-3f7e2c1d9b20", Method: "GET", Route: "/api/v1/products/:id",
		Path: "/api/v1/products/7", Status: 200, Latency: 0.125, Bytes: 512, ClientIP: "192.0.2.1",
		UserAgent: "wrk/4.2", SampleRate: 1, Cache: "HIT-REDIS", Preset: "protected",
	}
}

// TestRequestLineMatchesEntry checks, byte for byte, that an access line encoded directly is the
// line the formatter writes for a logrus entry of the same fields, level, time and context
// (through the trace hook): the fields documented in docs/telemetry.md, every optional one present
// or not, escaping, and trace ids of sampled and unsampled spans.
func TestRequestLineMatchesEntry(t *testing.T) {
	all := requestLine()
	all.UserID, all.Shed, all.Error = "user-42", "rate_limited", `load product 7: "boom" <&>`
	escaped := requestLine()
	escaped.Path, escaped.UserAgent, escaped.Cache = "/api/v1/products/\"7\"\\x", "Mozilla/5.0 (Ünïcode) \u2028 <b>", ""
	bare := RequestLine{Method: "GET", Route: "unmatched", Path: "/", Status: 404, SampleRate: 1}
	slow := requestLine()
	slow.Latency = 1234.567
	tiny := requestLine()
	tiny.Latency = 0
	huge := requestLine()
	huge.Latency = math.MaxFloat64
	tests := []struct {
		name  string
		line  RequestLine
		level logrus.Level
		span  trace.SpanContext
	}{
		{"hit, no tracing", requestLine(), logrus.InfoLevel, trace.SpanContext{}},
		{"hit, sampled", requestLine(), logrus.InfoLevel, sampledSpan},
		{"hit, unsampled", requestLine(), logrus.InfoLevel, unsampledSpan},
		{"every optional field", all, logrus.ErrorLevel, sampledSpan},
		{"escaping", escaped, logrus.WarnLevel, unsampledSpan},
		{"no optional field", bare, logrus.WarnLevel, trace.SpanContext{}},
		{"slow", slow, logrus.WarnLevel, trace.SpanContext{}},
		{"zero latency", tiny, logrus.InfoLevel, trace.SpanContext{}},
		{"huge latency", huge, logrus.InfoLevel, trace.SpanContext{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := entry(RequestMessage, tt.line.Fields())
			e.Level = tt.level
			e.Context = trace.ContextWithSpanContext(context.Background(), tt.span)
			if err := (traceHook{}).Fire(e); err != nil {
				t.Fatal(err)
			}
			want, err := jsonFormatter{env: "test"}.Format(e)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			appendRequest(&got, "test", e.Time, tt.level, tt.span, &tt.line)
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("line (-entry +direct):\n%s", diff)
			}
		})
	}
}

// TestLogRequest checks both ways LogRequest writes: directly through a logger of NewLogger, and
// through an ordinary entry for a logger with another hook, formatter or output, each line with
// every documented field and the trace ids of the request's span.
func TestLogRequest(t *testing.T) {
	ownKeys := []string{"app", "env", "ts"} // the service's formatter's: logrus's has "time" and no app
	documented := []string{"level", "msg", "request_id", "trace_id", "span_id", "method", "route",
		"path", "status", "latency", "bytes", "client_ip", "user_agent", "cache", "preset", "user_id", "sample_rate", "error"}
	tests := []struct {
		name    string
		setup   func(*logrus.Logger, *bytes.Buffer)
		ownKeys bool
	}{
		{"NewLogger", func(*logrus.Logger, *bytes.Buffer) {}, true},
		{"another hook", func(l *logrus.Logger, _ *bytes.Buffer) { l.AddHook(nopHook{}) }, true},
		{"another output", func(l *logrus.Logger, b *bytes.Buffer) { l.SetOutput(b) }, true},
		{"logrus's formatter", func(l *logrus.Logger, _ *bytes.Buffer) { l.SetFormatter(&logrus.JSONFormatter{}) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log, out, err := NewLogger(&buf, LogOptions{Level: "info", Env: "test"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = out.Close() })
			tt.setup(log, &buf)
			line := requestLine()
			line.UserID, line.Error = "user-42", "boom"
			LogRequest(trace.ContextWithSpanContext(context.Background(), unsampledSpan), log, logrus.WarnLevel, &line)
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("line %q: %v", buf.String(), err)
			}
			keys := documented
			if tt.ownKeys {
				keys = append(keys, ownKeys...)
			}
			for _, k := range keys {
				if _, ok := got[k]; !ok {
					t.Errorf("line %s has no %q", buf.String(), k)
				}
			}
			if got["trace_id"] != unsampledSpan.TraceID().String() || got["level"] != "warning" || got["msg"] != RequestMessage {
				t.Errorf("line %s: want trace_id %s, level warning, msg request", buf.String(), unsampledSpan.TraceID())
			}
		})
	}
}

// nopHook is a hook that does nothing.
type nopHook struct{}

func (nopHook) Levels() []logrus.Level { return logrus.AllLevels }

func (nopHook) Fire(*logrus.Entry) error { return nil }

// BenchmarkLogRequest compares an access line written directly with the same line through a
// logrus entry (the logger's hooks, formatter and Output, writing to io.Discard).
func BenchmarkLogRequest(b *testing.B) {
	for _, direct := range []bool{true, false} {
		name := "entry"
		if direct {
			name = "direct"
		}
		b.Run(name, func(b *testing.B) {
			log, out, err := NewLogger(discard{}, LogOptions{Level: "info", Env: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = out.Close() })
			if !direct {
				log.AddHook(nopHook{})
			}
			ctx := trace.ContextWithSpanContext(context.Background(), unsampledSpan)
			line := requestLine()
			b.ReportAllocs()
			for b.Loop() {
				LogRequest(ctx, log, logrus.InfoLevel, &line)
			}
		})
	}
}

// discard is io.Discard as a type of this file's own.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
