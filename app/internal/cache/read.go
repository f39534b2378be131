package cache

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// Product returns a product's detail through the cache.
func (s *Store) Product(ctx context.Context, id int64) (catalog.Product, error) {
	v, _, err := s.product(ctx, id)
	return v, err
}

// product returns a product's detail, and where it came from.
func (s *Store) product(ctx context.Context, id int64) (catalog.Product, Result, error) {
	p := s.policy.Load()
	s.popular.record(p, id)
	return read(ctx, s, p, s.productSpec(p, id))
}

// LookupProduct returns a product's detail as its JSON body, and where it came from.
func (s *Store) LookupProduct(ctx context.Context, id int64) (Body, Result, error) {
	p := s.policy.Load()
	s.popular.record(p, id)
	return read(ctx, s, p, s.bodySpec(p, id))
}

// Inventory returns a product's stock through the cache, with the short inventory TTL.
func (s *Store) Inventory(ctx context.Context, id int64) (catalog.Inventory, error) {
	v, _, err := s.LookupInventory(ctx, id)
	return v, err
}

// LookupInventory returns a product's stock, and where it came from.
func (s *Store) LookupInventory(ctx context.Context, id int64) (catalog.Inventory, Result, error) {
	p := s.policy.Load()
	return read(ctx, s, p, s.inventorySpec(p, id))
}

// List is not cached: pages are keyed by cursor and change with every write.
func (s *Store) List(ctx context.Context, page catalog.Page) (catalog.PageResult, error) {
	return s.src.List(ctx, page)
}

// read is lookup in a cache.lookup span that says where the answer came from. Without a tracer
// there is no span at all, and a span that is not sampled gets no attributes: a read costs no
// tracing work that nobody will see.
func read[T any](ctx context.Context, s *Store, p *Policy, sp spec[T]) (T, Result, error) {
	if s.tracer == nil {
		return lookup(ctx, s, p, sp)
	}
	ctx, span := s.tracer.Start(ctx, "cache.lookup")
	if !span.IsRecording() {
		defer span.End()
		return lookup(ctx, s, p, sp)
	}
	span.SetAttributes(attribute.String("cache.preset", p.Preset), attribute.String("cache.key", sp.key))
	v, r, err := lookup(ctx, s, p, sp)
	span.SetAttributes(attribute.String("cache.result", string(r)), attribute.String("cache.layer", r.layer()))
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		span.RecordError(err)
		span.SetStatus(codes.Error, "cache lookup failed")
	}
	span.End()
	return v, r, err
}

// lookup is the one read path: it looks in each layer of the policy in turn, then loads from the
// database under the policy's breakdown protection.
func lookup[T any](ctx context.Context, s *Store, p *Policy, sp spec[T]) (T, Result, error) {
	var zero T
	if p.Layers == LayersNone {
		s.m.dbLoads.WithLabelValues("bypass").Inc()
		v, _, err := sp.load(ctx)
		return v, Bypass, err
	}
	if p.Bloom && !s.bloom.mayContain(sp.id) {
		s.m.bloomRejects.Inc()
		return zero, BloomReject, catalog.ErrNotFound
	}
	if v, r, ok := fromL1Layer(s, p, sp); ok {
		if r == HitNull {
			return zero, r, catalog.ErrNotFound
		}
		return v, r, nil
	}
	troubled := false
	ctx = s.withBudget(ctx)
	if p.usesRedis() {
		raw, pttl, err := s.redisGet(ctx, sp.key, p.Refresh && p.RefreshAhead > 0 && !p.stamps())
		switch {
		case errors.Is(err, errRedisMiss):
			s.m.requests.WithLabelValues("redis", "miss").Inc()
		case err != nil:
			s.m.requests.WithLabelValues("redis", "error").Inc()
			troubled = true
		default:
			if v, r, found, err := fromRedisLayer(s, p, sp, raw, pttl); found || errors.Is(err, catalog.ErrNotFound) {
				return v, r, err
			}
		}
	}
	v, err := loadProtected(ctx, s, p, sp)
	if err != nil && troubled && errors.Is(err, catalog.ErrUnavailable) {
		// Redis was skipped (breaker open, or a timeout) and the database is down too: one more
		// look in Redis, past the breaker, before answering 503. A busy Redis that tripped the
		// breaker usually still holds the value.
		if v, ok := rescue(ctx, s, sp); ok {
			return v, HitRedis, nil
		}
	}
	return v, Miss, err
}

// fromL1Layer looks sp.key up in L1: ok reports an answer (HitL1, or HitNull for a cached "not
// found").
func fromL1Layer[T any](s *Store, p *Policy, sp spec[T]) (v T, r Result, ok bool) {
	if !p.usesL1() {
		return v, "", false
	}
	if e, found := s.l1.GetIfPresent(sp.key); found {
		if e.null {
			s.m.requests.WithLabelValues("l1", "null_hit").Inc()
			return v, HitNull, true
		}
		if v, ok := sp.fromL1(e.value); ok {
			s.m.requests.WithLabelValues("l1", "hit").Inc()
			if !e.stamp.freshUntil.IsZero() {
				refreshAhead(s, p, sp, e.stamp, time.Until(e.stamp.freshUntil))
			}
			return v, HitL1, true
		}
	}
	s.m.requests.WithLabelValues("l1", "miss").Inc()
	return v, "", false
}

// fromRedisLayer reads one value Redis gave for sp.key: found reports an answer (HitRedis, or
// Stale past its fresh-until with soft expiry on), a cached "not found" is catalog.ErrNotFound,
// and anything else (undecodable, or stale with soft expiry off) is to be loaded. pttl is the
// key's time to live when the caller asked Redis for it. A hit fills L1 and may start a
// background reload: revalidation of a stale value, XFetch's early refresh, or refresh-ahead.
func fromRedisLayer[T any](s *Store, p *Policy, sp spec[T], raw []byte, pttl time.Duration) (v T, r Result, found bool, err error) {
	st, inner, stamped := unstamp(raw)
	if len(inner) > 0 && inner[0] == tagNull {
		s.m.requests.WithLabelValues("redis", "null_hit").Inc()
		if p.usesL1() {
			s.l1.Set(sp.key, entry{null: true, ttl: p.l1TTL(time.Duration(p.NullTTL))})
		}
		return v, HitNull, false, catalog.ErrNotFound
	}
	if v, err = sp.fromRedis(s, inner); err != nil {
		s.m.requests.WithLabelValues("redis", "error").Inc()
		return v, "", false, nil
	}
	now := time.Now()
	if stamped && !now.Before(st.freshUntil) {
		if p.StaleTTL <= 0 {
			s.m.requests.WithLabelValues("redis", "miss").Inc()
			return v, "", false, nil
		}
		s.m.requests.WithLabelValues("redis", "stale").Inc()
		s.m.staleAge.Observe(now.Sub(st.freshUntil).Seconds())
		refreshKey(s, p, sp, "revalidate", st.freshUntil)
		return v, Stale, true, nil
	}
	s.m.requests.WithLabelValues("redis", "hit").Inc()
	if p.usesL1() {
		if l1v, err := sp.toL1(v); err == nil {
			s.setL1(p, sp.key, l1v, sp.ttl, st)
		}
	}
	left := pttl
	if stamped {
		left = st.freshUntil.Sub(now)
	}
	refreshAhead(s, p, sp, st, left)
	return v, HitRedis, true, nil
}

// refreshAhead starts a background reload of a hit (L1 or Redis) left time before its expiry:
// when XFetch's test says so for a stamped value (xfetch_beta), or when less than refresh_ahead of
// its TTL is left. left is 0 when unknown.
func refreshAhead[T any](s *Store, p *Policy, sp spec[T], st stamp, left time.Duration) {
	switch {
	case p.XFetchBeta > 0 && !st.freshUntil.IsZero() && xfetchDue(left, st.loadTime, p.XFetchBeta, s.uniform()):
		refreshKey(s, p, sp, "early_refresh", st.freshUntil)
	case p.Refresh && p.RefreshAhead > 0 && left > 0 && left < time.Duration(float64(sp.ttl)*p.RefreshAhead):
		refreshKey(s, p, sp, "refresh", st.freshUntil)
	}
}

// xfetchDue is XFetch's test (Vattani, Chierichetti, Lowenstein, VLDB 2015): recompute now when
// delta×beta×(−ln u) reaches the time left before expiry, u uniform in (0, 1]. The chance rises as
// expiry nears, sooner for keys that take long to load (delta) and with a larger beta.
func xfetchDue(left, delta time.Duration, beta, u float64) bool {
	if left <= 0 || u <= 0 {
		return true
	}
	return float64(delta)*beta*-math.Log(u) >= float64(left)
}

// rescue reads sp.key from Redis once, past the breaker but within the read's Redis budget, for a
// read whose database load failed. A key with a pending invalidation is never served.
func rescue[T any](ctx context.Context, s *Store, sp spec[T]) (T, bool) {
	var v T
	if s.pending.has(sp.key) {
		return v, false
	}
	var raw []byte
	err := s.within(ctx, opGet, func(ctx context.Context) error {
		var err error
		raw, err = s.rdb.Get(ctx, sp.key).Bytes()
		return s.observe(ctx, opGet, err)
	})
	if err != nil {
		return v, false
	}
	_, inner, _ := unstamp(raw)
	if v, err = sp.fromRedis(s, inner); err != nil {
		return v, false
	}
	s.m.rescues.Inc()
	s.m.requests.WithLabelValues("redis", "hit").Inc()
	return v, true
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
