package cache

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// loadProtected loads a missing key from the database under the policy's breakdown protection.
func loadProtected[T any](ctx context.Context, s *Store, p *Policy, sp spec[T]) (T, error) {
	if p.Breakdown == BreakdownOff {
		return loadAndFill(ctx, s, p, sp, "miss")
	}
	leader := false
	// The shared load must not end when the first caller goes away: the others still wait for it.
	shared := context.WithoutCancel(ctx)
	v, err, wasShared := s.flight.Do(sp.key, func() (any, error) {
		leader = true
		if p.Breakdown == BreakdownLock {
			return loadWithLock(shared, s, p, sp)
		}
		// A flight that ended between our miss and this one has filled the key already.
		if v, found, err := peek(shared, s, sp); found || errors.Is(err, catalog.ErrNotFound) {
			return v, err
		}
		return loadAndFill(shared, s, p, sp, "miss")
	})
	if wasShared && !leader {
		s.m.sfShared.Inc()
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return v.(T), nil
}

// loadWithLock lets one instance of many load a key: the holder of lock:product:{id} loads it,
// the others wait a bounded time (lock_wait) for the value to appear in Redis, then load it
// themselves; a waiter whose Redis budget is spent stops waiting at once.
func loadWithLock[T any](ctx context.Context, s *Store, p *Policy, sp spec[T]) (T, error) {
	lockKey := s.lockKey(sp.key)
	token := randomToken()
	acquired, err := s.redisLock(ctx, lockKey, token, time.Duration(p.LockTTL))
	if err != nil {
		// Redis is in trouble: nobody can coordinate, load as without a lock.
		return loadAndFill(ctx, s, p, sp, "miss")
	}
	if acquired {
		recordLockWait(ctx, time.Now())
		s.m.locks.WithLabelValues("acquired").Inc()
		defer s.redisUnlock(ctx, lockKey, token)
		// Another holder may have filled the key between our miss and our lock.
		if v, found, err := peek(ctx, s, sp); found || errors.Is(err, catalog.ErrNotFound) {
			return v, err
		}
		return loadAndFill(ctx, s, p, sp, "miss")
	}
	start := time.Now()
	defer recordLockWait(ctx, start)
	deadline := start.Add(time.Duration(p.LockWait))
	for time.Now().Before(deadline) {
		if spent(ctx) {
			// Redis is too slow to look for the holder's value: load it ourselves now.
			s.m.lockWait.Observe(time.Since(start).Seconds())
			return loadAndFill(ctx, s, p, sp, "redis_budget")
		}
		if err := sleep(ctx, lockPoll); err != nil {
			var zero T
			return zero, err
		}
		if v, found, err := peek(ctx, s, sp); found || errors.Is(err, catalog.ErrNotFound) {
			s.m.locks.WithLabelValues("waited").Inc()
			s.m.lockWait.Observe(time.Since(start).Seconds())
			if found && p.usesL1() {
				if l1v, err := sp.toL1(v); err == nil {
					s.l1.Set(sp.key, entry{value: l1v, ttl: jitter(p.l1TTL(sp.ttl), p.TTLJitter)})
				}
			}
			return v, err
		}
	}
	s.m.locks.WithLabelValues("timeout").Inc()
	s.m.lockWait.Observe(time.Since(start).Seconds())
	return loadAndFill(ctx, s, p, sp, "lock_timeout")
}

// recordLockWait puts the time spent waiting for the lock holder (0 for the holder) on the span.
func recordLockWait(ctx context.Context, since time.Time) {
	trace.SpanFromContext(ctx).SetAttributes(attribute.Float64("cache.lock_wait_ms", float64(time.Since(since).Microseconds())/1000))
}

// lockPoll is how often a waiter looks for the lock holder's value.
const lockPoll = 5 * time.Millisecond

// peek reads a key from Redis without counting it as a lookup: found reports a value (fresh or
// stale: a waiter takes what the holder stored), a cached "not found" is catalog.ErrNotFound.
func peek[T any](ctx context.Context, s *Store, sp spec[T]) (v T, found bool, err error) {
	raw, _, err := s.redisGet(ctx, sp.key, false)
	if err != nil {
		return v, false, nil
	}
	_, inner, _ := unstamp(raw)
	if len(inner) > 0 && inner[0] == tagNull {
		return v, false, catalog.ErrNotFound
	}
	if v, err = sp.fromRedis(s, inner); err != nil {
		return v, false, nil
	}
	return v, true, nil
}

// loadAndFill loads a key from the database and fills the cache layers with the result, a
// "not found" included when null caching is on. cause labels the database load.
func loadAndFill[T any](ctx context.Context, s *Store, p *Policy, sp spec[T], cause string) (T, error) {
	s.m.dbLoads.WithLabelValues(cause).Inc()
	start := time.Now()
	v, stored, err := sp.load(ctx)
	took := time.Since(start)
	if errors.Is(err, catalog.ErrNotFound) {
		if p.Bloom && s.bloom.isReady() {
			s.m.bloomFalsePos.Inc()
		}
		if p.NullTTL > 0 {
			s.fillNull(ctx, p, sp.key)
		}
		return v, err
	}
	if err != nil {
		return v, err
	}
	s.fill(ctx, p, sp.key, stored, sp.ttl, took)
	return v, nil
}

// refreshKey reloads one key in the background, off the request path: refresh-ahead, XFetch's
// early refresh, or the revalidation of a stale value (cause labels the load). One goroutine per
// key on this instance, and one instance of many: the holder of the key's lock, and only while
// the value it saw (fresh until seen; zero when unstamped) has not been replaced meanwhile. The
// policy's load_rate bounds these loads: one over it is skipped, and the value served as it is.
func refreshKey[T any](s *Store, p *Policy, sp spec[T], cause string, seen time.Time) {
	if _, busy := s.refreshing.LoadOrStore(sp.key, struct{}{}); busy {
		return
	}
	go func() {
		defer s.refreshing.Delete(sp.key)
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(p.LockTTL))
		defer cancel()
		token := randomToken()
		lockKey := s.lockKey(sp.key)
		ok, err := s.redisLock(ctx, lockKey, token, time.Duration(p.LockTTL))
		if err != nil || !ok {
			return
		}
		defer s.redisUnlock(context.WithoutCancel(ctx), lockKey, token)
		if !seen.IsZero() {
			if raw, _, err := s.redisGet(ctx, sp.key, false); err == nil {
				if st, inner, ok := unstamp(raw); ok && st.freshUntil.After(seen) {
					// Another instance has reloaded it: take its value into L1 instead.
					if v, err := sp.fromRedis(s, inner); err == nil && p.usesL1() {
						if l1v, err := sp.toL1(v); err == nil {
							s.setL1(p, sp.key, l1v, sp.ttl, st)
						}
					}
					return
				}
			}
		}
		if !s.loads.Allow() {
			s.m.skipped.WithLabelValues(cause).Inc()
			return
		}
		_, _ = loadAndFill(ctx, s, p, sp, cause)
	}()
}

// fill stores a loaded value in the policy's layers, each with a jittered TTL. With stamps on, the
// Redis value carries its fresh-until time and load time, and lives StaleTTL longer; with refill
// on, a product is stored under the version fence.
func (s *Store) fill(ctx context.Context, p *Policy, key string, v any, ttl, took time.Duration) {
	var st stamp
	if p.usesRedis() {
		if w, ok := s.encodeFill(p, key, v, ttl, took); ok {
			st = w.stamp
			s.fillAfter(ctx, opSet, func(ctx context.Context) { s.store(ctx, w) })
		}
	}
	if p.usesL1() {
		if l1v, err := l1Value(v); err == nil {
			s.setL1(p, key, l1v, ttl, st)
		}
	}
}

// setL1 keeps a value in L1 for LocalTTL (never longer than ttl, jittered), and with a stamp
// never past its fresh-until time: L1 holds no stale value.
func (s *Store) setL1(p *Policy, key string, v any, ttl time.Duration, st stamp) {
	l1ttl := jitter(p.l1TTL(ttl), p.TTLJitter)
	if !st.freshUntil.IsZero() {
		l1ttl = min(l1ttl, time.Until(st.freshUntil))
	}
	if l1ttl > 0 {
		s.l1.Set(key, entry{value: v, ttl: l1ttl, stamp: st})
	}
}

// fillNull caches "not found" for NullTTL.
func (s *Store) fillNull(ctx context.Context, p *Policy, key string) {
	ttl := time.Duration(p.NullTTL)
	if p.usesRedis() {
		s.fillAfter(ctx, opSet, func(ctx context.Context) { s.redisSet(ctx, key, nullValue, ttl) })
	}
	if p.usesL1() {
		s.l1.Set(key, entry{null: true, ttl: p.l1TTL(ttl)})
	}
}

// write is one value on its way to Redis.
type write struct {
	key     string
	raw     []byte
	ttl     time.Duration
	version int64 // the product's version, for the fence
	fenced  bool  // store under the fence (refill on, a product)
	stamp   stamp // fresh-until and load time, when the policy stamps values
}

// encodeFill encodes v for Redis as the policy says: its serializer, a stamp when soft expiry
// or XFetch is on (the value then lives StaleTTL past its fresh-until), the fence with refill.
func (s *Store) encodeFill(p *Policy, key string, v any, ttl, took time.Duration) (write, bool) {
	start := time.Now()
	raw, err := encode(p.Serializer, v)
	if err != nil {
		s.log.WithError(err).WithField("key", key).Error("cache encode failed")
		return write{}, false
	}
	s.m.codecSeconds.WithLabelValues(string(p.Serializer), "encode").Observe(time.Since(start).Seconds())
	s.m.payloadBytes.WithLabelValues(string(p.Serializer)).Observe(float64(len(raw)))
	ttl = jitter(ttl, p.TTLJitter)
	var st stamp
	if p.stamps() {
		st = stamp{freshUntil: time.Now().Add(ttl), loadTime: took}
		raw = withStamp(raw, st)
		ttl += time.Duration(p.StaleTTL)
	}
	version, isProduct := versionOf(v)
	return write{key: key, raw: raw, ttl: ttl, version: version, fenced: p.Refill && isProduct, stamp: st}, true
}
