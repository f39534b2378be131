//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/product-service-lab/product-service/app/internal/proctest"
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
		balancer: proctest.FreeAddr(t), balancerStatus: proctest.FreeAddr(t),
		edge: proctest.FreeAddr(t), edgeStatus: proctest.FreeAddr(t),
		loki: proctest.FreeAddr(t), lokiGRPC: proctest.FreeAddr(t),
		jaegerQuery: proctest.FreeAddr(t), jaegerQueryGRPC: proctest.FreeAddr(t), jaegerOTLP: proctest.FreeAddr(t), jaegerOTLPGRPC: proctest.FreeAddr(t),
		jaegerHealth: proctest.FreeAddr(t),
		prometheus:   proctest.FreeAddr(t), pgExporter: proctest.FreeAddr(t), redisExporter: proctest.FreeAddr(t), k6API: proctest.FreeAddr(t),
	}
	for i := range a.replicas {
		a.replicas[i] = proctest.FreeAddr(t)
	}
	return a
}

// startLoki runs Loki with loki/loki.yaml, its data in a temp dir.
func startLoki(ctx context.Context, t *testing.T, logs string, a addrs) *proc {
	t.Helper()
	host, port, _ := strings.Cut(a.loki, ":")
	_, grpcPort, _ := strings.Cut(a.lokiGRPC, ":")
	env := baseEnv("LOKI_DATA="+t.TempDir(), "LOKI_HTTP_ADDR="+host, "LOKI_HTTP_PORT="+port, "LOKI_GRPC_PORT="+grpcPort)
	return start(ctx, t, logs, "loki", env, proctest.Tool(t, "LOKI_BIN", ""),
		"-config.file=loki/loki.yaml", "-config.expand-env=true")
}

// startJaeger runs Jaeger v2 with observability/jaeger.yaml (in-memory storage).
func startJaeger(ctx context.Context, t *testing.T, logs string, a addrs) *proc {
	t.Helper()
	env := baseEnv("JAEGER_HEALTH_ADDR="+a.jaegerHealth, "JAEGER_QUERY_ADDR="+a.jaegerQuery,
		"JAEGER_QUERY_GRPC_ADDR="+a.jaegerQueryGRPC, "JAEGER_OTLP_GRPC_ADDR="+a.jaegerOTLPGRPC,
		"JAEGER_OTLP_HTTP_ADDR="+a.jaegerOTLP)
	// jaeger_query traces itself by default, to 127.0.0.1:4317: someone else's collector, or
	// nobody (a warning every few seconds).
	return start(ctx, t, logs, "jaeger", env, proctest.Tool(t, "JAEGER_BIN", ""), "--config", "observability/jaeger.yaml",
		"--set", "extensions::jaeger_query::enable_tracing=false")
}

// startExporters runs the PostgreSQL exporter on the test's database and the Redis exporter.
func startExporters(ctx context.Context, t *testing.T, logs string, a addrs, dbURL, redisAddr string) (pg, redis *proc) {
	t.Helper()
	pg = start(ctx, t, logs, "postgres-exporter", baseEnv("DATA_SOURCE_NAME="+dbURL),
		proctest.Tool(t, "POSTGRES_EXPORTER_BIN", ""), "--web.listen-address="+a.pgExporter)
	redis = start(ctx, t, logs, "redis-exporter", baseEnv(),
		proctest.Tool(t, "REDIS_EXPORTER_BIN", ""), "-redis.addr=redis://"+redisAddr, "-web.listen-address="+a.redisExporter)
	return pg, redis
}

// dashtestFiles has app/internal/dashtest write the two files this test needs: prometheus.yml
// with the repository's jobs pointed at the native targets (rules included, absolute), and the
// list of every dashboard and rule expression.
func dashtestFiles(ctx context.Context, t *testing.T, a addrs) (promConfig, queryList string) {
	t.Helper()
	dir := t.TempDir()
	promConfig, queryList = filepath.Join(dir, "prometheus.yml"), filepath.Join(dir, "queries.json")
	targets := strings.Join([]string{
		"product-service=" + strings.Join(a.replicas[:], ","),
		"prometheus=" + a.prometheus,
		"loki=" + a.loki,
		"postgres=" + a.pgExporter,
		"redis=" + a.redisExporter,
	}, ";")
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool(), "test", "-count=1", "-run", "^(TestWriteNativeConfig|TestWriteQueryList)$",
		"./app/internal/dashtest/")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "DASHTEST_PROM_CONFIG_OUT="+promConfig, "DASHTEST_PROM_TARGETS="+targets,
		"DASHTEST_QUERIES_OUT="+queryList)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dashtest: %v\n%s", err, out)
	}
	return promConfig, queryList
}

// startPrometheus runs Prometheus on config as compose does: remote write receiver (k6),
// exemplar storage and native histograms.
func startPrometheus(ctx context.Context, t *testing.T, logs string, a addrs, config string) *proc {
	t.Helper()
	return start(ctx, t, logs, "prometheus", baseEnv(), proctest.Tool(t, "PROMETHEUS_BIN", "/usr/bin/prometheus"),
		"--config.file="+config, "--storage.tsdb.path="+t.TempDir(), "--web.listen-address="+a.prometheus,
		"--web.enable-remote-write-receiver", "--enable-feature=exemplar-storage,native-histograms",
		"--log.level=warn")
}

// goTool is the go command: $GO, else go on the PATH.
func goTool() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}
