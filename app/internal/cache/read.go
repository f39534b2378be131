package cache

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// spec describes one cacheable read: its key, its TTL and how to load it from the database.
type spec[T any] struct {
	id   int64
	key  string
	ttl  time.Duration
	load func(ctx context.Context) (T, error)
}

// Product returns a product's detail through the cache.
func (s *Store) Product(ctx context.Context, id int64) (catalog.Product, error) {
	p := s.policy.Load()
	s.popular.record(p, id)
	return read(ctx, s, p, spec[catalog.Product]{
		id: id, key: s.productKey(id), ttl: time.Duration(p.TTL),
		load: func(ctx context.Context) (catalog.Product, error) { return s.src.Product(ctx, id) },
	})
}

// Inventory returns a product's stock through the cache, with the short inventory TTL.
func (s *Store) Inventory(ctx context.Context, id int64) (catalog.Inventory, error) {
	p := s.policy.Load()
	return read(ctx, s, p, spec[catalog.Inventory]{
		id: id, key: s.inventoryKey(id), ttl: time.Duration(p.InventoryTTL),
		load: func(ctx context.Context) (catalog.Inventory, error) { return s.src.Inventory(ctx, id) },
	})
}

// List is not cached: pages are keyed by cursor and change with every write.
func (s *Store) List(ctx context.Context, page catalog.Page) (catalog.PageResult, error) {
	return s.src.List(ctx, page)
}

// read is the cache-aside read path shared by every cached kind, in a cache.lookup span that says
// where the answer came from.
func read[T any](ctx context.Context, s *Store, p *Policy, sp spec[T]) (T, error) {
	rec, tracked := ctx.Value(resultKey{}).(*Result)
	if !tracked {
		ctx, rec = Track(ctx)
	}
	ctx, span := s.tracer.Start(ctx, "cache.lookup", trace.WithAttributes(
		attribute.String("cache.preset", p.Preset), attribute.String("cache.key", sp.key)))
	v, err := readLayers(ctx, s, p, sp)
	span.SetAttributes(attribute.String("cache.result", string(*rec)), attribute.String("cache.layer", layerOf(*rec)))
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		span.RecordError(err)
		span.SetStatus(codes.Error, "cache lookup failed")
	}
	span.End()
	return v, err
}

// layerOf names the layer that answered.
func layerOf(r Result) string {
	switch r {
	case HitL1:
		return "l1"
	case HitRedis, HitNull:
		return "redis"
	case BloomReject:
		return "bloom"
	default:
		return "db"
	}
}

// readLayers looks in each layer of the policy in turn, then loads from the database.
func readLayers[T any](ctx context.Context, s *Store, p *Policy, sp spec[T]) (T, error) {
	var zero T
	if p.Layers == LayersNone {
		record(ctx, Bypass)
		s.m.dbLoads.WithLabelValues("bypass").Inc()
		return sp.load(ctx)
	}
	if p.Bloom && !s.bloom.mayContain(sp.id) {
		record(ctx, BloomReject)
		s.m.bloomRejects.Inc()
		return zero, catalog.ErrNotFound
	}
	if p.usesL1() {
		if e, ok := s.l1.GetIfPresent(sp.key); ok {
			if e.null {
				s.m.requests.WithLabelValues("l1", "null_hit").Inc()
				record(ctx, HitNull)
				return zero, catalog.ErrNotFound
			}
			if v, ok := fromL1[T](e.value); ok {
				s.m.requests.WithLabelValues("l1", "hit").Inc()
				record(ctx, HitL1)
				return v, nil
			}
		}
		s.m.requests.WithLabelValues("l1", "miss").Inc()
	}
	troubled := false
	if p.usesRedis() {
		v, found, err := lookupRedis(ctx, s, p, sp)
		switch {
		case err == nil && found:
			return v, nil
		case errors.Is(err, catalog.ErrNotFound):
			return zero, err
		case errors.Is(err, errRedisTrouble):
			troubled = true
		}
	}
	record(ctx, Miss)
	v, err := loadProtected(ctx, s, p, sp)
	if err != nil && troubled && errors.Is(err, catalog.ErrUnavailable) {
		// Redis was skipped (breaker open, or a timeout) and the database is down too: one more
		// look in Redis, past the breaker, before answering 503. A busy Redis that tripped the
		// breaker usually still holds the value.
		if v, ok := rescue(ctx, s, sp); ok {
			return v, nil
		}
	}
	return v, err
}

// errRedisTrouble says a Redis lookup failed (breaker open, timeout, bad value): not a miss.
var errRedisTrouble = errors.New("redis lookup failed")

// rescue reads sp.key from Redis once, past the breaker, for a read whose database load failed.
// A key with a pending invalidation is never served.
func rescue[T any](ctx context.Context, s *Store, sp spec[T]) (T, bool) {
	var v T
	if s.pending.has(sp.key) {
		return v, false
	}
	raw, err := s.rdb.Get(ctx, sp.key).Bytes()
	if err != nil || s.decode(raw, &v) != nil {
		return v, false
	}
	s.m.rescues.Inc()
	s.m.requests.WithLabelValues("redis", "hit").Inc()
	record(ctx, HitRedis)
	return v, true
}

// lookupRedis reads sp.key from Redis. found reports a value; a cached "not found" comes back as
// catalog.ErrNotFound; Redis trouble is counted and reported as errRedisTrouble, so the caller
// loads (and may try Redis once more if the database fails too).
func lookupRedis[T any](ctx context.Context, s *Store, p *Policy, sp spec[T]) (v T, found bool, err error) {
	refreshAhead := p.Refresh && p.RefreshAhead > 0
	raw, pttl, err := s.redisGet(ctx, sp.key, refreshAhead)
	switch {
	case errors.Is(err, errRedisMiss):
		s.m.requests.WithLabelValues("redis", "miss").Inc()
		return v, false, nil
	case err != nil:
		s.m.requests.WithLabelValues("redis", "error").Inc()
		return v, false, errRedisTrouble
	}
	err = s.decode(raw, &v)
	if errors.Is(err, errNullValue) {
		s.m.requests.WithLabelValues("redis", "null_hit").Inc()
		record(ctx, HitNull)
		if p.usesL1() {
			s.l1.Set(sp.key, entry{null: true, ttl: p.l1TTL(time.Duration(p.NullTTL))})
		}
		return v, false, catalog.ErrNotFound
	}
	if err != nil {
		s.m.requests.WithLabelValues("redis", "error").Inc()
		return v, false, nil
	}
	s.m.requests.WithLabelValues("redis", "hit").Inc()
	record(ctx, HitRedis)
	if p.usesL1() {
		s.l1.Set(sp.key, entry{value: l1Value(v), ttl: jitter(p.l1TTL(sp.ttl), p.TTLJitter)})
	}
	if refreshAhead && pttl > 0 && pttl < time.Duration(float64(sp.ttl)*p.RefreshAhead) {
		refreshKey(s, p, sp)
	}
	return v, true, nil
}

// decode reads a Redis value into a T; it is a method so the codec cost is measured in one place.
func (s *Store) decode(raw []byte, dst any) error {
	start := time.Now()
	ser, err := decode(raw, dst)
	if ser != "" {
		s.m.codecSeconds.WithLabelValues(string(ser), "decode").Observe(time.Since(start).Seconds())
	}
	normalize(dst)
	return err
}

// normalize puts decoded times in UTC: msgpack decodes them in the local zone, and responses must
// not depend on the serializer.
func normalize(v any) {
	switch x := v.(type) {
	case *catalog.Product:
		x.CreatedAt, x.UpdatedAt = x.CreatedAt.UTC(), x.UpdatedAt.UTC()
		x.Inventory.UpdatedAt = x.Inventory.UpdatedAt.UTC()
	case *catalog.Inventory:
		x.UpdatedAt = x.UpdatedAt.UTC()
	}
}

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
// the others wait a bounded time for the value to appear in Redis, then load it themselves.
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
		defer s.redisUnlock(context.WithoutCancel(ctx), lockKey, token)
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
		if err := sleep(ctx, lockPoll); err != nil {
			var zero T
			return zero, err
		}
		if v, found, err := peek(ctx, s, sp); found || errors.Is(err, catalog.ErrNotFound) {
			s.m.locks.WithLabelValues("waited").Inc()
			s.m.lockWait.Observe(time.Since(start).Seconds())
			if found && p.usesL1() {
				s.l1.Set(sp.key, entry{value: l1Value(v), ttl: jitter(p.l1TTL(sp.ttl), p.TTLJitter)})
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

// peek reads a key from Redis without counting it as a lookup: found reports a value, and a
// cached "not found" comes back as catalog.ErrNotFound.
func peek[T any](ctx context.Context, s *Store, sp spec[T]) (v T, found bool, err error) {
	raw, _, err := s.redisGet(ctx, sp.key, false)
	if err != nil {
		return v, false, nil
	}
	if err := s.decode(raw, &v); err != nil {
		if errors.Is(err, errNullValue) {
			return v, false, catalog.ErrNotFound
		}
		return v, false, nil
	}
	return v, true, nil
}

// loadAndFill loads a key from the database and fills the cache layers with the result, a
// "not found" included when null caching is on. cause labels the database load.
func loadAndFill[T any](ctx context.Context, s *Store, p *Policy, sp spec[T], cause string) (T, error) {
	s.m.dbLoads.WithLabelValues(cause).Inc()
	v, err := sp.load(ctx)
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
	s.fill(ctx, p, sp.key, v, sp.ttl)
	return v, nil
}

// fill stores a loaded value in the policy's layers, each with a jittered TTL.
func (s *Store) fill(ctx context.Context, p *Policy, key string, v any, ttl time.Duration) {
	if p.usesRedis() {
		start := time.Now()
		raw, err := encode(p.Serializer, v)
		if err != nil {
			s.log.WithError(err).WithField("key", key).Error("cache encode failed")
		} else {
			s.m.codecSeconds.WithLabelValues(string(p.Serializer), "encode").Observe(time.Since(start).Seconds())
			s.m.payloadBytes.WithLabelValues(string(p.Serializer)).Observe(float64(len(raw)))
			s.redisSet(context.WithoutCancel(ctx), key, raw, jitter(ttl, p.TTLJitter))
		}
	}
	if p.usesL1() {
		s.l1.Set(key, entry{value: l1Value(v), ttl: jitter(p.l1TTL(ttl), p.TTLJitter)})
	}
}

// fillNull caches "not found" for NullTTL.
func (s *Store) fillNull(ctx context.Context, p *Policy, key string) {
	ttl := time.Duration(p.NullTTL)
	if p.usesRedis() {
		s.redisSet(context.WithoutCancel(ctx), key, nullValue, ttl)
	}
	if p.usesL1() {
		s.l1.Set(key, entry{null: true, ttl: p.l1TTL(ttl)})
	}
}

// jitter spreads ttl uniformly over [ttl×(1−j), ttl×(1+j)], so keys written together do not all
// expire together (cache avalanche).
func jitter(ttl time.Duration, j float64) time.Duration {
	if j <= 0 {
		return ttl
	}
	return time.Duration(float64(ttl) * (1 + j*(2*rand.Float64()-1)))
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
