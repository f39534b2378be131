package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sirupsen/logrus"
	"gorm.io/gorm"

	"github.com/product-service-lab/product-service/app/internal/config"
)

// defaultDBWait is how long migrate and seed wait, by default, for a database that does not
// accept connections yet: a container started beside its database (docker compose) must not
// fail on the first refusal.
const defaultDBWait = time.Minute

// dbWaitFlag registers -db-wait on fs.
func dbWaitFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("db-wait", defaultDBWait,
		"how long to retry a database that does not accept connections yet (refused, starting up); 0 tries once")
}

// openDatabaseWaiting opens the pool as openDatabase does, retrying with exponential backoff
// (cenkalti/backoff) for at most wait while the database does not accept connections yet;
// each retry is logged. Any other error (bad credentials, a missing database, a malformed URL)
// fails at once, as does everything when wait is 0.
func openDatabaseWaiting(ctx context.Context, cfg config.Config, log logrus.FieldLogger, wait time.Duration) (*gorm.DB, *sql.DB, error) {
	type handles struct {
		db    *gorm.DB
		sqlDB *sql.DB
	}
	attempts := 0
	opts := []backoff.RetryOption{
		backoff.WithBackOff(&backoff.ExponentialBackOff{
			InitialInterval: 250 * time.Millisecond, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: 5 * time.Second,
		}),
		backoff.WithNotify(func(err error, next time.Duration) {
			log.WithError(err).WithFields(logrus.Fields{
				"attempt": attempts, "retry_in_ms": next.Milliseconds(), "db_wait": wait.String(),
			}).Warn("database not accepting connections yet; retrying")
		}),
	}
	if wait > 0 {
		opts = append(opts, backoff.WithMaxElapsedTime(wait))
	} else {
		opts = append(opts, backoff.WithMaxTries(1))
	}
	h, err := backoff.Retry(ctx, func() (handles, error) {
		attempts++
		db, sqlDB, err := openDatabase(ctx, cfg)
		if err != nil && !notReadyYet(ctx, err) {
			return handles{}, backoff.Permanent(err)
		}
		return handles{db, sqlDB}, err
	}, opts...)
	if err != nil {
		if attempts > 1 {
			return nil, nil, fmt.Errorf("database not accepting connections after %d attempts (-db-wait %s): %w", attempts, wait, err)
		}
		return nil, nil, err
	}
	return h.db, h.sqlDB, nil
}

// sqlStateCannotConnectNow is PostgreSQL's "the database system is starting up" (or shutting
// down, or in recovery): the server is there but not ready.
const sqlStateCannotConnectNow = "57P03"

// notReadyYet tells an error of a database that is not accepting connections yet, and may soon
// (nothing listening, unreachable, starting up, the connection dropped or timed out), from one
// that retrying cannot fix.
func notReadyYet(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == sqlStateCannotConnectNow
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded)
}
