package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/product-service-lab/product-service/app/internal/cache"
	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
	"github.com/product-service-lab/product-service/app/internal/faults"
	"github.com/product-service-lab/product-service/app/internal/httpapi"
	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/seed"
	"github.com/product-service-lab/product-service/app/internal/telemetry"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// benchRedisTimeout bounds the benchmarks' Redis calls.
const benchRedisTimeout = time.Second

// benchProducts is how many products the hit benchmarks read, in turn, every one cached first.
const benchProducts = 1000

// BenchmarkRouterHit measures one GET /api/v1/products/{id} answered from the cache, through the
// whole middleware stack as `serve` builds it (request id, otelgin when tracing is on, metrics,
// access log through the service's own logger and formatter to io.Discard, recovery, fault
// injection; overload protection off), over a real PostgreSQL and Redis. Cases: redis-hit (preset
// protected) and l1-hit (preset two-level); variants: the access log at info (the default) or at
// warn (no line per request), and traces sampled at 10 % by a provider that exports nowhere.
func BenchmarkRouterHit(b *testing.B) {
	addr := testdb.RedisAddr(b)
	db := testdb.New(b)
	sqlDB, err := db.Gorm.DB()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := seed.Run(context.Background(), sqlDB, seed.Options{Products: benchProducts, Generator: seed.Generator{Seed: 3}}, nil); err != nil {
		b.Fatal(err)
	}
	store := pgstore.New(db.Gorm, pgstore.Options{QueryTimeout: 5 * time.Second})
	cases := []struct{ name, preset, want string }{
		{"redis-hit", "protected", string(cache.HitRedis)},
		{"l1-hit", "two-level", string(cache.HitL1)},
	}
	variants := []struct {
		name  string
		level string
		ratio float64 // traces sampled; 0 is tracing off
	}{
		{"log=info", "info", 0},
		{"log=warn", "warn", 0},
		{"log=info,trace=10%", "info", 0.1},
	}
	for _, c := range cases {
		for _, v := range variants {
			b.Run(c.name+"/"+v.name, func(b *testing.B) {
				router := benchRouter(b, store, addr, c.preset, v.level, v.ratio)
				reqs := make([]*http.Request, benchProducts)
				for i := range reqs {
					reqs[i] = httptest.NewRequest(http.MethodGet, "/api/v1/products/"+strconv.Itoa(i+1), nil)
				}
				w := &discardWriter{header: http.Header{}}
				warmUp(b, router, w, reqs, c.want)
				b.ReportAllocs()
				b.ResetTimer()
				cpu := processCPU(b)
				i := 0
				for b.Loop() {
					w.reset()
					router.ServeHTTP(w, reqs[i%len(reqs)])
					i++
				}
				b.StopTimer()
				// CPU time of the whole process (garbage collection and background work included)
				// per request: less disturbed than ns/op by other programs on a shared machine.
				b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
				if w.status != http.StatusOK || w.header.Get("X-Cache") != c.want {
					b.Fatalf("last read: status %d, X-Cache %q, want 200 %s", w.status, w.header.Get("X-Cache"), c.want)
				}
			})
		}
	}
}

// warmUp reads every request twice: the first read fills Redis (and L1), the second must be a hit
// answered from want. It is a function of its own so that a CPU profile can leave it out
// (pprof -ignore warmUp).
func warmUp(b *testing.B, router http.Handler, w *discardWriter, reqs []*http.Request, want string) {
	b.Helper()
	for _, r := range reqs {
		for range 2 {
			w.reset()
			router.ServeHTTP(w, r)
		}
		if w.status != http.StatusOK || w.header.Get("X-Cache") != want {
			b.Fatalf("warm-up of %s: status %d, X-Cache %q, want 200 %s", r.URL.Path, w.status, w.header.Get("X-Cache"), want)
		}
	}
}

// benchRouter builds the router over a cache of preset in a namespace of its own, the way `serve`
// wires them: the service's logger at level (to io.Discard), metrics, fault injection, and with
// ratio > 0 a tracer provider sampling that share of traces (exporting nowhere) that instruments
// the router, the cache and the Redis client. It waits until the cache is ready.
func benchRouter(b *testing.B, store *pgstore.Store, addr, preset, level string, ratio float64) http.Handler {
	b.Helper()
	logger, closer, err := telemetry.NewLogger(io.Discard, telemetry.LogOptions{Level: level, Env: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = closer.Close() })
	reg := prometheus.NewRegistry()
	injector := faults.New(reg, logger)
	var tp trace.TracerProvider
	var tracer trace.Tracer
	var head httpapi.HeadSampler
	if ratio > 0 {
		sampler := sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))
		sdk := telemetry.NewSDKProvider(sdktrace.NewBatchSpanProcessor(discardExporter{}), sampler, telemetry.TracingOptions{Env: "bench"})
		b.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
		tp, tracer, head = sdk, sdk.Tracer("product-service/cache"), telemetry.NewHeadSampler(sampler)
	}
	// serve's client, but with a timeout (and Redis budget) of a second rather than 50 ms: on a
	// loaded machine a slow answer would turn a hit into a database load and the figures with it.
	rdb := redis.NewClient(&redis.Options{
		Addr: addr, DialTimeout: benchRedisTimeout, ReadTimeout: benchRedisTimeout, WriteTimeout: benchRedisTimeout,
		PoolSize: 50, MaxRetries: -1, ContextTimeoutEnabled: true,
	})
	b.Cleanup(func() { _ = rdb.Close() })
	if tp != nil {
		if err := redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(tp), redisotel.WithCallerEnabled(false)); err != nil {
			b.Fatal(err)
		}
	}
	rdb.AddHook(injector.RedisHook())
	ns := privateNamespace(b, rdb, "bench-")
	policy, err := cache.Preset(preset)
	if err != nil {
		b.Fatal(err)
	}
	cached, err := cache.New(store, rdb, policy, cache.Options{
		Namespace: ns, RedisBudget: benchRedisTimeout, Log: logger, Metrics: cache.NewMetrics(reg), Tracer: tracer,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cached.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	lab.WaitFor(b, "the cache to be ready", func() bool { return cached.Ready(context.Background()) == nil })
	return httpapi.New(httpapi.Deps{
		Store: cached, Cache: cached, Gatherer: reg, Metrics: httpapi.NewMetrics(reg), Tracer: tp, Sampler: head, Faults: injector, Log: logger,
		Checks: []httpapi.Check{{Name: "postgres", Probe: store.Ping}, {Name: "cache", Probe: cached.Ready}},
	}, httpapi.Options{AdminToken: token, MaxBodyBytes: 1 << 20, CacheMaxAge: 5 * time.Second, SlowRequest: time.Second})
}

// processCPU is the CPU time (user and system) the process has used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// privateNamespace is a cache namespace of the test's own on the shared Redis (prefix and 12
// random hex digits); its keys are deleted at cleanup.
func privateNamespace(t testing.TB, rdb *redis.Client, prefix string) string {
	t.Helper()
	buf := make([]byte, 6)
	if _, err := rand.Read(buf); err != nil {
		t.Fatal(err)
	}
	ns := prefix + hex.EncodeToString(buf)
	t.Cleanup(func() {
		ctx := context.Background()
		for iter := rdb.Scan(ctx, 0, ns+":*", 1000).Iterator(); iter.Next(ctx); {
			rdb.Del(ctx, iter.Val())
		}
	})
	return ns
}

// discardWriter is a ResponseWriter that keeps the status and headers and drops the body; it is
// reused across requests, so the benchmark counts the service's allocations, not a recorder's.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

func (w *discardWriter) WriteHeader(status int) { w.status = status }

func (w *discardWriter) reset() {
	clear(w.header)
	w.status = 0
}

// discardExporter exports spans nowhere: the SDK's work for a sampled span is measured, not a
// collector's.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }

func (discardExporter) Shutdown(context.Context) error { return nil }
