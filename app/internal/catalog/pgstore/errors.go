package pgstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// classify maps a database error onto the catalog sentinels, keeping the cause in the chain.
// Errors it does not recognise are returned unchanged.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, catalog.ErrNotFound) || errors.Is(err, catalog.ErrVersionMismatch) ||
		errors.Is(err, catalog.ErrUnavailable) || errors.Is(err, catalog.ErrLockTimeout) {
		return err
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return catalog.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505" && strings.Contains(pgErr.ConstraintName, "sku"):
			return fmt.Errorf("%w: %s", catalog.ErrDuplicateSKU, pgErr.Detail)
		case pgErr.Code == "23503" && strings.Contains(pgErr.ConstraintName, "category"):
			return catalog.ErrUnknownCategory
		case pgErr.Code == "55P03": // lock_not_available: lock_timeout ran out (see Options.LockTimeout)
			return fmt.Errorf("%w: %w", catalog.ErrLockTimeout, err)
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "53300", // too_many_connections
			pgErr.Code == "57P01", // admin_shutdown
			pgErr.Code == "57P02", // crash_shutdown
			pgErr.Code == "57P03", // cannot_connect_now
			pgErr.Code == "57014": // query_canceled (statement timeout)
			return fmt.Errorf("%w: %w", catalog.ErrUnavailable, err)
		}
		return err
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		// The connection died under a transaction (a crashed server): pgx's "conn closed".
		errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, net.ErrClosed),
		errors.As(err, &connErr),
		errors.As(err, &netErr):
		return fmt.Errorf("%w: %w", catalog.ErrUnavailable, err)
	}
	return err
}

// connLost reports whether err says that an established connection died under the statement:
// the server ended the backend (57P01 admin_shutdown: pg_terminate_backend, a failover, a pooler
// restart; 57P02 crash_shutdown: another backend crashed and the server reset them all; 57P03
// cannot_connect_now, met by a reconnection while it recovers) or the socket closed or reset. Such
// a connection is gone from the pool, and a statement that only reads may be run again on another.
// A server that refuses connections or a statement that ran out of time is not a lost connection:
// running it again would only add load or exceed the deadline.
func connLost(err error) bool {
	if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", "57P02", "57P03":
			return true
		}
		return false
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return false
	}
	return errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, pgconn.ErrConnClosed) || // pgx's "conn closed"
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		pgconn.SafeToRetry(err)
}
