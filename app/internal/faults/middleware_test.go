package faults_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

// faultyRouter serves 200 on every path, behind the injector's middleware. fail answers 500 and
// counts its calls.
func faultyRouter(t *testing.T, patch string) (*gin.Engine, *int) {
	t.Helper()
	gin.SetMode(gin.TestMode)
	inj, _, _ := newInjector(t)
	set(t, inj, patch)
	failed := 0
	r := gin.New()
	r.Use(inj.Middleware(func(c *gin.Context) {
		failed++
		c.String(http.StatusInternalServerError, "injected")
	}))
	r.NoRoute(func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	return r, &failed
}

func TestMiddleware(t *testing.T) {
	tests := []struct {
		name       string
		rate       string
		path       string
		wantStatus int
	}{
		{"rate 1 fails a product read", "1", "/api/v1/products/1", http.StatusInternalServerError},
		{"rate 1 fails a list", "1", "/api/v1/products", http.StatusInternalServerError},
		{"rate 1 spares /health", "1", "/health", http.StatusOK},
		{"rate 1 spares /ready", "1", "/ready", http.StatusOK},
		{"rate 1 spares /metrics", "1", "/metrics", http.StatusOK},
		{"rate 1 spares the faults admin route", "1", "/api/v1/admin/faults", http.StatusOK},
		{"rate 1 spares the cache admin route", "1", "/api/v1/admin/cache/reset", http.StatusOK},
		{"rate 1 spares the admin root", "1", "/api/v1/admin", http.StatusOK},
		{"rate 1 fails a look-alike of admin", "1", "/api/v1/administrator", http.StatusInternalServerError},
		{"rate 1 fails a look-alike of health", "1", "/healthz", http.StatusInternalServerError},
		{"rate 0 never fails", "0", "/api/v1/products/1", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, failed := faultyRouter(t, `{"http_error_rate":`+tt.rate+`}`)
			for range 20 {
				w := httptest.NewRecorder()
				r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tt.path, nil))
				if w.Code != tt.wantStatus {
					t.Fatalf("GET %s = %d %q, want %d", tt.path, w.Code, w.Body.String(), tt.wantStatus)
				}
				if wantBody := map[int]string{200: "ok", 500: "injected"}[tt.wantStatus]; w.Body.String() != wantBody {
					t.Fatalf("GET %s answered %q, want %q (a failed request must not reach the handler)", tt.path, w.Body.String(), wantBody)
				}
			}
			wantFailed := 0
			if tt.wantStatus == http.StatusInternalServerError {
				wantFailed = 20
			}
			if *failed != wantFailed {
				t.Errorf("fail called %d times, want %d", *failed, wantFailed)
			}
		})
	}
}

// TestMiddlewareRate checks a rate between 0 and 1 fails about that share of requests.
func TestMiddlewareRate(t *testing.T) {
	const n = 4000
	r, failed := faultyRouter(t, `{"http_error_rate":0.25}`)
	for range n {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/v1/products", nil))
	}
	// The standard deviation of the count is sqrt(n·0.25·0.75) ≈ 27; allow more than 7 of them.
	if *failed < 800 || *failed > 1200 {
		t.Errorf("%d of %d requests failed, want about %d", *failed, n, n/4)
	}
}
