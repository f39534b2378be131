package faults

import (
	"strings"

	"github.com/gin-gonic/gin"
)

// adminPrefix is the path prefix of the admin routes, which are never failed.
const adminPrefix = "/api/v1/admin"

// Middleware returns gin middleware that, with probability http_error_rate, answers the request
// with fail (which writes the 500) and aborts the chain; otherwise the request goes on. The
// health, readiness and metrics endpoints and the admin routes are never failed, so faults can
// always be switched off and the service stays observable.
func (i *Injector) Middleware(fail func(c *gin.Context)) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !exempt(c.Request.URL.Path) && hit(i.Settings().HTTPErrorRate) {
			fail(c)
			c.Abort()
			return
		}
		c.Next()
	}
}

// exempt reports whether path is never failed.
func exempt(path string) bool {
	switch path {
	case "/health", "/ready", "/metrics", adminPrefix:
		return true
	}
	return strings.HasPrefix(path, adminPrefix+"/")
}
