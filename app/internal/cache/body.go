package cache

import (
	"context"
	"encoding/json"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// Body is a product's detail already encoded as the JSON body of GET /api/v1/products/{id},
// with what the HTTP layer needs besides (the ETag is id and version).
type Body struct {
	ID, Version int64
	JSON        []byte
}

// productEntry is what L1 keeps for a product: the decoded value and its JSON body, encoded once
// when the entry is written, so an L1 hit costs no encoding.
type productEntry struct {
	product catalog.Product
	body    []byte
}

// answered records a hit served by ProductBody's fast path, as read would.
func (s *Store) answered(ctx context.Context, p *Policy, id int64, key, layer string, r Result) {
	_, span := s.tracer.Start(ctx, "cache.lookup", trace.WithAttributes(attribute.String("cache.preset", p.Preset),
		attribute.String("cache.key", key), attribute.String("cache.result", string(r)), attribute.String("cache.layer", layer)))
	span.End()
	s.popular.record(p, id)
	s.m.requests.WithLabelValues(layer, "hit").Inc()
	record(ctx, r)
}

// l1Value is the L1 form of a cached value: products carry their encoded body.
func l1Value(v any) any {
	if p, ok := v.(catalog.Product); ok {
		if b, err := json.Marshal(p); err == nil {
			return productEntry{product: p, body: b}
		}
	}
	return v
}

// fromL1 returns the T an L1 value holds.
func fromL1[T any](v any) (T, bool) {
	if pe, ok := v.(productEntry); ok {
		v = pe.product
	}
	t, ok := v.(T)
	return t, ok
}

// ProductBody returns a product's detail as its JSON body. An L1 hit is served as the bytes L1
// holds, and a Redis hit of a JSON value as the bytes Redis holds (Redis-only layers; with L1 the
// hit must fill L1 with the decoded product). Anything else takes the Product path and is encoded.
func (s *Store) ProductBody(ctx context.Context, id int64) (Body, error) {
	p := s.policy.Load()
	if p.Layers != LayersNone && (!p.Bloom || s.bloom.mayContain(id)) {
		key := s.productKey(id)
		if p.usesL1() {
			if e, ok := s.l1.GetIfPresent(key); ok {
				if pe, ok := e.value.(productEntry); ok {
					s.answered(ctx, p, id, key, "l1", HitL1)
					return Body{ID: pe.product.ID, Version: pe.product.Version, JSON: pe.body}, nil
				}
			}
		} else if p.usesRedis() && !p.Refresh {
			if raw, _, err := s.redisGet(ctx, key, false); err == nil {
				if version, body, ok := productJSON(raw); ok {
					s.answered(ctx, p, id, key, "redis", HitRedis)
					return Body{ID: id, Version: version, JSON: body}, nil
				}
			}
		}
	}
	prod, err := s.Product(ctx, id)
	if err != nil {
		return Body{}, err
	}
	b, err := json.Marshal(prod)
	if err != nil {
		return Body{}, fmt.Errorf("encode product %d: %w", id, err)
	}
	return Body{ID: prod.ID, Version: prod.Version, JSON: b}, nil
}
