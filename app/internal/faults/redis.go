package faults

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// RedisHook returns a go-redis hook that, before every command and pipeline, sleeps
// redis_latency and fails it with probability redis_error_rate with an error wrapping
// ErrInjected, so it never reaches Redis. A command whose context ends during the sleep fails
// with the context's error. Dials pass through.
func (i *Injector) RedisHook() redis.Hook { return redisHook{i: i} }

// redisHook applies the injector's Redis faults.
type redisHook struct{ i *Injector }

// DialHook passes dials through.
func (redisHook) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook applies the faults to one command.
func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := h.i.beforeRedis(ctx); err != nil {
			return err
		}
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook applies the faults to a pipeline as a whole: one delay, and every command
// failed together.
func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if err := h.i.beforeRedis(ctx); err != nil {
			for _, cmd := range cmds {
				cmd.SetErr(err)
			}
			return err
		}
		return next(ctx, cmds)
	}
}

// beforeRedis applies the Redis faults in force, returning the error to fail the call with.
func (i *Injector) beforeRedis(ctx context.Context) error {
	s := i.Settings()
	if err := i.wait(ctx, s.RedisLatency); err != nil {
		return err
	}
	if hit(s.RedisErrorRate) {
		return fmt.Errorf("redis_error_rate: %w", ErrInjected)
	}
	return nil
}
