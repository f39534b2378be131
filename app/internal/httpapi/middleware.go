package httpapi

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/trace"

	"github.com/product-service-lab/product-service/app/internal/telemetry"
)

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-ID"

// Canonical forms of the headers the hot path reads and writes: net/http's Header.Get and Set
// would canonicalize (and allocate) the key on every call.
const (
	requestIDKey    = "X-Request-Id"
	traceIDKey      = "X-Trace-Id"
	xCacheKey       = "X-Cache"
	etagKey         = "Etag"
	ifNoneMatchKey  = "If-None-Match"
	userIDKey       = "X-User-Id"
	cacheControlKey = "Cache-Control"
	contentTypeKey  = "Content-Type"
)

// saneID reports whether id is what an incoming request (or user) id must look like to be kept:
// 1 to 128 letters, digits and "._:-", that is ^[A-Za-z0-9._:-]{1,128}$ without a regexp
// (requestid_test.go holds it to that).
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

// traceHeader returns the request's trace id in X-Trace-ID, so a client can quote it.
func traceHeader() gin.HandlerFunc {
	return func(c *gin.Context) {
		if sc := trace.SpanContextFromContext(c.Request.Context()); sc.IsValid() {
			setHeader(c, traceIDKey, sc.TraceID().String())
		}
		c.Next()
	}
}

// HeadSampler decides whether a request is sampled before its server span is started, and gives
// an unsampled request its trace context (telemetry.HeadSampler).
type HeadSampler interface {
	Sample(ctx context.Context, h http.Header) (context.Context, bool)
}

var _ HeadSampler = (*telemetry.HeadSampler)(nil)

// headSampled runs traced (otelgin) for the requests s samples; the others continue with the
// trace context s gave them and no server span: no span to start and end, no attributes
// computed for nobody.
func headSampled(s HeadSampler, traced gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, sampled := s.Sample(c.Request.Context(), c.Request.Header)
		c.Request = c.Request.WithContext(ctx)
		if sampled {
			traced(c)
			return
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
