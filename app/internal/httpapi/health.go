package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// readyTimeout bounds the database check of /ready, so a probe never hangs.
const readyTimeout = 2 * time.Second

// health answers GET /health: the process serves requests.
func health(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// ready answers GET /ready: 200 when the database answers, else 503 with the reason.
func ready(db Pinger) handlerFunc {
	return func(c *gin.Context) error {
		ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
		defer cancel()
		if err := db.Ping(ctx); err != nil {
			p := newProblem(http.StatusServiceUnavailable, "not-ready", "postgres: "+err.Error())
			p.cause = err
			return p
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": gin.H{"postgres": "ok"}})
		return nil
	}
}
