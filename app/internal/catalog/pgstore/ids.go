package pgstore

import (
	"context"
	"fmt"
	"time"
)

// HotProductIDs returns up to limit ids of products flagged is_hot, lowest first.
func (s *Store) HotProductIDs(ctx context.Context, limit int) ([]int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	defer s.observe("hot_ids", time.Now())
	var ids []int64
	err := s.db.WithContext(ctx).Model(&productRow{}).Where("is_hot").Order("id").Limit(limit).Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("list hot products: %w", classify(err))
	}
	return ids, nil
}

// ProductIDs returns the id of every product (the Bloom filter is built from them).
func (s *Store) ProductIDs(ctx context.Context) ([]int64, error) {
	defer s.observe("ids", time.Now())
	var ids []int64
	if err := s.db.WithContext(ctx).Model(&productRow{}).Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("list product ids: %w", classify(err))
	}
	return ids, nil
}
