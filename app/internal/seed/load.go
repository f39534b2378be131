package seed

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Options describe one seeding run.
type Options struct {
	// Products is how many products the catalogue should hold: ids 1..Products.
	Products int
	// BatchSize is how many products one transaction loads.
	BatchSize int
	Generator Generator
}

// Progress receives the number of products handled after each batch; a progress bar fits.
type Progress interface {
	Add(n int) error
}

// Result counts what a run did.
type Result struct {
	Inserted int
	Skipped  int
	Reviews  int
	Hot      int
	Elapsed  time.Duration
}

// Run makes sure products 1..opts.Products exist, inserting the missing ones with their inventory
// and reviews. Each batch commits on its own, so an interrupted run resumes where it stopped.
func Run(ctx context.Context, db *sql.DB, opts Options, progress Progress) (Result, error) {
	start := time.Now()
	if opts.Products < 0 {
		return Result{}, fmt.Errorf("seed: product count %d is negative", opts.Products)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 5000
	}
	categoryIDs, err := ensureCategories(ctx, db)
	if err != nil {
		return Result{}, err
	}
	var res Result
	conn, err := db.Conn(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("seed: take a connection: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("seed: driver connection is %T, want the pgx stdlib driver", driverConn)
		}
		for first := int64(1); first <= int64(opts.Products); first += int64(opts.BatchSize) {
			last := min(first+int64(opts.BatchSize)-1, int64(opts.Products))
			b, err := loadBatch(ctx, c.Conn(), opts.Generator, categoryIDs, first, last)
			if err != nil {
				return err
			}
			res.Inserted += b.Inserted
			res.Skipped += b.Skipped
			res.Reviews += b.Reviews
			res.Hot += b.Hot
			if progress != nil {
				_ = progress.Add(int(last - first + 1))
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if err := finish(ctx, db, res.Inserted > 0); err != nil {
		return res, err
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// ensureCategories inserts the seeded categories that are missing and returns their ids in the
// order of Categories().
func ensureCategories(ctx context.Context, db *sql.DB) ([]int64, error) {
	names, slugs := Categories()
	ids := make([]int64, len(names))
	for i := range names {
		_, err := db.ExecContext(ctx,
			`INSERT INTO categories (name, slug) VALUES ($1, $2) ON CONFLICT (slug) DO NOTHING`, names[i], slugs[i])
		if err != nil {
			return nil, fmt.Errorf("seed: insert category %q: %w", slugs[i], err)
		}
		if err := db.QueryRowContext(ctx, `SELECT id FROM categories WHERE slug = $1`, slugs[i]).Scan(&ids[i]); err != nil {
			return nil, fmt.Errorf("seed: read category %q: %w", slugs[i], err)
		}
	}
	return ids, nil
}

// loadBatch inserts the products of [first, last] that do not exist yet, in one transaction.
func loadBatch(ctx context.Context, conn *pgx.Conn, g Generator, categoryIDs []int64, first, last int64) (Result, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("seed: begin batch %d..%d: %w", first, last, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	existing := map[int64]bool{}
	rows, err := tx.Query(ctx, `SELECT id FROM products WHERE id BETWEEN $1 AND $2`, first, last)
	if err != nil {
		return Result{}, fmt.Errorf("seed: read existing ids %d..%d: %w", first, last, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return Result{}, fmt.Errorf("seed: read existing ids %d..%d: %w", first, last, err)
	}
	for _, id := range ids {
		existing[id] = true
	}

	var res Result
	var products, inventory, reviews [][]any
	for id := first; id <= last; id++ {
		if existing[id] {
			res.Skipped++
			continue
		}
		p := g.Product(id)
		res.Inserted++
		if p.IsHot {
			res.Hot++
		}
		products = append(products, []any{p.ID, p.SKU, p.Name, p.Description, p.PriceCents, p.Currency,
			categoryIDs[p.CategoryIdx], p.IsHot, int64(1), p.CreatedAt, p.CreatedAt})
		inventory = append(inventory, []any{p.ID, p.Stock, p.Reserved, p.CreatedAt})
		for _, r := range p.Reviews {
			reviews = append(reviews, []any{p.ID, r.Rating, r.Body, r.CreatedAt})
		}
	}
	res.Reviews = len(reviews)
	if len(products) == 0 {
		return res, nil
	}
	copies := []struct {
		table   string
		columns []string
		rows    [][]any
	}{
		{"products", []string{"id", "sku", "name", "description", "price_cents", "currency", "category_id",
			"is_hot", "version", "created_at", "updated_at"}, products},
		{"inventory", []string{"product_id", "stock", "reserved", "updated_at"}, inventory},
		{"reviews", []string{"product_id", "rating", "body", "created_at"}, reviews},
	}
	for _, c := range copies {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.columns, pgx.CopyFromRows(c.rows)); err != nil {
			return Result{}, fmt.Errorf("seed: copy %d rows into %s (ids %d..%d): %w", len(c.rows), c.table, first, last, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return Result{}, fmt.Errorf("seed: commit batch %d..%d: %w", first, last, err)
	}
	return res, nil
}

// finish moves the id sequence past the seeded ids, so products created later do not collide,
// and refreshes planner statistics and the visibility map after a bulk load.
func finish(ctx context.Context, db *sql.DB, loaded bool) error {
	// Only ever moves the sequence forward: ids handed out before stay unused.
	_, err := db.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('products', 'id'), m)
		FROM (SELECT max(id) AS m FROM products) top
		WHERE m IS NOT NULL AND m > COALESCE((SELECT last_value FROM pg_sequences
			WHERE schemaname = current_schema() AND sequencename = 'products_id_seq'), 0)`)
	if err != nil {
		return fmt.Errorf("seed: advance product id sequence: %w", err)
	}
	if !loaded {
		return nil
	}
	for _, table := range []string{"categories", "products", "inventory", "reviews"} {
		if _, err := db.ExecContext(ctx, "VACUUM (ANALYZE) "+table); err != nil {
			return fmt.Errorf("seed: vacuum %s: %w", table, err)
		}
	}
	return nil
}
