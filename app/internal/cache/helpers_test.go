package cache

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/product-service-lab/product-service/app/internal/catalog"
	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/seed"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// NewMetricsForTest returns metrics on a registry of their own.
func NewMetricsForTest() *Metrics { return NewMetrics(prometheus.NewRegistry()) }

const seeded = 300

// counting is a Source that counts database loads, per id, so tests count loads rather than
// infer them from timing.
type counting struct {
	*pgstore.Store
	mu    sync.Mutex
	loads map[int64]int
	total atomic.Int64
	// down makes every load fail as an unreachable database does.
	down atomic.Bool
	// afterRead, when set, runs after a single product's row was read and before the cache gets
	// it: a test holds a load there to interleave a write.
	afterRead atomic.Pointer[func(id int64)]
}

func (c *counting) count(ids ...int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		c.loads[id]++
	}
	c.total.Add(int64(len(ids)))
}

func (c *counting) Product(ctx context.Context, id int64) (catalog.Product, error) {
	c.count(id)
	if c.down.Load() {
		return catalog.Product{}, fmt.Errorf("load product %d: %w", id, catalog.ErrUnavailable)
	}
	p, err := c.Store.Product(ctx, id)
	if hook := c.afterRead.Load(); hook != nil {
		(*hook)(id)
	}
	return p, err
}

func (c *counting) Products(ctx context.Context, ids []int64) ([]catalog.Product, error) {
	c.count(ids...)
	return c.Store.Products(ctx, ids)
}

func (c *counting) Inventory(ctx context.Context, id int64) (catalog.Inventory, error) {
	c.count(id)
	return c.Store.Inventory(ctx, id)
}

// of returns the loads of one id.
func (c *counting) of(id int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loads[id]
}

// fixture is a seeded database and a Redis namespace of the test's own.
type fixture struct {
	t         testing.TB
	db        testdb.DB
	src       *counting
	rdb       redis.UniversalClient
	namespace string
}

// newFixture returns a fixture on the shared test Redis (TEST_REDIS_ADDR).
func newFixture(t testing.TB, latency time.Duration) *fixture {
	t.Helper()
	addr := testdb.RedisAddr(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64})
	t.Cleanup(func() { _ = rdb.Close() })
	f := newFixtureOn(t, seededDB(t), rdb, latency)
	t.Cleanup(f.sweep)
	return f
}

// seededDB returns a database of the test's own with the seeded products.
func seededDB(t testing.TB) testdb.DB {
	t.Helper()
	db := testdb.New(t)
	sqlDB, err := db.Gorm.DB()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Run(context.Background(), sqlDB, seed.Options{Products: seeded,
		Generator: seed.Generator{Seed: 5, HotShare: 0.05}}, nil); err != nil {
		t.Fatal(err)
	}
	return db
}

// newFixtureOn returns a fixture over db whose stores use rdb, a client of any topology, with a
// namespace and load counts of its own.
func newFixtureOn(t testing.TB, db testdb.DB, rdb redis.UniversalClient, latency time.Duration) *fixture {
	t.Helper()
	return &fixture{
		t: t, db: db, rdb: rdb, namespace: "test-" + randomToken()[:10],
		src: &counting{Store: pgstore.New(db.Gorm, pgstore.Options{SimulatedLatency: latency}), loads: map[int64]int{}},
	}
}

// sweep deletes the test's keys: the shared Redis must not fill up with test namespaces.
func (f *fixture) sweep() {
	ctx := context.Background()
	iter := f.rdb.Scan(ctx, 0, f.namespace+":*", 1000).Iterator()
	for iter.Next(ctx) {
		f.rdb.Del(ctx, iter.Val())
	}
}

// store returns a cache instance over the fixture (several share the namespace, as replicas do),
// running its background work until the test ends. mods patch the preset.
func (f *fixture) store(preset string, mods ...string) *Store {
	return f.storeWith(f.rdb, preset, mods...)
}

func (f *fixture) storeWith(rdb redis.UniversalClient, preset string, mods ...string) *Store {
	f.t.Helper()
	return f.storeOpts(rdb, preset, nil, mods...)
}

// storeOpts is storeWith with opts applied to the Store's options first.
func (f *fixture) storeOpts(rdb redis.UniversalClient, preset string, opts func(*Options), mods ...string) *Store {
	f.t.Helper()
	p, err := Preset(preset)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, m := range mods {
		if p, err = Apply(p, []byte(m)); err != nil {
			f.t.Fatal(err)
		}
	}
	o := Options{Namespace: f.namespace, Metrics: NewMetricsForTest(), L1MaxEntries: 10_000}
	if opts != nil {
		opts(&o)
	}
	s, err := New(f.src, rdb, p, o)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	f.t.Cleanup(func() { cancel(); <-done })
	lab.WaitFor(f.t, "cache ready", func() bool { return s.Ready(ctx) == nil && (!p.Bloom || s.bloom.isReady()) })
	return s
}

// lagSamples counts the other instances' invalidations s has applied (each observes its lag).
func lagSamples(t testing.TB, s *Store) uint64 {
	t.Helper()
	var m dto.Metric
	if err := s.m.invalidationLag.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// concurrently runs fn n times at once (released together) and waits for all.
func concurrently(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

func mustProduct(t *testing.T, s *Store, id int64) (catalog.Product, Result) {
	t.Helper()
	p, res, err := s.product(context.Background(), id)
	if err != nil {
		t.Fatalf("Product(%d): %v", id, err)
	}
	return p, res
}

func describe(p catalog.Product) string { return fmt.Sprintf("%d v%d %q", p.ID, p.Version, p.Name) }
