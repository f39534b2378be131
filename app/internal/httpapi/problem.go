package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// ProblemTypePrefix starts every problem type URI; the slug after it is stable and documented.
const ProblemTypePrefix = "urn:product-service:problem:"

// Problem is an RFC 9457 problem detail. It is also an error, so handlers can return one.
type Problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail,omitempty"`
	Instance  string            `json:"instance,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	Errors    map[string]string `json:"errors,omitempty"`
	cause     error
}

// Error describes the problem for logs.
func (p *Problem) Error() string {
	if p.cause != nil {
		return fmt.Sprintf("%s: %s: %v", p.Title, p.Detail, p.cause)
	}
	return p.Title + ": " + p.Detail
}

// Unwrap exposes the error that caused the problem, if any.
func (p *Problem) Unwrap() error { return p.cause }

// newProblem builds a problem of the given slug and status; detail says what was wrong.
func newProblem(status int, slug, detail string) *Problem {
	return &Problem{Type: ProblemTypePrefix + slug, Title: http.StatusText(status), Status: status, Detail: detail}
}

func badRequest(slug, format string, args ...any) *Problem {
	return newProblem(http.StatusBadRequest, slug, fmt.Sprintf(format, args...))
}

// problemFor is the one place where errors become HTTP statuses.
func problemFor(err error) *Problem {
	var p *Problem
	var verr *catalog.ValidationError
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &verr):
		p = newProblem(http.StatusUnprocessableEntity, "validation-failed", "the product is invalid; see errors")
		p.Errors = verr.Fields
	case errors.Is(err, catalog.ErrNotFound):
		p = newProblem(http.StatusNotFound, "not-found", "no product has this id")
	case errors.Is(err, catalog.ErrVersionMismatch):
		p = newProblem(http.StatusPreconditionFailed, "precondition-failed",
			"the product changed since the version named in If-Match; read it again and retry")
	case errors.Is(err, catalog.ErrDuplicateSKU):
		p = newProblem(http.StatusConflict, "duplicate-sku", "another product already uses this sku")
	case errors.Is(err, catalog.ErrUnknownCategory):
		p = newProblem(http.StatusUnprocessableEntity, "unknown-category", "category_id names no existing category")
		p.Errors = map[string]string{"category_id": "does not exist"}
	case errors.Is(err, catalog.ErrLockTimeout):
		// 409, not 503: the database is healthy and nothing was written; this request met another
		// one changing the same product. A 503 would read as an outage to clients, probes and
		// alerts; Retry-After says when to try again.
		p = newProblem(http.StatusConflict, "lock-timeout",
			"another request is changing this product and holds it; nothing was written, retry in a moment")
	case errors.Is(err, catalog.ErrUnavailable):
		p = newProblem(http.StatusServiceUnavailable, "unavailable", "the database is unavailable; retry later")
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer, the status only labels the log line.
		p = newProblem(499, "client-closed-request", "the client closed the request")
		p.Title = "Client Closed Request"
	default:
		p = newProblem(http.StatusInternalServerError, "internal", "an unexpected error occurred")
	}
	p.cause = err
	return p
}

// writeProblem sends p as application/problem+json and records it on the context for the access log.
func writeProblem(c *gin.Context, p *Problem) {
	out := *p
	out.RequestID = requestID(c)
	if out.Instance == "" {
		out.Instance = c.Request.URL.Path
	}
	if out.Status == http.StatusServiceUnavailable || out.Type == ProblemTypePrefix+"lock-timeout" {
		c.Header("Retry-After", "1")
	}
	if out.Status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="product-service"`)
	}
	c.Header("Cache-Control", "no-store")
	_ = c.Error(p)
	c.Render(out.Status, problemRender{out})
	c.Abort()
}

// handlerFunc is a gin handler that returns its error instead of writing it.
type handlerFunc func(c *gin.Context) error

// handle adapts a handlerFunc: a returned error becomes a problem response, and its cause reaches
// the access log through c.Errors.
func handle(h handlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			writeProblem(c, problemFor(err))
		}
	}
}
