package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// TestStoreErrorProblems: each store error becomes its status, its problem type and, when the
// request may succeed a moment later, a Retry-After. A write that gave up on a row lock is a
// conflict to retry (409 lock-timeout), not an outage (503).
func TestStoreErrorProblems(t *testing.T) {
	type answer struct {
		Status     int
		Type       string
		RetryAfter string
	}
	for _, tc := range []struct {
		name string
		err  error
		want answer
	}{
		{"not found", catalog.ErrNotFound, answer{404, "not-found", ""}},
		{"version mismatch", catalog.ErrVersionMismatch, answer{412, "precondition-failed", ""}},
		{"duplicate sku", catalog.ErrDuplicateSKU, answer{409, "duplicate-sku", ""}},
		{"unavailable", fmt.Errorf("load product 1: %w", catalog.ErrUnavailable), answer{503, "unavailable", "1"}},
		{"lock timeout", fmt.Errorf("update product 1: %w: %w", catalog.ErrLockTimeout, fmt.Errorf("55P03")), answer{409, "lock-timeout", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			c.Request = httptest.NewRequest(http.MethodPut, "/api/v1/products/1", nil)
			writeProblem(c, problemFor(tc.err))
			var body struct {
				Type   string
				Status int
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if body.Status != w.Code {
				t.Errorf("body status %d, response %d", body.Status, w.Code)
			}
			got := answer{w.Code, body.Type, w.Header().Get("Retry-After")}
			want := tc.want
			want.Type = ProblemTypePrefix + want.Type
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("problem (-want +got):\n%s", diff)
			}
		})
	}
}
