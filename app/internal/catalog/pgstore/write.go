package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
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
	err := s.write(ctx, "create", func(tx *gorm.DB) error {
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
	err := s.write(ctx, "update", func(tx *gorm.DB) error {
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

// Delete removes a product; inventory and reviews go with it (ON DELETE CASCADE). It is a
// transaction of one statement, so that its lock wait is bounded like the other writes'.
func (s *Store) Delete(ctx context.Context, id int64, ifVersion int64) error {
	defer s.observe("delete", time.Now())
	ctx, cancel := s.bound(ctx)
	defer cancel()
	defer s.MarkWritten(id)
	err := s.write(ctx, "delete", func(tx *gorm.DB) error {
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

// write runs fn in a transaction on the primary, the one way every write goes. Its lock waits are
// bounded by LockTimeout (SET LOCAL lock_timeout, so the setting ends with the transaction and
// never reaches a read that gets the connection next); a write that ran out of it fails with
// catalog.ErrLockTimeout, is rolled back and counted in db_lock_timeouts_total{operation}.
//
// A BEGIN that failed because the server had closed the connection (see connLost) is run once
// more on another connection: nothing of the write ran yet. Nothing after it is ever run again:
// whether a statement that failed took effect is not known, and the caller decides.
func (s *Store) write(ctx context.Context, operation string, fn func(tx *gorm.DB) error) (err error) {
	again := false
	tx, err := backoff.Retry(ctx, func() (*gorm.DB, error) {
		bctx := ctx
		if again {
			bctx = withPing(ctx)
		}
		tx := s.db.WithContext(bctx).Begin()
		if tx.Error == nil {
			return tx, nil
		}
		lost := connLost(tx.Error)
		if lost {
			s.loss.mark()
		}
		if again || !lost || ctx.Err() != nil {
			return nil, backoff.Permanent(tx.Error)
		}
		s.retried("begin", retryConnLost)
		again = true
		return nil, tx.Error
	}, retryOnce()...)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			tx.Rollback()
		}
		if errors.Is(classify(err), catalog.ErrLockTimeout) && s.opts.Metrics != nil {
			s.opts.Metrics.lockWaits.WithLabelValues(operation).Inc()
		}
	}()
	if s.opts.LockTimeout > 0 {
		// SET takes no parameters; the value is a number of milliseconds (0 would disable it).
		ms := max(s.opts.LockTimeout.Milliseconds(), 1)
		if err := tx.Exec(fmt.Sprintf("SET LOCAL lock_timeout = %d", ms)).Error; err != nil {
			return fmt.Errorf("set lock_timeout: %w", err)
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit().Error; err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed = true
	return nil
}
