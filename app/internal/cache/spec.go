package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// spec describes one cacheable read: its key and TTL, how to load it from the database, and how a
// cached value becomes the reader's T. Every way of reading (a product, its JSON body, its stock,
// a batch) walks the layers with a spec, so each switch of the policy is written once (lookup).
type spec[T any] struct {
	id  int64
	key string
	ttl time.Duration
	// load reads the database; it returns the reader's T and the value the layers keep.
	load func(ctx context.Context) (T, any, error)
	// fromL1 reads an L1 value as T.
	fromL1 func(v any) (T, bool)
	// fromRedis reads an encoded Redis value (its stamp removed) as T.
	fromRedis func(s *Store, raw []byte) (T, error)
	// toL1 returns what L1 keeps for a T read from Redis.
	toL1 func(v T) (any, error)
}

// Body is a product's detail already encoded as the JSON body of GET /api/v1/products/{id},
// with what the HTTP layer needs besides (the ETag is id and version).
type Body struct {
	ID, Version int64
	JSON        []byte
}

// productEntry is what L1 keeps for a product: its JSON body, encoded once when the entry is
// written, with the id and version the ETag needs. The hot path (GET /api/v1/products/{id}) serves
// the bytes as they are; the rare reader of the struct (a batch) decodes them (decodeEntry). One
// pointer per entry, not a dozen strings and times: with 100k entries the garbage collector has
// far less to mark in every cycle.
type productEntry struct {
	id, version int64
	body        []byte
}

// decodeEntry reads an L1 product entry as the product.
func decodeEntry(v any) (catalog.Product, bool) {
	pe, ok := v.(productEntry)
	if !ok {
		return catalog.Product{}, false
	}
	var p catalog.Product
	if err := json.Unmarshal(pe.body, &p); err != nil {
		return catalog.Product{}, false
	}
	normalize(&p)
	return p, true
}

// productSpec reads a product's detail.
func (s *Store) productSpec(p *Policy, id int64) spec[catalog.Product] {
	return spec[catalog.Product]{
		id: id, key: s.productKey(id), ttl: time.Duration(p.TTL),
		load: func(ctx context.Context) (catalog.Product, any, error) {
			v, err := s.src.Product(ctx, id)
			return v, v, err
		},
		fromL1:    decodeEntry,
		fromRedis: decodeAs[catalog.Product],
		toL1:      func(v catalog.Product) (any, error) { return newProductEntry(v) },
	}
}

// bodySpec reads a product's detail as its JSON body: an L1 hit is the bytes L1 holds, a Redis hit
// of a JSON value the bytes Redis holds; only a msgpack value or a database load is encoded.
func (s *Store) bodySpec(p *Policy, id int64) spec[Body] {
	return spec[Body]{
		id: id, key: s.productKey(id), ttl: time.Duration(p.TTL),
		load: func(ctx context.Context) (Body, any, error) {
			v, err := s.src.Product(ctx, id)
			if err != nil {
				return Body{}, nil, err
			}
			b, err := bodyOf(v)
			return b, v, err
		},
		fromL1: func(v any) (Body, bool) {
			pe, ok := v.(productEntry)
			return Body{ID: pe.id, Version: pe.version, JSON: pe.body}, ok
		},
		fromRedis: func(s *Store, raw []byte) (Body, error) {
			if version, body, ok := productJSON(raw); ok {
				return Body{ID: id, Version: version, JSON: body}, nil
			}
			v, err := decodeAs[catalog.Product](s, raw)
			if err != nil {
				return Body{}, err
			}
			return bodyOf(v)
		},
		toL1: func(b Body) (any, error) { return productEntry{id: b.ID, version: b.Version, body: b.JSON}, nil },
	}
}

// inventorySpec reads a product's stock, with the short inventory TTL.
func (s *Store) inventorySpec(p *Policy, id int64) spec[catalog.Inventory] {
	return spec[catalog.Inventory]{
		id: id, key: s.inventoryKey(id), ttl: time.Duration(p.InventoryTTL),
		load: func(ctx context.Context) (catalog.Inventory, any, error) {
			v, err := s.src.Inventory(ctx, id)
			return v, v, err
		},
		fromL1: func(v any) (catalog.Inventory, bool) {
			inv, ok := v.(catalog.Inventory)
			return inv, ok
		},
		fromRedis: decodeAs[catalog.Inventory],
		toL1:      func(v catalog.Inventory) (any, error) { return v, nil },
	}
}

// decodeAs decodes a Redis value into a T.
func decodeAs[T any](s *Store, raw []byte) (T, error) {
	var v T
	err := s.decode(raw, &v)
	return v, err
}

// bodyOf encodes a product as its JSON body.
func bodyOf(v catalog.Product) (Body, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Body{}, fmt.Errorf("encode product %d: %w", v.ID, err)
	}
	return Body{ID: v.ID, Version: v.Version, JSON: b}, nil
}

// newProductEntry is the L1 form of a product: its encoded body.
func newProductEntry(v catalog.Product) (productEntry, error) {
	b, err := bodyOf(v)
	return productEntry{id: v.ID, version: v.Version, body: b.JSON}, err
}

// l1Value is the L1 form of a value the database gave: products carry their encoded body.
func l1Value(v any) (any, error) {
	if p, ok := v.(catalog.Product); ok {
		return newProductEntry(p)
	}
	return v, nil
}

// versionOf returns the version of a stored value, for the write fence (products only).
func versionOf(v any) (int64, bool) {
	p, ok := v.(catalog.Product)
	return p.Version, ok
}
