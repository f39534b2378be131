package faults_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/product-service-lab/product-service/app/internal/faults"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// faultyRedis returns a client of the test Redis with the injector's hook added.
func faultyRedis(t *testing.T) (*redis.Client, *faults.Injector) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testdb.RedisAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	inj, _, _ := newInjector(t)
	rdb.AddHook(inj.RedisHook())
	return rdb, inj
}

// redisOps are calls through each hook; none writes, as the Redis is shared.
var redisOps = []struct {
	name string
	run  func(ctx context.Context, rdb *redis.Client) error
}{
	{"command", func(ctx context.Context, rdb *redis.Client) error {
		return rdb.Ping(ctx).Err()
	}},
	{"pipeline", func(ctx context.Context, rdb *redis.Client) error {
		return pipelineErr(rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Ping(ctx)
			p.Echo(ctx, "faults")
			return nil
		}))
	}},
	{"transaction", func(ctx context.Context, rdb *redis.Client) error {
		return pipelineErr(rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Echo(ctx, "faults")
			return nil
		}))
	}},
}

// pipelineErr returns the pipeline's error, or an error wrapping nothing when a command does
// not carry that same error.
func pipelineErr(cmds []redis.Cmder, err error) error {
	for _, c := range cmds {
		if !errors.Is(c.Err(), err) {
			return fmt.Errorf("pipeline error %v, but %s has error %v", err, c.Name(), c.Err())
		}
	}
	return err
}

func TestRedisHookErrors(t *testing.T) {
	rdb, inj := faultyRedis(t)
	for _, rate := range []string{"0", "1"} {
		for _, op := range redisOps {
			t.Run(op.name+"/rate="+rate, func(t *testing.T) {
				set(t, inj, `{"redis_error_rate":`+rate+`}`)
				err := op.run(t.Context(), rdb)
				if rate == "0" {
					if err != nil {
						t.Fatalf("no fault, yet: %v", err)
					}
					return
				}
				if !errors.Is(err, faults.ErrInjected) {
					t.Fatalf("error = %v, want one wrapping ErrInjected", err)
				}
			})
		}
	}
}

func TestRedisHookLatency(t *testing.T) {
	rdb, inj := faultyRedis(t)
	if err := rdb.Ping(t.Context()).Err(); err != nil { // dial before timing
		t.Fatal(err)
	}
	var reached atomic.Int64
	rdb.AddHook(reachedHook{&reached}) // inside the injector's hook: sees what it lets through
	tests := []struct {
		name    string
		latency string
		timeout time.Duration // 0: none
		wantErr error
		// wantWait: the latency the fault was asked to wait (ended early by the context or not).
		wantWait time.Duration
		// wantReached: the call went on past the fault (a cancelled wait must not).
		wantReached bool
	}{
		{name: "call waits the latency", latency: "50ms", wantWait: 50 * time.Millisecond, wantReached: true},
		// A wait that outlived the context would go on to Redis, with the context's error.
		{name: "cancelled context ends the wait", latency: "30s", timeout: 30 * time.Millisecond,
			wantErr: context.DeadlineExceeded, wantWait: 30 * time.Second},
	}
	waits := faults.RecordWaits(inj)
	for _, tt := range tests {
		for _, op := range redisOps {
			t.Run(tt.name+"/"+op.name, func(t *testing.T) {
				set(t, inj, `{"redis_latency":"`+tt.latency+`"}`)
				reached.Store(0)
				before := len(waits())
				ctx := t.Context()
				if tt.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				err := op.run(ctx, rdb)
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("error = %v, want %v", err, tt.wantErr)
				}
				if got := waits()[before:]; len(got) == 0 || got[0] != tt.wantWait {
					t.Errorf("latency waits asked: %v, want %s first", got, tt.wantWait)
				}
				if got := reached.Load() > 0; got != tt.wantReached {
					t.Errorf("went on past the fault: %v, want %v", got, tt.wantReached)
				}
			})
		}
	}
}

// reachedHook counts the commands and pipelines that get past the hooks added before it.
type reachedHook struct{ n *atomic.Int64 }

func (reachedHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reachedHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h reachedHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}
