package cache

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"github.com/product-service-lab/product-service/app/internal/faultproxy"
	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// callLog is a go-redis hook that records the Redis calls made on a read's behalf (a context
// carrying a budget): the command, and the time its context allowed it when it started. before,
// when set, runs first (a test moves its clock there, as if the call took that long).
type callLog struct {
	mu     sync.Mutex
	calls  []loggedCall
	before func()
}

type loggedCall struct {
	name      string
	allowance time.Duration // time.Until(the context's deadline); -1 without one
}

func (l *callLog) record(ctx context.Context, name string) {
	if budgetOf(ctx) == nil || name == "hello" {
		return // background work (no budget), or the handshake of a call's new connection
	}
	allowance := time.Duration(-1)
	if d, ok := ctx.Deadline(); ok {
		allowance = time.Until(d)
	}
	l.mu.Lock()
	l.calls = append(l.calls, loggedCall{name: name, allowance: allowance})
	l.mu.Unlock()
	if l.before != nil {
		l.before()
	}
}

func (l *callLog) take() []loggedCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls
	l.calls = nil
	return c
}

func (l *callLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (l *callLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.record(ctx, cmd.Name())
		return next(ctx, cmd)
	}
}

func (l *callLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		l.record(ctx, "pipeline")
		return next(ctx, cmds)
	}
}

// names lists the commands of calls.
func names(calls []loggedCall) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.name
	}
	return out
}

// fakeClock is the clock a Store measures its Redis calls with; the test moves it.
type fakeClock struct {
	base time.Time
	off  atomic.Int64
}

func newFakeClock() *fakeClock               { return &fakeClock{base: time.Now()} }
func (c *fakeClock) now() time.Time          { return c.base.Add(time.Duration(c.off.Load())) }
func (c *fakeClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// counter reads cache_redis_budget_exhausted_total (vec "exhausted") or
// cache_redis_budget_skipped_total ("skipped") of op.
func counter(s *Store, vec, op string) float64 {
	v := s.m.budgetExhausted
	if vec == "skipped" {
		v = s.m.budgetSkipped
	}
	return testutil.ToFloat64(v.WithLabelValues(op))
}

// budgetClient is a client as the service builds it: every timeout REDIS_TIMEOUT (budget), no
// retries, context deadlines honoured; calls records the read's calls.
func budgetClient(t *testing.T, addr string, budget time.Duration, calls *callLog) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: budget, ReadTimeout: budget, WriteTimeout: budget,
		PoolTimeout: 2 * budget, MaxRetries: -1, DialerRetries: 1, ContextTimeoutEnabled: true, PoolSize: 16})
	rdb.AddHook(calls)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// Redis silent (a black-holing proxy: connections accepted, nothing ever answered). Whatever the
// read's path (a lock, a batch, the breaker's half-open probe), it makes one Redis call, given at
// most the budget, and then none: no lock, no fill. It answers from the database. Before the
// budget, a miss under "protected" paid the GET's timeout and then the lock's.
func TestRedisBudgetWithASilentRedis(t *testing.T) {
	const budget = 100 * time.Millisecond
	f := newFixture(t, 0)
	read := func(s *Store, id int64) (Result, error) {
		_, r, err := s.product(context.Background(), id)
		return r, err
	}
	batch := func(s *Store, id int64) (Result, error) {
		got, err := s.Products(context.Background(), []int64{id, id + 1})
		if err == nil && len(got) != 2 {
			t.Errorf("batch read %d products, want 2", len(got))
		}
		return Miss, err
	}
	for _, tc := range []struct {
		name, preset string
		mods         []string
		read         func(*Store, int64) (Result, error)
		// halfOpen opens the breaker first, and reads once it lets a probe through.
		halfOpen bool
		want     []string // the read's Redis calls
		skipped  []string // the ops it did not make
	}{
		{name: "lock", preset: "protected", read: read, want: []string{"get"}, skipped: []string{opLock}},
		{name: "singleflight", preset: "two-level", mods: []string{`{"breakdown":"singleflight"}`}, read: read, want: []string{"get"}, skipped: []string{opGet, opSet}},
		{name: "batch", preset: "protected", read: batch, want: []string{"pipeline"}, skipped: []string{opSet}},
		{name: "half-open probe", preset: "protected", read: read, halfOpen: true, want: []string{"get"}, skipped: []string{opLock}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy, err := faultproxy.Start(testdb.RedisAddr(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = proxy.Close() })
			calls := &callLog{}
			s := f.storeOpts(budgetClient(t, proxy.Addr(), budget, calls), tc.preset, func(o *Options) { o.RedisBudget = budget }, tc.mods...)
			proxy.Set(faultproxy.BlackHole, 0)
			id := int64(40)
			res, err := tc.read(s, id)
			got := calls.take()
			// The half-open breaker lets one probe through; the service's background work may
			// take it first (then the read finds the breaker open again): try again, a few times.
			for try := 0; tc.halfOpen && (try == 0 || len(got) == 0) && try < 5; try++ {
				for s.breaker.State() != gobreaker.StateOpen {
					id++
					if _, err := tc.read(s, id); err != nil {
						t.Fatal(err)
					}
				}
				lab.WaitFor(t, "the breaker half-open", func() bool { return s.breaker.State() == gobreaker.StateHalfOpen })
				calls.take()
				s.m.budgetSkipped.Reset()
				s.m.budgetExhausted.Reset()
				id++
				res, err = tc.read(s, id)
				got = calls.take()
			}
			if err != nil || res != Miss {
				t.Fatalf("read: %s, %v; want a miss answered by the database", res, err)
			}
			if diff := cmp.Diff(tc.want, names(got)); diff != "" {
				t.Errorf("Redis calls of the read (-want +got):\n%s", diff)
			}
			for _, c := range got {
				if c.allowance < 0 || c.allowance > budget {
					t.Errorf("%s was allowed %s, want at most the budget %s", c.name, c.allowance, budget)
				}
			}
			if n := testutil.ToFloat64(s.m.budgetExhausted.WithLabelValues(opGet)) + testutil.ToFloat64(s.m.budgetExhausted.WithLabelValues(opMGet)); n != 1 {
				t.Errorf("cache_redis_budget_exhausted_total{op=get|mget} = %v, want 1", n)
			}
			for _, op := range tc.skipped {
				if n := testutil.ToFloat64(s.m.budgetSkipped.WithLabelValues(op)); n < 1 {
					t.Errorf("cache_redis_budget_skipped_total{op=%q} = %v, want ≥ 1", op, n)
				}
			}
		})
	}
}

// Redis slow but answering: each call "takes" 30 ms of a 50 ms budget on the Store's clock. A
// miss under "protected" makes the GET (50 ms allowed), then the lock's SET NX with what is left
// (20 ms), which spends the rest: the holder then does not look for another's value, and fills
// and releases its lock in the background, without the read waiting.
func TestRedisBudgetSharedByTheCallsOfARead(t *testing.T) {
	const budget, each = 50 * time.Millisecond, 30 * time.Millisecond
	f := newFixture(t, 0)
	calls := &callLog{}
	clock := newFakeClock()
	calls.before = func() { clock.advance(each) }
	// The client's own timeouts are long: only the budget bounds the calls here.
	s := f.storeOpts(budgetClient(t, testdb.RedisAddr(t), time.Minute, calls), "protected", func(o *Options) { o.RedisBudget = budget })
	s.now = clock.now

	if _, res := mustProduct(t, s, 21); res != Miss {
		t.Fatalf("first read: %s, want a miss", res)
	}
	got := calls.take()
	if diff := cmp.Diff([]string{"get", "set"}, names(got)); diff != "" {
		t.Fatalf("Redis calls of the read (-want +got):\n%s", diff)
	}
	for i, limit := range []time.Duration{budget, budget - each} {
		if got[i].allowance < 0 || got[i].allowance > limit {
			t.Errorf("call %d (%s) was allowed %s, want at most %s", i, got[i].name, got[i].allowance, limit)
		}
	}
	for _, c := range []struct {
		vec, op string
		want    float64
	}{
		{"exhausted", opLock, 1}, {"skipped", opGet, 1}, {"skipped", opSet, 1},
	} {
		if n := counter(s, c.vec, c.op); n != c.want {
			t.Errorf("budget %s{op=%s} = %v, want %v", c.vec, c.op, n, c.want)
		}
	}
	if n := counter(s, "skipped", opUnlock); n != 1 {
		t.Errorf("budget skipped{op=unlock} = %v, want 1 (released in the background)", n)
	}
	lock := s.lockKey(s.productKey(21))
	lab.WaitFor(t, "the lock released and the value filled in the background", func() bool {
		locked, err := f.rdb.Exists(context.Background(), lock).Result()
		filled, err2 := f.rdb.Exists(context.Background(), s.productKey(21)).Result()
		return err == nil && err2 == nil && locked == 0 && filled == 1
	})
}

// A lock waiter looks for the holder's value while its budget lasts, then loads from the
// database itself instead of waiting out lock_wait (a minute here).
func TestRedisBudgetEndsALockWait(t *testing.T) {
	const budget, each = 50 * time.Millisecond, 20 * time.Millisecond
	f := newFixture(t, 0)
	calls := &callLog{}
	clock := newFakeClock()
	calls.before = func() { clock.advance(each) }
	s := f.storeOpts(budgetClient(t, testdb.RedisAddr(t), time.Minute, calls), "protected",
		func(o *Options) { o.RedisBudget = budget }, `{"lock_wait":"1m"}`)
	s.now = clock.now
	const id = 22
	// Another instance holds the lock and never fills.
	if err := f.rdb.Set(context.Background(), s.lockKey(s.productKey(id)), "other", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	p, res := mustProduct(t, s, id)
	if res != Miss || p.ID != id {
		t.Fatalf("read: %s (%s), want product %d from the database", describe(p), res, id)
	}
	// GET 20 ms, SET NX 20 ms (not acquired), one look 20 ms: spent.
	if diff := cmp.Diff([]string{"get", "set", "get"}, names(calls.take())); diff != "" {
		t.Errorf("Redis calls of the read (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(s.m.dbLoads.WithLabelValues("redis_budget")); n != 1 {
		t.Errorf("cache_db_loads_total{cause=redis_budget} = %v, want 1", n)
	}
	if n := counter(s, "exhausted", opGet); n != 1 {
		t.Errorf("budget exhausted{op=get} = %v, want 1", n)
	}
}

// Background work has no budget: its calls are bounded by the client's timeouts alone, and a
// read nested in a read keeps the outer budget.
func TestWithBudget(t *testing.T) {
	s := &Store{opts: Options{RedisBudget: time.Second}}
	if b := budgetOf(context.Background()); b != nil {
		t.Fatal("a background context has a budget")
	}
	ctx := s.withBudget(context.Background())
	outer := budgetOf(ctx)
	if outer == nil || outer.remaining() != time.Second {
		t.Fatalf("withBudget: %+v, want a budget of 1s", outer)
	}
	if budgetOf(s.withBudget(ctx)) != outer {
		t.Error("a nested read got a budget of its own")
	}
	if budgetOf(withoutBudget(ctx)) != nil {
		t.Error("withoutBudget kept the budget")
	}
	if got := (&Store{}).withBudget(context.Background()); budgetOf(got) != nil {
		t.Error("a Store without RedisBudget gave a read a budget")
	}
	for _, tc := range []struct {
		take      time.Duration
		all       bool
		emptied   bool
		remaining time.Duration
	}{
		{take: 400 * time.Millisecond, remaining: 600 * time.Millisecond},
		{take: 100 * time.Millisecond, all: true, emptied: true},
		{take: time.Millisecond, emptied: false}, // already empty
	} {
		if got := outer.take(tc.take, tc.all); got != tc.emptied || outer.remaining() != tc.remaining {
			t.Errorf("take(%s, %v) = %v, left %s; want %v, left %s", tc.take, tc.all, got, outer.remaining(), tc.emptied, tc.remaining)
		}
	}
}
