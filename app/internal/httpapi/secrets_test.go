package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/product-service-lab/product-service/app/internal/faults"
	"github.com/product-service-lab/product-service/app/internal/httpapi"
	"github.com/product-service-lab/product-service/app/internal/telemetry"
)

// observedAPI is the router wired with the service's real telemetry, every output kept in memory:
// the JSON log lines (telemetry's formatter, masking included), the ended spans (otelgin on, as
// when tracing is enabled) and the Prometheus registry /metrics serves.
type observedAPI struct {
	*fakeAPI
	logs  *bytes.Buffer
	spans *tracetest.SpanRecorder
}

func newObservedAPI(t *testing.T, adminToken string) *observedAPI {
	t.Helper()
	logs := &bytes.Buffer{}
	log, _, err := telemetry.NewLogger(logs, telemetry.LogOptions{Level: "debug", Env: "test"})
	if err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewSpanRecorder()
	tp := telemetry.NewSDKProvider(spans, sdktrace.AlwaysSample(), telemetry.TracingOptions{Env: "test"})
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	reg := prometheus.NewRegistry()
	telemetry.RegisterBuildInfo(reg, telemetry.ReadBuild("test"))
	store := &fakeStore{}
	a := &fakeAPI{store: store, cache: &fakeCache{store: store}, faults: faults.New(reg, log)}
	a.router = httpapi.New(httpapi.Deps{
		Store: httpapi.Uncached(store), Cache: a.cache, Gatherer: reg, Metrics: httpapi.NewMetrics(reg), Tracer: tp, Faults: a.faults, Log: log,
	}, httpapi.Options{AdminToken: adminToken, MaxBodyBytes: 4 << 10, CacheMaxAge: 5 * time.Second, SlowRequest: time.Second})
	return &observedAPI{fakeAPI: a, logs: logs, spans: spans}
}

// traces renders every ended span — name, status, attributes, events, links, resource — as text.
func (a *observedAPI) traces() string {
	var b strings.Builder
	for _, s := range a.spans.Ended() {
		fmt.Fprintf(&b, "span %q status %v %q\n", s.Name(), s.Status().Code, s.Status().Description)
		for _, kv := range s.Attributes() {
			fmt.Fprintf(&b, "  %s=%s\n", kv.Key, kv.Value.Emit())
		}
		for _, e := range s.Events() {
			fmt.Fprintf(&b, "  event %q\n", e.Name)
			for _, kv := range e.Attributes {
				fmt.Fprintf(&b, "    %s=%s\n", kv.Key, kv.Value.Emit())
			}
		}
		for _, l := range s.Links() {
			fmt.Fprintf(&b, "  link %v\n", l.Attributes)
		}
		for _, kv := range s.Resource().Attributes() {
			fmt.Fprintf(&b, "  resource %s=%s\n", kv.Key, kv.Value.Emit())
		}
	}
	return b.String()
}

// metrics scrapes /metrics in both formats (OpenMetrics carries the exemplars).
func (a *observedAPI) metrics(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, accept := range []string{"text/plain", "application/openmetrics-text"} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Accept", accept)
		w := a.serve(req)
		if w.Code != http.StatusOK {
			t.Fatalf("GET /metrics (%s): %d", accept, w.Code)
		}
		b.Write(w.Body.Bytes())
	}
	return b.String()
}

// Secrets sent in bodies (at any depth), headers and query strings reach neither the logs, nor the
// spans, nor the metrics. The User-Agent and X-User-ID are markers that must reach them, so a
// value the outputs did record would be found.
func TestSecretsNeverReachTelemetry(t *testing.T) {
	const (
		adminToken = "adm1n-T0KEN-4c1f9e"
		password   = "pa55w0rd-VALUE-8a2b"
		token      = "t0ken-VALUE-91d3"
		creditCard = "4111111111111111"
		apiKey     = "ap1-KEY-VALUE-77e0"
		secret     = "s3cret-VALUE-c0de"
		cookie     = "c00kie-VALUE-5a5a"
		basic      = "YWRtaW46aHVudGVyMg"
		userAgent  = "marker-agent/1.0"
		userID     = "marker-user-42"
	)
	secrets := map[string]string{
		"admin token": adminToken, "password": password, "token": token, "credit card": creditCard,
		"api key": apiKey, "secret": secret, "cookie": cookie, "basic credentials": basic,
	}
	product := `"sku":"SEC-1","name":"Lamp","price_cents":100,"currency":"EUR","category_id":1`
	bearer := "Bearer " + adminToken
	requests := []struct {
		method, target, body string
		header               map[string]string
	}{
		// JSON bodies, flat and nested, through every decoding path: unknown field, wrong type,
		// malformed, too large, wrong media type, the admin bodies.
		{"POST", "/api/v1/products", `{` + product + `,"password":"` + password + `"}`, nil},
		{"POST", "/api/v1/products", `{` + product + `,"meta":{"api_key":"` + apiKey + `","deeper":[{"secret":"` + secret + `"}]}}`, nil},
		{"POST", "/api/v1/products", `{"name":{"credit_card":"` + creditCard + `"},` + product[strings.Index(product, `"price`):] + `}`, nil},
		{"POST", "/api/v1/products", `{"sku":"SEC-2","token":"` + token + `"`, nil},
		{"POST", "/api/v1/products", `{"description":"` + strings.Repeat("x", 5000) + `","password":"` + password + `"}`, nil},
		{"POST", "/api/v1/products", `{"token":"` + token + `"}`, map[string]string{"Content-Type": "text/plain"}},
		{"PUT", "/api/v1/products/2", `{` + product + `,"credit_card":"` + creditCard + `"}`, map[string]string{"If-Match": `"2-1"`}},
		{"PUT", "/api/v1/admin/cache", `{"preset":"none","secret":"` + secret + `"}`, nil},
		{"PUT", "/api/v1/admin/cache", `{"ttl":{"password":"` + password + `"}}`, nil},
		{"PUT", "/api/v1/admin/faults", `{"api_key":"` + apiKey + `"}`, nil},
		{"PUT", "/api/v1/admin/faults", `{"db_latency":{"token":"` + token + `"}}`, nil},
		// A write that succeeds, with the token in its header.
		{"POST", "/api/v1/products", `{` + product + `}`, nil},
		// Query strings.
		{"GET", "/api/v1/products?token=" + token + "&password=" + password, "", nil},
		{"GET", "/api/v1/products?ids=1,2&api_key=" + apiKey + "&access_token=" + token, "", nil},
		{"GET", "/api/v1/products/2?secret=" + secret + "&credit_card=" + creditCard, "", nil},
		{"GET", "/api/v1/products/2/inventory?password=" + password, "", nil},
		{"GET", "/api/v1/nowhere?token=" + token, "", nil},
		{"DELETE", "/api/v1/products/2?token=" + adminToken, "", map[string]string{"Authorization": ""}},
		{"PATCH", "/api/v1/products/2?password=" + password, "", nil},
		// Headers: a wrong bearer token, Basic credentials, cookies, API keys, baggage.
		{"DELETE", "/api/v1/products/2", "", map[string]string{"Authorization": "Bearer " + token}},
		{"DELETE", "/api/v1/products/2", "", map[string]string{"Authorization": "Basic " + basic}},
		{"GET", "/api/v1/products/2", "", map[string]string{
			"Cookie": "session=" + cookie + "; token=" + token, "X-Api-Key": apiKey, "Authorization": "Bearer " + secret,
			"Baggage": "password=" + password + ",api_key=" + apiKey, "Proxy-Authorization": "Basic " + basic,
		}},
		{"GET", "/api/v1/admin/faults", "", map[string]string{"Cookie": "token=" + token}},
	}

	api := newObservedAPI(t, adminToken)
	for i, r := range requests {
		req := httptest.NewRequest(r.method, r.target, strings.NewReader(r.body))
		req.Header.Set("User-Agent", userAgent)
		req.Header.Set(httpapi.UserIDHeader, userID)
		req.Header.Set(httpapi.RequestIDHeader, fmt.Sprintf("secrets-%d", i))
		req.Header.Set("Authorization", bearer)
		if r.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range r.header {
			if v == "" {
				req.Header.Del(k)
			} else {
				req.Header.Set(k, v)
			}
		}
		if w := api.serve(req); w.Code >= 500 {
			t.Fatalf("%s %s: %d %s", r.method, r.target, w.Code, w.Body)
		}
	}

	outputs := map[string]string{"logs": api.logs.String(), "traces": api.traces(), "metrics": api.metrics(t)}
	for output, text := range outputs {
		for name, value := range secrets {
			if i := strings.Index(text, value); i >= 0 {
				t.Errorf("%s hold the %s: …%s…", output, name, text[max(i-120, 0):min(i+len(value)+40, len(text))])
			}
		}
	}

	// The outputs did record these requests, so the search above looked where a leak would be.
	if n := strings.Count(outputs["logs"], `"msg":"request"`); n != len(requests) {
		t.Errorf("%d request log lines, want %d", n, len(requests))
	}
	for _, marker := range []string{userAgent, userID, "secrets-0", "/api/v1/products/2/inventory"} {
		if !strings.Contains(outputs["logs"], marker) {
			t.Errorf("logs lack %q: the search for secrets proves nothing", marker)
		}
	}
	if n := len(api.spans.Ended()); n < len(requests) {
		t.Errorf("%d spans, want one per request (%d)", n, len(requests))
	}
	for _, marker := range []string{userAgent, "url.path=/api/v1/products/2/inventory", "http.route=/api/v1/products"} {
		if !strings.Contains(outputs["traces"], marker) {
			t.Errorf("traces lack %q: the search for secrets proves nothing", marker)
		}
	}
	for _, marker := range []string{`route="/api/v1/products/:id"`, `route="unmatched"`, "trace_id="} {
		if !strings.Contains(outputs["metrics"], marker) {
			t.Errorf("metrics lack %q: the search for secrets proves nothing", marker)
		}
	}
	if t.Failed() {
		_, _ = io.WriteString(testWriter{t}, outputs["logs"])
	}
}

// testWriter sends what is written to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// A client choosing request methods cannot grow the metrics: methods HTTP does not define share
// the label "other", and the secret-looking method itself is recorded nowhere in the metrics.
func TestHostileMethodsShareOneMetricLabel(t *testing.T) {
	api := newObservedAPI(t, "token")
	hostile := []string{"PROPFIND", "BREW", "X-" + strings.Repeat("A", 64), "GETS", "get"}
	for _, m := range append(hostile, http.MethodGet) {
		for _, target := range []string{"/api/v1/products/2", "/nowhere"} {
			if w := api.serve(httptest.NewRequest(m, target, nil)); w.Code >= 500 {
				t.Fatalf("%s %s: %d", m, target, w.Code)
			}
		}
	}
	metrics := api.metrics(t)
	for _, m := range hostile {
		if strings.Contains(metrics, `method="`+m+`"`) {
			t.Errorf("metrics carry the label method=%q", m)
		}
	}
	for _, want := range []string{`method="other",route="unmatched",status="405"`, `method="other",route="unmatched",status="404"`,
		`method="GET",route="/api/v1/products/:id",status="200"`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
