package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

var _ catalog.Store = (*Store)(nil)

// Options tune a Store.
type Options struct {
	// QueryTimeout bounds each operation; zero means only the caller's context bounds it.
	QueryTimeout time.Duration
	// SimulatedLatency is waited before every detail load (single, batch and list) to imitate a
	// remote database; zero disables it.
	SimulatedLatency time.Duration
	// Metrics, when set, time every operation.
	Metrics *Metrics
	// Replicated says Route installed read replicas on the store's db: reads outside a
	// transaction may go to a replica, except reads of rows written within ReadYourWrites.
	Replicated bool
	// ReadYourWrites is how long after a write (see MarkWritten) reads of its row go to the
	// primary; it should exceed the replicas' usual replay lag.
	ReadYourWrites time.Duration
	// LockTimeout bounds how long a write waits for a row lock another transaction holds
	// (PostgreSQL's lock_timeout, set for each write transaction); past it the write fails with
	// catalog.ErrLockTimeout and changes nothing. Zero leaves only QueryTimeout.
	LockTimeout time.Duration
	// Now is the clock the read-your-writes window is measured by; nil means time.Now. Tests
	// set it to move past the window without sleeping.
	Now func() time.Time
}

// Store is the PostgreSQL implementation of catalog.Store.
type Store struct {
	db     *gorm.DB
	opts   Options
	recent recentWrites
	loss   *connLoss // nil when db was not made by Open
}

// New returns a Store over db.
func New(db *gorm.DB, opts Options) *Store {
	return &Store{db: db, opts: opts, loss: lossOf(db)}
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", classify(err))
	}
	return nil
}

// Product returns the detail of one product.
func (s *Store) Product(ctx context.Context, id int64) (catalog.Product, error) {
	defer s.observe("product", time.Now())
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.simulateLatency(ctx); err != nil {
		return catalog.Product{}, fmt.Errorf("load product %d: %w", id, err)
	}
	var p catalog.Product
	err := s.read(ctx, []int64{id}, func(db *gorm.DB) error {
		var err error
		p, err = detail(ctx, db, id)
		return err
	})
	if err != nil {
		return catalog.Product{}, fmt.Errorf("load product %d: %w", id, err)
	}
	return p, nil
}

// Products returns the details of the ids that exist, in one statement.
func (s *Store) Products(ctx context.Context, ids []int64) ([]catalog.Product, error) {
	defer s.observe("products", time.Now())
	if len(ids) == 0 {
		return nil, nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.simulateLatency(ctx); err != nil {
		return nil, fmt.Errorf("load %d products: %w", len(ids), err)
	}
	var rows []detailRow
	err := s.read(ctx, ids, func(db *gorm.DB) error { return db.Raw(detailsByIDsSQL, ids).Scan(&rows).Error })
	if err != nil {
		return nil, fmt.Errorf("load %d products: %w", len(ids), err)
	}
	return toDomain(rows), nil
}

// List returns one keyset page ordered by id.
func (s *Store) List(ctx context.Context, p catalog.Page) (catalog.PageResult, error) {
	defer s.observe("list", time.Now())
	if p.Limit <= 0 || p.Limit > catalog.MaxPageSize {
		p.Limit = catalog.DefaultPageSize
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.simulateLatency(ctx); err != nil {
		return catalog.PageResult{}, fmt.Errorf("list products: %w", err)
	}
	// One row more than asked tells whether another page follows.
	var rows []detailRow
	err := s.read(ctx, nil, func(db *gorm.DB) error {
		if p.CategoryID != 0 {
			return db.Raw(listByCategorySQL, p.After, p.Limit+1, p.CategoryID).Scan(&rows).Error
		}
		return db.Raw(listSQL, p.After, p.Limit+1).Scan(&rows).Error
	})
	if err != nil {
		return catalog.PageResult{}, fmt.Errorf("list products: %w", err)
	}
	var res catalog.PageResult
	if len(rows) > p.Limit {
		rows = rows[:p.Limit]
		res.Next = rows[len(rows)-1].ID
	}
	res.Items = toDomain(rows)
	return res, nil
}

// Inventory returns the stock of one product.
func (s *Store) Inventory(ctx context.Context, productID int64) (catalog.Inventory, error) {
	defer s.observe("inventory", time.Now())
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var row inventoryRow
	err := s.read(ctx, []int64{productID}, func(db *gorm.DB) error {
		return db.Where("product_id = ?", productID).Take(&row).Error
	})
	if err != nil {
		return catalog.Inventory{}, fmt.Errorf("load inventory of product %d: %w", productID, err)
	}
	return row.toDomain(), nil
}

// bound applies the query timeout to ctx.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.opts.QueryTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.opts.QueryTimeout)
}

// simulateLatency waits the configured delay, or less if ctx ends first.
func (s *Store) simulateLatency(ctx context.Context) error {
	if s.opts.SimulatedLatency <= 0 {
		return nil
	}
	t := time.NewTimer(s.opts.SimulatedLatency)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return classify(ctx.Err())
	}
}

// detail loads one product through db, which may be a transaction.
func detail(ctx context.Context, db *gorm.DB, id int64) (catalog.Product, error) {
	var rows []detailRow
	if err := db.WithContext(ctx).Raw(DetailSQL, id).Scan(&rows).Error; err != nil {
		return catalog.Product{}, classify(err)
	}
	if len(rows) == 0 {
		return catalog.Product{}, catalog.ErrNotFound
	}
	return rows[0].toDomain(), nil
}

func toDomain(rows []detailRow) []catalog.Product {
	out := make([]catalog.Product, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out
}

// errRowsAffected is returned inside a transaction to roll it back when a conditional write
// matched no row; the caller then tells "missing" from "stale".
var errRowsAffected = errors.New("no row matched")
