package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/product-service-lab/product-service/app/internal/faults"
	"github.com/product-service-lab/product-service/app/internal/redistest"
)

// Every kind of error, from the failures a client meets: a real Redis's refusals (a full Redis
// under noeviction, a replica, a wrong type) and the transport's (deadline, refused, reset,
// closed). Only timeout and connection are failures for the breaker.
func TestErrorKind(t *testing.T) {
	ctx := context.Background()
	full := redistest.StartSingle(t).Client(t)
	if err := full.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := full.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	primary := redistest.StartSingle(t)
	replica := redistest.StartSingle(t).Client(t)
	host, port, _ := strings.Cut(primary.Addrs[0], ":")
	if err := replica.Do(ctx, "REPLICAOF", host, port).Err(); err != nil {
		t.Fatal(err)
	}
	plain := primary.Client(t)
	if err := plain.LPush(ctx, "list", "x").Err(); err != nil {
		t.Fatal(err)
	}
	refused := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = refused.Close() })
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()

	for _, tc := range []struct {
		name        string
		err         error
		kind        string
		unreachable bool
	}{
		{"oom", full.Set(ctx, "k", "v", 0).Err(), kindOOM, false},
		{"readonly", replica.Set(ctx, "k", "v", 0).Err(), kindReadonly, false},
		{"wrong type", plain.Get(ctx, "list").Err(), kindOther, false},
		{"deadline", plain.Get(expired, "k").Err(), kindTimeout, true},
		{"pool timeout", fmt.Errorf("get: %w", redis.ErrPoolTimeout), kindTimeout, true},
		{"socket timeout", &net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}, kindTimeout, true},
		{"refused", refused.Get(ctx, "k").Err(), kindConnection, true},
		{"reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, kindConnection, true},
		{"eof", io.EOF, kindConnection, true},
		{"client closed", redis.ErrClosed, kindConnection, true},
		{"injected", fmt.Errorf("redis_error_rate: %w", faults.ErrInjected), kindInjected, true},
		{"other", errors.New("something else"), kindOther, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("the call did not fail")
			}
			if got := errorKind(tc.err); got != tc.kind {
				t.Errorf("errorKind(%v) = %q, want %q", tc.err, got, tc.kind)
			}
			if got := unreachable(tc.err); got != tc.unreachable {
				t.Errorf("unreachable(%v) = %v, want %v", tc.err, got, tc.unreachable)
			}
		})
	}
	if unreachable(redis.Nil) || unreachable(nil) {
		t.Error("a missing key or no error counts as Redis unreachable")
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// A full Redis (maxmemory reached, noeviction) refuses writes, and answers reads. The refused
// fills and locks are counted as oom, the breaker stays closed, and what is cached keeps being
// served from Redis. Before the classification, five refused writes in a row opened the breaker
// and every read went to the database.
func TestRefusedWritesKeepTheBreakerClosed(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.StartSingle(t).Client(t)
	f := newFixtureOn(t, seededDB(t), rdb, 0)
	s := f.storeOpts(rdb, "protected", func(o *Options) { o.RedisBudget = time.Second })
	cached := []int64{1, 2, 3, 4, 5}
	for _, id := range cached {
		mustProduct(t, s, id)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	// 20 misses at once: each lock and each fill refused (their GETs succeed, so the refusals
	// come in a row only as concurrency orders them), then 10 fills in a row, all refused.
	concurrently(20, func(i int) {
		if _, res, err := s.product(ctx, int64(100+i)); err != nil || res != Miss {
			t.Errorf("product %d: %s, %v; want a miss", 100+i, res, err)
		}
	})
	for i := range 10 {
		s.redisSet(ctx, s.productKey(int64(200+i)), []byte("{}"), time.Minute)
	}
	for _, id := range cached {
		if _, res := mustProduct(t, s, id); res != HitRedis {
			t.Errorf("cached product %d: %s, want a Redis hit while Redis refuses writes (breaker %s)", id, res, s.Status().Breaker)
		}
	}
	if st := s.Status().Breaker; st != "closed" {
		t.Errorf("breaker %s, want closed: a refused write is no unreachable Redis", st)
	}
	for _, c := range []struct {
		op, kind string
		min      float64
	}{
		{opLock, kindOOM, 20}, {opSet, kindOOM, 20}, {opGet, kindTimeout, 0}, {opGet, kindConnection, 0},
	} {
		got := testutil.ToFloat64(s.m.redisErrors.WithLabelValues(c.op, c.kind))
		if (c.min == 0 && got != 0) || got < c.min {
			t.Errorf("cache_redis_errors_total{op=%q,kind=%q} = %v, want %s", c.op, c.kind, got,
				map[bool]string{true: "0", false: fmt.Sprintf("≥ %v", c.min)}[c.min == 0])
		}
	}
}
