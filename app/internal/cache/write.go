package cache

import (
	"context"
	"errors"
	"time"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// Create stores a product, adds it to the Bloom filter on every instance and drops any cached
// "not found" for its id.
func (s *Store) Create(ctx context.Context, in catalog.ProductInput) (catalog.Product, error) {
	p, err := s.src.Create(ctx, in)
	if err != nil {
		return p, err
	}
	s.bloom.add(p.ID)
	if s.invalidate(ctx, s.policy.Load(), opCreate, p.ID) {
		s.settle(catalog.Invalidation{ProductID: p.ID, Version: p.Version, Op: catalog.OpCreate})
	}
	return p, nil
}

// Update writes through to the database, then invalidates the product's keys (cache-aside), or
// with refill on stores the new version under the fence. What Redis did not take, the relay
// applies from the outbox (see relay).
func (s *Store) Update(ctx context.Context, id int64, in catalog.ProductInput, ifVersion int64) (catalog.Product, error) {
	prod, err := s.src.Update(ctx, id, in, ifVersion)
	p := s.policy.Load()
	var applied bool
	switch {
	case err == nil && p.Refill && p.usesRedis():
		applied = s.refill(ctx, p, prod)
	case mayHaveWritten(err):
		applied = s.invalidate(ctx, p, opInvalidate, id)
	}
	if err == nil && applied {
		s.settle(catalog.Invalidation{ProductID: id, Version: prod.Version, Op: catalog.OpUpdate})
	}
	return prod, err
}

// Delete removes the product from the database, then invalidates its keys; with refill on it
// first leaves a tombstone fence, so a load of the old row in flight cannot store it again.
func (s *Store) Delete(ctx context.Context, id int64, ifVersion int64) error {
	err := s.src.Delete(ctx, id, ifVersion)
	if mayHaveWritten(err) && s.invalidateDeleted(ctx, s.policy.Load(), id) && err == nil {
		s.settle(catalog.Invalidation{ProductID: id, Op: catalog.OpDelete})
	}
	return err
}

// invalidateDeleted drops a deleted product's keys; with refill on it first leaves a tombstone
// fence. It reports whether Redis took both.
func (s *Store) invalidateDeleted(ctx context.Context, p *Policy, id int64) bool {
	fenced := true
	if p.Refill && p.usesRedis() {
		if err := s.fenceDeleted(context.WithoutCancel(ctx), s.productKey(id)); err != nil {
			s.log.WithError(err).WithField("product_id", id).Warn("cache delete fence failed")
			fenced = false
		}
	}
	return s.invalidate(ctx, p, opInvalidate, id) && fenced
}

// refill stores a written product's new version in Redis and moves its fence up to it, so
// readers find the new value instead of missing, and no older version can be stored after it.
// The stock key is deleted (its value carries no version), L1 copies are dropped here and, through
// pub/sub, on every instance.
// If Redis does not take the store, the write falls back to invalidate. It reports whether Redis
// took the store (or the invalidation it fell back to) and the stock key's deletion.
func (s *Store) refill(ctx context.Context, p *Policy, prod catalog.Product) bool {
	ctx = context.WithoutCancel(ctx)
	key := s.productKey(prod.ID)
	w, ok := s.encodeFill(p, key, prod, time.Duration(p.TTL), 0)
	if !ok {
		return s.invalidate(ctx, p, opInvalidate, prod.ID)
	}
	w.fenced = true
	switch err := s.storeFenced(ctx, w, true); {
	case err == nil:
		s.m.refills.Inc()
	case errors.Is(err, errFenced): // a newer version is there already
	default:
		return s.invalidate(ctx, p, opInvalidate, prod.ID)
	}
	s.dropL1([]string{key})
	return s.deleteKeys(ctx, p, opInvalidate, prod.ID, []string{s.inventoryKey(prod.ID)})
}

// mayHaveWritten is false only for errors that prove the database did not change.
func mayHaveWritten(err error) bool {
	return err == nil || !(errors.Is(err, catalog.ErrNotFound) || errors.Is(err, catalog.ErrVersionMismatch) ||
		errors.Is(err, catalog.ErrDuplicateSKU) || errors.Is(err, catalog.ErrUnknownCategory) ||
		errors.Is(err, catalog.ErrLockTimeout))
}

// Evict drops one product's keys from every layer without touching the database, as if they had
// expired (the admin API uses it to provoke breakdowns).
func (s *Store) Evict(ctx context.Context, id int64) {
	s.invalidate(ctx, s.policy.Load(), opInvalidate, id)
}

// invalidate deletes a product's keys after a committed write: in Redis, in this instance's L1,
// and (with pubsub on, or for a create) in every other instance's L1. With DoubleDelete set it
// deletes them once more after that delay, catching a reader that loaded the old row before the
// commit and wrote it back after the first delete. Deletions Redis does not take are retried. It
// reports whether Redis took the first deletion (and its announcement).
func (s *Store) invalidate(ctx context.Context, p *Policy, op string, id int64) bool {
	ctx = context.WithoutCancel(ctx)
	keys := []string{s.productKey(id), s.inventoryKey(id)}
	if p.DoubleDelete > 0 && op == opInvalidate {
		time.AfterFunc(time.Duration(p.DoubleDelete), func() { s.deleteKeys(ctx, p, op, id, keys) })
	}
	return s.deleteKeys(ctx, p, op, id, keys)
}

// deleteKeys deletes one product's keys in Redis and L1 and tells the other instances. What Redis
// does not take is remembered and retried (see pendingSet); it reports whether Redis took it all.
func (s *Store) deleteKeys(ctx context.Context, p *Policy, op string, id int64, keys []string) bool {
	failed := s.redisDel(ctx, keys...)
	s.m.invalidations.WithLabelValues("redis").Add(float64(len(keys) - len(failed)))
	if len(failed) > 0 {
		s.pending.add(id, failed...)
	}
	s.dropL1(keys)
	if (p.PubSub || op == opCreate || s.opts.Written != nil) && !s.publish(ctx, event{Op: op, IDs: []int64{id}}) {
		s.pending.add(id)
		return false
	}
	return len(failed) == 0
}

// dropL1 removes keys from this instance's L1.
func (s *Store) dropL1(keys []string) {
	for _, k := range keys {
		if _, ok := s.l1.Invalidate(k); ok {
			s.m.invalidations.WithLabelValues("l1").Inc()
		}
	}
}
