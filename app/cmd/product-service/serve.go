package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sirupsen/logrus"

	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
	"github.com/product-service-lab/product-service/app/internal/config"
	"github.com/product-service-lab/product-service/app/internal/faults"
	"github.com/product-service-lab/product-service/app/internal/httpapi"
	"github.com/product-service-lab/product-service/app/internal/policyfile"
	"github.com/product-service-lab/product-service/app/internal/profiling"
	"github.com/product-service-lab/product-service/app/internal/telemetry"
)

// version is the release, set at link time (-ldflags "-X main.version=v1.2.3").
var version string

// serve runs the HTTP API until ctx ends, then drains in-flight requests within SHUTDOWN_TIMEOUT,
// stops the cache's background work and flushes traces and logs.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	if err := noFlags("serve", "Runs the HTTP API on HTTP_ADDR until SIGINT or SIGTERM.", args, stderr); err != nil {
		return err
	}
	cfg, logger, logs, err := setup(stdout, lookup)
	if err != nil {
		return err
	}
	// The last step of every shutdown: each log sink writes what it holds, within a bound (a
	// blocked sink is abandoned, its lost lines counted and said on stderr).
	defer logs.Close()
	// A bad CACHE_PRESET or CACHE_POLICY stops start-up before any connection is made.
	if _, err := startPolicy(cfg); err != nil {
		return err
	}
	build := telemetry.ReadBuild(version)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	telemetry.RegisterBuildInfo(reg, build)
	if err := logs.Register(reg); err != nil {
		return fmt.Errorf("log pipeline metrics: %w", err)
	}
	addLoki(logs, cfg)
	log := logger.WithField("version", build.Version)
	log.WithFields(cfg.Fields()).Info("starting")
	if cfg.Database.SimulatedLatency > 0 {
		log.WithField("db_simulated_latency", cfg.Database.SimulatedLatency.String()).
			Warn("simulated database latency is on: every product detail load waits this long first")
	}

	tp, shutdownTracing, err := telemetry.NewTracerProvider(ctx, telemetry.TracingOptions{
		Endpoint: cfg.Telemetry.OTLPEndpoint, Protocol: cfg.Telemetry.OTLPProtocol, ServiceName: cfg.Telemetry.ServiceName,
		Sampler: cfg.Telemetry.TracesSampler, SamplerArg: cfg.Telemetry.TracesSamplerArg, Version: build.Version, Env: cfg.Env,
		Spans: telemetry.NewSpanCounter(reg),
	})
	if err != nil {
		return err
	}
	defer flush("traces", logger, shutdownTracing)
	profiler, err := profiling.Start(profiling.Options{
		URL: cfg.Telemetry.PyroscopeURL, AppName: cfg.Telemetry.ServiceName, UploadRate: cfg.Telemetry.PyroscopeUploadRate,
		Tags: map[string]string{"env": cfg.Env, "version": build.Version}, Log: logger,
	})
	if err != nil {
		return err
	}
	defer flush("profiles", logger, profiler.Stop) // uploads what was collected since the last push
	if profiler.Enabled() && cfg.Telemetry.PprofAddr != "" {
		log.Warn("pyroscope holds the CPU profiler: PPROF_ADDR's /debug/pprof/profile answers 500 (one CPU profile at a time)")
	}
	var headSampler httpapi.HeadSampler
	if tp != nil {
		// The provider's sampler, asked first: an unsampled request starts no server span.
		sampler, err := telemetry.Sampler(cfg.Telemetry.TracesSampler, cfg.Telemetry.TracesSamplerArg)
		if err != nil {
			return err
		}
		headSampler = telemetry.NewHeadSampler(sampler)
	}
	// With profiling on, a span's pprof labels carry its span id: a trace opens its flame graph.
	tp = profiler.Trace(tp)
	injector := faults.New(reg, logger)

	db, sqlDB, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	if err := instrumentDatabase(db, logger, cfg, tp, injector); err != nil {
		return err
	}
	reg.MustRegister(collectors.NewDBStatsCollector(sqlDB, "products"))
	dbMetrics := pgstore.NewMetrics(reg)
	replicas, err := openReplicas(ctx, cfg, db, dbMetrics, reg, log)
	if err != nil {
		return err
	}
	defer pgstore.CloseReplicas(replicas)
	if cfg.Database.MigrateOnStart {
		applied, err := pgstore.Migrate(ctx, sqlDB)
		if err != nil {
			return err
		}
		log.WithField("applied", len(applied)).Info("migrations applied")
	}
	store := pgstore.New(db, pgstore.Options{
		QueryTimeout:     cfg.Database.QueryTimeout,
		SimulatedLatency: cfg.Database.SimulatedLatency,
		Metrics:          dbMetrics,
		Replicated:       len(replicas) > 0,
		ReadYourWrites:   cfg.Database.ReadYourWrites,
		LockTimeout:      cfg.Database.LockTimeout,
	})

	rdb, err := newRedis(cfg, logger, tp, injector)
	if err != nil {
		return err
	}
	defer rdb.Close()
	telemetry.RegisterRedisPool(reg, rdb)
	cached, err := newCache(cfg, store, db, rdb, reg, logger, tp)
	if err != nil {
		return err
	}
	if cfg.ConfigFile != "" {
		// The file's policy is in force before the cache starts (warm-up follows it), then kept
		// equal to the file until ctx ends.
		stopWatch, err := policyfile.Watch(ctx, policyfile.Options{
			Path: cfg.ConfigFile, Base: cached.Policy(), Target: cached, Log: logger, Metrics: policyfile.NewMetrics(reg),
		})
		if err != nil {
			return err
		}
		defer stopWatch()
	}
	logging, err := newLogControl(cfg, logger, cached, reg)
	if err != nil {
		return err
	}
	cacheCtx, stopCache := context.WithCancel(context.WithoutCancel(ctx))
	cacheDone := make(chan struct{})
	go func() { cached.Run(cacheCtx); close(cacheDone) }()
	defer func() { stopCache(); <-cacheDone }()

	if cfg.Telemetry.PprofAddr != "" {
		stopPprof, err := servePprof(cfg.Telemetry.PprofAddr, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}

	gin.SetMode(gin.ReleaseMode)
	overload, err := httpapi.NewOverload(overloadOptions(cfg.Overload), reg)
	if err != nil {
		return err
	}
	router := httpapi.New(httpapi.Deps{
		Store:    cached,
		Checks:   []httpapi.Check{{Name: "postgres", Probe: store.Ping}, {Name: "cache", Probe: cached.Ready}},
		Cache:    cached,
		Gatherer: reg,
		Metrics:  httpapi.NewMetrics(reg),
		Tracer:   tp,
		Sampler:  headSampler,
		Faults:   injector,
		Overload: overload,
		Log:      logger,
		AccessLog: httpapi.NewAccessLog(reg, httpapi.AccessLogOptions{
			Exclude: cfg.Logging.AccessExclude, SampleEvery: logging.SampleEvery,
		}),
		Logging: logging,
	}, httpapi.Options{
		AdminToken:   cfg.AdminToken,
		MaxBodyBytes: cfg.HTTP.MaxBodyBytes,
		CacheMaxAge:  cfg.HTTP.CacheMaxAge,
		SlowRequest:  cfg.LogSlowRequest,
	})
	if err := router.SetTrustedProxies(cfg.Overload.TrustedProxies); err != nil {
		return fmt.Errorf("HTTP_TRUSTED_PROXIES: %w", err)
	}
	srv := &http.Server{
		Addr:              cfg.HTTP.Addr,
		Handler:           router,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:          httpErrorLog(logger),
	}
	return listenAndDrain(ctx, srv, cfg.HTTP.ShutdownTimeout, log)
}

// flush runs a shutdown step with a bounded time and logs its failure.
func flush(what string, log *logrus.Logger, f func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f(ctx); err != nil {
		log.WithError(err).WithField("what", what).Warn("flush at shutdown failed")
	}
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

// overloadOptions are the router's overload protection as configured.
func overloadOptions(c config.Overload) httpapi.OverloadOptions {
	return httpapi.OverloadOptions{
		MaxInFlight: c.MaxInFlight, MaxQueued: c.MaxQueued, QueueTimeout: c.QueueTimeout,
		ClientRate: c.ClientRate, ClientBurst: c.ClientBurst, ItemCost: c.ItemCost, MaxClients: c.MaxClients,
	}
}
