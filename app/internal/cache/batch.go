package cache

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// Products returns the products of ids that exist: from L1, then one Redis round trip for the rest
// (see mget), then one SQL statement for what neither had. Each layer is read as a single read
// reads it (fromL1Layer, fromRedisLayer). Ids the Bloom filter rejects, or cached as not found,
// are left out like any missing id.
func (s *Store) Products(ctx context.Context, ids []int64) ([]catalog.Product, error) {
	p := s.policy.Load()
	if p.Layers == LayersNone {
		s.m.dbLoads.WithLabelValues("bypass").Add(float64(len(ids)))
		return s.src.Products(ctx, ids)
	}
	ctx = s.withBudget(ctx)
	out := make([]catalog.Product, 0, len(ids))
	var rest []spec[catalog.Product]
	for _, id := range ids {
		s.popular.record(p, id)
		if p.Bloom && !s.bloom.mayContain(id) {
			s.m.bloomRejects.Inc()
			continue
		}
		sp := s.productSpec(p, id)
		if v, r, ok := fromL1Layer(s, p, sp); ok {
			if r != HitNull {
				out = append(out, v)
			}
			continue
		}
		rest = append(rest, sp)
	}
	if len(rest) > 0 && p.usesRedis() {
		var found []catalog.Product
		found, rest = s.mget(ctx, p, rest)
		out = append(out, found...)
	}
	if len(rest) == 0 {
		return out, nil
	}
	missing := make([]int64, len(rest))
	for i, sp := range rest {
		missing[i] = sp.id
	}
	s.m.dbLoads.WithLabelValues("miss").Add(float64(len(missing)))
	start := time.Now()
	loaded, err := s.src.Products(ctx, missing)
	if err != nil {
		return nil, err
	}
	s.fillProducts(ctx, p, loaded, time.Since(start))
	if p.NullTTL > 0 {
		have := make(map[int64]bool, len(loaded))
		for _, pr := range loaded {
			have[pr.ID] = true
		}
		for _, id := range missing {
			if !have[id] {
				s.fillNull(ctx, p, s.productKey(id))
			}
		}
	}
	return append(out, loaded...), nil
}

// fillProducts stores loaded products in the policy's layers, Redis in one pipeline; took is how
// long their load took. It returns the bytes stored (in Redis, else the bodies L1 keeps).
func (s *Store) fillProducts(ctx context.Context, p *Policy, products []catalog.Product, took time.Duration) (size int64) {
	ttl := time.Duration(p.TTL)
	stamps := make([]stamp, len(products))
	if p.usesRedis() {
		ws := make([]write, 0, len(products))
		for i, pr := range products {
			if w, ok := s.encodeFill(p, s.productKey(pr.ID), pr, ttl, took); ok {
				ws = append(ws, w)
				stamps[i] = w.stamp
				size += int64(len(w.raw))
			}
		}
		s.fillAfter(ctx, opSet, func(ctx context.Context) { s.storeMany(ctx, ws) })
	}
	if p.usesL1() {
		for i, pr := range products {
			if e, err := newProductEntry(pr); err == nil {
				s.setL1(p, s.productKey(pr.ID), e, ttl, stamps[i])
				if !p.usesRedis() {
					size += int64(len(e.body))
				}
			}
		}
	}
	return size
}

// mget reads specs' keys from Redis in one round trip: pipelined GETs, one per key, which a Redis
// Cluster client groups by node (an MGET of keys on different hash slots fails with CROSSSLOT
// there). It returns the products found and the specs still to load; ids cached as not found are
// in neither.
func (s *Store) mget(ctx context.Context, p *Policy, all []spec[catalog.Product]) (found []catalog.Product, missing []spec[catalog.Product]) {
	var asked []spec[catalog.Product]
	for _, sp := range all {
		if !s.pending.has(sp.key) {
			asked = append(asked, sp)
		} else {
			missing = append(missing, sp) // its value may predate a write: load it
		}
	}
	if len(asked) == 0 {
		return nil, missing
	}
	gets := make([]*redis.StringCmd, len(asked))
	_ = s.call(ctx, opMGet, func(ctx context.Context) error {
		cmds, _ := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, sp := range asked {
				gets[i] = pipe.Get(ctx, sp.key)
			}
			return nil
		})
		return failure(cmds)
	})
	for i, get := range gets {
		var raw []byte
		err := errRedisTrouble // nothing was sent: the breaker is open, or the budget spent
		if get != nil {
			raw, err = get.Bytes()
		}
		switch {
		case errors.Is(err, redis.Nil):
			s.m.requests.WithLabelValues("redis", "miss").Inc()
			missing = append(missing, asked[i])
			continue
		case err != nil: // on a cluster, the keys of the nodes that answered are still used
			s.m.requests.WithLabelValues("redis", "error").Inc()
			missing = append(missing, asked[i])
			continue
		}
		v, _, ok, err := fromRedisLayer(s, p, asked[i], raw, 0)
		switch {
		case ok:
			found = append(found, v)
		case !errors.Is(err, catalog.ErrNotFound):
			missing = append(missing, asked[i])
		}
	}
	return found, missing
}

// errRedisTrouble says a Redis call was not made or failed (breaker open, timeout).
var errRedisTrouble = errors.New("redis lookup failed")
