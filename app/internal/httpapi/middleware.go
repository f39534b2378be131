package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"regexp"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/trace"
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

// UserIDHeader names the user a request is made for, when the caller says so.
const UserIDHeader = "X-User-ID"

// traceHeader returns the request's trace id in X-Trace-ID, so a client can quote it.
func traceHeader() gin.HandlerFunc {
	return func(c *gin.Context) {
		if sc := trace.SpanContextFromContext(c.Request.Context()); sc.IsValid() {
			c.Header(TraceIDHeader, sc.TraceID().String())
		}
		c.Next()
	}
}

// TraceIDHeader carries the trace id of the request back to the client.
const TraceIDHeader = "X-Trace-ID"

// recovery turns a panic into a 500 problem and logs it.
func recovery(log *logrus.Logger) gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, recovered any) {
		log.WithContext(c.Request.Context()).WithFields(logrus.Fields{"request_id": requestID(c), "panic": fmt.Sprint(recovered)}).
			Error("panic recovered")
		writeProblem(c, newProblem(http.StatusInternalServerError, "internal", "an unexpected error occurred"))
	})
}
