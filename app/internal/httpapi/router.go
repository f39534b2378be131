// Package httpapi is the HTTP face of the service: the gin router, its handlers and middleware,
// and the one place where errors become statuses (RFC 9457 problem+json).
package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/product-service-lab/product-service/app/internal/telemetry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel/trace"

	"github.com/product-service-lab/product-service/app/internal/faults"
)

// telemetryName names the service's spans' instrumentation.
const telemetryName = "product-service"

// Deps are what the router serves from.
type Deps struct {
	// Store serves the catalogue (the cache, in front of the database; Uncached for a store
	// without one).
	Store Store
	// Checks decide readiness; every one must pass for /ready to answer 200.
	Checks []Check
	// Cache, when set, is managed by the admin routes under /api/v1/admin/cache.
	Cache CacheAdmin
	// Gatherer, when set, is served on /metrics (OpenMetrics when asked, so exemplars show).
	Gatherer prometheus.Gatherer
	// Metrics, when set, counts and times every request.
	Metrics *Metrics
	// Tracer, when set, starts a span per request (otelgin) with W3C propagation.
	Tracer trace.TracerProvider
	// Sampler, when set with Tracer, decides first whether a request is sampled: an unsampled one
	// gets its trace context from it and no server span (telemetry.HeadSampler).
	Sampler HeadSampler
	// Faults, when set, can fail requests on purpose (fault injection).
	Faults FaultInjector
	// Overload, when set, guards the product routes (reads and writes) with per-client rate limits
	// and a bound on concurrent work; probes, /metrics and the admin routes are never limited.
	Overload *Overload
	Log      *logrus.Logger
	// AccessLog, when set, samples and excludes success lines of the access log (nil logs all).
	AccessLog *AccessLog
	// Logging, when set, is managed by the admin routes under /api/v1/admin/logging.
	Logging LogSettings
}

// FaultInjector is what the router needs of fault injection: a middleware that fails some requests
// through the function it is given, and the admin API's settings.
type FaultInjector interface {
	Middleware(fail func(c *gin.Context)) gin.HandlerFunc
	Settings() faults.Settings
	Set(patch []byte) (faults.Settings, error)
	Clear()
}

// Options configure the router.
type Options struct {
	// AdminToken guards the write and admin routes; empty refuses them all.
	AdminToken string
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64
	// CacheMaxAge is announced in Cache-Control on product reads.
	CacheMaxAge time.Duration
	// SlowRequest is the latency above which a request is logged at warn.
	SlowRequest time.Duration
}

// New returns the service's router.
func New(d Deps, opts Options) *gin.Engine {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// gin answers a trailing-slash redirect before any middleware runs (no X-Request-ID, no log,
	// no metrics, no span); without it such a path is a 404 problem like any unknown route.
	r.RedirectTrailingSlash = false
	r.ContextWithFallback = true
	// gin's default list (X-Forwarded-For, X-Real-IP) in canonical form: gin reads them with
	// Header.Get, which would canonicalize (and allocate) "X-Real-IP" on every request.
	r.RemoteIPHeaders = []string{"X-Forwarded-For", "X-Real-Ip"}
	preset := func() string { return "" }
	if d.Cache != nil {
		preset = func() string { return d.Cache.Policy().Preset }
	}
	r.Use(withRequestID())
	if d.Tracer != nil {
		traced := otelgin.Middleware(telemetryName, otelgin.WithTracerProvider(d.Tracer),
			otelgin.WithPropagators(telemetry.Propagator()))
		if d.Sampler != nil {
			traced = headSampled(d.Sampler, traced)
		}
		r.Use(traced, traceHeader())
	}
	if d.Metrics != nil {
		r.Use(d.Metrics.middleware())
	}
	r.Use(accessLog(d.Log, opts.SlowRequest, preset, d.AccessLog), recovery(d.Log))
	if d.Faults != nil {
		r.Use(d.Faults.Middleware(func(c *gin.Context) {
			writeProblem(c, newProblem(http.StatusInternalServerError, "injected-fault", "fault injection failed this request on purpose"))
		}))
	}

	r.GET("/health", health)
	r.GET(readyRoute, handle(ready(d.Checks)))
	if d.Gatherer != nil {
		r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{EnableOpenMetrics: true})))
	}

	h := productHandlers{store: d.Store, maxBodyBytes: opts.MaxBodyBytes, cacheControl: cacheControl(opts.CacheMaxAge)}
	api := r.Group("/api/v1")
	products := api.Group("")
	if d.Overload != nil {
		products.Use(d.Overload.middleware())
	}
	products.GET("/products", handle(h.list))
	products.GET("/products/:id", handle(h.get))
	products.GET("/products/:id/inventory", handle(h.inventory))

	writes := products.Group("", requireAdmin(opts.AdminToken))
	writes.POST("/products", handle(h.create))
	writes.PUT("/products/:id", handle(h.update))
	writes.DELETE("/products/:id", handle(h.remove))

	admin := api.Group("", requireAdmin(opts.AdminToken))
	if d.Cache != nil {
		a := cacheHandlers{cache: d.Cache, maxBodyBytes: opts.MaxBodyBytes, warmupWait: warmupWait}
		admin.GET("/admin/cache", handle(a.get))
		admin.PUT("/admin/cache", handle(a.put))
		admin.POST("/admin/cache/reset", handle(a.reset))
		admin.POST("/admin/cache/warmup", handle(a.warmup))
		admin.DELETE("/admin/cache/products/:id", handle(a.evict))
	}
	if d.Faults != nil {
		f := faultHandlers{faults: d.Faults, maxBodyBytes: opts.MaxBodyBytes}
		admin.GET("/admin/faults", handle(f.get))
		admin.PUT("/admin/faults", handle(f.put))
		admin.DELETE("/admin/faults", handle(f.clear))
	}
	registerLogging(admin, d.Logging, opts.MaxBodyBytes)

	r.NoRoute(func(c *gin.Context) {
		writeProblem(c, newProblem(http.StatusNotFound, "route-not-found", "no route matches this path"))
	})
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, newProblem(http.StatusMethodNotAllowed, "method-not-allowed", "this route does not accept "+c.Request.Method))
	})
	return r
}
