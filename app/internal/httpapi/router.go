// Package httpapi is the HTTP face of the service: the gin router, its handlers and middleware,
// and the one place where errors become statuses (RFC 9457 problem+json).
package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sirupsen/logrus"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// Options configure the router.
type Options struct {
	// AdminToken guards the write routes; empty refuses every write.
	AdminToken string
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64
	// CacheMaxAge is announced in Cache-Control on product reads.
	CacheMaxAge time.Duration
	// SlowRequest is the latency above which a request is logged at warn.
	SlowRequest time.Duration
}

// New returns the service's router. store serves the catalogue; db answers the readiness probe.
func New(store catalog.Store, db Pinger, log logrus.FieldLogger, opts Options) *gin.Engine {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	r.Use(withRequestID(), accessLog(log, opts.SlowRequest), recovery(log))

	r.GET("/health", health)
	r.GET("/ready", handle(ready(db)))

	h := productHandlers{store: store, maxBodyBytes: opts.MaxBodyBytes, cacheControl: cacheControl(opts.CacheMaxAge)}
	api := r.Group("/api/v1")
	api.GET("/products", handle(h.list))
	api.GET("/products/:id", handle(h.get))
	api.GET("/products/:id/inventory", handle(h.inventory))

	admin := api.Group("", requireAdmin(opts.AdminToken))
	admin.POST("/products", handle(h.create))
	admin.PUT("/products/:id", handle(h.update))
	admin.DELETE("/products/:id", handle(h.remove))

	r.NoRoute(func(c *gin.Context) {
		writeProblem(c, newProblem(http.StatusNotFound, "route-not-found", "no route matches this path"))
	})
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, newProblem(http.StatusMethodNotAllowed, "method-not-allowed", "this route does not accept "+c.Request.Method))
	})
	return r
}
