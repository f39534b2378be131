package cache

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// Products returns the products of ids that exist: from L1, then one Redis round trip for the rest
// (see mget), then one SQL statement for what neither had. Ids the Bloom filter rejects, or cached
// as not found, are left out like any missing id.
func (s *Store) Products(ctx context.Context, ids []int64) ([]catalog.Product, error) {
	p := s.policy.Load()
	if p.Layers == LayersNone {
		s.m.dbLoads.WithLabelValues("bypass").Add(float64(len(ids)))
		return s.src.Products(ctx, ids)
	}
	out := make([]catalog.Product, 0, len(ids))
	var rest []int64
	for _, id := range ids {
		s.popular.record(p, id)
		if p.Bloom && !s.bloom.mayContain(id) {
			s.m.bloomRejects.Inc()
			continue
		}
		if p.usesL1() {
			if e, ok := s.l1.GetIfPresent(s.productKey(id)); ok {
				if e.null {
					s.m.requests.WithLabelValues("l1", "null_hit").Inc()
					continue
				}
				if v, ok := fromL1[catalog.Product](e.value); ok {
					s.m.requests.WithLabelValues("l1", "hit").Inc()
					out = append(out, v)
					continue
				}
			}
			s.m.requests.WithLabelValues("l1", "miss").Inc()
		}
		rest = append(rest, id)
	}
	if len(rest) > 0 && p.usesRedis() {
		found, missing := s.mget(ctx, p, rest)
		out = append(out, found...)
		rest = missing
	}
	if len(rest) == 0 {
		return out, nil
	}
	s.m.dbLoads.WithLabelValues("miss").Add(float64(len(rest)))
	loaded, err := s.src.Products(ctx, rest)
	if err != nil {
		return nil, err
	}
	have := make(map[int64]bool, len(loaded))
	for _, pr := range loaded {
		have[pr.ID] = true
		s.fill(ctx, p, s.productKey(pr.ID), pr, time.Duration(p.TTL))
	}
	for _, id := range rest {
		if !have[id] && p.NullTTL > 0 {
			s.fillNull(ctx, p, s.productKey(id))
		}
	}
	return append(out, loaded...), nil
}

// mget reads ids from Redis in one round trip: pipelined GETs, one per key, which a Redis Cluster
// client groups by node (an MGET of keys on different hash slots fails with CROSSSLOT there).
// It returns the products found, and the ids still to load; ids cached as not found are in neither.
func (s *Store) mget(ctx context.Context, p *Policy, all []int64) (found []catalog.Product, missing []int64) {
	var ids []int64
	var keys []string
	for _, id := range all {
		if key := s.productKey(id); !s.pending.has(key) {
			ids, keys = append(ids, id), append(keys, key)
		} else {
			missing = append(missing, id) // its value may predate a write: load it
		}
	}
	if len(ids) == 0 {
		return nil, missing
	}
	gets := make([]*redis.StringCmd, len(keys))
	_ = s.guard(func() error {
		cmds, _ := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, k := range keys {
				gets[i] = pipe.Get(ctx, k)
			}
			return nil
		})
		return failure(cmds)
	})
	for i, get := range gets {
		var raw []byte
		err := errRedisTrouble // nothing was sent: the breaker is open
		if get != nil {
			raw, err = get.Bytes()
		}
		switch {
		case errors.Is(err, redis.Nil):
			s.m.requests.WithLabelValues("redis", "miss").Inc()
			missing = append(missing, ids[i])
			continue
		case err != nil: // on a cluster, the keys of the nodes that answered are still used
			s.m.requests.WithLabelValues("redis", "error").Inc()
			missing = append(missing, ids[i])
			continue
		}
		var pr catalog.Product
		switch err := s.decode(raw, &pr); {
		case errors.Is(err, errNullValue):
			s.m.requests.WithLabelValues("redis", "null_hit").Inc()
		case err != nil:
			s.m.requests.WithLabelValues("redis", "error").Inc()
			missing = append(missing, ids[i])
		default:
			s.m.requests.WithLabelValues("redis", "hit").Inc()
			if p.usesL1() {
				s.l1.Set(keys[i], entry{value: l1Value(pr), ttl: jitter(p.l1TTL(time.Duration(p.TTL)), p.TTLJitter)})
			}
			found = append(found, pr)
		}
	}
	return found, missing
}
