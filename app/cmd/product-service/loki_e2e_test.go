//go:build e2e

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/telemetry"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// The mission's query, literally.
const missionQuery = `{app="product-service"} | json | status=500 | latency > 1000`

// startLoki runs the Loki binary named by LOKI_BIN with loki/loki.yaml on free ports in a temp dir,
// with flags overriding the file; stop kills it before the test ends.
func startLoki(t *testing.T, flags ...string) (base string, stop func()) {
	t.Helper()
	bin := lab.Tool(t, "LOKI_BIN", "")
	dir := t.TempDir()
	httpPort, grpcPort := freePort(t), freePort(t)
	cmd := exec.Command(bin, append([]string{"-config.file=../../../loki/loki.yaml", "-config.expand-env=true"}, flags...)...)
	cmd.Env = append(os.Environ(), "LOKI_DATA="+dir, "LOKI_HTTP_ADDR=127.0.0.1",
		"LOKI_HTTP_PORT="+strconv.Itoa(httpPort), "LOKI_GRPC_PORT="+strconv.Itoa(grpcPort))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop = sync.OnceFunc(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	t.Cleanup(stop)
	base = "http://127.0.0.1:" + strconv.Itoa(httpPort)
	waitHTTP(t, base+"/ready", 60*time.Second, func() string { return out.String() })
	return base, stop
}

func freePort(t *testing.T) int {
	addr := freeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	p, _ := strconv.Atoi(port)
	return p
}

func waitHTTP(t *testing.T, url string, limit time.Duration, diag func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within %s: %v\n%s", url, limit, err, diag())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func admin(t *testing.T, method, url, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer e2e")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s %s: %v %v", method, url, resp, err)
	}
	resp.Body.Close()
}

// The service ships its lines to a real Loki, and the mission's LogQL finds the slow 500s that
// fault injection produced.
func TestLokiFindsSlowServerErrors(t *testing.T) {
	loki, _ := startLoki(t)
	base, stop, out := serveShipping(t, loki, nil)

	admin(t, http.MethodPut, base+"/api/v1/admin/faults", `{"db_latency":"1100ms","db_error_rate":1}`)
	const slowFailures = 3
	for i := range slowFailures {
		resp, err := http.Get(fmt.Sprintf("%s/api/v1/products/%d", base, i+1))
		if err != nil || resp.StatusCode != 500 {
			t.Fatalf("request %d under faults: %v %v", i, resp, err)
		}
		resp.Body.Close()
	}
	admin(t, http.MethodDelete, base+"/api/v1/admin/faults", "")
	for i := range 5 { // healthy traffic the query must not return
		resp, err := http.Get(fmt.Sprintf("%s/api/v1/products/%d", base, i+1))
		if err == nil {
			resp.Body.Close()
		}
	}
	stop() // serve flushes the shipper on the way out

	var got int
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = queryCount(t, loki, missionQuery)
		if got >= slowFailures || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got != slowFailures {
		t.Fatalf("the mission's query returned %d lines, want %d\nservice output:\n%s", got, slowFailures, out.String())
	}
	if all := queryCount(t, loki, `{app="product-service", env="test"}`); all < 10 {
		t.Errorf("only %d lines of the service reached Loki", all)
	}
}

// serveShipping runs serve on a fresh database of 20 products, shipping its lines to loki, with
// extra variables on top; stop ends it (flushing the shipper) and fails the test if serve failed.
func serveShipping(t *testing.T, loki string, extra map[string]string) (base string, stop func(), out *safeBuffer) {
	t.Helper()
	db := testdb.New(t)
	addr := freeAddr(t)
	vars := map[string]string{
		"DATABASE_URL": db.URL, "HTTP_ADDR": addr, "ADMIN_TOKEN": "e2e", "LOKI_URL": loki, "APP_ENV": "test",
		"CACHE_PRESET": "none", "REDIS_ADDR": testdb.RedisAddr(t), "CACHE_NAMESPACE": "e2e-loki-" + strconv.Itoa(os.Getpid()),
	}
	maps.Copy(vars, extra)
	env := lookup(vars)
	ctx := context.Background()
	out = &safeBuffer{}
	if err := run(ctx, []string{"migrate"}, out, out, env); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"seed", "--products", "20"}, out, out, env); err != nil {
		t.Fatal(err)
	}
	serveCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(serveCtx, []string{"serve"}, out, out, env) }()
	base = "http://" + addr
	waitHTTP(t, base+"/ready", 20*time.Second, out.String)
	return base, func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}, out
}

// The access log samples success lines 1 in 4 per route and leaves the probes out; summing
// sample_rate, the cookbook's LogQL (docs/telemetry.md) gives back the requests made per route.
func TestLokiReweightedCount(t *testing.T) {
	loki, _ := startLoki(t)
	base, stop, out := serveShipping(t, loki, map[string]string{"LOG_SAMPLE_EVERY": "4"})
	made := map[string]int{"/api/v1/products/:id": 20, "/api/v1/products/:id/inventory": 8}
	get := func(path string) {
		resp, err := http.Get(base + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	for i := range made["/api/v1/products/:id"] {
		get(fmt.Sprintf("/api/v1/products/%d", i%20+1))
	}
	for i := range made["/api/v1/products/:id/inventory"] {
		get(fmt.Sprintf("/api/v1/products/%d/inventory", i+1))
	}
	for range 5 {
		get("/health") // excluded: no line, no weight
	}
	stop()

	const reweighted = `sum by (route) (sum_over_time({app="product-service", env="test"} | json msg="msg", route="route", sample_rate="sample_rate" | msg="request" | unwrap sample_rate | __error__="" [10m]))`
	const written = `sum by (route) (count_over_time({app="product-service", env="test"} | json msg="msg", route="route" | msg="request" [10m]))`
	var got map[string]int
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = queryByRoute(t, loki, reweighted)
		if (got["/api/v1/products/:id"] > 0 && got["/api/v1/products/:id/inventory"] > 0) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if _, logged := got["/health"]; logged {
		t.Errorf("/health's successes were logged: %v", got)
	}
	// /ready's 503s while the service started are logged (a failing probe is); its 200s are not.
	delete(got, "/ready")
	if !maps.Equal(made, got) {
		t.Fatalf("re-weighted requests per route %v, want %v\nservice output:\n%s", got, made, out.String())
	}
	want := map[string]int{"/api/v1/products/:id": 5, "/api/v1/products/:id/inventory": 2}
	lines := queryByRoute(t, loki, written)
	delete(lines, "/ready")
	if !maps.Equal(want, lines) {
		t.Errorf("lines written per route %v, want %v (1 in 4)", lines, want)
	}
}

// queryByRoute runs an instant LogQL metric query summed by route and returns its values.
func queryByRoute(t *testing.T, loki, query string) map[string]int {
	t.Helper()
	var result []struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	lokiQuery(t, loki, "query", url.Values{"query": {query}}, &result)
	out := map[string]int{}
	for _, r := range result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("query %s: value %v", query, r.Value)
		}
		out[r.Metric["route"]] = int(v)
	}
	return out
}

// queryCount runs a LogQL query over the last 10 minutes and counts the lines returned.
func queryCount(t *testing.T, loki, query string) int {
	t.Helper()
	var result []struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	}
	q := url.Values{"query": {query}, "start": {strconv.FormatInt(time.Now().Add(-10*time.Minute).UnixNano(), 10)}, "limit": {"1000"}}
	lokiQuery(t, loki, "query_range", q, &result)
	n := 0
	for _, r := range result {
		n += len(r.Values)
	}
	return n
}

// lokiQuery calls Loki's query API (query or query_range) and decodes data.result into result.
func lokiQuery(t *testing.T, loki, api string, q url.Values, result any) {
	t.Helper()
	resp, err := http.Get(loki + "/loki/api/v1/" + api + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Result json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("query %s: %v %v", q.Get("query"), resp.Status, err)
	}
	if err := json.Unmarshal(body.Data.Result, result); err != nil {
		t.Fatalf("query %s: result: %v", q.Get("query"), err)
	}
}

// lokiPipeline is the service's log pipeline: stdout and a file kept in memory and a temp dir,
// and Loki at base with labels, retrying for a short while only.
type lokiPipeline struct {
	log    *logrus.Logger
	out    *telemetry.Output
	reg    *prometheus.Registry
	stdout *safeBuffer
	stderr *safeBuffer
	file   string
}

func newLokiPipeline(t *testing.T, base string, labels map[string]string) lokiPipeline {
	t.Helper()
	p := lokiPipeline{reg: prometheus.NewRegistry(), stdout: &safeBuffer{}, stderr: &safeBuffer{}, file: filepath.Join(t.TempDir(), "service.log")}
	var err error
	p.log, p.out, err = telemetry.NewLogger(p.stdout, telemetry.LogOptions{
		Level: "info", Env: "test", QueueLines: 1000, Stderr: p.stderr, ReportEvery: time.Hour,
		File: telemetry.FileOptions{Path: p.file, MaxSizeMB: 10, QueueLines: 1000},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.out.Register(p.reg); err != nil {
		t.Fatal(err)
	}
	p.out.AddLoki(telemetry.LokiOptions{
		URL: base, Labels: labels, QueueLines: 1000, BatchWait: 10 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, MaxRetryTime: 500 * time.Millisecond,
	})
	return p
}

// counter sums the series of name whose labels include want.
func (p lokiPipeline) counter(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	return lab.MetricSum(lab.MustGather(t, p.reg), name, want)
}

// lost is what Loki's sink dropped for any reason.
func (p lokiPipeline) lost(t *testing.T) float64 {
	return p.counter(t, "log_lines_dropped_total", map[string]string{"sink": "loki"})
}

// kept checks stdout and the file hold n lines each.
func (p lokiPipeline) kept(t *testing.T, n int) {
	t.Helper()
	file, err := os.ReadFile(p.file)
	if err != nil {
		t.Fatal(err)
	}
	for sink, text := range map[string]string{"stdout": p.stdout.String(), "file": string(file)} {
		if got := strings.Count(text, "\n"); got != n {
			t.Errorf("%s holds %d lines, want %d", sink, got, n)
		}
	}
}

// saidOnce checks stderr said exactly once that Loki lost lines for reason.
func (p lokiPipeline) saidOnce(t *testing.T, reason string) {
	t.Helper()
	said := 0
	for _, l := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(l, `"sink":"loki"`) && strings.Contains(l, `"reason":"`+reason+`"`) {
			said++
		}
	}
	if said != 1 {
		t.Errorf("stderr said %d times that Loki lost lines (%s), want once:\n%s", said, reason, p.stderr.String())
	}
}

var testLabels = map[string]string{"app": telemetry.AppName, "env": "sinks"}

// A real Loki refusing a push (400: an invalid label name) and then stopped: the lines it loses
// are counted (rejected, then retries_exhausted or queue_full) and said once each, while stdout
// and the file keep every line.
func TestLokiRefusingOrStoppedOthersKeepEveryLine(t *testing.T) {
	base, stopLoki := startLoki(t)

	refused := newLokiPipeline(t, base, map[string]string{"app": telemetry.AppName, "bad-label": "x"})
	for range 10 {
		refused.log.Info("refused")
	}
	if err := refused.out.Shutdown(lab.Context(t)); err != nil {
		t.Fatal(err)
	}
	if got := refused.counter(t, "log_lines_dropped_total", map[string]string{"sink": "loki", "reason": "rejected"}); got != 10 {
		t.Errorf("lines Loki refused counted as rejected: %v, want 10", got)
	}
	if got := refused.counter(t, "log_shipper_push_errors_total", map[string]string{"reason": "status_4xx"}); got < 1 {
		t.Error("the refused push was not counted as status_4xx")
	}
	refused.kept(t, 10)
	refused.saidOnce(t, "rejected")

	p := newLokiPipeline(t, base, testLabels)
	for range 10 {
		p.log.Info("before the stop")
	}
	lab.WaitFor(t, "Loki to accept the first 10 lines", func() bool {
		return p.counter(t, "log_shipper_sent_total", nil) == 10
	})
	stopLoki()
	for range 10 {
		p.log.Info("after the stop")
	}
	if err := p.out.Shutdown(lab.Context(t)); err != nil {
		t.Fatal(err)
	}
	if got := p.lost(t); got != 10 {
		t.Errorf("Loki's sink lost %v lines after Loki stopped, want 10", got)
	}
	if got := p.counter(t, "log_shipper_push_errors_total", map[string]string{"reason": "network"}); got < 1 {
		t.Error("no push to the stopped Loki was counted as a network error")
	}
	p.kept(t, 20)
	p.saidOnce(t, "retries_exhausted")
}

// A real Loki with a tiny ingestion rate answers 429: the lines are counted as rate_limited once
// the retries run out, said once, and stdout and the file keep every line.
func TestLokiRateLimitingCounted(t *testing.T) {
	base, _ := startLoki(t, "-distributor.ingestion-rate-limit-mb=0.0001", "-distributor.ingestion-burst-size-mb=0.0001")
	p := newLokiPipeline(t, base, testLabels)
	for i := range 10 {
		p.log.WithField("pad", strings.Repeat("x", 200)).WithField("i", i).Info("over the limit")
	}
	if err := p.out.Shutdown(lab.Context(t)); err != nil {
		t.Fatal(err)
	}
	if got := p.counter(t, "log_lines_dropped_total", map[string]string{"sink": "loki", "reason": "rate_limited"}); got != 10 {
		t.Errorf("rate limited lines: %v, want 10 (lost in all: %v)", got, p.lost(t))
	}
	if got := p.counter(t, "log_shipper_push_errors_total", map[string]string{"reason": "status_429"}); got < 1 {
		t.Error("no 429 counted")
	}
	p.kept(t, 10)
	p.saidOnce(t, "rate_limited")
}
