//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/product-service-lab/product-service/app/internal/dashtest"
	"github.com/product-service-lab/product-service/app/internal/lab"
)

// addrs are the 127.0.0.1 addresses of everything the stack runs, chosen before anything starts
// (Prometheus's config names its targets, the replicas' config names Loki and Jaeger).
type addrs struct {
	replicas                                                 [replicaCount]string
	balancer, balancerStatus, edge, edgeStatus               string
	loki, lokiGRPC                                           string
	jaegerQuery, jaegerQueryGRPC, jaegerOTLP, jaegerOTLPGRPC string
	jaegerHealth                                             string
	prometheus, pgExporter, redisExporter, k6API             string
}

func newAddrs(t *testing.T) addrs {
	a := addrs{
		balancer: lab.MustFreeAddr(t), balancerStatus: lab.MustFreeAddr(t),
		edge: lab.MustFreeAddr(t), edgeStatus: lab.MustFreeAddr(t),
		loki: lab.MustFreeAddr(t), lokiGRPC: lab.MustFreeAddr(t),
		jaegerQuery: lab.MustFreeAddr(t), jaegerQueryGRPC: lab.MustFreeAddr(t), jaegerOTLP: lab.MustFreeAddr(t), jaegerOTLPGRPC: lab.MustFreeAddr(t),
		jaegerHealth: lab.MustFreeAddr(t),
		prometheus:   lab.MustFreeAddr(t), pgExporter: lab.MustFreeAddr(t), redisExporter: lab.MustFreeAddr(t), k6API: lab.MustFreeAddr(t),
	}
	for i := range a.replicas {
		a.replicas[i] = lab.MustFreeAddr(t)
	}
	return a
}

// startLoki runs Loki with loki/loki.yaml, its data in a temp dir.
func startLoki(ctx context.Context, t *testing.T, logs string, a addrs) *lab.Proc {
	t.Helper()
	host, port, _ := strings.Cut(a.loki, ":")
	_, grpcPort, _ := strings.Cut(a.lokiGRPC, ":")
	return lab.MustStart(ctx, t, lab.Spec{Name: "loki", Log: filepath.Join(logs, "loki.log"), Dir: repoRoot,
		Bin: lab.Tool(t, "LOKI_BIN", ""), Args: []string{"-config.file=loki/loki.yaml", "-config.expand-env=true"},
		Env: lab.CleanEnv("LOKI_DATA="+t.TempDir(), "LOKI_HTTP_ADDR="+host, "LOKI_HTTP_PORT="+port, "LOKI_GRPC_PORT="+grpcPort)})
}

// startJaeger runs Jaeger v2 with observability/jaeger.yaml (in-memory storage).
func startJaeger(ctx context.Context, t *testing.T, logs string, a addrs) *lab.Proc {
	t.Helper()
	env := lab.CleanEnv("JAEGER_HEALTH_ADDR="+a.jaegerHealth, "JAEGER_QUERY_ADDR="+a.jaegerQuery,
		"JAEGER_QUERY_GRPC_ADDR="+a.jaegerQueryGRPC, "JAEGER_OTLP_GRPC_ADDR="+a.jaegerOTLPGRPC,
		"JAEGER_OTLP_HTTP_ADDR="+a.jaegerOTLP)
	// jaeger_query traces itself by default, to 127.0.0.1:4317: someone else's collector, or
	// nobody (a warning every few seconds).
	return lab.MustStart(ctx, t, lab.Spec{Name: "jaeger", Log: filepath.Join(logs, "jaeger.log"), Dir: repoRoot, Env: env,
		Bin: lab.Tool(t, "JAEGER_BIN", ""), Args: []string{"--config", "observability/jaeger.yaml",
			"--set", "extensions::jaeger_query::enable_tracing=false"}})
}

// startExporters runs the PostgreSQL exporter on the test's database and the Redis exporter.
func startExporters(ctx context.Context, t *testing.T, logs string, a addrs, dbURL, redisAddr string) (pg, redis *lab.Proc) {
	t.Helper()
	pg = lab.MustStart(ctx, t, lab.Spec{Name: "postgres-exporter", Log: filepath.Join(logs, "postgres-exporter.log"),
		Dir: repoRoot, Env: lab.CleanEnv("DATA_SOURCE_NAME=" + dbURL), Bin: lab.Tool(t, "POSTGRES_EXPORTER_BIN", ""),
		Args: []string{"--web.listen-address=" + a.pgExporter}})
	redis = lab.MustStart(ctx, t, lab.Spec{Name: "redis-exporter", Log: filepath.Join(logs, "redis-exporter.log"),
		Dir: repoRoot, Env: lab.CleanEnv(), Bin: lab.Tool(t, "REDIS_EXPORTER_BIN", ""),
		Args: []string{"-redis.addr=redis://" + redisAddr, "-web.listen-address=" + a.redisExporter}})
	return pg, redis
}

// dashtestFiles writes, with app/internal/dashtest, the two files this test needs: prometheus.yml
// with the repository's jobs pointed at the native targets (rules included, absolute), and the
// list of every dashboard and rule expression.
func dashtestFiles(_ context.Context, t *testing.T, a addrs) (promConfig, queryList string) {
	t.Helper()
	dir := t.TempDir()
	promConfig, queryList = filepath.Join(dir, "prometheus.yml"), filepath.Join(dir, "queries.json")
	cfg, err := dashtest.NativeConfig(repoRoot, map[string][]string{
		"product-service": a.replicas[:],
		"prometheus":      {a.prometheus},
		"loki":            {a.loki},
		"postgres":        {a.pgExporter},
		"redis":           {a.redisExporter},
	})
	if err != nil {
		t.Fatal(err)
	}
	queries, err := dashtest.Queries(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	list, err := json.MarshalIndent(queries, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(promConfig, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(queryList, list, 0o644); err != nil {
		t.Fatal(err)
	}
	return promConfig, queryList
}

// startPrometheus runs Prometheus on config as compose does: remote write receiver (k6),
// exemplar storage and native histograms.
func startPrometheus(ctx context.Context, t *testing.T, logs string, a addrs, config string) *lab.Proc {
	t.Helper()
	return lab.MustStart(ctx, t, lab.Spec{Name: "prometheus", Log: filepath.Join(logs, "prometheus.log"), Dir: repoRoot,
		Env: lab.CleanEnv(), Bin: lab.Tool(t, "PROMETHEUS_BIN", "/usr/bin/prometheus"),
		Args: []string{"--config.file=" + config, "--storage.tsdb.path=" + t.TempDir(), "--web.listen-address=" + a.prometheus,
			"--web.enable-remote-write-receiver", "--enable-feature=exemplar-storage,native-histograms",
			"--log.level=warn"}})
}
