package httpapi

import (
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
)

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-ID"

const requestIDKey = "request_id"

// saneRequestID is what an incoming request id must look like to be kept.
var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// withRequestID keeps a sane incoming X-Request-ID or makes a new one, and echoes it back.
func withRequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if !saneRequestID.MatchString(id) {
			id = uuid.NewString()
		}
		c.Set(requestIDKey, id)
		c.Header(RequestIDHeader, id)
		c.Next()
	}
}

// requestID returns the id withRequestID assigned.
func requestID(c *gin.Context) string { return c.GetString(requestIDKey) }

// accessLog writes one JSON line per request: 5xx at error, 4xx and slow requests at warn.
func accessLog(log logrus.FieldLogger, slow time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		elapsed := time.Since(start)
		status := c.Writer.Status()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		entry := log.WithFields(logrus.Fields{
			"request_id": requestID(c),
			"method":     c.Request.Method,
			"route":      route,
			"path":       c.Request.URL.Path,
			"status":     status,
			"latency":    float64(elapsed.Microseconds()) / 1000,
			"bytes":      max(c.Writer.Size(), 0),
			"client_ip":  c.ClientIP(),
			"user_agent": c.Request.UserAgent(),
		})
		if v := c.Writer.Header().Get("X-Cache"); v != "" {
			entry = entry.WithField("cache", v)
		}
		if err := c.Errors.Last(); err != nil {
			entry = entry.WithField("error", err.Err.Error())
		}
		switch {
		case status >= 500:
			entry.Error("request")
		case status >= 400 || elapsed > slow:
			entry.Warn("request")
		default:
			entry.Info("request")
		}
	}
}

// recovery turns a panic into a 500 problem and logs it with its stack.
func recovery(log logrus.FieldLogger) gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, recovered any) {
		log.WithFields(logrus.Fields{"request_id": requestID(c), "panic": recovered}).Error("panic recovered")
		writeProblem(c, newProblem(http.StatusInternalServerError, "internal", "an unexpected error occurred"))
	})
}
