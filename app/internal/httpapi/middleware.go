package httpapi

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/trace"
)

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-ID"

// Canonical forms of the headers the hot path reads and writes: net/http's Header.Get and Set
// would canonicalize (and allocate) the key on every call.
const (
	requestIDKey   = "X-Request-Id"
	traceIDKey     = "X-Trace-Id"
	xCacheKey      = "X-Cache"
	etagKey        = "Etag"
	ifNoneMatchKey = "If-None-Match"
)

// saneRequestID is what an incoming request id must look like to be kept (saneID is the same
// test without a regexp).
var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// saneID reports whether id matches saneRequestID: 1 to 128 letters, digits and "._:-".
func saneID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// newRequestID returns a random (version 4) UUID drawn from the runtime's per-thread ChaCha8
// generator: as unique as crypto/rand's, without a system call or a lock per request. A request
// id names a request in the logs; it is no secret.
func newRequestID() string {
	var u uuid.UUID
	binary.LittleEndian.PutUint64(u[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(u[8:], rand.Uint64())
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return u.String()
}

// withRequestID keeps a sane incoming X-Request-ID or makes a new one, and echoes it back.
func withRequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := firstHeader(c.Request.Header, requestIDKey)
		if !saneID(id) {
			id = newRequestID()
		}
		setHeader(c, requestIDKey, id)
		c.Next()
	}
}

// requestID returns the id withRequestID assigned (it lives in the response's X-Request-ID).
func requestID(c *gin.Context) string { return firstHeader(c.Writer.Header(), requestIDKey) }

// firstHeader is h's first value of the canonical key, without canonicalizing it again.
func firstHeader(h http.Header, canonicalKey string) string {
	if v := h[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// setHeader sets the response header of the canonical key to v, without canonicalizing it again.
func setHeader(c *gin.Context, canonicalKey, v string) {
	c.Writer.Header()[canonicalKey] = []string{v}
}

// UserIDHeader names the user a request is made for, when the caller says so.
const UserIDHeader = "X-User-ID"

// accessLog writes one JSON line per request: 5xx at error, 4xx and slow requests at warn, but a
// request refused by overload protection at info, with its reason in "shed". A 503
// of /ready is a warning too: "not ready yet" is the probe's answer while the service starts (or
// a dependency is away), not a fault of the request. preset returns the cache preset in force
// (empty when there is no cache). Headers are never logged.
func accessLog(log *logrus.Logger, slow time.Duration, preset func() string) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		elapsed := time.Since(start)
		status := c.Writer.Status()
		route := routeLabel(c)
		level := logrus.InfoLevel
		shed := c.GetString(shedKey)
		switch {
		case shed != "":
			// Refused by overload protection: counted by app_overload_rejected_total; a warning
			// per refusal would make a flood cost more to log than to refuse.
		case status >= 500 && !(route == readyRoute && status == http.StatusServiceUnavailable):
			level = logrus.ErrorLevel
		case status >= 400 || elapsed > slow:
			level = logrus.WarnLevel
		}
		if !log.IsLevelEnabled(level) {
			return
		}
		fields := make(logrus.Fields, 18)
		fields["request_id"] = requestID(c)
		fields["method"] = c.Request.Method
		fields["route"] = route
		fields["path"] = c.Request.URL.Path
		fields["status"] = status
		fields["latency"] = float64(elapsed.Microseconds()) / 1000
		fields["bytes"] = max(c.Writer.Size(), 0)
		fields["client_ip"] = c.ClientIP()
		fields["user_agent"] = c.Request.UserAgent()
		if v := c.Writer.Header().Get("X-Cache"); v != "" {
			fields["cache"] = v
		}
		if p := preset(); p != "" {
			fields["preset"] = p
		}
		if u := c.GetHeader(UserIDHeader); u != "" && saneRequestID.MatchString(u) {
			fields["user_id"] = u
		}
		if shed != "" {
			fields["shed"] = shed
		}
		if err := c.Errors.Last(); err != nil {
			fields["error"] = err.Err.Error()
		}
		log.WithContext(c.Request.Context()).WithFields(fields).Log(level, "request")
	}
}

// traceHeader returns the request's trace id in X-Trace-ID, so a client can quote it.
func traceHeader() gin.HandlerFunc {
	return func(c *gin.Context) {
		if sc := trace.SpanContextFromContext(c.Request.Context()); sc.IsValid() {
			setHeader(c, traceIDKey, sc.TraceID().String())
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
