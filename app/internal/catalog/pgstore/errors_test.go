package pgstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// TestClassify: every way a database can be unreachable or dying becomes ErrUnavailable (a 503),
// never an unexpected error (a 500); the domain errors keep their meaning.
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"not found", gorm.ErrRecordNotFound, catalog.ErrNotFound},
		{"version", catalog.ErrVersionMismatch, catalog.ErrVersionMismatch},
		{"connection exception", &pgconn.PgError{Code: "08006"}, catalog.ErrUnavailable},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, catalog.ErrUnavailable},
		{"starting up", &pgconn.PgError{Code: "57P03"}, catalog.ErrUnavailable},
		{"too many connections", &pgconn.PgError{Code: "53300"}, catalog.ErrUnavailable},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, catalog.ErrUnavailable},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), catalog.ErrUnavailable},
		{"bad conn", driver.ErrBadConn, catalog.ErrUnavailable},
		{"eof", io.EOF, catalog.ErrUnavailable},
		{"unexpected eof", io.ErrUnexpectedEOF, catalog.ErrUnavailable},
		{"conn closed (pgx, under a transaction)", fmt.Errorf("commit: %w", pgconn.ErrConnClosed), catalog.ErrUnavailable},
		{"closed socket", fmt.Errorf("write: %w", net.ErrClosed), catalog.ErrUnavailable},
		{"refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, catalog.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.err); !errors.Is(got, tc.want) {
				t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
	if got := classify(errors.New("syntax error")); errors.Is(got, catalog.ErrUnavailable) {
		t.Errorf("an unknown error became %v", got)
	}
}
