package cache

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The version fence: beside product:{id} lives product:{id}:fence, the newest version a writer
// stored (or a tombstone after a delete). With refill on, every store of a product runs
// fenceScript, which refuses a version older than the fence: a reader that loaded the old row
// before a write committed can no longer put it back after the writer's store (the cache-aside
// race), and of two writers the later version wins whatever order their stores arrive in.

// fenceScript stores a product value unless its version is older than the fence.
// KEYS: the value, its fence. ARGV: the value, its version, its TTL (ms), the fence's TTL (ms),
// "1" when a writer stores it (the fence then moves up to this version).
var fenceScript = redis.NewScript(`
local fence = tonumber(redis.call("GET", KEYS[2]) or "-1")
local version = tonumber(ARGV[2])
if fence > version then return 0 end
if ARGV[5] == "1" then redis.call("SET", KEYS[2], ARGV[2], "PX", ARGV[4]) end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[3])
return 1`)

// tombstone is the fence of a deleted product: above every version, so nothing is stored again.
// It stays exact as a Lua number (a double).
const tombstone = int64(1) << 52

// minFenceTTL is the shortest a fence lives: longer than any load that may still be in flight
// (a load is bounded by the database's query timeout).
const minFenceTTL = time.Minute

func fenceKey(key string) string { return key + ":fence" }

// fenceArgs are fenceScript's keys and arguments for w.
func fenceArgs(w write, writer bool) ([]string, []any) {
	flag := "0"
	if writer {
		flag = "1"
	}
	return []string{w.key, fenceKey(w.key)},
		[]any{w.raw, w.version, w.ttl.Milliseconds(), max(w.ttl, minFenceTTL).Milliseconds(), flag}
}

// errFenced says a store was refused: a newer version had been written.
var errFenced = errors.New("cache store refused: a newer version was written")

// store writes one value to Redis, under the fence when w says so. A failure is counted and
// otherwise ignored (the value is only a copy of the database's); a refusal by the fence is
// counted as such. A fresh value also settles a pending invalidation of the key.
func (s *Store) store(ctx context.Context, w write) {
	if !w.fenced {
		s.redisSet(ctx, w.key, w.raw, w.ttl)
		return
	}
	if err := s.storeFenced(ctx, w, false); err != nil && !errors.Is(err, errFenced) {
		s.m.requests.WithLabelValues("redis", "error").Inc()
	}
}

// storeFenced runs fenceScript for w; writer moves the fence up to w's version.
func (s *Store) storeFenced(ctx context.Context, w write, writer bool) error {
	keys, args := fenceArgs(w, writer)
	var stored int64
	err := s.call(ctx, opSet, func(ctx context.Context) error {
		var err error
		stored, err = fenceScript.Run(ctx, s.rdb, keys, args...).Int64()
		return err
	})
	if err != nil {
		return err
	}
	if stored == 0 {
		s.m.fenceRejects.Inc()
		return errFenced
	}
	s.pending.done(w.key)
	return nil
}

// storeMany writes values in one pipeline (warm-up, batch reads), each as store would. Fenced
// stores are sent as EVALSHA (the script's 40-byte hash instead of its text); a Redis that does
// not know the script yet (NOSCRIPT: first use, or after a restart) is taught it and those stores
// are sent once more.
func (s *Store) storeMany(ctx context.Context, ws []write) {
	if len(ws) == 0 {
		return
	}
	cmds, err := s.pipeStores(ctx, ws, false)
	var again []write
	for i, c := range cmds {
		switch {
		case c != nil && ws[i].fenced && redis.HasErrorPrefix(c.Err(), "NOSCRIPT"):
			again = append(again, ws[i])
		case c == nil || c.Err() != nil:
			s.m.requests.WithLabelValues("redis", "error").Inc()
		case ws[i].fenced && c.(*redis.Cmd).Val() == int64(0):
			s.m.fenceRejects.Inc()
		default:
			s.pending.done(ws[i].key)
		}
	}
	if len(again) > 0 {
		s.storeWithText(ctx, again)
	}
	if err != nil && !redis.HasErrorPrefix(err, "NOSCRIPT") {
		s.log.WithError(err).WithField("values", len(ws)).Warn("cache store of a batch in redis failed")
	}
}

// pipeStores sends ws in one pipeline; fenced stores by hash, or with the script's text when
// withText.
func (s *Store) pipeStores(ctx context.Context, ws []write, withText bool) ([]redis.Cmder, error) {
	cmds := make([]redis.Cmder, len(ws))
	err := s.call(ctx, opSet, func(ctx context.Context) error {
		out, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, w := range ws {
				switch {
				case w.fenced && withText:
					keys, args := fenceArgs(w, false)
					cmds[i] = fenceScript.Eval(ctx, pipe, keys, args...)
				case w.fenced:
					keys, args := fenceArgs(w, false)
					cmds[i] = fenceScript.EvalSha(ctx, pipe, keys, args...)
				default:
					cmds[i] = pipe.Set(ctx, w.key, w.raw, w.ttl)
				}
			}
			return nil
		})
		if redis.HasErrorPrefix(err, "NOSCRIPT") {
			return failure(out[:0]) // Redis answers; only the script was unknown
		}
		return err
	})
	return cmds, err
}

// storeWithText stores ws in one pipeline that sends the script's text (Redis then knows it).
func (s *Store) storeWithText(ctx context.Context, ws []write) {
	cmds, err := s.pipeStores(ctx, ws, true)
	for i, c := range cmds {
		switch {
		case c == nil || c.Err() != nil:
			s.m.requests.WithLabelValues("redis", "error").Inc()
		case c.(*redis.Cmd).Val() == int64(0):
			s.m.fenceRejects.Inc()
		default:
			s.pending.done(ws[i].key)
		}
	}
	if err != nil {
		s.log.WithError(err).WithField("values", len(ws)).Warn("cache store of a batch in redis failed")
	}
}

// fenceDeleted leaves a tombstone fence for a deleted product, so a load of the old row that is
// still in flight cannot store it again.
func (s *Store) fenceDeleted(ctx context.Context, key string) error {
	return s.call(ctx, opSet, func(ctx context.Context) error {
		return s.rdb.Set(ctx, fenceKey(key), strconv.FormatInt(tombstone, 10), minFenceTTL).Err()
	})
}
