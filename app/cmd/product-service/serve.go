package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"
	"gorm.io/gorm"

	"github.com/product-service-lab/product-service/app/internal/cache"
	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
	"github.com/product-service-lab/product-service/app/internal/config"
	"github.com/product-service-lab/product-service/app/internal/httpapi"
	"github.com/product-service-lab/product-service/app/internal/telemetry"
)

// serve runs the HTTP API until ctx ends, then drains in-flight requests within SHUTDOWN_TIMEOUT.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	if err := noFlags("serve", "Runs the HTTP API on HTTP_ADDR until SIGINT or SIGTERM.", args, stderr); err != nil {
		return err
	}
	cfg, log, err := setup(stdout, lookup)
	if err != nil {
		return err
	}
	log.WithFields(cfg.Fields()).Info("starting")
	if cfg.Database.SimulatedLatency > 0 {
		log.WithField("db_simulated_latency", cfg.Database.SimulatedLatency.String()).
			Warn("simulated database latency is on: every product detail load waits this long first")
	}

	db, sqlDB, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	if cfg.Database.MigrateOnStart {
		applied, err := pgstore.Migrate(ctx, sqlDB)
		if err != nil {
			return err
		}
		log.WithField("applied", len(applied)).Info("migrations applied")
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(sqlDB, "products"))
	store := pgstore.New(db, pgstore.Options{
		QueryTimeout:     cfg.Database.QueryTimeout,
		SimulatedLatency: cfg.Database.SimulatedLatency,
		Metrics:          pgstore.NewMetrics(reg),
	})

	redis.SetLogger(redisLog{log})
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:        []string{cfg.Redis.Addr},
		DialTimeout:  cfg.Redis.Timeout,
		ReadTimeout:  cfg.Redis.Timeout,
		WriteTimeout: cfg.Redis.Timeout,
		PoolTimeout:  2 * cfg.Redis.Timeout,
		PoolSize:     cfg.Redis.PoolSize,
		MaxRetries:   -1, // a slow Redis is skipped, not retried: the database answers instead
	})
	defer rdb.Close()
	cached, err := newCache(cfg, store, rdb, reg, log)
	if err != nil {
		return err
	}
	cacheCtx, stopCache := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCache()
	go cached.Run(cacheCtx)

	gin.SetMode(gin.ReleaseMode)
	router := httpapi.New(httpapi.Deps{
		Store:   cached,
		Checks:  []httpapi.Check{{Name: "postgres", Probe: store.Ping}, {Name: "cache_warmup", Probe: cached.Ready}},
		Cache:   cached,
		Metrics: reg,
		Log:     log,
	}, httpapi.Options{
		AdminToken:   cfg.AdminToken,
		MaxBodyBytes: cfg.HTTP.MaxBodyBytes,
		CacheMaxAge:  cfg.HTTP.CacheMaxAge,
		SlowRequest:  cfg.LogSlowRequest,
	})
	srv := &http.Server{
		Addr:              cfg.HTTP.Addr,
		Handler:           router,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	return listenAndDrain(ctx, srv, cfg.HTTP.ShutdownTimeout, log)
}

// listenAndDrain serves until ctx ends, then stops accepting and waits for in-flight requests.
func listenAndDrain(ctx context.Context, srv *http.Server, timeout time.Duration, log logrus.FieldLogger) error {
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", srv.Addr, err)
	}
	log.WithField("http_addr", ln.Addr().String()).Info("listening")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.WithField("shutdown_timeout", timeout.String()).Info("shutting down: draining in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), timeout)
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

// newCache builds the cache in front of store with the starting policy: CACHE_PRESET, then the
// switches of CACHE_POLICY on top.
func newCache(cfg config.Config, store *pgstore.Store, rdb redis.UniversalClient, reg prometheus.Registerer,
	log logrus.FieldLogger) (*cache.Store, error) {
	policy, err := cache.Preset(cfg.Cache.Preset)
	if err != nil {
		return nil, fmt.Errorf("CACHE_PRESET: %w", err)
	}
	if cfg.Cache.Policy != "" {
		if policy, err = cache.Apply(policy, []byte(cfg.Cache.Policy)); err != nil {
			return nil, fmt.Errorf("CACHE_POLICY: %w", err)
		}
	}
	return cache.New(store, rdb, policy, cache.Options{
		Namespace:    cfg.Cache.Namespace,
		L1MaxEntries: cfg.Cache.L1MaxEntries,
		BloomRebuild: cfg.Cache.BloomRebuild,
		HotLimit:     cfg.Cache.HotLimit,
		Log:          log,
		Metrics:      cache.NewMetrics(reg),
	})
}

// redisLog sends go-redis's own messages (reconnects, pool trouble) through the service's logger.
type redisLog struct{ log logrus.FieldLogger }

// Printf logs one go-redis message at warn.
func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.log.WithField("detail", fmt.Sprintf(format, v...)).Warn("redis client trouble")
}

// setup loads the configuration and builds the logger every command shares.
func setup(stdout io.Writer, lookup func(string) (string, bool)) (config.Config, *logrus.Entry, error) {
	cfg, err := config.Load(lookup)
	if err != nil {
		return config.Config{}, nil, err
	}
	log, err := telemetry.NewLogger(stdout, cfg.LogLevel, cfg.Env)
	if err != nil {
		return config.Config{}, nil, err
	}
	return cfg, log, nil
}

// openDatabase opens the pool every command uses; closing the *sql.DB closes both handles.
func openDatabase(ctx context.Context, cfg config.Config) (*gorm.DB, *sql.DB, error) {
	db, err := pgstore.Open(ctx, cfg.Database.URL, pgstore.Pool{
		MaxOpenConns:    cfg.Database.MaxOpenConns,
		MaxIdleConns:    cfg.Database.MaxIdleConns,
		ConnMaxLifetime: cfg.Database.ConnMaxLifetime,
		ConnMaxIdleTime: cfg.Database.ConnMaxIdleTime,
	}, nil)
	if err != nil {
		return nil, nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, nil, fmt.Errorf("database handle: %w", err)
	}
	return db, sqlDB, nil
}
