package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
	"github.com/product-service-lab/product-service/app/internal/faults"
	"github.com/product-service-lab/product-service/app/internal/httpapi"
	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/seed"
	"github.com/product-service-lab/product-service/app/internal/telemetry"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// instrumented is the service wired as serve wires it, with spans recorded in memory and logs in a buffer.
type instrumented struct {
	srv   *httptest.Server
	logs  *safeBuffer
	spans *tracetest.SpanRecorder
}

func newInstrumented(t *testing.T) instrumented {
	t.Helper()
	redisAddr := testdb.RedisAddr(t)
	db := testdb.New(t)
	sqlDB, _ := db.Gorm.DB()
	if _, err := seed.Run(context.Background(), sqlDB, seed.Options{Products: 50, Generator: seed.Generator{Seed: 1}}, nil); err != nil {
		t.Fatal(err)
	}
	cfg, logger, _, err := setup(io.Discard, lookup(map[string]string{
		"DATABASE_URL": db.URL, "REDIS_ADDR": redisAddr, "CACHE_PRESET": "protected",
		"CACHE_NAMESPACE": "telemetry-" + strconv.Itoa(os.Getpid()), "APP_ENV": "test", "ADMIN_TOKEN": "t",
	}))
	if err != nil {
		t.Fatal(err)
	}
	logs := &safeBuffer{}
	logger.SetOutput(logs)
	spans := tracetest.NewSpanRecorder()
	tp := telemetry.NewSDKProvider(spans, sdktrace.AlwaysSample(), telemetry.TracingOptions{Version: "test", Env: "test"})
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	reg := prometheus.NewRegistry()
	telemetry.RegisterBuildInfo(reg, telemetry.ReadBuild("test"))
	injector := faults.New(reg, logger)
	if err := instrumentDatabase(db.Gorm, logger, cfg, tp, injector); err != nil {
		t.Fatal(err)
	}
	store := pgstore.New(db.Gorm, pgstore.Options{Metrics: pgstore.NewMetrics(reg)})
	rdb, err := newRedis(cfg, logger, tp, injector)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	telemetry.RegisterRedisPool(reg, rdb)
	cached, err := newCache(cfg, store, db.Gorm, rdb, reg, logger, tp)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cached.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	gin.SetMode(gin.TestMode)
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{
		Store: cached, Cache: cached, Gatherer: reg, Metrics: httpapi.NewMetrics(reg), Tracer: tp, Faults: injector, Log: logger,
		Checks: []httpapi.Check{{Name: "cache", Probe: cached.Ready}},
	}, httpapi.Options{AdminToken: "t", MaxBodyBytes: 1 << 20, CacheMaxAge: time.Second, SlowRequest: time.Second}))
	t.Cleanup(srv.Close)
	lab.WaitFor(t, "the instrumented API to be ready", func() bool {
		resp, err := http.Get(srv.URL + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return instrumented{srv: srv, logs: logs, spans: spans}
}

func (in instrumented) get(t *testing.T, path string, header map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, in.srv.URL+path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// logLine returns the access log line of a request id.
func (in instrumented) logLine(t *testing.T, requestID string) map[string]any {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(in.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("a log line is not JSON: %s", sc.Text())
		}
		if m["request_id"] == requestID && m["msg"] == "request" {
			return m
		}
	}
	t.Fatalf("no access log line for %s in:\n%s", requestID, in.logs.String())
	return nil
}

func TestAccessLogFieldsAndTraceIDs(t *testing.T) {
	in := newInstrumented(t)
	in.get(t, "/api/v1/products/5", map[string]string{"X-Request-ID": "warm"})
	resp := in.get(t, "/api/v1/products/5", map[string]string{
		"X-Request-ID": "log-me", "X-User-ID": "user-7", "Authorization": "Bearer secret-token", "Cookie": "session=abc",
	})
	line := in.logLine(t, "log-me")
	want := map[string]string{ // field → JSON type
		"app": "string", "env": "string", "level": "string", "msg": "string", "request_id": "string", "trace_id": "string",
		"span_id": "string", "method": "string", "route": "string", "path": "string", "status": "number",
		"latency": "number", "bytes": "number", "client_ip": "string", "user_agent": "string", "cache": "string",
		"preset": "string", "user_id": "string",
	}
	for field, typ := range want {
		v, ok := line[field]
		if !ok {
			t.Errorf("access log lacks %q: %v", field, line)
			continue
		}
		if got := jsonType(v); got != typ {
			t.Errorf("%s is a JSON %s, want %s", field, got, typ)
		}
	}
	checks := map[string]any{"app": "product-service", "route": "/api/v1/products/:id", "status": float64(200),
		"cache": "HIT-REDIS", "preset": "protected", "user_id": "user-7", "level": "info"}
	for k, v := range checks {
		if line[k] != v {
			t.Errorf("%s = %v, want %v", k, line[k], v)
		}
	}
	if s, _ := line["status"].(float64); s != float64(int(s)) {
		t.Errorf("status %v is not an integer", line["status"])
	}
	for _, secret := range []string{"secret-token", "session=abc", "Authorization", "Cookie"} {
		if strings.Contains(in.logs.String(), secret) {
			t.Errorf("the logs contain %q", secret)
		}
	}
	if resp.Header.Get("X-Trace-ID") != line["trace_id"] {
		t.Errorf("X-Trace-ID %q differs from the logged trace_id %v", resp.Header.Get("X-Trace-ID"), line["trace_id"])
	}
	var server sdktrace.ReadOnlySpan
	for _, s := range in.spans.Ended() {
		if s.SpanKind().String() == "server" && s.SpanContext().TraceID().String() == line["trace_id"] {
			server = s
		}
	}
	if server == nil {
		t.Fatalf("no exported server span has the logged trace id %v", line["trace_id"])
	}
	if server.SpanContext().SpanID().String() != line["span_id"] {
		t.Errorf("logged span_id %v, server span %s", line["span_id"], server.SpanContext().SpanID())
	}

	in.get(t, "/api/v1/products/abc", map[string]string{"X-Request-ID": "bad-id"})
	if l := in.logLine(t, "bad-id"); l["level"] != "warning" || l["status"] != float64(400) {
		t.Errorf("a 400 is logged at %v with status %v, want warning", l["level"], l["status"])
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	default:
		return "object"
	}
}

// gin → cache.lookup → redis and gorm, with the cache's attributes.
func TestSpansFromRequestToDatabase(t *testing.T) {
	in := newInstrumented(t)
	resp := in.get(t, "/api/v1/products/9", nil) // a miss: Redis, then the database
	traceID := resp.Header.Get("X-Trace-ID")
	byID := map[string]sdktrace.ReadOnlySpan{}
	var trace []sdktrace.ReadOnlySpan
	for _, s := range in.spans.Ended() {
		if s.SpanContext().TraceID().String() == traceID {
			trace = append(trace, s)
			byID[s.SpanContext().SpanID().String()] = s
		}
	}
	parent := func(s sdktrace.ReadOnlySpan) string {
		if p, ok := byID[s.Parent().SpanID().String()]; ok {
			return p.Name()
		}
		return ""
	}
	var names []string
	found := map[string]bool{}
	for _, s := range trace {
		names = append(names, s.Name()+" ← "+parent(s))
		switch {
		case s.Name() == "cache.lookup":
			attrs := map[string]string{}
			for _, a := range s.Attributes() {
				attrs[string(a.Key)] = a.Value.Emit()
			}
			if attrs["cache.result"] != "MISS" || attrs["cache.layer"] != "db" || attrs["cache.preset"] != "protected" {
				t.Errorf("cache.lookup attributes %v", attrs)
			}
			if _, ok := attrs["cache.lock_wait_ms"]; !ok {
				t.Errorf("cache.lookup lacks cache.lock_wait_ms under the lock preset: %v", attrs)
			}
			found["cache"] = strings.HasPrefix(parent(s), "GET ") || strings.Contains(parent(s), "/api/v1/products")
		case strings.HasPrefix(s.Name(), "gorm."):
			found["gorm"] = found["gorm"] || parent(s) == "cache.lookup"
		case s.Name() == "get" || strings.HasPrefix(s.Name(), "redis.pipeline") || s.Name() == "set" || s.Name() == "evalsha":
			found["redis"] = found["redis"] || parent(s) == "cache.lookup"
		}
	}
	for _, want := range []string{"cache", "gorm", "redis"} {
		if !found[want] {
			t.Errorf("no %s span in the right place; spans (name ← parent):\n%s", want, strings.Join(names, "\n"))
		}
	}
}

// /metrics in OpenMetrics: the HTTP series with route templates, and an exemplar whose trace id
// is a recorded span's.
func TestMetricsWithExemplars(t *testing.T) {
	in := newInstrumented(t)
	in.get(t, "/api/v1/products/3", nil)
	in.get(t, "/api/v1/products/3", nil)
	in.get(t, "/no/such/route/42", nil)
	req, _ := http.NewRequest(http.MethodGet, in.srv.URL+"/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0; charset=utf-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/openmetrics-text") {
		t.Fatalf("Content-Type %q, want OpenMetrics", resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`app_requests_total{method="GET",route="/api/v1/products/:id",status="200"} 2`,
		`app_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`app_request_latency_seconds_bucket{method="GET",route="/api/v1/products/:id",le="0.0005"}`,
		`app_requests_in_flight `, `build_info{`, `redis_pool_connections `, `faults_active{kind="db_latency"} 0`,
		`cache_requests_total{layer="redis",result="hit"} 1`, `db_query_duration_seconds_bucket{`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, "/no/such/route/42") || strings.Contains(text, `route="/api/v1/products/3"`) {
		t.Error("a raw path leaked into a label")
	}
	exemplar := regexp.MustCompile(`app_request_latency_seconds_bucket\{method="GET",route="/api/v1/products/:id",le="[^"]+"\} \d+ # \{trace_id="([0-9a-f]{32})"\}`)
	m := exemplar.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no exemplar with a trace_id on the latency histogram:\n%s", grepLines(text, "app_request_latency"))
	}
	for _, s := range in.spans.Ended() {
		if s.SpanContext().TraceID().String() == m[1] {
			return
		}
	}
	t.Errorf("exemplar trace id %s matches no recorded span", m[1])
}

func grepLines(text, substr string) string {
	var out bytes.Buffer
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out.WriteString(l + "\n")
		}
	}
	return out.String()
}
