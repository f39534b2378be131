package cache

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
	"github.com/product-service-lab/product-service/app/internal/faults"
	"github.com/product-service-lab/product-service/app/internal/lab"
)

// outboxCase builds stores that share the fixture's database outbox.
type outboxCase struct {
	*fixture
	outbox *pgstore.Outbox
}

func newOutboxCase(t *testing.T) outboxCase {
	f := newFixture(t, 0)
	return outboxCase{fixture: f, outbox: pgstore.NewOutbox(f.db.Gorm, f.db.URL)}
}

// refusing returns a Redis client on the fixture's server and the injector that makes it fail.
func (c outboxCase) refusing(t *testing.T) (redis.UniversalClient, *faults.Injector) {
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	injector := faults.New(prometheus.NewRegistry(), quiet)
	rdb := redis.NewClient(&redis.Options{Addr: c.rdb.(*redis.Client).Options().Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	rdb.AddHook(injector.RedisHook())
	return rdb, injector
}

// instance returns a store with the outbox over rdb, its background work (the relay included)
// running until stop or the end of the test; grace is how long the relay leaves rows to writers.
func (c outboxCase) instance(t *testing.T, rdb redis.UniversalClient, grace time.Duration, mods ...string) (*Store, func()) {
	t.Helper()
	p, err := Preset("protected")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		if p, err = Apply(p, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(c.src, rdb, p, Options{Namespace: c.namespace, Metrics: NewMetricsForTest(), Outbox: c.outbox,
		OutboxPoll: 10 * time.Millisecond, OutboxGrace: grace})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return s, stop
}

func (c outboxCase) backlog(t *testing.T) int64 {
	t.Helper()
	n, _, err := c.outbox.Backlog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A write whose invalidation Redis took settles its outbox row itself; the relay has nothing to do.
func TestOutboxWriterSettles(t *testing.T) {
	c := newOutboxCase(t)
	s, _ := c.instance(t, c.rdb, time.Hour) // the relay never claims a row this young
	ctx := context.Background()
	old, _ := mustProduct(t, s, 51)
	if _, err := s.Update(ctx, 51, inputFrom(old), old.Version); err != nil {
		t.Fatal(err)
	}
	lab.WaitFor(t, "the writer's settle", func() bool { return c.backlog(t) == 0 })
	if got := testutil.ToFloat64(s.m.outbox.applied.WithLabelValues("writer")); got != 1 {
		t.Errorf("applied{by=writer} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(s.m.outbox.applied.WithLabelValues("relay")); got != 0 {
		t.Errorf("applied{by=relay} = %v, want 0", got)
	}
}

// The writer dies after its commit while Redis refuses the deletion: the old value stays in Redis
// and the row in the outbox; another instance's relay applies it once Redis takes it again. Without
// the outbox the old value would stay until its TTL (the writer's pending set died with it).
func TestOutboxRelayAppliesWhatTheWriterCouldNot(t *testing.T) {
	for _, mode := range []struct{ name, mod string }{{"cache-aside", `{}`}, {"refill", `{"refill":true}`}} {
		t.Run(mode.name, func(t *testing.T) {
			c := newOutboxCase(t)
			ctx := context.Background()
			rdb, injector := c.refusing(t)
			writer, stopWriter := c.instance(t, rdb, time.Hour, mode.mod)
			old, _ := mustProduct(t, writer, 52)
			refuse(t, injector)
			in := inputFrom(old)
			in.Name = "written while redis refused"
			updated, err := writer.Update(ctx, 52, in, old.Version)
			if err != nil {
				t.Fatal(err)
			}
			stopWriter() // the process dies: its memory of what Redis missed goes with it
			injector.Clear()
			if n := c.backlog(t); n != 1 {
				t.Fatalf("outbox backlog after the refused invalidation = %d, want 1", n)
			}
			if c.rdb.Exists(ctx, writer.productKey(52)).Val() == 0 {
				t.Fatal("test setup: the old value should still be in Redis")
			}

			relay, _ := c.instance(t, c.rdb, time.Millisecond, mode.mod)
			lab.WaitFor(t, "the relay to apply the row", func() bool { return c.backlog(t) == 0 })
			got, res := mustProduct(t, relay, 52)
			if got.Version != updated.Version {
				t.Fatalf("read after the relay: %s (%s), want version %d", describe(got), res, updated.Version)
			}
			if n := testutil.ToFloat64(relay.m.outbox.applied.WithLabelValues("relay")); n != 1 {
				t.Errorf("applied{by=relay} = %v, want 1", n)
			}
			if mode.mod != `{}` && res != HitRedis {
				t.Errorf("read after the relay's refill: %s, want a redis hit", res)
			}
		})
	}
}

// While Redis refuses, the relay keeps the rows, counts its failures and backs off; the rows are
// applied once Redis is back.
func TestOutboxRelayRetriesWhileRedisRefuses(t *testing.T) {
	c := newOutboxCase(t)
	ctx := context.Background()
	rdb, injector := c.refusing(t)
	s, _ := c.instance(t, rdb, time.Millisecond)
	old, _ := mustProduct(t, s, 53)
	refuse(t, injector)
	if _, err := s.Update(ctx, 53, inputFrom(old), old.Version); err != nil {
		t.Fatal(err)
	}
	lab.WaitFor(t, "failed relay attempts", func() bool { return testutil.ToFloat64(s.m.outbox.failures) >= 2 })
	if n := c.backlog(t); n != 1 {
		t.Fatalf("backlog while Redis refuses = %d, want 1", n)
	}
	injector.Clear()
	lab.WaitFor(t, "the relay to apply the row", func() bool { return c.backlog(t) == 0 })
	if c.rdb.Exists(ctx, s.productKey(53)).Val() != 0 {
		t.Fatal("the old value is still in Redis after the relay applied its row")
	}
	if n := s.Status().PendingInvalidations; n != 0 {
		t.Errorf("%d invalidations still pending after the relay applied them", n)
	}
}

// Two relays on one outbox: every row is applied exactly once (SKIP LOCKED, and the row goes in
// the transaction that applied it), and every key is gone.
func TestOutboxTwoRelaysApplyEachRowOnce(t *testing.T) {
	c := newOutboxCase(t)
	ctx := context.Background()
	rdb, injector := c.refusing(t)
	writer, stopWriter := c.instance(t, rdb, time.Hour, `{"refill":true}`)
	ids := []int64{61, 62, 63, 64, 65, 66, 67, 68}
	for _, id := range ids {
		mustProduct(t, writer, id)
	}
	refuse(t, injector)
	for _, id := range ids {
		for range 3 {
			cur, err := c.src.Store.Product(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := writer.Update(ctx, id, inputFrom(cur), cur.Version); err != nil {
				t.Fatal(err)
			}
		}
	}
	stopWriter()
	injector.Clear()
	rows := c.backlog(t)
	if rows != int64(3*len(ids)) {
		t.Fatalf("backlog = %d, want %d", rows, 3*len(ids))
	}
	a, _ := c.instance(t, c.rdb, time.Millisecond, `{"refill":true}`)
	b, _ := c.instance(t, c.rdb, time.Millisecond, `{"refill":true}`)
	lab.WaitFor(t, "the relays to drain the outbox", func() bool { return c.backlog(t) == 0 })
	applied := testutil.ToFloat64(a.m.outbox.applied.WithLabelValues("relay")) +
		testutil.ToFloat64(b.m.outbox.applied.WithLabelValues("relay"))
	if applied != float64(rows) {
		t.Errorf("rows applied by the two relays = %v, want %d (each once)", applied, rows)
	}
	for _, id := range ids {
		want, err := c.src.Store.Product(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got, res := mustProduct(t, a, id)
		if got.Version != want.Version {
			t.Errorf("product %d: read %s (%s), want version %d", id, describe(got), res, want.Version)
		}
	}
}

// refuse makes every command of the injector's client fail.
func refuse(t *testing.T, injector *faults.Injector) {
	t.Helper()
	if _, err := injector.Set([]byte(`{"redis_error_rate":1}`)); err != nil {
		t.Fatal(err)
	}
}
