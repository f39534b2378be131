package cache

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// errRedisMiss means the key is not in Redis.
var errRedisMiss = errors.New("redis: key not found")

// failure returns the first error of cmds other than a missing key: what a pipeline's outcome is
// for the circuit breaker (Pipelined itself returns the first error, a miss included).
func failure(cmds []redis.Cmder) error {
	for _, c := range cmds {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
	}
	return nil
}

// redisGet reads key; with withTTL it also returns the key's remaining time to live. A key whose
// invalidation Redis has not taken yet reads as missing: its value may be older than a write.
func (s *Store) redisGet(ctx context.Context, key string, withTTL bool) ([]byte, time.Duration, error) {
	if s.pending.has(key) {
		return nil, 0, errRedisMiss
	}
	var raw []byte
	var pttl time.Duration
	err := s.call(ctx, opGet, func(ctx context.Context) error {
		if !withTTL {
			var err error
			raw, err = s.rdb.Get(ctx, key).Bytes()
			return err
		}
		var get *redis.StringCmd
		var ttl *redis.DurationCmd
		_, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			get = pipe.Get(ctx, key)
			ttl = pipe.PTTL(ctx, key)
			return nil
		})
		if err != nil {
			return err
		}
		raw, pttl = []byte(get.Val()), ttl.Val()
		return nil
	})
	if errors.Is(err, redis.Nil) {
		return nil, 0, errRedisMiss
	}
	return raw, pttl, err
}

// redisSet writes key with a TTL; a failure is counted and otherwise ignored (the value is only a
// copy of the database's). A fresh value also settles a pending invalidation of the key.
func (s *Store) redisSet(ctx context.Context, key string, raw []byte, ttl time.Duration) {
	if err := s.call(ctx, opSet, func(ctx context.Context) error { return s.rdb.Set(ctx, key, raw, ttl).Err() }); err != nil {
		s.m.requests.WithLabelValues("redis", "error").Inc()
		return
	}
	s.pending.done(key)
}

// redisDel deletes keys, one DEL each in one pipeline (keys of different products may sit on
// different Redis Cluster slots, which one DEL refuses), and returns the keys Redis did not take.
func (s *Store) redisDel(ctx context.Context, keys ...string) (failed []string) {
	dels := make([]*redis.IntCmd, len(keys))
	err := s.call(ctx, opDel, func(ctx context.Context) error {
		cmds, _ := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, k := range keys {
				dels[i] = pipe.Del(ctx, k)
			}
			return nil
		})
		return failure(cmds)
	})
	for i, del := range dels {
		if del == nil || del.Err() != nil { // nil: the breaker is open, nothing was sent
			failed = append(failed, keys[i])
		}
	}
	if err != nil {
		s.m.requests.WithLabelValues("redis", "error").Inc()
		s.log.WithError(err).WithField("keys", keys).Warn("cache invalidation in redis failed")
	}
	return failed
}

// redisLock takes lock key with token for ttl (SET NX PX) and reports whether it got it.
func (s *Store) redisLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	var ok bool
	err := s.call(ctx, opLock, func(ctx context.Context) error {
		var err error
		ok, err = s.rdb.SetNX(ctx, key, token, ttl).Result()
		return err
	})
	return ok, err
}

// unlockScript deletes a lock only if it still holds our token (compare-and-delete), so a holder
// whose lock expired cannot release the next holder's lock.
var unlockScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// redisUnlock releases a lock taken by redisLock. A read whose Redis budget is spent releases it
// in the background instead (bounded by the client's timeout), so the next holder need not wait
// for the lock's TTL and the read does not wait for Redis.
func (s *Store) redisUnlock(ctx context.Context, key, token string) {
	s.fillAfter(ctx, opUnlock, func(ctx context.Context) {
		err := s.call(ctx, opUnlock, func(ctx context.Context) error { return unlockScript.Run(ctx, s.rdb, []string{key}, token).Err() })
		if err != nil {
			s.log.WithError(err).WithField("key", key).Warn("cache lock release failed; it expires by itself")
		}
	})
}
