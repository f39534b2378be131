package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
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
	"github.com/product-service-lab/product-service/app/internal/redistest"
	"github.com/product-service-lab/product-service/app/internal/telemetry"
)

// topologyCases are the cache's Redis-facing behaviours, each run against a private single
// server, a Sentinel set-up and a Redis Cluster: every Redis call site must work on all three.
// They share one database per topology, so each writes only to ids no other case reads.
var topologyCases = []struct {
	name    string
	latency time.Duration
	run     func(t *testing.T, tc topologyCase)
}{
	{"lock lets one instance load an expired key", 100 * time.Millisecond, testTopologyLock},
	{"pub/sub invalidates the other instance's L1", 0, testTopologyPubSub},
	{"batch reads ids on different slots in one round trip", 0, testTopologyBatch},
	{"reads after update and delete see the write", 0, testTopologyInvalidation},
	{"invalidations of several products are retried after an outage", 0, testTopologyPending},
	{"null caching loads each unknown id once", 0, testTopologyNull},
	{"reset moves to a new generation and sweeps every node", 0, testTopologyReset},
	{"warm-up and the popularity pipeline", 0, testTopologyWarmup},
	{"pool metrics", 0, testTopologyPoolMetrics},
}

// topologyCase is what one case gets: its fixture, whose stores use a client of the topology.
type topologyCase struct {
	*fixture
	tp *redistest.Topology
}

// TestTopologies runs every topology case against every Redis topology the service supports
// (REDIS_ADDRS / REDIS_MASTER_NAME through redis.NewUniversalClient).
func TestTopologies(t *testing.T) {
	for _, mode := range redistest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			tp := redistest.Start(t, mode)
			rdb := tp.Client(t)
			// One database for the cases (each writes to ids of its own); each has its own
			// namespace and load counts.
			db := seededDB(t)
			if got, want := clientKind(rdb), map[redistest.Mode]string{
				redistest.Single: "*redis.Client", redistest.Sentinel: "*redis.Client", redistest.Cluster: "*redis.ClusterClient",
			}[mode]; got != want {
				t.Fatalf("NewUniversalClient made a %s for %s, want %s", got, mode, want)
			}
			for _, c := range topologyCases {
				t.Run(c.name, func(t *testing.T) {
					c.run(t, topologyCase{fixture: newFixtureOn(t, db, rdb, c.latency), tp: tp})
				})
			}
		})
	}
}

func clientKind(c redis.UniversalClient) string { return fmt.Sprintf("%T", c) }

// Breakdown across instances: 100 concurrent readers on two instances of one key that has just
// expired cause one database load; the lock is released (Lua compare-and-delete) afterwards.
func testTopologyLock(t *testing.T, tc topologyCase) {
	const hot, readers = 7, 100
	a, b := tc.store("naive", `{"breakdown":"lock"}`), tc.store("naive", `{"breakdown":"lock"}`)
	ctx := context.Background()
	mustProduct(t, a, hot)
	key := a.productKey(hot)
	tc.rdb.PExpire(ctx, key, time.Millisecond)
	lab.WaitFor(t, "the key to expire", func() bool { return tc.rdb.Exists(ctx, key).Val() == 0 })
	before := tc.src.of(hot)
	acquired := func() float64 {
		return testutil.ToFloat64(a.m.locks.WithLabelValues("acquired")) + testutil.ToFloat64(b.m.locks.WithLabelValues("acquired"))
	}
	locked := acquired()
	var failed atomic.Int64
	concurrently(readers, func(i int) {
		if _, err := []*Store{a, b}[i%2].Product(ctx, hot); err != nil {
			failed.Add(1)
		}
	})
	if failed.Load() > 0 {
		t.Fatalf("%d reads failed", failed.Load())
	}
	if n := tc.src.of(hot) - before; n != 1 {
		t.Fatalf("%d database loads of the expired key by %d readers on two instances, want 1", n, readers)
	}
	if n := acquired() - locked; n != 1 {
		t.Errorf("locks acquired: %v, want 1", n)
	}
	lab.WaitFor(t, "the lock released", func() bool { return tc.rdb.Exists(ctx, a.lockKey(key)).Val() == 0 })
}

// A write on one instance drops the other's L1 copy through pub/sub. On a cluster, the event also
// reaches a subscriber on every master (classic PUBLISH is broadcast over the cluster bus).
func testTopologyPubSub(t *testing.T, tc topologyCase) {
	ctx := context.Background()
	var nodes []*redis.PubSub
	if c, ok := tc.rdb.(*redis.ClusterClient); ok {
		var subs = make(chan *redis.PubSub, len(tc.tp.Nodes))
		err := c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			sub := node.Subscribe(ctx, tc.namespace+":events")
			if _, err := sub.Receive(ctx); err != nil {
				return err
			}
			subs <- sub
			return nil
		})
		close(subs)
		if err != nil {
			t.Fatal(err)
		}
		for sub := range subs {
			t.Cleanup(func() { _ = sub.Close() })
			nodes = append(nodes, sub)
		}
		if len(nodes) != len(tc.tp.Nodes) {
			t.Fatalf("subscribed on %d masters, want %d", len(nodes), len(tc.tp.Nodes))
		}
	}
	a, b := tc.store("two-level"), tc.store("two-level")
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
	lab.WaitFor(t, "b to drop its L1 copy", func() bool {
		got, _ := mustProduct(t, b, id)
		return got.Version == updated.Version
	})
	for i, sub := range nodes {
		msgCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		msg, err := sub.ReceiveMessage(msgCtx)
		cancel()
		if err != nil {
			t.Fatalf("master %d: no event: %v", i, err)
		}
		var ev event
		if err := json.Unmarshal([]byte(msg.Payload), &ev); err != nil || ev.Op != opInvalidate || !slices.Equal(ev.IDs, []int64{id}) {
			t.Fatalf("master %d received %s, want the invalidation of %d", i, msg.Payload, id)
		}
	}
}

// Batch reads: ids spread over hash slots (and, on a cluster, over every master) come from Redis
// in one round trip the second time, with the database's answers.
func testTopologyBatch(t *testing.T, tc topologyCase) {
	ctx := context.Background()
	s := tc.store("naive", `{"null_ttl":"30s"}`)
	ids := []int64{1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, seeded + 9}
	want, err := tc.src.Store.Products(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		before := tc.src.total.Load()
		got, err := s.Products(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(byID(t, want), byID(t, got)); diff != "" {
			t.Fatalf("round %d differs from the database (-db +cache):\n%s", round, diff)
		}
		if loads := tc.src.total.Load() - before; round == 1 && loads != 0 {
			t.Fatalf("the cached batch loaded %d ids from the database", loads)
		}
	}
	if hits := testutil.ToFloat64(s.m.requests.WithLabelValues("redis", "hit")); hits != float64(len(want)) {
		t.Errorf("redis hits %v, want %d", hits, len(want))
	}
	if nulls := testutil.ToFloat64(s.m.requests.WithLabelValues("redis", "null_hit")); nulls != 1 {
		t.Errorf("redis null hits %v, want 1 (the unknown id)", nulls)
	}
	if tc.tp.Mode == redistest.Cluster {
		keys := make([]string, 0, len(ids))
		for _, id := range ids {
			keys = append(keys, s.productKey(id))
		}
		if per := keysPerMaster(t, s, keys); len(per) != len(tc.tp.Nodes) {
			t.Fatalf("the batch's keys sit on %d masters (%v), want all %d", len(per), per, len(tc.tp.Nodes))
		}
	}
}

// keysPerMaster counts, per master address, how many of keys it holds.
func keysPerMaster(t *testing.T, s *Store, keys []string) map[string]int {
	t.Helper()
	per := map[string]int{}
	found := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		for addr := range found {
			per[addr]++
		}
		close(done)
	}()
	err := s.eachMaster(context.Background(), func(ctx context.Context, node redis.Cmdable) error {
		addr := "the server"
		if c, ok := node.(*redis.Client); ok {
			addr = c.Options().Addr
		}
		for _, k := range keys {
			n, err := node.Exists(ctx, k).Result()
			if err != nil && !strings.HasPrefix(err.Error(), "MOVED") {
				return err
			}
			if n == 1 {
				found <- addr
			}
		}
		return nil
	})
	close(found)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	return per
}

// Writes invalidate the product's keys (product and inventory share a hash tag, so one node).
func testTopologyInvalidation(t *testing.T, tc topologyCase) {
	ctx := context.Background()
	s := tc.store("protected")
	const id = 77
	mustProduct(t, s, id)
	if _, err := s.Inventory(ctx, id); err != nil {
		t.Fatal(err)
	}
	cur, res := mustProduct(t, s, id)
	if res != HitRedis {
		t.Fatalf("second read: %s, want HIT-REDIS", res)
	}
	for i := range 3 {
		in := inputFrom(cur)
		in.Name = cur.Name + "!"
		updated, err := s.Update(ctx, id, in, cur.Version)
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		got, res := mustProduct(t, s, id)
		if got.Version != updated.Version || got.Name != updated.Name {
			t.Fatalf("read after update %d: %s (%s), want %s", i, describe(got), res, describe(updated))
		}
		cur = got
	}
	if err := s.Delete(ctx, id, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Product(ctx, id); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("read after delete: %v, want ErrNotFound", err)
	}
	if n := s.Status().PendingInvalidations; n != 0 {
		t.Errorf("%d invalidations pending with Redis up", n)
	}
}

// Writes to several products while Redis refuses the deletions: the retry deletes all their keys
// (on different slots) at once, and no read serves a stale value meanwhile.
func testTopologyPending(t *testing.T, tc topologyCase) {
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	injector := faults.New(prometheus.NewRegistry(), quiet)
	rdb := tc.tp.Client(t)
	rdb.AddHook(injector.RedisHook())
	s := tc.storeWith(rdb, "protected")
	ctx := context.Background()
	ids := []int64{31, 32, 33, 34}
	olds := map[int64]catalog.Product{}
	for _, id := range ids {
		olds[id], _ = mustProduct(t, s, id)
	}
	if _, err := injector.Set([]byte(`{"redis_error_rate":1}`)); err != nil {
		t.Fatal(err)
	}
	versions := map[int64]int64{}
	for _, id := range ids {
		in := inputFrom(olds[id])
		in.Name = "written during the outage"
		updated, err := s.Update(ctx, id, in, olds[id].Version)
		if err != nil {
			t.Fatal(err)
		}
		versions[id] = updated.Version
	}
	if n := s.Status().PendingInvalidations; n != 2*len(ids) {
		t.Fatalf("%d invalidations pending, want %d (product and inventory of each)", n, 2*len(ids))
	}
	injector.Clear()
	for _, id := range ids {
		if tc.rdb.Exists(ctx, s.productKey(id)).Val() == 0 {
			t.Fatalf("test setup: the old value of %d should still be in Redis", id)
		}
	}
	lab.WaitFor(t, "the retried deletions", func() bool {
		for _, id := range ids {
			if got, _ := mustProduct(t, s, id); got.Version < versions[id] {
				t.Fatalf("product %d: version %d read after version %d was acknowledged", id, got.Version, versions[id])
			}
		}
		return s.Status().PendingInvalidations == 0
	})
}

// Null caching: 200 reads of 20 unknown ids load each id once; the "not found" lives in Redis.
func testTopologyNull(t *testing.T, tc topologyCase) {
	s := tc.store("naive", `{"null_ttl":"30s"}`)
	ctx := context.Background()
	for i := range 200 {
		id := int64(1_000_000 + i%20)
		if _, err := s.Product(ctx, id); !errors.Is(err, catalog.ErrNotFound) {
			t.Fatalf("unknown id %d: %v", id, err)
		}
	}
	if loads := tc.src.total.Load(); loads != 20 {
		t.Errorf("%d database loads for 200 reads of 20 unknown ids, want 20", loads)
	}
	raw, err := tc.rdb.Get(ctx, s.productKey(1_000_007)).Bytes()
	if err != nil || string(raw) != string(nullValue) {
		t.Errorf("Redis holds %q, %v for an unknown id, want the null marker", raw, err)
	}
}

// Reset: every key of the old generation is unreachable at once and swept from every node.
func testTopologyReset(t *testing.T, tc topologyCase) {
	s := tc.store("protected")
	ctx := context.Background()
	var oldKeys []string
	for id := int64(1); id <= 40; id++ {
		mustProduct(t, s, id)
		oldKeys = append(oldKeys, s.productKey(id))
	}
	if tc.tp.Mode == redistest.Cluster {
		if per := keysPerMaster(t, s, oldKeys); len(per) != len(tc.tp.Nodes) {
			t.Fatalf("keys on %d masters (%v), want all %d", len(per), per, len(tc.tp.Nodes))
		}
	}
	if _, res := mustProduct(t, s, 5); res != HitRedis {
		t.Fatalf("before reset: %s", res)
	}
	if _, err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, res := mustProduct(t, s, 5); res != Miss {
		t.Fatalf("after reset: %s, want MISS", res)
	}
	lab.WaitFor(t, "the old generation swept", func() bool {
		for _, k := range oldKeys {
			if tc.rdb.Exists(ctx, k).Val() != 0 {
				return false
			}
		}
		return true
	})
}

// Warm-up loads the hot products; read counts flushed through a pipeline make the next instance's
// warm-up load the most requested products too.
func testTopologyWarmup(t *testing.T, tc topologyCase) {
	ctx := context.Background()
	s := tc.store("full")
	hot, err := tc.src.HotProductIDs(ctx, 1000)
	if err != nil || len(hot) == 0 {
		t.Fatalf("hot ids: %v, %v", hot, err)
	}
	if got := testutil.ToFloat64(s.m.dbLoads.WithLabelValues("warmup")); got != float64(len(hot)) {
		t.Errorf("warm-up loaded %v, want %d", got, len(hot))
	}
	var popular []int64
	for id := int64(1); len(popular) < 5; id++ {
		if !slices.Contains(hot, id) {
			popular = append(popular, id)
		}
	}
	for _, id := range popular {
		mustProduct(t, s, id)
	}
	s.flushPopular(ctx)
	if n := tc.rdb.ZCard(ctx, s.popularKey()).Val(); n < int64(len(popular)) {
		t.Fatalf("the popularity set holds %d ids after the flush, want ≥ %d", n, len(popular))
	}
	next := tc.store("full")
	before := tc.src.total.Load()
	for _, id := range append(hot, popular...) {
		if _, res := mustProduct(t, next, id); res != HitL1 && res != HitRedis {
			t.Fatalf("product %d after the second warm-up: %s", id, res)
		}
	}
	if n := tc.src.total.Load() - before; n != 0 {
		t.Errorf("reading warmed products loaded %d from the database", n)
	}
}

// The Redis pool collector reads the pool of any client kind (a cluster's is the sum of its nodes').
func testTopologyPoolMetrics(t *testing.T, tc topologyCase) {
	s := tc.store("naive")
	for id := int64(1); id <= 20; id++ {
		mustProduct(t, s, id)
	}
	reg := prometheus.NewRegistry()
	telemetry.RegisterRedisPool(reg, tc.rdb)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, mf := range families {
		m := mf.GetMetric()[0]
		values[mf.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	if values["redis_pool_connections"] < 1 || values["redis_pool_hits_total"]+values["redis_pool_misses_total"] < 1 {
		t.Fatalf("pool metrics %v, want connections and uses", values)
	}
	if tc.tp.Mode == redistest.Cluster && values["redis_pool_connections"] < float64(len(tc.tp.Nodes)) {
		t.Errorf("%v connections on a cluster of %d masters, want one pool per node summed", values["redis_pool_connections"], len(tc.tp.Nodes))
	}
}

// Sentinel failover: the master is SIGKILLed with a replica present. Reads keep working (from the
// database while Redis is away), the sentinel promotes the replica within seconds, and the cache
// recovers on the new master: reads hit Redis again, and writes invalidate there and reach the
// other instance's L1 through pub/sub.
func TestSentinelFailover(t *testing.T) {
	tp := redistest.StartSentinel(t, redistest.SentinelOptions{Replica: true, Sentinels: 1})
	rdb := tp.Client(t, func(o *redis.UniversalOptions) {
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = 250*time.Millisecond, 250*time.Millisecond, 250*time.Millisecond
	})
	f := newFixtureOn(t, seededDB(t), rdb, 0)
	// a reads through Redis only, b keeps an L1 that a's events invalidate.
	a, b := f.store("protected", `{"pubsub":true}`), f.store("two-level")
	ctx := context.Background()
	const cached = 5
	mustProduct(t, a, cached)
	if _, res := mustProduct(t, a, cached); res != HitRedis {
		t.Fatalf("before the failover: %s, want HIT-REDIS", res)
	}
	// WAIT a short while at a time: the client's read timeout (250 ms) bounds one WAIT, and a
	// replica still in its first sync can take longer than that to acknowledge.
	lab.WaitFor(t, "the replica to acknowledge the writes (WAIT 1)", func() bool {
		n, err := rdb.Do(ctx, "WAIT", 1, 100).Int()
		return err == nil && n == 1
	})

	killed := time.Now()
	tp.Nodes[0].Kill()
	// Until the sentinel promotes the replica (its down-after period, however long the machine
	// makes it), every read must succeed. How long the slowest took is logged, not asserted: that a
	// dead master costs a read one refused dial, not go-redis's default five, is asserted by
	// counting dials (TestNewRedisClientDialsOnce in app/cmd/product-service).
	reads, slowest := 0, time.Duration(0)
	for id := int64(1); ; id = id%50 + 1 {
		start := time.Now()
		if _, err := a.Product(ctx, id); err != nil {
			t.Fatalf("read %d of product %d during the failover: %v", reads, id, err)
		}
		reads, slowest = reads+1, max(slowest, time.Since(start))
		if addr, err := tp.MasterAddr(ctx); err == nil && addr == tp.Nodes[1].Addr {
			break
		}
		if until, bounded := lab.Deadline(t); bounded && time.Now().After(until) {
			t.Fatal("the sentinel had not promoted the replica at the test's deadline")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("replica promoted %s after the kill; %d reads meanwhile, none failed, the slowest took %s",
		time.Since(killed).Round(time.Millisecond), reads, slowest.Round(time.Millisecond))

	lab.WaitFor(t, "reads to hit Redis on the new master", func() bool {
		_, res := mustProduct(t, a, cached)
		return res == HitRedis
	})
	t.Logf("reads hit Redis again %s after the kill", time.Since(killed).Round(time.Millisecond))

	const written = 9
	lab.WaitFor(t, "a write to reach b's L1 through the new master", func() bool {
		old, _ := mustProduct(t, b, written)
		if _, res := mustProduct(t, b, written); res != HitL1 {
			return false
		}
		in := inputFrom(old)
		in.Name = old.Name + "!"
		// Unconditional: b's copy may be stale, when an earlier try's event was lost.
		updated, err := a.Update(ctx, written, in, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got, res := mustProduct(t, a, written); got.Version != updated.Version {
			t.Fatalf("a read %s (%s) after its own write of version %d", describe(got), res, updated.Version)
		}
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			if got, _ := mustProduct(t, b, written); got.Version == updated.Version {
				return true
			}
			time.Sleep(10 * time.Millisecond)
		}
		return false
	})
	t.Logf("invalidations reach the other instance again %s after the kill", time.Since(killed).Round(time.Millisecond))
}
