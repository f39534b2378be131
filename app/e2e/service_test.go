//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/product-service-lab/product-service/app/internal/lab"
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

// repoRoot is the repository root, relative to this package: processes run there, so the
// repository's config files are found by their usual paths.
const repoRoot = "../.."

// replica is one running product-service (app/internal/lab).
type replica struct{ *lab.Replica }

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

// serviceEnv is the configuration of a replica (lab.Service adds HTTP_ADDR).
func serviceEnv(dbURL, redisAddr, namespace, lokiURL, otlpURL string) []string {
	return []string{
		"DATABASE_URL=" + dbURL, "REDIS_ADDR=" + redisAddr, "ADMIN_TOKEN=" + adminToken,
		"APP_ENV=test", "CACHE_PRESET=full", "CACHE_NAMESPACE=" + namespace,
		// A bound below the cold sweep, so L1 evicts; misses slower than the latency objective's
		// 100 ms, so the sweep burns the latency budget.
		"CACHE_L1_MAX_ENTRIES=1000", "DB_SIMULATED_LATENCY=120ms",
		// Per-client limits on, far above what the run's own clients (127.0.0.1) spend: the flood
		// event, from an address of its own, is the one refused.
		"HTTP_CLIENT_RATE=2000",
		"LOKI_URL=" + lokiURL, "OTEL_EXPORTER_OTLP_ENDPOINT=" + otlpURL, "OTEL_TRACES_SAMPLER=always_on",
	}
}

// pause stops the replica's process for d (SIGSTOP, then SIGCONT), like a long GC pause or a
// starved CPU: what it receives meanwhile, it handles late.
func (r *replica) pause(d time.Duration) error {
	if err := r.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	time.Sleep(d)
	return r.Signal(syscall.SIGCONT)
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

// dropNamespace deletes the keys the replicas left under namespace in the shared Redis.
func dropNamespace(t *testing.T, redisAddr, namespace string) {
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := lab.DeleteKeys(ctx, rdb, namespace+":*", ""); err != nil {
		t.Logf("redis cleanup of %s: %v", namespace, err)
	}
}
