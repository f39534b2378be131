package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// readyTimeout bounds the checks of /ready, so a probe never hangs.
const readyTimeout = 2 * time.Second

// Check is one readiness condition, such as "postgres answers" or "cache warm-up finished".
type Check struct {
	Name  string
	Probe func(ctx context.Context) error
}

// health answers GET /health: the process serves requests.
func health(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyRoute is the readiness probe's path.
const readyRoute = "/ready"

// ready answers GET /ready: 200 when every check passes, else 503 naming the first that failed.
func ready(checks []Check) handlerFunc {
	return func(c *gin.Context) error {
		ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
		defer cancel()
		results := gin.H{}
		for _, ch := range checks {
			if err := ch.Probe(ctx); err != nil {
				p := newProblem(http.StatusServiceUnavailable, "not-ready", ch.Name+": "+err.Error())
				p.cause = err
				return p
			}
			results[ch.Name] = "ok"
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": results})
		return nil
	}
}
