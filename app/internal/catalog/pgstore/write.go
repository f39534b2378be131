package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/plugin/dbresolver"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// Create stores a new product and its inventory in one transaction and returns its detail. Each
// write (Create, Update, Delete) records its cache invalidation in the same transaction (the
// cache outbox; see Outbox).
func (s *Store) Create(ctx context.Context, in catalog.ProductInput) (catalog.Product, error) {
	defer s.observe("create", time.Now())
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var out catalog.Product
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		row := productRow{
			SKU:         in.SKU,
			Name:        in.Name,
			Description: in.Description,
			PriceCents:  *in.PriceCents,
			Currency:    in.Currency,
			CategoryID:  in.CategoryID,
			IsHot:       in.IsHot,
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		inv := inventoryRow{ProductID: row.ID}
		if in.Stock != nil {
			inv.Stock = *in.Stock
		}
		if err := tx.Create(&inv).Error; err != nil {
			return err
		}
		var err error
		if out, err = detail(ctx, tx, row.ID); err != nil {
			return err
		}
		return record(tx, catalog.OpCreate, out.ID, out.Version)
	})
	if err != nil {
		return catalog.Product{}, fmt.Errorf("create product %q: %w", in.SKU, classify(err))
	}
	s.MarkWritten(out.ID)
	return out, nil
}

// Update replaces the mutable fields of a product and bumps its version, in one transaction.
func (s *Store) Update(ctx context.Context, id int64, in catalog.ProductInput, ifVersion int64) (catalog.Product, error) {
	defer s.observe("update", time.Now())
	ctx, cancel := s.bound(ctx)
	defer cancel()
	defer s.MarkWritten(id)
	var out catalog.Product
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Model(&productRow{}).Where("id = ?", id)
		if ifVersion != 0 {
			q = q.Where("version = ?", ifVersion)
		}
		res := q.Updates(map[string]any{
			"sku":         in.SKU,
			"name":        in.Name,
			"description": in.Description,
			"price_cents": *in.PriceCents,
			"currency":    in.Currency,
			"category_id": in.CategoryID,
			"is_hot":      in.IsHot,
			"version":     gorm.Expr("version + 1"),
			"updated_at":  gorm.Expr("now()"),
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errRowsAffected
		}
		if in.Stock != nil {
			err := tx.Model(&inventoryRow{}).Where("product_id = ?", id).
				Updates(map[string]any{"stock": *in.Stock, "updated_at": gorm.Expr("now()")}).Error
			if err != nil {
				return err
			}
		}
		var err error
		if out, err = detail(ctx, tx, id); err != nil {
			return err
		}
		return record(tx, catalog.OpUpdate, id, out.Version)
	})
	if errors.Is(err, errRowsAffected) {
		err = s.missingOrStale(ctx, id)
	}
	if err != nil {
		return catalog.Product{}, fmt.Errorf("update product %d: %w", id, classify(err))
	}
	return out, nil
}

// Delete removes a product; inventory and reviews go with it (ON DELETE CASCADE).
func (s *Store) Delete(ctx context.Context, id int64, ifVersion int64) error {
	defer s.observe("delete", time.Now())
	ctx, cancel := s.bound(ctx)
	defer cancel()
	defer s.MarkWritten(id)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Where("id = ?", id)
		if ifVersion != 0 {
			q = q.Where("version = ?", ifVersion)
		}
		var row productRow
		res := q.Clauses(clause.Returning{Columns: []clause.Column{{Name: "version"}}}).Delete(&row)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errRowsAffected
		}
		return record(tx, catalog.OpDelete, id, row.Version)
	})
	if errors.Is(err, errRowsAffected) {
		err = s.missingOrStale(ctx, id)
	}
	if err != nil {
		return fmt.Errorf("delete product %d: %w", id, classify(err))
	}
	return nil
}

// missingOrStale tells why a conditional write matched no row; it asks the primary, which the
// write just went to.
func (s *Store) missingOrStale(ctx context.Context, id int64) error {
	var n int64
	if err := s.db.WithContext(ctx).Clauses(dbresolver.Write).Model(&productRow{}).Where("id = ?", id).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return catalog.ErrNotFound
	}
	return catalog.ErrVersionMismatch
}
