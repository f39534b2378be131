package pgstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
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
		{"lock timeout", fmt.Errorf("update: %w", &pgconn.PgError{Code: "55P03"}), catalog.ErrLockTimeout},
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

// TestConnLost: a connection the server closed under a statement may be replaced and the read run
// again; a statement that ran out of time, a server that refuses connections or an error of the
// statement itself may not.
func TestConnLost(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"admin shutdown (pg_terminate_backend)", &pgconn.PgError{Severity: "FATAL", Code: "57P01"}, true},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, true},
		{"wrapped and classified", classify(fmt.Errorf("scan: %w", &pgconn.PgError{Code: "57P01"})), true},
		{"conn closed (pgx)", fmt.Errorf("query: %w", pgconn.ErrConnClosed), true},
		{"bad conn", driver.ErrBadConn, true},
		{"eof", io.EOF, true},
		{"unexpected eof", fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), true},
		{"closed socket", net.ErrClosed, true},
		{"reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, true},
		{"broken pipe", &net.OpError{Op: "write", Err: syscall.EPIPE}, true},
		{"nil", nil, false},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), false},
		{"canceled", context.Canceled, false},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, false},
		{"too many connections", &pgconn.PgError{Code: "53300"}, false},
		{"lock timeout", &pgconn.PgError{Code: "55P03"}, false},
		{"serialization", &pgconn.PgError{Code: "40001"}, false},
		{"refused", &pgconn.ConnectError{}, false},
		{"not found", catalog.ErrNotFound, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := connLost(tc.err); got != tc.want {
				t.Errorf("connLost(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestShouldPing: pgx's own rule (idle for more than a second) always holds; after a loss, every
// connection last checked out before it is pinged, and none checked out after it; a statement run
// again always gets a pinged connection.
func TestShouldPing(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	l := &connLoss{now: func() time.Time { return now }, idle: time.Second}
	ping := func(idle time.Duration) bool {
		return l.shouldPing(context.Background(), stdlib.ShouldPingParams{IdleDuration: idle})
	}
	got := map[string]bool{"before any loss, idle 100ms": ping(100 * time.Millisecond), "idle 2s": ping(2 * time.Second)}
	now = t0.Add(time.Minute)
	l.mark() // a loss at t0+1m
	now = t0.Add(time.Minute + 300*time.Millisecond)
	got["checked out 200ms before the loss"] = ping(500 * time.Millisecond)
	got["checked out 100ms after the loss"] = ping(200 * time.Millisecond)
	got["run again (withPing), checked out just now"] = l.shouldPing(withPing(context.Background()), stdlib.ShouldPingParams{})
	want := map[string]bool{
		"before any loss, idle 100ms":                false,
		"idle 2s":                                    true,
		"checked out 200ms before the loss":          true,
		"checked out 100ms after the loss":           false,
		"run again (withPing), checked out just now": true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("shouldPing (-want +got):\n%s", diff)
	}
	var none *connLoss
	none.mark() // a store over a db not made by Open: no panic
}
