package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/product-service-lab/product-service/app/internal/faults"
	"github.com/product-service-lab/product-service/app/internal/httpapi"
	"github.com/product-service-lab/product-service/app/internal/logctl"
)

// adminRoute is one admin or write route: its method, its path as registered (":id" stands for a
// product id) and a body the route accepts, so the correct token gets a success.
type adminRoute struct {
	method, path, body string
}

// adminRoutes are every route behind requireAdmin. The order is the fuzz corpus's route index
// (FuzzRouterWrite), so append only.
var adminRoutes = []adminRoute{
	{http.MethodPost, "/api/v1/products", `{"sku":"A-1","name":"Lamp","price_cents":100,"currency":"EUR","category_id":1}`},
	{http.MethodPut, "/api/v1/products/:id", `{"sku":"A-1","name":"Lamp","price_cents":100,"currency":"EUR","category_id":1}`},
	{http.MethodDelete, "/api/v1/products/:id", ""},
	{http.MethodGet, "/api/v1/admin/cache", ""},
	{http.MethodPut, "/api/v1/admin/cache", `{"preset":"two-level"}`},
	{http.MethodPost, "/api/v1/admin/cache/reset", ""},
	{http.MethodPost, "/api/v1/admin/cache/warmup", ""},
	{http.MethodDelete, "/api/v1/admin/cache/products/:id", ""},
	{http.MethodGet, "/api/v1/admin/faults", ""},
	{http.MethodPut, "/api/v1/admin/faults", `{"db_latency":"5ms"}`},
	{http.MethodDelete, "/api/v1/admin/faults", ""},
	{http.MethodGet, "/api/v1/admin/logging", ""},
	{http.MethodPut, "/api/v1/admin/logging", `{"sample_every":3}`},
	{http.MethodDelete, "/api/v1/admin/logging", ""},
}

// publicRoutes are the routes anyone may call; every other route must be in adminRoutes.
var publicRoutes = []string{
	"GET /health", "GET /ready", "GET /metrics",
	"GET /api/v1/products", "GET /api/v1/products/:id", "GET /api/v1/products/:id/inventory",
}

// withID returns the route's path with id in place of ":id".
func (r adminRoute) withID(id string) string { return strings.Replace(r.path, ":id", id, 1) }

// The access matrix must cover what the router serves: a route added behind the token without a
// row here, or a write added without the token, fails this test.
func TestAdminRoutesAreEveryNonPublicRoute(t *testing.T) {
	var served, want []string
	for _, r := range newFakeAPI(fuzzToken).router.Routes() {
		served = append(served, r.Method+" "+r.Path)
	}
	want = append(want, publicRoutes...)
	for _, r := range adminRoutes {
		want = append(want, r.method+" "+r.path)
	}
	slices.Sort(served)
	slices.Sort(want)
	if diff := cmp.Diff(want, served); diff != "" {
		t.Errorf("routes served (-listed +served):\n%s", diff)
	}
}

// credential is one way a caller may present (or fail to present) the admin token.
type credential struct {
	name          string
	authorization string // the Authorization header; empty sends none
	query         string // appended to the path after '?'
	cookie        string
	status        int    // the refusal expected; 0 means the request is let through
	problem       string // the problem type slug of the refusal
}

// credentials are the ways to ask for an admin route; only the exact bearer token is let through.
func credentials(token string) []credential {
	return []credential{
		{name: "no Authorization", status: 401, problem: "unauthorized"},
		{name: "empty bearer", authorization: "Bearer ", status: 401, problem: "unauthorized"},
		{name: "scheme only", authorization: "Bearer", status: 401, problem: "unauthorized"},
		{name: "wrong token", authorization: "Bearer not-the-token", status: 403, problem: "forbidden"},
		{name: "token in ?token=", query: "token=" + token, status: 401, problem: "unauthorized"},
		{name: "token in ?access_token=", query: "access_token=" + token, status: 401, problem: "unauthorized"},
		{name: "token in a cookie", cookie: "token=" + token, status: 401, problem: "unauthorized"},
		{name: "Basic scheme", authorization: "Basic " + token, status: 401, problem: "unauthorized"},
		{name: "Basic credentials", authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+token)),
			status: 401, problem: "unauthorized"},
		{name: "token without scheme", authorization: token, status: 401, problem: "unauthorized"},
		{name: "token with a suffix", authorization: "Bearer " + token + "x", status: 403, problem: "forbidden"},
		{name: "token with a prefix", authorization: "Bearer x" + token, status: 403, problem: "forbidden"},
		{name: "token with another word", authorization: "Bearer " + token + " " + token, status: 403, problem: "forbidden"},
		{name: "token prefix only", authorization: "Bearer " + token[:len(token)-1], status: 403, problem: "forbidden"},
		{name: "token in upper case", authorization: "Bearer " + strings.ToUpper(token), status: 403, problem: "forbidden"},
		{name: "token with a NUL", authorization: "Bearer " + token + "\x00", status: 403, problem: "forbidden"},
		{name: "wrong header with token in query", authorization: "Bearer nope", query: "token=" + token, status: 403, problem: "forbidden"},
		{name: "correct token", authorization: "Bearer " + token},
		{name: "correct token, scheme in lower case", authorization: "bearer " + token},
	}
}

// adminRequest builds the request of one cell of the matrix. Product ids are 2 (exists, version 1).
func adminRequest(r adminRoute, c credential) *http.Request {
	target := r.withID("2")
	if c.query != "" {
		target += "?" + c.query
	}
	req := httptest.NewRequest(r.method, target, strings.NewReader(r.body))
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.authorization != "" {
		req.Header.Set("Authorization", c.authorization)
	}
	if c.cookie != "" {
		req.Header.Set("Cookie", c.cookie)
	}
	return req
}

// changes counts what a request could change: store writes, cache admin calls, faults and log
// settings in force.
type changes struct {
	writes, cacheCalls int64
	faults             faults.Settings
	logging            string
}

func (a *fakeAPI) changes() changes {
	st := a.logging.State()
	return changes{writes: a.store.writes.Load(), cacheCalls: a.cache.calls.Load(), faults: a.faults.Settings(),
		logging: fmt.Sprintf("%s 1/%d", st.Level, st.SampleEvery)}
}

// changeEverything puts a fault and log settings in force, so that clearing them is a change too.
func (a *fakeAPI) changeEverything(t *testing.T) {
	t.Helper()
	if _, err := a.faults.Set([]byte(`{"db_latency":"1ms"}`)); err != nil {
		t.Fatal(err)
	}
	two := 2
	if _, err := a.logging.Set(context.Background(), logctl.Change{SampleEvery: &two}); err != nil {
		t.Fatal(err)
	}
}

// Every admin and write route × every way of presenting a token: only the exact bearer token gets
// through; every other request is a 401 or 403 problem and changes nothing.
func TestAdminAccessMatrix(t *testing.T) {
	for _, r := range adminRoutes {
		for _, c := range credentials(fuzzToken) {
			t.Run(r.method+" "+r.path+"/"+c.name, func(t *testing.T) {
				api := newFakeAPI(fuzzToken)
				api.changeEverything(t)
				before := api.changes()
				w := api.serve(adminRequest(r, c))
				if c.status == 0 {
					if w.Code < 200 || w.Code >= 300 {
						t.Fatalf("status %d with the correct token, want 2xx; body %s", w.Code, w.Body)
					}
					if r.method != http.MethodGet && api.changes() == before {
						t.Fatalf("status %d with the correct token but nothing changed: the matrix proves nothing", w.Code)
					}
					return
				}
				assertRefused(t, w, c.status, c.problem)
				if after := api.changes(); after != before {
					t.Errorf("a refused request changed something: %+v → %+v", before, after)
				}
			})
		}
	}
}

// With ADMIN_TOKEN unset every admin and write route is closed, whatever the caller sends —
// including an empty bearer, which would equal the empty token.
func TestAdminRoutesClosedWithoutAdminToken(t *testing.T) {
	for _, r := range adminRoutes {
		for _, c := range append(credentials(fuzzToken), credential{name: "empty token", authorization: "Bearer "},
			credential{name: "empty token, no space", authorization: "Bearer"}, credential{name: "empty header", authorization: " "}) {
			t.Run(r.method+" "+r.path+"/"+c.name, func(t *testing.T) {
				api := newFakeAPI("")
				api.changeEverything(t)
				before := api.changes()
				assertRefused(t, api.serve(adminRequest(r, c)), http.StatusForbidden, "writes-disabled")
				if after := api.changes(); after != before {
					t.Errorf("a refused request changed something: %+v → %+v", before, after)
				}
			})
		}
	}
	// Reads stay open.
	if w := newFakeAPI("").serve(httptest.NewRequest(http.MethodGet, "/api/v1/products/2", nil)); w.Code != http.StatusOK {
		t.Errorf("GET /api/v1/products/2 without ADMIN_TOKEN: %d, want 200", w.Code)
	}
}

// assertRefused checks a refusal: the status, a problem+json of the given type, no cache.
func assertRefused(t *testing.T, w *httptest.ResponseRecorder, status int, slug string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p struct {
		Type   string `json:"type"`
		Status int    `json:"status"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body %q: %v", w.Body, err)
	}
	if p.Type != httpapi.ProblemTypePrefix+slug || p.Status != status {
		t.Errorf("problem %+v, want type %s status %d", p, slug, status)
	}
	if status == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer ") {
		t.Errorf("401 with WWW-Authenticate %q, want a Bearer challenge", w.Header().Get("WWW-Authenticate"))
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("refusal with Cache-Control %q, want no-store", w.Header().Get("Cache-Control"))
	}
}

// pprof is served on PPROF_ADDR's own listener only: the public router knows none of its paths,
// with or without the admin token.
func TestNoPprofOnThePublicRouter(t *testing.T) {
	api := newFakeAPI(fuzzToken)
	for _, path := range []string{
		"/debug/pprof/", "/debug/pprof", "/debug/pprof/cmdline", "/debug/pprof/profile?seconds=1",
		"/debug/pprof/symbol", "/debug/pprof/trace", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=2", "/debug/vars",
	} {
		for _, authorization := range []string{"", "Bearer " + fuzzToken} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			if authorization != "" {
				req.Header.Set("Authorization", authorization)
			}
			w := api.serve(req)
			if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), httpapi.ProblemTypePrefix+"route-not-found") {
				t.Errorf("GET %s (Authorization %q): %d %.80s, want a route-not-found 404", path, authorization, w.Code, w.Body)
			}
		}
	}
}
