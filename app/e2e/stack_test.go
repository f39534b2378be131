//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/nginxconf"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// TestMain deletes the service binary lab.MustServiceBinary built.
func TestMain(m *testing.M) {
	code := m.Run()
	lab.RemoveServiceBinary()
	os.Exit(code)
}

// TestStack runs the whole stack natively and proves its telemetry (see the package doc).
func TestStack(t *testing.T) {
	began := time.Now()
	hold, _ := time.ParseDuration(os.Getenv("E2E_HOLD"))
	// Registered first, so it runs last: cleanups stop processes gently, the context's end
	// kills whatever is left (and everything, should the run overrun its bound).
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute+hold)
	t.Cleanup(cancel)
	for _, env := range []string{"LOKI_BIN", "JAEGER_BIN", "K6_BIN", "NGINX_BIN", "POSTGRES_EXPORTER_BIN", "REDIS_EXPORTER_BIN"} {
		lab.Tool(t, env, "")
	}
	lab.Tool(t, "PROMETHEUS_BIN", "/usr/bin/prometheus")
	nginx := lab.Tool(t, "NGINX_BIN", "")
	logs := lab.LogDir(t, "E2E_LOG_DIR")
	db := testdb.New(t)
	redisAddr := testdb.RedisAddr(t)
	namespace := "e2e-stack-" + randomHex()
	t.Cleanup(func() { dropNamespace(t, redisAddr, namespace) })
	a := newAddrs(t)

	// The backends boot while dashtest writes the Prometheus config and the binary is built.
	loki := startLoki(ctx, t, logs, a)
	jaeger := startJaeger(ctx, t, logs, a)
	pgExporter, redisExporter := startExporters(ctx, t, logs, a, db.URL, redisAddr)
	promConfig, queryList := dashtestFiles(ctx, t, a)
	prometheus := startPrometheus(ctx, t, logs, a, promConfig)
	bin := lab.MustServiceBinary(t)
	if err := (&lab.Service{Bin: bin, Dir: repoRoot}).Prepare(ctx, db.URL, products); err != nil {
		t.Fatal(err)
	}
	hot := hotProducts(t, db)
	lokiURL, jaegerURL, promURL := "http://"+a.loki, "http://"+a.jaegerQuery, "http://"+a.prometheus
	lab.MustWaitHTTP(t, loki, lokiURL+"/ready", 90*time.Second)
	lab.MustWaitHTTP(t, jaeger, jaegerURL+"/api/services", 30*time.Second)
	lab.MustWaitHTTP(t, prometheus, promURL+"/-/ready", 30*time.Second)
	lab.MustWaitHTTP(t, pgExporter, "http://"+a.pgExporter+"/metrics", 30*time.Second)
	lab.MustWaitHTTP(t, redisExporter, "http://"+a.redisExporter+"/metrics", 30*time.Second)
	t.Logf("backends ready after %s", time.Since(began).Round(time.Second))

	// The replicas are scraped before they start, so the down-alerts have their moment.
	runStart := time.Now()
	waitUntil(t, promURL, `count(up{job="product-service"} == 0)`, strconv.Itoa(replicaCount))
	gate := newLokiGate(t, lokiURL)
	otlp := "http://" + a.jaegerOTLP
	// replica-b ships its lines through the gate, which the script closes for a while.
	replicas := make([]*replica, replicaCount)
	for i, addr := range a.replicas {
		name, loki := "replica-"+string(rune('a'+i)), lokiURL
		if i == 1 {
			loki = gate.srv.URL
		}
		svc := &lab.Service{Bin: bin, Env: serviceEnv(db.URL, redisAddr, namespace, loki, otlp), LogDir: logs, Dir: repoRoot}
		replicas[i] = &replica{lab.MustStartService(ctx, t, svc, name, addr)}
	}
	// The balancer (nginx.conf) in front of the replicas, the edge (nginx-edge.conf) in front of
	// it, and the edge's access log shipped to Loki, natively by the test (compose: Fluent Bit).
	balancer := startBalancer(ctx, t, logs, nginx, a)
	edge := startEdge(ctx, t, logs, nginx, a)
	shipper := startEdgeShipper(t, lokiURL, edge.Path(nginxconf.EdgeAccessLog))
	// Events count from the first scrape of a replica on: what happens before it is in the
	// first sample, and rate() cannot see it.
	waitUntil(t, promURL, `count(up{job="product-service"} == 1)`, strconv.Itoa(replicaCount))
	// k6 reads half through the edge, half through the balancer: every replica serves.
	k6 := startK6(ctx, t, logs, a, []string{"http://" + a.edge, "http://" + a.balancer}, hot, 4*time.Minute)
	s := &script{driver: &driver{t: t, replicas: replicas}, gate: gate, hot: hot, hotUntil: time.Now().Add(50 * time.Second)}
	s.play()
	k6.stop(t)
	trafficEnd := time.Now()
	t.Logf("traffic and events done after %s", time.Since(began).Round(time.Second))
	if t.Failed() {
		t.FailNow()
	}

	// Two scrapes of the replicas after the traffic, then every rule group evaluated on them.
	waitRules(t, promURL, trafficEnd.Add(11*time.Second))
	shipped, edgeLines := shipper.flush(t)
	end := time.Now()
	queries := loadQueries(t, queryList)
	checkQueries(t, evaluator{prometheus: promURL, loki: lokiURL, runStart: runStart, at: end}, queries)
	checkPerInstance(t, evaluator{prometheus: promURL, at: end}, queries, a.replicas[:])
	checkBalancer(t, balancer.Log, a.replicas[:])
	checkServedPerReplica(t, evaluator{prometheus: promURL, runStart: runStart, at: end})
	checkEdgeLogs(t, lokiURL, shipper.labels, shipped, edgeLines, runStart, end)
	checkSnippets(t, evaluator{prometheus: promURL, loki: lokiURL, runStart: runStart, at: end})
	checkMission(t, lokiURL, runStart, end, s.slowIDs)
	checkLogToTrace(t, lokiURL, jaegerURL, runStart, end)
	checkExemplarToTrace(t, promURL, jaegerURL, runStart, end)
	t.Logf("whole run %s", time.Since(began).Round(time.Second))
	if hold > 0 {
		t.Logf("E2E_HOLD: the stack stays up for %s: Prometheus %s, Loki %s, Jaeger %s, balancer http://%s, edge http://%s",
			hold, promURL, lokiURL, jaegerURL, a.balancer, a.edge)
		time.Sleep(hold)
	}
}

// waitUntil waits until the PromQL expr returns one sample of value want.
func waitUntil(t *testing.T, prometheus, expr, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var body struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		err := getJSON(prometheus, "/api/v1/query", url.Values{"query": {expr}}, &body)
		if err == nil && len(body.Data.Result) == 1 && body.Data.Result[0].Value[1] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become %s within 30 s (%v %+v)", expr, want, err, body)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitRules waits until every rule group has been evaluated after since, so recording rules
// and alert expressions see the run's last samples.
func waitRules(t *testing.T, prometheus string, since time.Time) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var body struct {
			Data struct {
				Groups []struct {
					Name           string    `json:"name"`
					LastEvaluation time.Time `json:"lastEvaluation"`
				} `json:"groups"`
			} `json:"data"`
		}
		if err := getJSON(prometheus, "/api/v1/rules", nil, &body); err != nil {
			t.Fatal(err)
		}
		done := len(body.Data.Groups) > 0
		for _, g := range body.Data.Groups {
			done = done && g.LastEvaluation.After(since)
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rule groups not evaluated after %s: %+v", since.Format(time.RFC3339), body.Data.Groups)
		}
		time.Sleep(time.Second)
	}
}

func randomHex() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
