// Command bench-baseline exists only as the ceilings and peers of `make bench`: a server that
// answers GET /api/v1/products/{id} in one of four ways (-mode), so the ratio of product-service's
// figures to its own, measured in the same run, tells what the service's layers cost on top of
// the one unavoidable step:
//
//   - sql (default): bare net/http running pgstore.DetailSQL, the statement product-service runs,
//     through a pgxpool pool and encoding the same catalog.Product JSON; the baseline of an
//     uncached read.
//   - redis-get: bare net/http and one go-redis GET of the product's key, which holds its JSON
//     body (products 1..-products read from the database and SET under -redis-prefix at start,
//     deleted at exit); the ceiling of a Redis cache hit.
//   - map: bare net/http and one Go map lookup of the product's JSON body (products 1..-products
//     read at start); the ceiling of an in-process (L1) cache hit.
//   - peer: gin + GORM + github.com/go-redis/cache (msgpack, singleflight), the product cached
//     under -redis-prefix for -peer-ttl with Once: what a Go developer would write instead.
//
// It is not meant to serve anything.
//
// Usage:
//
//	bench-baseline [-mode sql|redis-get|map|peer] [-addr 127.0.0.1:8081] [-database-url URL]
//	               [-max-conns 20] [-products 100000] [-redis-addr 127.0.0.1:6379]
//	               [-redis-prefix bench-baseline] [-redis-pool-size 50] [-redis-timeout 50ms]
//	               [-peer-ttl 1h]
//
// -database-url defaults to $DATABASE_URL, else the service's default URL; -redis-addr to
// $REDIS_ADDR, else the service's default. The Redis settings default to product-service's.
// SIGINT or SIGTERM drains in-flight requests and exits.
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

// The modes of -mode.
const (
	modeSQL      = "sql"
	modeRedisGet = "redis-get"
	modeMap      = "map"
	modePeer     = "peer"
)

// options is the command line.
type options struct {
	mode          string
	addr          string
	databaseURL   string
	maxConns      int
	products      int64
	redisAddr     string
	redisPrefix   string
	redisPoolSize int
	redisTimeout  time.Duration
	peerTTL       time.Duration
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
	logger, _, err := telemetry.NewLogger(stdout, telemetry.LogOptions{Level: "info", Env: "bench"})
	if err != nil {
		return err
	}
	log := logger.WithField("app", "bench-baseline")

	handler, stop, err := newHandler(ctx, opts, log)
	if err != nil {
		return err
	}
	defer stop()

	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/products/{id}", handler)
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
	fields := logrus.Fields{"mode": opts.mode, "http_addr": ln.Addr().String(), "database_url": config.RedactURL(opts.databaseURL)}
	switch opts.mode {
	case modeSQL:
		fields["max_conns"] = opts.maxConns
	case modeRedisGet, modePeer:
		fields["redis_addr"], fields["key_prefix"] = opts.redisAddr, opts.redisPrefix
	}
	log.WithFields(fields).Info("listening")

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

// newHandler builds the handler of o.mode; stop releases what the handler holds. sql serves from
// the database, map and redis-get read every body from it at start, peer has its own GORM.
func newHandler(ctx context.Context, o options, log *logrus.Entry) (http.Handler, func(), error) {
	if o.mode == modePeer {
		return newPeer(o, log)
	}
	pool, err := openPool(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	if o.mode == modeSQL {
		return productHandler{pool: pool, log: log}, pool.Close, nil
	}
	bodies, err := loadBodies(ctx, pool, o.products)
	pool.Close()
	if err != nil {
		return nil, nil, err
	}
	if o.mode == modeMap {
		return mapHandler{bodies: bodies}, func() {}, nil
	}
	unstore, err := storeBodies(ctx, o, bodies, log)
	if err != nil {
		return nil, nil, err
	}
	rdb := newRedis(o)
	stop := func() {
		unstore()
		_ = rdb.Close()
	}
	return redisHandler{rdb: rdb, prefix: o.redisPrefix, log: log}, stop, nil
}

// parse reads the flags; the database URL falls back to $DATABASE_URL, then the service default,
// and the Redis address to $REDIS_ADDR, then the service default.
func parse(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench-baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.mode, "mode", modeSQL, "what a read does: sql, redis-get, map or peer")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8081", "listen address")
	fs.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL URL (default $DATABASE_URL, else "+config.DefaultDatabaseURL+")")
	fs.IntVar(&o.maxConns, "max-conns", 20, "connection pool size (product-service's DB_MAX_OPEN_CONNS default)")
	fs.Int64Var(&o.products, "products", 100_000, "redis-get and map load the bodies of products 1..products at start")
	fs.StringVar(&o.redisAddr, "redis-addr", "", "Redis address for redis-get (default $REDIS_ADDR, else "+config.DefaultRedisAddr+")")
	fs.StringVar(&o.redisPrefix, "redis-prefix", "bench-baseline", "redis-get and peer keep product id under PREFIX:id")
	fs.IntVar(&o.redisPoolSize, "redis-pool-size", 50, "Redis connection pool size (product-service's REDIS_POOL_SIZE default)")
	fs.DurationVar(&o.redisTimeout, "redis-timeout", 50*time.Millisecond, "Redis dial, read and write timeout (product-service's REDIS_TIMEOUT default)")
	fs.DurationVar(&o.peerTTL, "peer-ttl", time.Hour, "how long peer caches a product")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	validMode := o.mode == modeSQL || o.mode == modeRedisGet || o.mode == modeMap || o.mode == modePeer
	if fs.NArg() > 0 || !validMode || o.maxConns < 1 || o.products < 1 || o.redisPrefix == "" ||
		o.redisPoolSize < 1 || o.redisTimeout <= 0 || o.peerTTL <= 0 {
		fs.Usage()
		return o, errors.New("invalid command line")
	}
	if o.databaseURL == "" {
		o.databaseURL = os.Getenv("DATABASE_URL")
	}
	if o.databaseURL == "" {
		o.databaseURL = config.DefaultDatabaseURL
	}
	if o.redisAddr == "" {
		o.redisAddr = os.Getenv("REDIS_ADDR")
	}
	if o.redisAddr == "" {
		o.redisAddr = config.DefaultRedisAddr
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
