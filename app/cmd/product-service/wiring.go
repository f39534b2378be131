package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
	"gorm.io/plugin/opentelemetry/tracing"

	"github.com/product-service-lab/product-service/app/internal/cache"
	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
	"github.com/product-service-lab/product-service/app/internal/config"
	"github.com/product-service-lab/product-service/app/internal/faults"
	"github.com/product-service-lab/product-service/app/internal/logctl"
	"github.com/product-service-lab/product-service/app/internal/telemetry"
)

// setup loads the configuration and builds the logger every command shares; close the returned
// Output last: it flushes every log sink (stdout, the file, Loki when serve adds it), within a
// bound.
func setup(stdout io.Writer, lookup func(string) (string, bool)) (config.Config, *logrus.Logger, *telemetry.Output, error) {
	cfg, err := config.Load(lookup)
	if err != nil {
		return config.Config{}, nil, nil, err
	}
	logger, out, err := telemetry.NewLogger(stdout, telemetry.LogOptions{
		Level: cfg.LogLevel, Env: cfg.Env, QueueLines: cfg.LogSinks.StdoutQueue,
		File: telemetry.FileOptions{
			Path: cfg.Telemetry.LogFile, MaxSizeMB: cfg.Telemetry.LogFileMaxSizeMB, MaxAgeDays: cfg.Telemetry.LogFileMaxAgeDays,
			MaxBackups: cfg.Telemetry.LogFileMaxBackups, Compress: cfg.Telemetry.LogFileCompress, QueueLines: cfg.LogSinks.FileQueue,
		},
	})
	if err != nil {
		return config.Config{}, nil, nil, err
	}
	return cfg, logger, out, nil
}

// addLoki ships every log line to LOKI_URL, when set, as one more sink of out.
func addLoki(out *telemetry.Output, cfg config.Config) {
	if cfg.Telemetry.LokiURL == "" {
		return
	}
	s := cfg.LogSinks
	out.AddLoki(telemetry.LokiOptions{
		URL: cfg.Telemetry.LokiURL, Labels: map[string]string{"app": telemetry.AppName, "env": cfg.Env},
		QueueLines: s.LokiQueue, BatchBytes: s.LokiBatchBytes, BatchWait: s.LokiBatchWait,
		MinBackoff: s.LokiMinBackoff, MaxBackoff: s.LokiMaxBackoff, MaxRetryTime: s.LokiMaxRetryTime, PushTimeout: s.LokiPushTimeout,
	})
}

// openDatabase opens the pool every command uses; closing the *sql.DB closes both handles.
func openDatabase(ctx context.Context, cfg config.Config) (*gorm.DB, *sql.DB, error) {
	db, err := pgstore.Open(ctx, cfg.Database.URL, dbPool(cfg), nil)
	if err != nil {
		return nil, nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, nil, fmt.Errorf("database handle: %w", err)
	}
	return db, sqlDB, nil
}

// dbPool is the pool size of the primary and of each replica.
func dbPool(cfg config.Config) pgstore.Pool {
	return pgstore.Pool{
		MaxOpenConns:    cfg.Database.MaxOpenConns,
		MaxIdleConns:    cfg.Database.MaxIdleConns,
		ConnMaxLifetime: cfg.Database.ConnMaxLifetime,
		ConnMaxIdleTime: cfg.Database.ConnMaxIdleTime,
	}
}

// openReplicas opens the read replicas of DATABASE_REPLICA_URLS, installs the read/write split
// on db (reads outside transactions to the replicas; with none, everything to the primary) and
// registers each replica's pool statistics as db_name products_replica_<n>. A replica that does
// not answer at start is logged, not fatal: its reads fall back to the primary meanwhile.
func openReplicas(ctx context.Context, cfg config.Config, db *gorm.DB, m *pgstore.Metrics,
	reg prometheus.Registerer, log logrus.FieldLogger) ([]pgstore.Replica, error) {
	replicas, down, err := pgstore.OpenReplicas(ctx, cfg.Database.ReplicaURLs, dbPool(cfg))
	if err != nil {
		return nil, err
	}
	for _, err := range down {
		log.WithError(err).Warn("database replica not answering at start; its reads go to the primary until it does")
	}
	if err := pgstore.Route(db, replicas, m); err != nil {
		pgstore.CloseReplicas(replicas)
		return nil, err
	}
	for i, r := range replicas {
		reg.MustRegister(collectors.NewDBStatsCollector(r.DB, fmt.Sprintf("products_replica_%d", i+1)))
	}
	if len(replicas) > 0 {
		log.WithFields(logrus.Fields{"replicas": len(replicas), "db_read_your_writes": cfg.Database.ReadYourWrites.String()}).
			Info("reads go to the database replicas, writes and transactions to the primary")
	}
	return replicas, nil
}

// instrumentDatabase routes GORM's logs through logrus, traces its statements (when tp is set)
// and lets faults be injected into them.
func instrumentDatabase(db *gorm.DB, logger *logrus.Logger, cfg config.Config, tp trace.TracerProvider, f *faults.Injector) error {
	db.Logger = telemetry.GORMLogger(logger, cfg.Telemetry.DBSlowQuery)
	if tp != nil {
		if err := db.Use(tracing.NewPlugin(tracing.WithTracerProvider(tp), tracing.WithoutMetrics(),
			tracing.WithDBSystem("postgresql"))); err != nil {
			return fmt.Errorf("gorm tracing: %w", err)
		}
	}
	if err := db.Use(f.GORMPlugin()); err != nil {
		return fmt.Errorf("gorm faults: %w", err)
	}
	return nil
}

// newRedis builds the Redis client: short timeouts and no retries (a slow Redis is skipped, the
// database answers instead), traced when tp is set, and open to fault injection.
func newRedis(cfg config.Config, logger *logrus.Logger, tp trace.TracerProvider, f *faults.Injector) (redis.UniversalClient, error) {
	redis.SetLogger(redisLog{logger})
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:         cfg.Redis.Addrs,
		MasterName:    cfg.Redis.MasterName,
		IsClusterMode: cfg.Redis.Cluster,
		DialTimeout:   cfg.Redis.Timeout,
		ReadTimeout:   cfg.Redis.Timeout,
		WriteTimeout:  cfg.Redis.Timeout,
		PoolTimeout:   2 * cfg.Redis.Timeout,
		PoolSize:      cfg.Redis.PoolSize,
		MaxRetries:    -1,
		// Context deadlines bound socket reads and writes too: the cache gives each read one
		// Redis budget for all its calls (REDIS_TIMEOUT), and each call what is left of it.
		ContextTimeoutEnabled: true,
		// One dial attempt: go-redis's default (5, 100 ms apart) made a read wait over a second
		// for a killed master before the database answered (TestSentinelFailover).
		DialerRetries: 1,
	})
	if tp != nil {
		// Without the caller attributes (code.function, code.filepath, code.lineno): finding the
		// caller walks the stack on every command, sampled or not (about 5 µs of a Redis hit with
		// traces on, in BenchmarkRouterHit's CPU profile); the parent cache.lookup span says which
		// read it was.
		if err := redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(tp), redisotel.WithCallerEnabled(false)); err != nil {
			return nil, fmt.Errorf("redis tracing: %w", err)
		}
	}
	rdb.AddHook(f.RedisHook())
	return rdb, nil
}

// startPolicy is the cache policy the service starts with: CACHE_PRESET, then the switches of
// CACHE_POLICY on top. An error names the variable.
func startPolicy(cfg config.Config) (cache.Policy, error) {
	policy, err := cache.Preset(cfg.Cache.Preset)
	if err != nil {
		return cache.Policy{}, fmt.Errorf("CACHE_PRESET: %w", err)
	}
	if cfg.Cache.Policy != "" {
		if policy, err = cache.Apply(policy, []byte(cfg.Cache.Policy)); err != nil {
			return cache.Policy{}, fmt.Errorf("CACHE_POLICY: %w", err)
		}
	}
	return policy, nil
}

// newCache builds the cache in front of store with the starting policy (startPolicy). Its outbox
// relay reads db's cache_outbox.
func newCache(cfg config.Config, store *pgstore.Store, db *gorm.DB, rdb redis.UniversalClient, reg prometheus.Registerer,
	log *logrus.Logger, tp trace.TracerProvider) (*cache.Store, error) {
	var tracer trace.Tracer
	if tp != nil {
		tracer = tp.Tracer("product-service/cache")
	}
	policy, err := startPolicy(cfg)
	if err != nil {
		return nil, err
	}
	var written func(...int64)
	if len(cfg.Database.ReplicaURLs) > 0 {
		written = store.MarkWritten
	}
	return cache.New(store, rdb, policy, cache.Options{
		Written:      written,
		Namespace:    cfg.Cache.Namespace,
		L1MaxEntries: cfg.Cache.L1MaxEntries,
		BloomRebuild: cfg.Cache.BloomRebuild,
		HotLimit:     cfg.Cache.HotLimit,
		RedisBudget:  cfg.Redis.Timeout,
		Log:          log,
		Metrics:      cache.NewMetrics(reg),
		Tracer:       tracer,
		Outbox:       pgstore.NewOutbox(db, cfg.Database.URL),
		OutboxPoll:   cfg.Cache.OutboxPoll,
		OutboxGrace:  cfg.Cache.OutboxGrace,
	})
}

// newLogControl puts the start-up log settings in force and lets the admin API change them at run
// time, on every replica: the cache's pub/sub carries the changes.
func newLogControl(cfg config.Config, logger *logrus.Logger, peers logctl.Peers, reg prometheus.Registerer) (*logctl.Control, error) {
	level, err := logctl.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	return logctl.New(logctl.Options{
		Logger: logger, Startup: logctl.Settings{Level: level, SampleEvery: cfg.Logging.SampleEvery},
		DebugMax: cfg.Logging.DebugMax, Peers: peers, Registerer: reg,
	})
}

// redisLog sends go-redis's own messages (reconnects, pool trouble) through the service's logger.
type redisLog struct{ log logrus.FieldLogger }

// Printf logs one go-redis message at warn.
func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.log.WithField("detail", fmt.Sprintf(format, v...)).Warn("redis client trouble")
}

// httpErrorLog sends net/http's own errors (bad requests, TLS trouble) through the logger.
func httpErrorLog(logger *logrus.Logger) *log.Logger {
	return log.New(logger.WriterLevel(logrus.WarnLevel), "", 0)
}

// servePprof serves net/http/pprof on its own listener, never on the public one. It returns the
// function that stops it.
func servePprof(addr string, log logrus.FieldLogger) (func(), error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.WithField("pprof_addr", ln.Addr().String()).Info("pprof listening")
	return func() { _ = srv.Close() }, nil
}
