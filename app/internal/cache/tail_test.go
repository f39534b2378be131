package cache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/product-service-lab/product-service/app/internal/catalog"
	"github.com/product-service-lab/product-service/app/internal/lab"
)

// staleValue puts product id in Redis as a value whose TTL ran out a second ago (soft expiry keeps
// it), so a test needs no clock to see a stale read.
func staleValue(t *testing.T, f *fixture, s *Store, id int64) catalog.Product {
	t.Helper()
	ctx := context.Background()
	prod, err := f.src.Store.Product(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := encode(SerializerJSON, prod)
	if err != nil {
		t.Fatal(err)
	}
	raw = withStamp(raw, stamp{freshUntil: time.Now().Add(-time.Second), loadTime: time.Millisecond})
	if err := f.rdb.Set(ctx, s.productKey(id), raw, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	return prod
}

// freshUntil reads the stamp of a product's Redis value.
func freshUntil(t *testing.T, f *fixture, s *Store, id int64) time.Time {
	t.Helper()
	raw, err := f.rdb.Get(context.Background(), s.productKey(id)).Bytes()
	if err != nil {
		return time.Time{}
	}
	st, _, _ := unstamp(raw)
	return st.freshUntil
}

// Past its TTL, a value is answered stale at once by every instance while exactly one instance
// reloads it: the reload is held until every read has answered, so all of them saw it stale.
func TestSoftExpiryOneRefresherAcrossInstances(t *testing.T) {
	const id, readers = 11, 100
	f := newFixture(t, 0)
	policy := `{"layers":"redis","stale_ttl":"1h","warmup":false}`
	a, b := f.store("tail", policy), f.store("tail", policy)
	want := staleValue(t, f, a, id)
	release := make(chan struct{})
	var once sync.Once
	held := make(chan struct{})
	hook := func(int64) { once.Do(func() { close(held) }); <-release }
	f.src.afterRead.Store(&hook)
	before := f.src.of(id)

	results := make([]Result, readers)
	concurrently(readers, func(i int) {
		s := []*Store{a, b}[i%2]
		body, r, err := s.LookupProduct(context.Background(), id)
		if err != nil || body.Version != want.Version {
			t.Errorf("read %d: version %d, %v", i, body.Version, err)
		}
		results[i] = r
	})
	for i, r := range results {
		if r != Stale {
			t.Fatalf("read %d answered %s while the reload was held, want STALE", i, r)
		}
	}
	<-held // one refresher is loading
	close(release)
	lab.WaitFor(t, "the refreshed value", func() bool { return freshUntil(t, f, a, id).After(time.Now()) })
	f.src.afterRead.Store(nil)
	// Both instances may still be finishing a refresh attempt: wait until neither is.
	lab.WaitFor(t, "background refreshes to end", func() bool { return idle(a, id) && idle(b, id) })
	if n := f.src.of(id) - before; n != 1 {
		t.Errorf("%d database loads for one soft expiry across two instances, want 1", n)
	}
	revalidated := testutil.ToFloat64(a.m.dbLoads.WithLabelValues("revalidate")) + testutil.ToFloat64(b.m.dbLoads.WithLabelValues("revalidate"))
	if revalidated != 1 {
		t.Errorf("cache_db_loads_total{cause=revalidate} = %v over both instances, want 1", revalidated)
	}
	if stale := testutil.ToFloat64(a.m.requests.WithLabelValues("redis", "stale")) + testutil.ToFloat64(b.m.requests.WithLabelValues("redis", "stale")); stale != readers {
		t.Errorf("stale answers counted %v, want %d", stale, readers)
	}
	if n := testutil.CollectAndCount(a.m.staleAge); n != 1 {
		t.Errorf("cache_stale_age_seconds has %d series, want 1", n)
	}
	if _, r, err := a.LookupProduct(context.Background(), id); err != nil || r != HitRedis {
		t.Errorf("read after the refresh: %s, %v; want HIT-REDIS", r, err)
	}
}

// idle reports whether s is not reloading key id in the background.
func idle(s *Store, id int64) bool {
	_, busy := s.refreshing.Load(s.productKey(id))
	return !busy
}

// Soft expiry never serves a value a write invalidated, nor one stale past a policy without it.
func TestSoftExpiryNeverServesInvalidated(t *testing.T) {
	const id = 12
	ctx := context.Background()
	tests := []struct {
		name, policy string
		act          func(t *testing.T, s *Store)
	}{
		{"after a write", `{"layers":"redis","stale_ttl":"1h","refill":false,"warmup":false}`, func(t *testing.T, s *Store) {
			cur, err := s.src.Product(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			in := catalog.ProductInput{SKU: cur.SKU, Name: cur.Name + " v2", Description: cur.Description,
				PriceCents: &cur.PriceCents, Currency: cur.Currency, CategoryID: cur.Category.ID, Stock: &cur.Inventory.Stock}
			if _, err := s.Update(ctx, id, in, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"with soft expiry switched off", `{"layers":"redis","stale_ttl":"0s","xfetch_beta":1,"refill":false,"warmup":false}`, func(*testing.T, *Store) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 0)
			s := f.store("tail", tt.policy)
			old := staleValue(t, f, s, id)
			tt.act(t, s)
			got, r, err := s.product(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if r == Stale || (r != Miss && got.Version == old.Version && got.Name == old.Name && tt.name == "after a write") {
				t.Errorf("read answered %s version %d: the invalidated or expired value was served", r, got.Version)
			}
			if r != Miss {
				t.Errorf("read answered %s, want MISS (a load)", r)
			}
		})
	}
}

// XFetch's chance of an early refresh rises as expiry nears, and with the key's load time and beta:
// over a fixed grid of u it equals 1 − exp(−left/(delta×beta)).
func TestXFetchProbabilityRisesTowardExpiry(t *testing.T) {
	const n = 10_000
	share := func(left, delta time.Duration, beta float64) float64 {
		due := 0
		for i := range n {
			if xfetchDue(left, delta, beta, (float64(i)+0.5)/n) {
				due++
			}
		}
		return float64(due) / n
	}
	delta := 200 * time.Millisecond
	prev := -1.0
	for _, left := range []time.Duration{10 * time.Second, 2 * time.Second, time.Second, 500 * time.Millisecond,
		200 * time.Millisecond, 50 * time.Millisecond, time.Millisecond} {
		got := share(left, delta, 1)
		want := 1 - math.Exp(-float64(left)/float64(delta))
		want = 1 - want // P(due) = exp(-left/delta)
		if math.Abs(got-want) > 0.001 {
			t.Errorf("left %s: share due %.4f, want %.4f", left, got, want)
		}
		if got < prev {
			t.Errorf("left %s: share due %.4f fell from %.4f as expiry neared", left, got, prev)
		}
		prev = got
	}
	if a, b := share(time.Second, delta, 1), share(time.Second, delta, 2); b <= a {
		t.Errorf("beta 2 refreshes early with %.4f, beta 1 with %.4f: want more", b, a)
	}
	if a, b := share(time.Second, delta, 1), share(time.Second, 2*delta, 1); b <= a {
		t.Errorf("a key twice as slow to load refreshes early with %.4f, want more than %.4f", b, a)
	}
	if !xfetchDue(0, delta, 1, 0.5) {
		t.Error("an expired key is not due")
	}
}

// A hit on a value whose load time dwarfs what is left of its TTL refreshes it early, in the
// background, counted as early_refresh; a value far from expiry does not.
func TestXFetchRefreshesEarly(t *testing.T) {
	const near, far = 21, 22
	ctx := context.Background()
	f := newFixture(t, 0)
	s := f.store("xfetch", `{"layers":"redis","warmup":false,"refresh":false}`)
	s.uniform = func() float64 { return 0.5 } // −ln u ≈ 0.69: due when 0.69 × load time reaches what is left
	for id, st := range map[int64]stamp{
		near: {freshUntil: time.Now().Add(time.Minute), loadTime: time.Hour},
		far:  {freshUntil: time.Now().Add(time.Hour), loadTime: time.Microsecond},
	} {
		prod, err := f.src.Store.Product(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := encode(SerializerJSON, prod)
		if err := f.rdb.Set(ctx, s.productKey(id), withStamp(raw, st), 2*time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []int64{near, far} {
		if _, r := mustProduct(t, s, id); r != HitRedis {
			t.Fatalf("product %d: %s, want HIT-REDIS", id, r)
		}
	}
	lab.WaitFor(t, "the early refresh", func() bool { return testutil.ToFloat64(s.m.dbLoads.WithLabelValues("early_refresh")) == 1 })
	lab.WaitFor(t, "background refreshes to end", func() bool { return idle(s, near) && idle(s, far) })
	if f.src.of(near) != 1 || f.src.of(far) != 0 {
		t.Errorf("loads: near expiry %d, far from it %d; want 1 and 0", f.src.of(near), f.src.of(far))
	}
	if got := freshUntil(t, f, s, near); !got.After(time.Now().Add(2 * time.Minute)) {
		t.Errorf("the refreshed value is fresh until %s, want a new TTL", got)
	}
}

// The cache-aside race: a reader loads the row, a write commits (and invalidates) before the reader
// stores what it read, then the reader stores the old version. Without the fence the old version
// is then served; with refill on, the writer's store moved the fence and the reader's is refused.
func TestFenceClosesTheCacheAsideRace(t *testing.T) {
	const id = 31
	tests := []struct {
		name, preset, policy string
		wantOld              bool
	}{
		{"cache-aside (protected) serves the old version", "protected", `{"bloom":false}`, true},
		{"refill with the fence serves the new version", "tail", `{"layers":"redis","warmup":false,"bloom":false}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, 0)
			s := f.store(tt.preset, tt.policy)
			read, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			hook := func(int64) { once.Do(func() { close(read); <-release }) }
			f.src.afterRead.Store(&hook)
			done := make(chan error, 1)
			go func() { _, err := s.Product(ctx, id); done <- err }()
			<-read // the reader holds the old row
			cur, err := f.src.Store.Product(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			in := catalog.ProductInput{SKU: cur.SKU, Name: cur.Name + " (written)", Description: cur.Description,
				PriceCents: &cur.PriceCents, Currency: cur.Currency, CategoryID: cur.Category.ID, Stock: &cur.Inventory.Stock}
			written, err := s.Update(ctx, id, in, 0)
			if err != nil {
				t.Fatal(err)
			}
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			f.src.afterRead.Store(nil)
			got, _ := mustProduct(t, s, id)
			if gotOld := got.Version < written.Version; gotOld != tt.wantOld {
				t.Errorf("after the race the cache answers version %d (written %d); old served: %v, want %v",
					got.Version, written.Version, gotOld, tt.wantOld)
			}
			if !tt.wantOld && testutil.ToFloat64(s.m.fenceRejects) != 1 {
				t.Errorf("cache_fence_rejects_total = %v, want 1", testutil.ToFloat64(s.m.fenceRejects))
			}
		})
	}
}

// The fence refuses an older version, from a reader or a late writer, and a deleted product's
// tombstone refuses every version; with refill, a write leaves the new version for readers.
func TestFenceRefusesOlderVersions(t *testing.T) {
	const id = 41
	ctx := context.Background()
	f := newFixture(t, 0)
	s := f.store("tail", `{"layers":"redis","warmup":false}`)
	p := s.policy.Load()
	key := s.productKey(id)
	put := func(version int64, writer bool) error {
		w, ok := s.encodeFill(p, key, catalog.Product{ID: id, Version: version}, time.Minute, 0)
		if !ok {
			t.Fatal("encode failed")
		}
		return s.storeFenced(ctx, w, writer)
	}
	version := func() int64 {
		v, _, err := peek(ctx, s, s.productSpec(p, id))
		if err != nil {
			t.Fatal(err)
		}
		return v.Version
	}
	steps := []struct {
		name    string
		version int64
		writer  bool
		wantErr error
		want    int64
	}{
		{"writer stores v5", 5, true, nil, 5},
		{"reader stores v4", 4, false, errFenced, 5},
		{"late writer stores v3", 3, true, errFenced, 5},
		{"reader stores v5 again", 5, false, nil, 5},
		{"writer stores v6", 6, true, nil, 6},
	}
	for _, st := range steps {
		if err := put(st.version, st.writer); !errors.Is(err, st.wantErr) {
			t.Fatalf("%s: %v, want %v", st.name, err, st.wantErr)
		}
		if got := version(); got != st.want {
			t.Fatalf("%s: Redis holds v%d, want v%d", st.name, got, st.want)
		}
	}
	if err := s.fenceDeleted(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := put(7, false); !errors.Is(err, errFenced) {
		t.Errorf("store after a delete's tombstone: %v, want refused", err)
	}
}

// With refill, the read after a write is a Redis hit of the new version: no miss, no load.
func TestRefillAfterWrite(t *testing.T) {
	const id = 51
	ctx := context.Background()
	f := newFixture(t, 0)
	s := f.store("tail", `{"warmup":false}`)
	mustProduct(t, s, id)
	cur, _ := mustProduct(t, s, id)
	in := catalog.ProductInput{SKU: cur.SKU, Name: cur.Name + " v2", Description: cur.Description,
		PriceCents: &cur.PriceCents, Currency: cur.Currency, CategoryID: cur.Category.ID, Stock: &cur.Inventory.Stock}
	written, err := s.Update(ctx, id, in, cur.Version)
	if err != nil {
		t.Fatal(err)
	}
	before := f.src.of(id)
	got, r := mustProduct(t, s, id)
	if r != HitRedis || got.Version != written.Version || got.Name != written.Name {
		t.Errorf("read after the write: %s %s, want HIT-REDIS %s", r, describe(got), describe(written))
	}
	if n := f.src.of(id) - before; n != 0 {
		t.Errorf("%d database loads after a refilled write, want 0", n)
	}
	if testutil.ToFloat64(s.m.refills) != 1 {
		t.Errorf("cache_refills_total = %v, want 1", testutil.ToFloat64(s.m.refills))
	}
}

// Warm-up of the whole catalogue loads every product once, in statements of many ids, and says
// how far it got; afterwards no read of any product goes to the database.
func TestWarmupAll(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	s := f.store("tail", `{"warmup_rate":100}`) // warms at start, 10 ids a statement at most
	ids, err := f.src.Store.ProductIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := s.Status().Warmup
	if st.Running || st.Scope != WarmupAll || st.Loaded != int64(len(ids)) || st.Target != int64(len(ids)) || st.Bytes == 0 {
		t.Errorf("warm-up status %+v, want %d of %d loaded", st, len(ids), len(ids))
	}
	if got := testutil.ToFloat64(s.m.dbLoads.WithLabelValues("warmup")); got != float64(len(ids)) {
		t.Errorf("warm-up loads %v, want %d", got, len(ids))
	}
	if got := testutil.ToFloat64(s.m.warmLoaded); got != float64(len(ids)) {
		t.Errorf("cache_warmup_products = %v, want %d", got, len(ids))
	}
	before := f.src.total.Load()
	for _, id := range ids {
		if _, r := mustProduct(t, s, id); r != HitL1 && r != HitRedis {
			t.Fatalf("product %d after warm-up: %s", id, r)
		}
	}
	if n := f.src.total.Load() - before; n != 0 {
		t.Errorf("%d database loads after a whole-catalogue warm-up, want 0", n)
	}
}

// A batch of fenced stores goes by the script's hash; a Redis that does not know the script (it
// restarted, or flushed its scripts) is taught it and every value still lands.
func TestFencedBatchStoreAfterScriptFlush(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	s := f.store("tail", `{"warmup":false}`)
	ids := []int64{61, 62, 63}
	products, err := f.src.Store.Products(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 { // unknown script, then known
		if round == 0 {
			if err := f.rdb.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
		f.rdb.Del(ctx, s.productKey(61), s.productKey(62), s.productKey(63))
		s.fillProducts(ctx, s.policy.Load(), products, time.Millisecond)
		for _, id := range ids {
			if n := f.rdb.Exists(ctx, s.productKey(id)).Val(); n != 1 {
				t.Errorf("round %d: product %d not stored", round, id)
			}
		}
	}
	if n := testutil.ToFloat64(s.m.requests.WithLabelValues("redis", "error")); n != 0 {
		t.Errorf("%v Redis errors counted, want 0", n)
	}
}

// The most read ids are logged one line each, most read first, from the popularity counts that
// drive warm-up: a top list without a metric label per id.
func TestHotKeysLogged(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	log, hook := logtest.NewNullLogger()
	p, err := Preset("full")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(f.src, f.rdb, p, Options{Namespace: f.namespace, Metrics: NewMetricsForTest(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	reads := map[int64]int{5: 3, 6: 2, 7: 1}
	for id, n := range reads {
		for range n {
			if _, err := s.Product(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.flushPopular(ctx)
	var got []string
	for _, e := range hook.AllEntries() {
		if e.Message == "cache hot key" {
			got = append(got, fmt.Sprintf("%v:%v:%v", e.Data["rank"], e.Data["product_id"], e.Data["reads"]))
		}
	}
	if want := []string{"1:5:3", "2:6:2", "3:7:1"}; !slices.Equal(got, want) {
		t.Errorf("hot key lines (rank:product_id:reads) %v, want %v", got, want)
	}
	hook.Reset()
	s.flushPopular(ctx) // within the minute: not again
	for _, e := range hook.AllEntries() {
		if e.Message == "cache hot key" {
			t.Fatalf("hot keys logged again within a minute: %v", e.Data)
		}
	}
}

// An L1 hit runs the refresh-ahead tests too (L1 keeps the Redis value's stamp): with two levels,
// the hot keys L1 answers are refreshed before they expire, not only the keys Redis answers.
func TestRefreshAheadOnL1Hits(t *testing.T) {
	const id = 23
	ctx := context.Background()
	tests := []struct {
		name, preset, policy, cause string
		st                          stamp
	}{
		{"XFetch", "xfetch", `{"warmup":false,"refresh":false}`, "early_refresh",
			stamp{freshUntil: time.Now().Add(time.Minute), loadTime: time.Hour}},
		{"fixed refresh_ahead", "tail", `{"warmup":false}`, "refresh", // 10 % of 5 min is 30 s
			stamp{freshUntil: time.Now().Add(10 * time.Second), loadTime: time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 0)
			s := f.store(tt.preset, tt.policy)
			s.uniform = func() float64 { return 0.5 } // XFetch certain: 0.69 h ≥ 1 min
			prod, err := f.src.Store.Product(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			e, err := newProductEntry(prod)
			if err != nil {
				t.Fatal(err)
			}
			s.setL1(s.policy.Load(), s.productKey(id), e, time.Hour, tt.st)
			if _, r := mustProduct(t, s, id); r != HitL1 {
				t.Fatalf("read: %s, want HIT-L1", r)
			}
			lab.WaitFor(t, "the refresh", func() bool { return testutil.ToFloat64(s.m.dbLoads.WithLabelValues(tt.cause)) == 1 })
			lab.WaitFor(t, "background refreshes to end", func() bool { return idle(s, id) })
			if got := freshUntil(t, f, s, id); !got.After(time.Now().Add(2 * time.Minute)) {
				t.Errorf("after the refresh Redis holds a value fresh until %s, want a new TTL", got)
			}
		})
	}
}

// load_rate bounds the reloads off the request path: past its burst a revalidation is skipped and
// counted, and the stale value is served as it is.
func TestLoadRateSkipsRevalidations(t *testing.T) {
	const id = 71
	f := newFixture(t, 0)
	s := f.store("tail", `{"layers":"redis","warmup":false,"load_rate":0.001}`) // a burst of 1, then one a quarter hour
	// Spend the burst.
	if !s.loads.Allow() {
		t.Fatal("the limiter allowed nothing")
	}
	staleValue(t, f, s, id)
	if _, r := mustProduct(t, s, id); r != Stale {
		t.Fatalf("read: %s, want STALE", r)
	}
	lab.WaitFor(t, "the skipped revalidation", func() bool {
		return testutil.ToFloat64(s.m.skipped.WithLabelValues("revalidate")) == 1
	})
	lab.WaitFor(t, "background refreshes to end", func() bool { return idle(s, id) })
	if n := f.src.of(id); n != 0 {
		t.Errorf("%d database loads past the load_rate bound, want 0", n)
	}
	if _, r := mustProduct(t, s, id); r != Stale {
		t.Errorf("read after the skip: %s, want STALE (served as it is)", r)
	}
}
