package pgstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
	"gorm.io/plugin/dbresolver"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// outboxChannel is the channel the cache_outbox trigger notifies when a write commits.
const outboxChannel = "cache_outbox"

// record adds a write's invalidation to the outbox, inside the write's transaction tx: it commits
// or rolls back with the write.
func record(tx *gorm.DB, op string, productID, version int64) error {
	err := tx.Exec("INSERT INTO cache_outbox (product_id, version, op) VALUES (?, ?, ?)", productID, version, op).Error
	if err != nil {
		return fmt.Errorf("record %s of product %d in the cache outbox: %w", op, productID, err)
	}
	return nil
}

// Outbox reads and clears the cache_outbox table for the cache's relay, on the primary.
type Outbox struct {
	db  *gorm.DB
	dsn string
}

// NewOutbox returns the outbox of the database db is open on; dsn is that database's URL, which
// Listen opens a connection of its own to (LISTEN holds a connection for as long as it runs).
func NewOutbox(db *gorm.DB, dsn string) *Outbox { return &Outbox{db: db, dsn: dsn} }

// Claim locks up to limit rows older than minAge that no other relay holds (FOR UPDATE SKIP
// LOCKED), in the order they were written, passes them to apply and deletes the rows apply
// returns, all in one transaction: a row is either applied and gone, or still there for the next
// claim, whichever instance makes it. It returns how many rows it claimed.
func (o *Outbox) Claim(ctx context.Context, limit int, minAge time.Duration,
	apply func(context.Context, []catalog.Invalidation) []int64) (int, error) {
	var n int
	err := o.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var rows []outboxRow
		err := tx.Raw(`SELECT seq, product_id, version, op, created_at FROM cache_outbox
			WHERE created_at <= clock_timestamp() - make_interval(secs => ?)
			ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED`, minAge.Seconds(), limit).Scan(&rows).Error
		if err != nil || len(rows) == 0 {
			return err
		}
		n = len(rows)
		invs := make([]catalog.Invalidation, len(rows))
		for i, r := range rows {
			invs[i] = r.toDomain()
		}
		done := apply(ctx, invs)
		if len(done) == 0 {
			return nil
		}
		return tx.Exec("DELETE FROM cache_outbox WHERE seq IN ?", done).Error
	})
	if err != nil {
		return n, fmt.Errorf("claim cache outbox rows: %w", classify(err))
	}
	return n, nil
}

// Settle deletes the rows a writer applied itself: per entry, the rows of its product and op up
// to its version (any version when it is 0), which its application covered.
func (o *Outbox) Settle(ctx context.Context, done []catalog.Invalidation) error {
	if len(done) == 0 {
		return nil
	}
	conds := make([]string, len(done))
	args := make([]any, 0, 3*len(done))
	for i, d := range done {
		version := d.Version
		if version == 0 {
			version = 1<<63 - 1
		}
		conds[i] = "(product_id = ? AND op = ? AND version <= ?)"
		args = append(args, d.ProductID, d.Op, version)
	}
	err := o.db.WithContext(ctx).Exec("DELETE FROM cache_outbox WHERE "+strings.Join(conds, " OR "), args...).Error
	if err != nil {
		return fmt.Errorf("settle %d cache outbox rows: %w", len(done), classify(err))
	}
	return nil
}

// Backlog returns how many rows wait in the outbox and when the oldest was written (zero when
// none).
func (o *Outbox) Backlog(ctx context.Context) (rows int64, oldest time.Time, err error) {
	var r struct {
		N      int64
		Oldest *time.Time
	}
	err = o.db.WithContext(ctx).Clauses(dbresolver.Write).
		Raw("SELECT count(*) AS n, min(created_at) AS oldest FROM cache_outbox").Scan(&r).Error
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("read cache outbox backlog: %w", classify(err))
	}
	if r.Oldest != nil {
		oldest = *r.Oldest
	}
	return r.N, oldest, nil
}

// Listen calls wake once it listens and then whenever a transaction that wrote to the outbox
// commits, until ctx ends or the connection fails (the error says which).
func (o *Outbox) Listen(ctx context.Context, wake func()) error {
	conn, err := pgx.Connect(ctx, o.dsn)
	if err != nil {
		return fmt.Errorf("cache outbox listen: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+outboxChannel); err != nil {
		return fmt.Errorf("cache outbox listen: %w", err)
	}
	wake() // what committed while nobody listened
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("cache outbox listen: wait: %w", err)
		}
		wake()
	}
}

// outboxRow is a row of cache_outbox.
type outboxRow struct {
	Seq       int64
	ProductID int64
	Version   int64
	Op        string
	CreatedAt time.Time
}

func (r outboxRow) toDomain() catalog.Invalidation {
	return catalog.Invalidation{Seq: r.Seq, ProductID: r.ProductID, Version: r.Version, Op: r.Op, CommittedAt: r.CreatedAt}
}
