package cache

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/product-service-lab/product-service/app/internal/catalog"
	"github.com/product-service-lab/product-service/app/internal/faults"
	"github.com/product-service-lab/product-service/app/internal/lab"
)

// contractPolicies are every preset, and the presets' variants a user can switch to.
var contractPolicies = []struct {
	name, preset string
	mods         []string
}{
	{"none", "none", nil},
	{"naive", "naive", nil},
	{"protected", "protected", nil},
	{"two-level", "two-level", nil},
	{"full", "full", nil},
	{"local", "naive", []string{`{"layers":"local","breakdown":"singleflight"}`}},
	{"protected-msgpack", "protected", []string{`{"serializer":"msgpack"}`}},
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// One contract, every policy: the same answers as the database, cold and warm, and after writes.
func TestContractEveryPolicy(t *testing.T) {
	for _, pc := range contractPolicies {
		t.Run(pc.name, func(t *testing.T) {
			f := newFixture(t, 0)
			s := f.store(pc.preset, pc.mods...)
			ctx := context.Background()
			for round := range 3 { // cold, then warm twice
				for _, id := range []int64{1, 77, seeded} {
					want, err := f.src.Store.Product(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					got, res := mustProduct(t, s, id)
					if jsonOf(t, got) != jsonOf(t, want) {
						t.Fatalf("round %d, product %d (%s) differs from the database:\n got %s\nwant %s",
							round, id, res, jsonOf(t, got), jsonOf(t, want))
					}
					body, _, err := s.LookupProduct(ctx, id)
					if err != nil || string(body.JSON) != jsonOf(t, want) || body.Version != want.Version {
						t.Fatalf("round %d, LookupProduct(%d) = %s, %v; want the database's JSON", round, id, body.JSON, err)
					}
					inv, err := s.Inventory(ctx, id)
					if err != nil || inv != want.Inventory {
						t.Fatalf("round %d inventory %d = %+v, %v; want %+v", round, id, inv, err, want.Inventory)
					}
				}
				if _, err := s.Product(ctx, seeded+50); !errors.Is(err, catalog.ErrNotFound) {
					t.Fatalf("round %d: missing product gave %v, want ErrNotFound", round, err)
				}
				batch, err := s.Products(ctx, []int64{3, 1, seeded + 9, 2})
				if err != nil {
					t.Fatal(err)
				}
				direct, _ := f.src.Store.Products(ctx, []int64{3, 1, seeded + 9, 2})
				if diff := cmp.Diff(byID(t, direct), byID(t, batch)); diff != "" {
					t.Fatalf("round %d batch differs (-db +cache):\n%s", round, diff)
				}
			}

			// Writes through the cache are read back at once, whatever the policy.
			for i := range 5 {
				cur, _ := mustProduct(t, s, 77)
				in := inputFrom(cur)
				in.Name = cur.Name + "!"
				updated, err := s.Update(ctx, 77, in, cur.Version)
				if err != nil {
					t.Fatalf("update %d: %v", i, err)
				}
				if got, res := mustProduct(t, s, 77); got.Version != updated.Version || got.Name != updated.Name {
					t.Fatalf("read after update %d returned %s (%s), want %s", i, describe(got), res, describe(updated))
				}
			}
			created, err := s.Create(ctx, inputFrom(catalog.Product{SKU: "NEW-" + pc.name, Name: "new", PriceCents: 5,
				Currency: "EUR", Category: catalog.Category{ID: 1}}))
			if err != nil {
				t.Fatal(err)
			}
			if got, res := mustProduct(t, s, created.ID); got.ID != created.ID {
				t.Fatalf("read after create: %s (%s)", describe(got), res)
			}
			if err := s.Delete(ctx, created.ID, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Product(ctx, created.ID); !errors.Is(err, catalog.ErrNotFound) {
				t.Fatalf("read after delete: %v, want ErrNotFound", err)
			}
		})
	}
}

func byID(t *testing.T, ps []catalog.Product) map[int64]string {
	out := map[int64]string{}
	for _, p := range ps {
		out[p.ID] = jsonOf(t, p)
	}
	return out
}

func inputFrom(p catalog.Product) catalog.ProductInput {
	price := p.PriceCents
	return catalog.ProductInput{SKU: p.SKU, Name: p.Name, Description: p.Description, PriceCents: &price,
		Currency: p.Currency, CategoryID: p.Category.ID, IsHot: p.IsHot}
}

// Breakdown: 200 concurrent reads of a hot key that is not cached, while a load takes 100 ms.
func TestBreakdown(t *testing.T) {
	const hot, readers = 7, 200
	tests := []struct {
		name      string
		mods      string
		instances int
		check     func(loads int) bool
		want      string
	}{
		{"naive loads many times", `{"breakdown":"off"}`, 1, func(n int) bool { return n > 1 }, "> 1"},
		{"singleflight loads once", `{"breakdown":"singleflight"}`, 1, func(n int) bool { return n == 1 }, "1"},
		{"singleflight loads once per instance", `{"breakdown":"singleflight"}`, 2, func(n int) bool { return n == 2 }, "2"},
		{"lock loads once", `{"breakdown":"lock"}`, 1, func(n int) bool { return n == 1 }, "1"},
		{"lock loads once across instances", `{"breakdown":"lock"}`, 2, func(n int) bool { return n == 1 }, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 100*time.Millisecond)
			var stores []*Store
			for range tt.instances {
				stores = append(stores, f.store("naive", tt.mods))
			}
			var failed atomic.Int64
			concurrently(readers, func(i int) {
				if _, err := stores[i%len(stores)].Product(context.Background(), hot); err != nil {
					failed.Add(1)
				}
			})
			if failed.Load() > 0 {
				t.Fatalf("%d reads failed", failed.Load())
			}
			if n := f.src.of(hot); !tt.check(n) {
				t.Fatalf("%d database loads of the hot key, want %s", n, tt.want)
			}
		})
	}
}

// A lock holder that never delivers: waiters give up after lock_wait and load themselves.
func TestLockTimeout(t *testing.T) {
	f := newFixture(t, 0)
	s := f.store("protected", `{"lock_wait":"50ms"}`)
	f.rdb.Set(context.Background(), s.lockKey(s.productKey(9)), "someone-else", time.Minute)
	start := time.Now()
	if _, res := mustProduct(t, s, 9); res != Miss {
		t.Fatalf("result %s, want MISS", res)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Error("the reader did not wait for the lock holder")
	}
	if got := testutil.ToFloat64(s.m.dbLoads.WithLabelValues("lock_timeout")); got != 1 {
		t.Errorf("cache_db_loads_total{cause=lock_timeout} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(s.m.locks.WithLabelValues("timeout")); got != 1 {
		t.Errorf("cache_lock_total{result=timeout} = %v, want 1", got)
	}
}

// Avalanche: 1,000 keys written at once expire spread over [T(1−j), T(1+j)] with jitter, together without.
func TestAvalancheJitter(t *testing.T) {
	const ttl = 100 * time.Second
	ids := make([]int64, 0, 1000)
	for id := int64(1); len(ids) < 1000; id++ {
		ids = append(ids, id)
	}
	for _, j := range []float64{0, 0.1} {
		f := newFixture(t, 0)
		s := f.store("naive", `{"ttl":"100s","ttl_jitter":`+jsonOf(t, j)+`}`)
		ctx := context.Background()
		// Written at once, as a warm-up or a burst of misses would; the values need no database row.
		// Redis counts the TTLs down meanwhile: took (from the first write to the last PTTL) is
		// how far that can move them, however slow the machine.
		began := time.Now()
		for _, id := range ids {
			s.fill(ctx, s.policy.Load(), s.productKey(id), catalog.Product{ID: id}, ttl, 0)
		}
		lo, hi := time.Duration(1<<62), time.Duration(0)
		for _, id := range ids {
			d, err := f.rdb.PTTL(ctx, s.productKey(id)).Result()
			if err != nil || d <= 0 {
				t.Fatalf("PTTL of product %d: %v, %v", id, d, err)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		// PTTL rounds to the millisecond.
		took := time.Since(began) + 2*time.Millisecond
		spread := hi - lo
		t.Logf("jitter %.1f: PTTLs over [%s, %s], read within %s of the first write", j, lo, hi, took)
		if j == 0 && spread > took {
			t.Errorf("without jitter the TTLs spread over %s in %s, want them equal", spread, took)
		}
		if j > 0 {
			if lo < time.Duration(float64(ttl)*(1-j))-took || hi > time.Duration(float64(ttl)*(1+j)) {
				t.Errorf("jitter %.1f: PTTLs over [%s, %s] read within %s, want within [%s, %s]", j, lo, hi, took,
					time.Duration(float64(ttl)*(1-j)), time.Duration(float64(ttl)*(1+j)))
			}
			// 1,000 uniform draws over ±j·T span almost all of it; half of it is certain.
			if spread < time.Duration(float64(ttl)*j)-took {
				t.Errorf("jitter %.1f: PTTLs spread over only %s", j, spread)
			}
		}
	}
}

// Penetration: 1,000 reads over 100 ids that do not exist.
func TestPenetration(t *testing.T) {
	tests := []struct {
		name     string
		mods     string
		maxLoads int64
	}{
		{"naive loads every time", `{}`, 1000},
		{"null caching loads each id once", `{"null_ttl":"30s"}`, 100},
		// Expected false positives: 1,000 × 1 % = 10; allow three times that.
		{"bloom filter loads almost nothing", `{"bloom":true}`, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 0)
			s := f.store("naive", tt.mods)
			for i := range 1000 {
				id := int64(1_000_000 + i%100)
				if _, err := s.Product(context.Background(), id); !errors.Is(err, catalog.ErrNotFound) {
					t.Fatalf("unknown id %d: %v", id, err)
				}
			}
			loads := f.src.total.Load()
			t.Logf("%d database loads", loads)
			if loads > tt.maxLoads {
				t.Errorf("%d database loads for 1,000 reads of unknown ids, want ≤ %d", loads, tt.maxLoads)
			}
			if tt.name == "naive loads every time" && loads != 1000 {
				t.Errorf("naive: %d loads, want 1,000 (the problem must show)", loads)
			}
		})
	}
}

// Invalidation across instances: after a write on one, the other's L1 drops the old version.
func TestInvalidationReachesOtherInstances(t *testing.T) {
	f := newFixture(t, 0)
	a, b := f.store("two-level"), f.store("two-level")
	ctx := context.Background()
	const id = 11
	mustProduct(t, a, id)
	old, _ := mustProduct(t, b, id)
	if _, res := mustProduct(t, b, id); res != HitL1 {
		t.Fatalf("second read on b: %s, want HIT-L1", res)
	}
	in := inputFrom(old)
	in.Name = "renamed on a"
	updated, err := a.Update(ctx, id, in, old.Version)
	if err != nil {
		t.Fatal(err)
	}
	// b applies the event (and observes its lag) after dropping the L1 entry: from then on it
	// must read the new version. An event that never comes fails at the test's deadline.
	lab.WaitFor(t, "b to apply a's invalidation", func() bool { return lagSamples(t, b) == 1 })
	if got, res := mustProduct(t, b, id); got.Version != updated.Version {
		t.Fatalf("b returned %s (%s) after applying the invalidation of version %d", describe(got), res, updated.Version)
	}
}

// Without pub/sub the other instance keeps its stale L1 entry: the switch matters. To tell "no
// event" from "a slow event", the test publishes a marker after the write (an invalidation of
// another product b holds): Redis delivers a channel's messages in order, so once b has applied
// the marker it has applied anything a published before it.
func TestWithoutPubSubOtherInstancesStayStale(t *testing.T) {
	f := newFixture(t, 0)
	a, b := f.store("two-level", `{"pubsub":false}`), f.store("two-level", `{"pubsub":false}`)
	const id, marker = 12, 13
	old, _ := mustProduct(t, b, id)
	mustProduct(t, b, marker)
	in := inputFrom(old)
	in.Name = "renamed"
	if _, err := a.Update(context.Background(), id, in, 0); err != nil {
		t.Fatal(err)
	}
	ev, err := json.Marshal(event{Op: opInvalidate, IDs: []int64{marker}, Origin: "test-marker", SentUnixNano: time.Now().UnixNano()})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.rdb.Publish(context.Background(), b.channel(), ev).Err(); err != nil {
		t.Fatal(err)
	}
	lab.WaitFor(t, "b to apply the marker", func() bool {
		_, held := b.l1.GetIfPresent(b.productKey(marker))
		return !held
	})
	if n := lagSamples(t, b); n != 1 {
		t.Errorf("b applied %d events, want 1 (the marker): a published its write without pub/sub", n)
	}
	if got, res := mustProduct(t, b, id); got.Version != old.Version || res != HitL1 {
		t.Fatalf("b returned %s (%s); without pub/sub it should still serve the stale L1 copy", describe(got), res)
	}
}

// Redis unreachable: reads succeed from the database and the breaker opens.
func TestRedisDownFailsOpen(t *testing.T) {
	f := newFixture(t, 0)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = dead.Close() })
	s := f.storeWith(dead, "two-level")
	for i := range 20 {
		p, res := mustProduct(t, s, int64(1+i%5))
		if p.ID == 0 || (res != Miss && res != HitL1) {
			t.Fatalf("read %d: %s (%s)", i, describe(p), res)
		}
	}
	if st := s.Status().Breaker; st != "open" {
		t.Errorf("breaker %s after 20 reads with Redis down, want open", st)
	}
	if got := testutil.ToFloat64(s.m.requests.WithLabelValues("redis", "error")); got == 0 {
		t.Error("redis errors were not counted")
	}
	if _, err := s.Products(context.Background(), []int64{1, 2, 3}); err != nil {
		t.Errorf("batch with Redis down: %v", err)
	}
}

// Switching policies while 50 goroutines read: no request fails (run with -race). The switches
// start once every reader has read, and the readers stop once the switches are done, so the
// two overlap whatever the machine's speed.
func TestSwitchPoliciesUnderLoad(t *testing.T) {
	const readers, switches = 50, 30
	f := newFixture(t, 0)
	s := f.store("none")
	ctx := context.Background()
	before := testutil.ToFloat64(s.m.policyChanges)
	var reads, failures atomic.Int64
	var switched atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer switched.Store(true)
		lab.WaitFor(t, "every reader to read once", func() bool { return reads.Load() >= readers })
		for i := range switches {
			name := PresetNames()[i%len(PresetNames())]
			if _, err := s.SetPolicy(ctx, []byte(`{"preset":"`+name+`"}`)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	concurrently(readers, func(int) {
		for {
			id := int64(1 + rand.IntN(seeded))
			if _, err := s.Product(ctx, id); err != nil {
				failures.Add(1)
			}
			reads.Add(1)
			if switched.Load() {
				return
			}
		}
	})
	<-done
	if failures.Load() > 0 {
		t.Fatalf("%d of %d reads failed while policies switched", failures.Load(), reads.Load())
	}
	if got := testutil.ToFloat64(s.m.policyChanges) - before; got != switches {
		t.Errorf("%v policy changes counted, want %d", got, switches)
	}
}

// A policy change on one instance reaches the others.
func TestPolicyChangeReachesOtherInstances(t *testing.T) {
	f := newFixture(t, 0)
	a, b := f.store("naive"), f.store("naive")
	if _, err := a.SetPolicy(context.Background(), []byte(`{"preset":"two-level","ttl":"2m"}`)); err != nil {
		t.Fatal(err)
	}
	lab.WaitFor(t, "b to take the policy", func() bool { return b.Policy() == a.Policy() })
}

// Reset moves to a new generation: everything misses again; other namespaces are untouched.
func TestResetEmptiesOnlyTheNamespace(t *testing.T) {
	f := newFixture(t, 0)
	s := f.store("protected")
	other := "other-" + f.namespace
	ctx := context.Background()
	f.rdb.Set(ctx, other, "kept", time.Minute)
	t.Cleanup(func() { f.rdb.Del(ctx, other) })
	mustProduct(t, s, 5)
	if _, res := mustProduct(t, s, 5); res != HitRedis {
		t.Fatalf("before reset: %s", res)
	}
	old := s.productKey(5)
	gen, err := s.Reset(ctx)
	if err != nil || gen < 1 {
		t.Fatalf("Reset = %d, %v", gen, err)
	}
	if _, res := mustProduct(t, s, 5); res != Miss {
		t.Fatalf("after reset: %s, want MISS", res)
	}
	lab.WaitFor(t, "the old generation swept", func() bool { return f.rdb.Exists(ctx, old).Val() == 0 })
	if f.rdb.Get(ctx, other).Val() != "kept" {
		t.Fatal("reset touched a key outside the namespace")
	}
}

// Warm-up loads the hot products before the store is ready; reading them costs no load.
func TestWarmup(t *testing.T) {
	f := newFixture(t, 0)
	s := f.store("full")
	hot, err := f.src.HotProductIDs(context.Background(), 1000)
	if err != nil || len(hot) == 0 {
		t.Fatalf("hot ids: %v, %v", hot, err)
	}
	if got := testutil.ToFloat64(s.m.dbLoads.WithLabelValues("warmup")); got != float64(len(hot)) {
		t.Errorf("cache_db_loads_total{cause=warmup} = %v, want %d", got, len(hot))
	}
	before := f.src.total.Load()
	for _, id := range hot {
		if _, res := mustProduct(t, s, id); res != HitL1 && res != HitRedis {
			t.Fatalf("hot product %d after warm-up: %s", id, res)
		}
	}
	if f.src.total.Load() != before {
		t.Errorf("reading warmed products loaded %d from the database", f.src.total.Load()-before)
	}
}

// Batch reads use the cache for what it has and one statement for the rest.
func TestBatchLoadsOnlyWhatIsMissing(t *testing.T) {
	f := newFixture(t, 0)
	s := f.store("protected")
	ctx := context.Background()
	mustProduct(t, s, 1)
	mustProduct(t, s, 2)
	before := f.src.total.Load()
	got, err := s.Products(ctx, []int64{1, 2, 3, 4})
	if err != nil || len(got) != 4 {
		t.Fatalf("Products = %d items, %v", len(got), err)
	}
	if loaded := f.src.total.Load() - before; loaded != 2 {
		t.Errorf("batch of 2 cached + 2 uncached loaded %d ids, want 2", loaded)
	}
}

// Refresh-ahead reloads a key whose TTL is nearly over, before it expires.
func TestRefreshAhead(t *testing.T) {
	f := newFixture(t, 0)
	s := f.store("protected", `{"refresh":true,"refresh_ahead":0.9,"ttl":"10s","ttl_jitter":0}`)
	mustProduct(t, s, 21)
	ctx := context.Background()
	f.rdb.PExpire(ctx, s.productKey(21), 500*time.Millisecond) // nearly expired
	if _, res := mustProduct(t, s, 21); res != HitRedis {
		t.Fatalf("read near expiry: %s", res)
	}
	// The load is counted before it is written back: wait for the new TTL itself.
	lab.WaitFor(t, "refresh-ahead to write the key back", func() bool { return f.rdb.PTTL(ctx, s.productKey(21)).Val() > 5*time.Second })
	if got := testutil.ToFloat64(s.m.dbLoads.WithLabelValues("refresh")); got != 1 {
		t.Errorf("cache_db_loads_total{cause=refresh} = %v, want 1", got)
	}
}

// A write while Redis refuses the invalidation must not leave the old value to be served once
// Redis is back: reads skip the key until a fresh value or the retried deletion lands.
func TestInvalidationSurvivesARedisOutage(t *testing.T) {
	f := newFixture(t, 0)
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	injector := faults.New(prometheus.NewRegistry(), quiet)
	rdb := redis.NewClient(&redis.Options{Addr: f.rdb.(*redis.Client).Options().Addr, MaxRetries: -1})
	rdb.AddHook(injector.RedisHook())
	t.Cleanup(func() { _ = rdb.Close() })
	s := f.storeWith(rdb, "protected")
	ctx := context.Background()
	old, _ := mustProduct(t, s, 31)
	if _, res := mustProduct(t, s, 31); res != HitRedis {
		t.Fatalf("before the outage: %s", res)
	}

	if _, err := injector.Set([]byte(`{"redis_error_rate":1}`)); err != nil {
		t.Fatal(err)
	}
	in := inputFrom(old)
	in.Name = "written during the outage"
	updated, err := s.Update(ctx, 31, in, old.Version)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status().PendingInvalidations == 0 {
		t.Fatal("the failed deletion was not remembered")
	}
	injector.Clear()

	// The stale value is still in Redis; no read may return it, from the first one on.
	if raw := f.rdb.Get(ctx, s.productKey(31)).Val(); raw == "" {
		t.Fatal("test setup: the old value should still be in Redis")
	}
	// Every read until the retried deletion lands must skip the stale value.
	lab.WaitFor(t, "the pending invalidation to be retried", func() bool {
		got, err := s.Product(ctx, 31)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version < updated.Version {
			t.Fatalf("read returned version %d after version %d was acknowledged", got.Version, updated.Version)
		}
		body, _, err := s.LookupProduct(ctx, 31)
		if err != nil || body.Version < updated.Version {
			t.Fatalf("ProductBody returned version %d, %v", body.Version, err)
		}
		return s.Status().PendingInvalidations == 0
	})
}

// Redis skipped (breaker open) and the database down at once: a product Redis still holds is
// served from it, past the breaker, instead of a 503; one Redis does not hold still fails.
func TestRescueFromRedisWhenDatabaseDown(t *testing.T) {
	f := newFixture(t, 0)
	s := f.store("protected")
	want, _ := mustProduct(t, s, 3)
	for range 10 {
		_, _ = s.breaker.Execute(func() (struct{}, error) {
			return struct{}{}, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED} // Redis unreachable
		})
	}
	if st := s.Status().Breaker; st != "open" {
		t.Fatalf("breaker %s after induced failures, want open", st)
	}
	f.src.down.Store(true)
	got, err := s.Product(context.Background(), 3)
	if err != nil || got.Version != want.Version || got.Name != want.Name {
		t.Fatalf("product 3 with the breaker open and the database down: %s, %v; want %s from Redis", describe(got), err, describe(want))
	}
	if n := testutil.ToFloat64(s.m.rescues); n != 1 {
		t.Errorf("cache_redis_rescues_total = %v, want 1", n)
	}
	if _, err := s.Product(context.Background(), 4); !errors.Is(err, catalog.ErrUnavailable) {
		t.Errorf("product 4 (never cached) with the database down: %v, want ErrUnavailable", err)
	}
}
