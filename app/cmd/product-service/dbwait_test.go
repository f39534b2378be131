package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/pgtest"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// retryMsg is the log message of each retry of the first connection.
const retryMsg = "database not accepting connections yet; retrying"

// signalWriter collects log lines and closes seen the first time one contains want.
type signalWriter struct {
	safeBuffer
	want string
	once sync.Once
	seen chan struct{}
}

func newSignalWriter(want string) *signalWriter {
	return &signalWriter{want: want, seen: make(chan struct{})}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	n, err := w.safeBuffer.Write(p)
	if strings.Contains(string(p), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

// TestMigrateAndSeedWaitForTheDatabase: migrate and seed started while their database refuses
// connections (a private PostgreSQL, stopped) retry until it accepts them (started again once
// the first retry is logged), then do their work. Nothing here depends on how long anything
// takes: the server starts after a retry is seen, and -db-wait is far longer than any run.
func TestMigrateAndSeedWaitForTheDatabase(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pg := pgtest.Start(ctx, t, pgtest.Options{Database: "products"})
	env := lookup(map[string]string{"DATABASE_URL": pg.URL("products")})

	for _, args := range [][]string{{"migrate"}, {"seed", "--products", "20", "--batch", "8"}} {
		// pg belongs to the parent test: after a failure its Kill would fail that one too.
		ok := t.Run(args[0], func(t *testing.T) {
			pg.Kill()
			logs := newSignalWriter(retryMsg)
			done := make(chan error, 1)
			go func() { done <- run(ctx, append(args, "-db-wait", "10m"), logs, logs, env) }()
			select {
			case <-logs.seen:
			case err := <-done:
				t.Fatalf("%s returned before retrying, with the database down: %v\n%s", args[0], err, logs.String())
			}
			pg.Start()
			if err := <-done; err != nil {
				t.Fatalf("%s after the database came up: %v\n%s", args[0], err, logs.String())
			}
			for _, want := range []string{`"msg":"` + retryMsg + `"`, `"attempt":1`, "connect"} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("logs lack %q:\n%s", want, logs.String())
				}
			}
		})
		if !ok {
			return
		}
	}
	conn := pg.Connect("products")
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM products").Scan(&n); err != nil || n != 20 {
		t.Errorf("products after migrate and seed: %d (%v), want 20", n, err)
	}
}

// TestDBWaitGivesUp: without a server, -db-wait bounds the retries (0: a single attempt), and the
// error says how many were made. A test of the outcome, not of the time it takes.
func TestDBWaitGivesUp(t *testing.T) {
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/products?sslmode=disable", lab.MustFreePort(t))
	tests := []struct {
		wait        string
		wantRetries bool
	}{
		{wait: "0", wantRetries: false},
		{wait: "1s", wantRetries: true},
	}
	for _, tt := range tests {
		t.Run(tt.wait, func(t *testing.T) {
			var logs safeBuffer
			err := run(context.Background(), []string{"migrate", "-db-wait", tt.wait}, &logs, &logs,
				lookup(map[string]string{"DATABASE_URL": dsn}))
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("error %v, want connection refused", err)
			}
			if retried := strings.Contains(logs.String(), retryMsg); retried != tt.wantRetries {
				t.Errorf("retried %v, want %v:\n%s", retried, tt.wantRetries, logs.String())
			}
			if tt.wantRetries && !strings.Contains(err.Error(), "attempts (-db-wait 1s)") {
				t.Errorf("error %q does not say how long it waited", err)
			}
		})
	}
}

// TestDBWaitFailsAtOnceOnWhatRetryingCannotFix: a database that does not exist is reported on
// the first attempt, not after -db-wait. A retry cancels the run, so a regression fails fast.
func TestDBWaitFailsAtOnceOnWhatRetryingCannotFix(t *testing.T) {
	u, err := url.Parse(testdb.New(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/no_such_database_" + strconv.Itoa(lab.MustFreePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := newSignalWriter(retryMsg)
	go func() { <-logs.seen; cancel() }()
	err = run(ctx, []string{"migrate", "-db-wait", "10m"}, logs, logs, lookup(map[string]string{"DATABASE_URL": u.String()}))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" {
		t.Fatalf("error %v, want PostgreSQL's invalid_catalog_name (3D000)", err)
	}
	if strings.Contains(logs.String(), retryMsg) {
		t.Errorf("retried a missing database:\n%s", logs.String())
	}
}

func TestNotReadyYet(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"refused", context.Background(), fmt.Errorf("ping database: %w", refused), true},
		{"no such host", context.Background(), &net.DNSError{Err: "no such host", Name: "postgres", IsNotFound: true}, true},
		{"starting up", context.Background(), &pgconn.PgError{Code: "57P03"}, true},
		{"dropped", context.Background(), fmt.Errorf("ping: %w", io.ErrUnexpectedEOF), true},
		{"ping timed out", context.Background(), fmt.Errorf("ping: %w", context.DeadlineExceeded), true},
		{"bad password", context.Background(), &pgconn.PgError{Code: "28P01"}, false},
		{"missing database", context.Background(), &pgconn.PgError{Code: "3D000"}, false},
		{"malformed URL", context.Background(), errors.New("cannot parse `postgres://x:y@`: invalid port"), false},
		{"caller gave up", canceled, refused, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := notReadyYet(tt.ctx, tt.err); got != tt.want {
				t.Errorf("notReadyYet(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
