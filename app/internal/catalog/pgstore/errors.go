package pgstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

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
		errors.Is(err, catalog.ErrUnavailable) {
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
