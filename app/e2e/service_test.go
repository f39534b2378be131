//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// Catalogue and traffic shape. Ids are split so each part of the run reads keys no other part
// has cached: k6 reads the hot products and cold ones up to coldMax, the cold sweep
// sweepFirst..sweepLast, events eventFirst and up (the hot products among them are cached).
const (
	products   = 5000
	coldMax    = 2500
	sweepFirst = 2501
	sweepLast  = 4300
	eventFirst = 4301
	adminToken = "e2e-admin-token"
)

// replica is one running product-service.
type replica struct {
	name string
	base string
	proc *proc
}

// buildService builds the product-service binary, as users build it, into a temp dir.
func buildService(ctx context.Context, t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "product-service")
	runOnce(ctx, t, 5*time.Minute, append(os.Environ(), "CGO_ENABLED=0"),
		goTool(), "build", "-trimpath", "-o", bin, "./app/cmd/product-service")
	return bin
}

// prepareDatabase migrates and seeds the database at dbURL with the binary's own commands.
func prepareDatabase(ctx context.Context, t *testing.T, bin, dbURL string) {
	t.Helper()
	env := baseEnv("DATABASE_URL="+dbURL, "LOG_LEVEL=warn")
	runOnce(ctx, t, 2*time.Minute, env, bin, "migrate")
	runOnce(ctx, t, 3*time.Minute, env, bin, "seed", "--products", strconv.Itoa(products))
}

// hotProducts returns the ids of the products seeded as hot: warm-up loads them into every cache
// layer at start, so a load that reads them hits the cache from its first request.
func hotProducts(t *testing.T, db testdb.DB) []int64 {
	t.Helper()
	var hot []int64
	if err := db.Gorm.Raw("SELECT id FROM products WHERE is_hot ORDER BY id").Scan(&hot).Error; err != nil {
		t.Fatal(err)
	}
	if len(hot) < 12 { // the script writes to twelve of them
		t.Fatalf("the seed flagged %d products hot, want at least 12", len(hot))
	}
	return hot
}

// serviceEnv is the configuration of a replica.
func serviceEnv(addr, dbURL, redisAddr, namespace, lokiURL, otlpURL string) []string {
	return baseEnv(
		"HTTP_ADDR="+addr, "DATABASE_URL="+dbURL, "REDIS_ADDR="+redisAddr, "ADMIN_TOKEN="+adminToken,
		"APP_ENV=test", "CACHE_PRESET=full", "CACHE_NAMESPACE="+namespace,
		// A bound below the cold sweep, so L1 evicts; misses slower than the latency objective's
		// 100 ms, so the sweep burns the latency budget.
		"CACHE_L1_MAX_ENTRIES=1000", "DB_SIMULATED_LATENCY=120ms",
		// Per-client limits on, far above what the run's own clients (127.0.0.1) spend: the flood
		// event, from an address of its own, is the one refused.
		"HTTP_CLIENT_RATE=2000",
		"LOKI_URL="+lokiURL, "OTEL_EXPORTER_OTLP_ENDPOINT="+otlpURL, "OTEL_TRACES_SAMPLER=always_on",
	)
}

// startReplica runs `serve` and waits until it is ready.
func startReplica(ctx context.Context, t *testing.T, logs, name, bin string, env []string, addr string) *replica {
	t.Helper()
	p := start(ctx, t, logs, name, env, bin, "serve")
	r := &replica{name: name, base: "http://" + addr, proc: p}
	waitReady(t, p, r.base+"/ready", 60*time.Second)
	return r
}

// pause stops the replica's process for d (SIGSTOP, then SIGCONT), like a long GC pause or a
// starved CPU: what it receives meanwhile, it handles late.
func (r *replica) pause(d time.Duration) error {
	pid := r.proc.Cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return err
	}
	time.Sleep(d)
	return syscall.Kill(pid, syscall.SIGCONT)
}

// lokiGate is a reverse proxy in front of Loki that the test can make refuse pushes, as a Loki
// that is down would: a replica shipping through it retries, then drops what it could not send.
type lokiGate struct {
	srv     *httptest.Server
	refused atomic.Bool
}

func newLokiGate(t *testing.T, loki string) *lokiGate {
	t.Helper()
	target, err := url.Parse(loki)
	if err != nil {
		t.Fatal(err)
	}
	g := &lokiGate{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.refused.Load() {
			http.Error(w, "refused by the e2e test", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// refuse makes the gate answer 503 for d, from now.
func (g *lokiGate) refuse(d time.Duration) {
	g.refused.Store(true)
	time.AfterFunc(d, func() { g.refused.Store(false) })
}

// dropNamespace deletes the keys the replicas left under namespace in the shared Redis (never
// FLUSHDB: others use it).
func dropNamespace(t *testing.T, redisAddr, namespace string) {
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, namespace+":*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 500 {
			rdb.Unlink(ctx, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		rdb.Unlink(ctx, keys...)
	}
	if err := iter.Err(); err != nil {
		t.Logf("redis cleanup of %s: %v", namespace, err)
	}
}
