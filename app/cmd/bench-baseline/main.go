// Command bench-baseline exists only as the baseline of `make bench`: a bare net/http server that
// answers GET /api/v1/products/{id} by running pgstore.DetailSQL, the statement product-service
// runs, through a pgxpool pool and encoding the same catalog.Product JSON. No GORM, no gin, no
// middleware, no cache. The ratio of product-service's throughput to this one's tells what the
// service's own layers cost on top of the database round trip; it is not meant to serve anything.
//
// Usage:
//
//	bench-baseline [-addr 127.0.0.1:8081] [-database-url URL] [-max-conns 20]
//
// -database-url defaults to $DATABASE_URL, else the service's default URL. SIGINT or SIGTERM
// drains in-flight requests and exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"

	"github.com/product-service-lab/product-service/app/internal/config"
	"github.com/product-service-lab/product-service/app/internal/telemetry"
)

// options is the command line.
type options struct {
	addr        string
	databaseURL string
	maxConns    int
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-baseline:", err)
		os.Exit(1)
	}
}

// run parses the command line, connects, and serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parse(args, stderr)
	if err != nil {
		return err
	}
	log, err := telemetry.NewLogger(stdout, "info", "bench")
	if err != nil {
		return err
	}
	log = log.WithField("app", "bench-baseline")

	pool, err := openPool(ctx, opts)
	if err != nil {
		return err
	}
	defer pool.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/products/{id}", productHandler{pool: pool, log: log})
	srv := &http.Server{
		Addr:              opts.addr,
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", opts.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.addr, err)
	}
	log.WithFields(logrus.Fields{
		"http_addr": ln.Addr().String(), "database_url": config.RedactURL(opts.databaseURL), "max_conns": opts.maxConns,
	}).Info("listening")

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// parse reads the flags; the database URL falls back to $DATABASE_URL, then the service default.
func parse(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench-baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8081", "listen address")
	fs.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL URL (default $DATABASE_URL, else "+config.DefaultDatabaseURL+")")
	fs.IntVar(&o.maxConns, "max-conns", 20, "connection pool size (product-service's DB_MAX_OPEN_CONNS default)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 || o.maxConns < 1 {
		fs.Usage()
		return o, errors.New("invalid command line")
	}
	if o.databaseURL == "" {
		o.databaseURL = os.Getenv("DATABASE_URL")
	}
	if o.databaseURL == "" {
		o.databaseURL = config.DefaultDatabaseURL
	}
	return o, nil
}

// openPool connects with a pool sized like the service's and checks that the database answers.
func openPool(ctx context.Context, o options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(o.databaseURL)
	if err != nil {
		return nil, fmt.Errorf("database url %s: %w", config.RedactURL(o.databaseURL), err)
	}
	cfg.MaxConns = int32(o.maxConns)
	cfg.MaxConnLifetime = 30 * time.Minute // DB_CONN_MAX_LIFETIME default
	cfg.MaxConnIdleTime = 5 * time.Minute  // DB_CONN_MAX_IDLE_TIME default
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return pool, nil
}
