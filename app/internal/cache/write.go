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
	s.invalidate(ctx, s.policy.Load(), opCreate, p.ID)
	return p, nil
}

// Update writes through to the database, then invalidates the product's keys (cache-aside), or
// with refill on stores the new version under the fence.
func (s *Store) Update(ctx context.Context, id int64, in catalog.ProductInput, ifVersion int64) (catalog.Product, error) {
	prod, err := s.src.Update(ctx, id, in, ifVersion)
	p := s.policy.Load()
	switch {
	case err == nil && p.Refill && p.usesRedis():
		s.refill(ctx, p, prod)
	case mayHaveWritten(err):
		s.invalidate(ctx, p, opInvalidate, id)
	}
	return prod, err
}

// Delete removes the product from the database, then invalidates its keys; with refill on it
// first leaves a tombstone fence, so a load of the old row in flight cannot store it again.
func (s *Store) Delete(ctx context.Context, id int64, ifVersion int64) error {
	err := s.src.Delete(ctx, id, ifVersion)
	if mayHaveWritten(err) {
		p := s.policy.Load()
		if p.Refill && p.usesRedis() {
			if ferr := s.fenceDeleted(context.WithoutCancel(ctx), s.productKey(id)); ferr != nil {
				s.log.WithError(ferr).WithField("product_id", id).Warn("cache delete fence failed")
			}
		}
		s.invalidate(ctx, p, opInvalidate, id)
	}
	return err
}

// refill stores a written product's new version in Redis and moves its fence up to it, so
// readers find the new value instead of missing, and no older version can be stored after it.
// The stock key is deleted (its value carries no version), L1 copies are dropped here and, through
// pub/sub, on every instance. If Redis does not take the store, the write falls back to invalidate.
func (s *Store) refill(ctx context.Context, p *Policy, prod catalog.Product) {
	ctx = context.WithoutCancel(ctx)
	key := s.productKey(prod.ID)
	w, ok := s.encodeFill(p, key, prod, time.Duration(p.TTL), 0)
	if !ok {
		s.invalidate(ctx, p, opInvalidate, prod.ID)
		return
	}
	w.fenced = true
	switch err := s.storeFenced(ctx, w, true); {
	case err == nil:
		s.m.refills.Inc()
	case errors.Is(err, errFenced): // a newer version is there already
	default:
		s.invalidate(ctx, p, opInvalidate, prod.ID)
		return
	}
	s.dropL1([]string{key})
	s.deleteKeys(ctx, p, opInvalidate, prod.ID, []string{s.inventoryKey(prod.ID)})
}

// mayHaveWritten is false only for errors that prove the database did not change.
func mayHaveWritten(err error) bool {
	return err == nil || !(errors.Is(err, catalog.ErrNotFound) || errors.Is(err, catalog.ErrVersionMismatch) ||
		errors.Is(err, catalog.ErrDuplicateSKU) || errors.Is(err, catalog.ErrUnknownCategory))
}

// Evict drops one product's keys from every layer without touching the database, as if they had
// expired (the admin API uses it to provoke breakdowns).
func (s *Store) Evict(ctx context.Context, id int64) {
	s.invalidate(ctx, s.policy.Load(), opInvalidate, id)
}

// invalidate deletes a product's keys after a committed write: in Redis, in this instance's L1,
// and (with pubsub on, or for a create) in every other instance's L1. With DoubleDelete set it
// deletes them once more after that delay, catching a reader that loaded the old row before the
// commit and wrote it back after the first delete. Deletions Redis does not take are retried.
func (s *Store) invalidate(ctx context.Context, p *Policy, op string, id int64) {
	ctx = context.WithoutCancel(ctx)
	keys := []string{s.productKey(id), s.inventoryKey(id)}
	s.deleteKeys(ctx, p, op, id, keys)
	if p.DoubleDelete > 0 && op == opInvalidate {
		time.AfterFunc(time.Duration(p.DoubleDelete), func() { s.deleteKeys(ctx, p, op, id, keys) })
	}
}

// deleteKeys deletes one product's keys in Redis and L1 and tells the other instances. What Redis
// does not take is remembered and retried (see pendingSet).
func (s *Store) deleteKeys(ctx context.Context, p *Policy, op string, id int64, keys []string) {
	failed := s.redisDel(ctx, keys...)
	s.m.invalidations.WithLabelValues("redis").Add(float64(len(keys) - len(failed)))
	if len(failed) > 0 {
		s.pending.add(id, failed...)
	}
	s.dropL1(keys)
	if (p.PubSub || op == opCreate || s.opts.Written != nil) && !s.publish(ctx, event{Op: op, IDs: []int64{id}}) {
		s.pending.add(id)
	}
}

// dropL1 removes keys from this instance's L1.
func (s *Store) dropL1(keys []string) {
	for _, k := range keys {
		if _, ok := s.l1.Invalidate(k); ok {
			s.m.invalidations.WithLabelValues("l1").Inc()
		}
	}
}
