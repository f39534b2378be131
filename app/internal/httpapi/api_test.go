package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/product-service-lab/product-service/app/internal/catalog"
	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
	"github.com/product-service-lab/product-service/app/internal/httpapi"
	"github.com/product-service-lab/product-service/app/internal/seed"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

const (
	token    = "test-admin-token"
	products = 120
)

// newAPI serves a router over a fresh database seeded with products 1..products.
func newAPI(t *testing.T, adminToken string) (*httptest.Server, *bytes.Buffer) {
	t.Helper()
	srv, logs, _ := newDBAPI(t, adminToken)
	return srv, logs
}

// newDBAPI is newAPI that also returns the database, for tests that look at the rows themselves.
func newDBAPI(t *testing.T, adminToken string) (*httptest.Server, *bytes.Buffer, *gorm.DB) {
	t.Helper()
	db := testdb.New(t)
	sqlDB, err := db.Gorm.DB()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Run(context.Background(), sqlDB, seed.Options{Products: products, Generator: seed.Generator{Seed: 3}}, nil); err != nil {
		t.Fatal(err)
	}
	store := pgstore.New(db.Gorm, pgstore.Options{QueryTimeout: 5 * time.Second})
	srv, logs := serve(t, store, store.Ping, adminToken)
	return srv, logs, db.Gorm
}

func serve(t *testing.T, store catalog.Store, ping func(context.Context) error, adminToken string) (*httptest.Server, *bytes.Buffer) {
	logs := &bytes.Buffer{}
	log := logrus.New()
	log.SetOutput(logs)
	log.SetFormatter(&logrus.JSONFormatter{})
	deps := httpapi.Deps{Store: httpapi.Uncached(store), Checks: []httpapi.Check{{Name: "postgres", Probe: ping}}, Log: log}
	srv := httptest.NewServer(httpapi.New(deps, httpapi.Options{
		AdminToken: adminToken, MaxBodyBytes: 1 << 20, CacheMaxAge: 5 * time.Second, SlowRequest: time.Second,
	}))
	t.Cleanup(srv.Close)
	return srv, logs
}

type call struct {
	method, path string
	header       map[string]string
	body         string
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) problem(t *testing.T) map[string]any {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json; body %s", ct, a.body)
	}
	var p map[string]any
	if err := json.Unmarshal(a.body, &p); err != nil {
		t.Fatalf("problem body %q: %v", a.body, err)
	}
	for _, k := range []string{"type", "title", "status", "detail", "request_id"} {
		if _, ok := p[k]; !ok {
			t.Errorf("problem lacks %q: %s", k, a.body)
		}
	}
	if p["request_id"] != a.header.Get("X-Request-ID") {
		t.Errorf("problem request_id %v differs from X-Request-ID %q", p["request_id"], a.header.Get("X-Request-ID"))
	}
	return p
}

func do(t *testing.T, srv *httptest.Server, c call) answer {
	t.Helper()
	req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("X-Request-ID") == "" {
		t.Errorf("%s %s: no X-Request-ID", c.method, c.path)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

func auth(extra map[string]string) map[string]string {
	h := map[string]string{"Authorization": "Bearer " + token}
	for k, v := range extra {
		h[k] = v
	}
	return h
}

const newProduct = `{"sku":"API-1","name":"API lamp","price_cents":2500,"currency":"eur","category_id":1,"stock":4}`

// Every bad input gets a 4xx problem naming the reason; never a 5xx.
func TestBadInputIsAProblem(t *testing.T) {
	srv, _ := newAPI(t, token)
	big := `{"name":"` + strings.Repeat("x", 1<<20) + `"}`
	ids101 := strings.TrimSuffix(strings.Repeat("1,", 101), ",")
	tests := []struct {
		name     string
		call     call
		status   int
		wantType string
	}{
		{"id abc", call{method: "GET", path: "/api/v1/products/abc"}, 400, "invalid-id"},
		{"id -1", call{method: "GET", path: "/api/v1/products/-1"}, 400, "invalid-id"},
		{"id 0", call{method: "GET", path: "/api/v1/products/0"}, 400, "invalid-id"},
		{"id too large", call{method: "GET", path: "/api/v1/products/99999999999999999999"}, 400, "invalid-id"},
		{"id 1.5", call{method: "GET", path: "/api/v1/products/1.5"}, 400, "invalid-id"},
		{"unknown product", call{method: "GET", path: "/api/v1/products/999999"}, 404, "not-found"},
		{"inventory bad id", call{method: "GET", path: "/api/v1/products/x/inventory"}, 400, "invalid-id"},
		{"inventory unknown", call{method: "GET", path: "/api/v1/products/999999/inventory"}, 404, "not-found"},
		{"101 ids", call{method: "GET", path: "/api/v1/products?ids=" + ids101}, 400, "invalid-ids"},
		{"bad id in list", call{method: "GET", path: "/api/v1/products?ids=1,abc"}, 400, "invalid-ids"},
		{"empty ids", call{method: "GET", path: "/api/v1/products?ids="}, 400, "invalid-ids"},
		{"ids with limit", call{method: "GET", path: "/api/v1/products?ids=1&limit=2"}, 400, "invalid-query"},
		{"limit 0", call{method: "GET", path: "/api/v1/products?limit=0"}, 400, "invalid-query"},
		{"limit 101", call{method: "GET", path: "/api/v1/products?limit=101"}, 400, "invalid-query"},
		{"limit abc", call{method: "GET", path: "/api/v1/products?limit=abc"}, 400, "invalid-query"},
		{"category abc", call{method: "GET", path: "/api/v1/products?category_id=abc"}, 400, "invalid-query"},
		{"category empty", call{method: "GET", path: "/api/v1/products?category_id="}, 400, "invalid-query"},
		{"forged cursor", call{method: "GET", path: "/api/v1/products?cursor=NDU"}, 400, "invalid-cursor"},
		{"no route", call{method: "GET", path: "/api/v2/products"}, 404, "route-not-found"},
		{"wrong method", call{method: "PATCH", path: "/api/v1/products/1"}, 405, "method-not-allowed"},
		{"write without token", call{method: "POST", path: "/api/v1/products", body: newProduct}, 401, "unauthorized"},
		{"write with wrong token", call{method: "POST", path: "/api/v1/products", body: newProduct,
			header: map[string]string{"Authorization": "Bearer nope"}}, 403, "forbidden"},
		{"token in the query string", call{method: "POST", path: "/api/v1/products?token=" + token, body: newProduct}, 401, "unauthorized"},
		{"basic auth", call{method: "DELETE", path: "/api/v1/products/1", header: map[string]string{"Authorization": "Basic " + token}}, 401, "unauthorized"},
		{"not json", call{method: "POST", path: "/api/v1/products", body: "hello", header: auth(nil)}, 400, "malformed-json"},
		{"form body", call{method: "POST", path: "/api/v1/products", body: newProduct,
			header: auth(map[string]string{"Content-Type": "text/plain"})}, 415, "unsupported-media-type"},
		{"over 1 MiB", call{method: "POST", path: "/api/v1/products", body: big, header: auth(nil)}, 413, "body-too-large"},
		{"empty name", call{method: "POST", path: "/api/v1/products", header: auth(nil),
			body: `{"sku":"X-1","name":"","price_cents":1,"currency":"EUR","category_id":1}`}, 422, "validation-failed"},
		{"negative price", call{method: "POST", path: "/api/v1/products", header: auth(nil),
			body: `{"sku":"X-1","name":"x","price_cents":-1,"currency":"EUR","category_id":1}`}, 422, "validation-failed"},
		{"unknown category", call{method: "POST", path: "/api/v1/products", header: auth(nil),
			body: `{"sku":"X-1","name":"x","price_cents":1,"currency":"EUR","category_id":4242}`}, 422, "unknown-category"},
		{"duplicate sku", call{method: "POST", path: "/api/v1/products", header: auth(nil),
			body: `{"sku":"SKU-00000001","name":"x","price_cents":1,"currency":"EUR","category_id":1}`}, 409, "duplicate-sku"},
		{"stale If-Match", call{method: "PUT", path: "/api/v1/products/2", body: newProduct,
			header: auth(map[string]string{"If-Match": `"2-7"`})}, 412, "precondition-failed"},
		{"malformed If-Match", call{method: "PUT", path: "/api/v1/products/2", body: newProduct,
			header: auth(map[string]string{"If-Match": `2-1`})}, 400, "invalid-header"},
		{"update unknown", call{method: "PUT", path: "/api/v1/products/999999", body: newProduct, header: auth(nil)}, 404, "not-found"},
		{"update bad id", call{method: "PUT", path: "/api/v1/products/1.5", body: newProduct, header: auth(nil)}, 400, "invalid-id"},
		{"delete unknown", call{method: "DELETE", path: "/api/v1/products/999999", header: auth(nil)}, 404, "not-found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, srv, tt.call)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", a.status, tt.status, a.body)
			}
			p := a.problem(t)
			if p["type"] != httpapi.ProblemTypePrefix+tt.wantType || p["status"] != float64(tt.status) {
				t.Errorf("problem type %v status %v, want %s %d", p["type"], p["status"], tt.wantType, tt.status)
			}
			if a.status == 401 && a.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	// None of the refused writes changed anything.
	a := do(t, srv, call{method: "GET", path: "/api/v1/products?limit=100&cursor=" + httpapi.EncodeCursor(products)})
	if !strings.Contains(string(a.body), `"items":[]`) {
		t.Errorf("refused writes left products behind: %s", a.body)
	}
	if a := do(t, srv, call{method: "GET", path: "/api/v1/products/2"}); !strings.Contains(string(a.body), `"version":1`) {
		t.Errorf("refused update changed product 2: %s", a.body)
	}
}

func TestProductDetail(t *testing.T) {
	srv, logs := newAPI(t, token)
	a := do(t, srv, call{method: "GET", path: "/api/v1/products/42", header: map[string]string{"X-Request-ID": "trace-me-42"}})
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	for k, want := range map[string]string{
		"ETag": `"42-1"`, "X-Cache": "MISS", "Cache-Control": "public, max-age=5", "X-Request-ID": "trace-me-42",
		"Content-Type": "application/json; charset=utf-8",
	} {
		if got := a.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	var p map[string]any
	if err := json.Unmarshal(a.body, &p); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "sku", "name", "description", "price_cents", "currency", "version", "is_hot",
		"category", "inventory", "rating", "created_at", "updated_at"} {
		if _, ok := p[k]; !ok {
			t.Errorf("detail lacks %q", k)
		}
	}
	if r := p["rating"].(map[string]any); r["count"].(float64) < 5 {
		t.Errorf("rating %v: want the aggregate of about 10 reviews", r)
	}

	notModified := do(t, srv, call{method: "GET", path: "/api/v1/products/42", header: map[string]string{"If-None-Match": `W/"42-1"`}})
	if notModified.status != 304 || len(notModified.body) != 0 || notModified.header.Get("ETag") != `"42-1"` {
		t.Errorf("If-None-Match: status %d, %d bytes", notModified.status, len(notModified.body))
	}
	changed := do(t, srv, call{method: "GET", path: "/api/v1/products/42", header: map[string]string{"If-None-Match": `"42-0"`}})
	if changed.status != 200 {
		t.Errorf("If-None-Match with an old tag: status %d", changed.status)
	}

	insane := do(t, srv, call{method: "GET", path: "/health", header: map[string]string{"X-Request-ID": "has spaces and <html>"}})
	if id := insane.header.Get("X-Request-ID"); id == "" || strings.Contains(id, " ") {
		t.Errorf("insane X-Request-ID kept or dropped: %q", id)
	}

	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(l, "trace-me-42") {
			_ = json.Unmarshal([]byte(l), &line)
		}
	}
	if line["route"] != "/api/v1/products/:id" || line["status"] != float64(200) || line["cache"] != "MISS" {
		t.Errorf("access log line %v: want route template, status and cache", line)
	}
}

func TestBatchAndList(t *testing.T) {
	srv, _ := newAPI(t, token)
	var batch struct {
		Items   []catalog.Product `json:"items"`
		Missing []int64           `json:"missing"`
	}
	a := do(t, srv, call{method: "GET", path: "/api/v1/products?ids=9,3,777777,5,3"})
	if err := json.Unmarshal(a.body, &batch); err != nil || a.status != 200 {
		t.Fatalf("batch: %d %s", a.status, a.body)
	}
	var got []int64
	for _, p := range batch.Items {
		got = append(got, p.ID)
	}
	if want := []int64{9, 3, 5}; !slices.Equal(got, want) || !slices.Equal(batch.Missing, []int64{777777}) {
		t.Errorf("batch ids %v missing %v; want %v and [777777]", got, batch.Missing, want)
	}

	seen := map[int64]bool{}
	path := "/api/v1/products?limit=50"
	for pages := 0; path != ""; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		var page struct {
			Items      []catalog.Product `json:"items"`
			NextCursor string            `json:"next_cursor"`
		}
		a := do(t, srv, call{method: "GET", path: path})
		if err := json.Unmarshal(a.body, &page); err != nil || a.status != 200 {
			t.Fatalf("list: %d %s", a.status, a.body)
		}
		for _, p := range page.Items {
			if seen[p.ID] {
				t.Fatalf("product %d on two pages", p.ID)
			}
			seen[p.ID] = true
		}
		path = ""
		if page.NextCursor != "" {
			path = "/api/v1/products?limit=50&cursor=" + page.NextCursor
		}
	}
	if len(seen) != products {
		t.Errorf("pages held %d products, want %d", len(seen), products)
	}

	inv := do(t, srv, call{method: "GET", path: "/api/v1/products/8/inventory"})
	if inv.status != 200 || !strings.Contains(string(inv.body), `"available"`) {
		t.Errorf("inventory: %d %s", inv.status, inv.body)
	}
}

func TestWriteLifecycle(t *testing.T) {
	srv, _ := newAPI(t, token)
	created := do(t, srv, call{method: "POST", path: "/api/v1/products", body: newProduct, header: auth(nil)})
	if created.status != 201 {
		t.Fatalf("create: %d %s", created.status, created.body)
	}
	var p catalog.Product
	if err := json.Unmarshal(created.body, &p); err != nil {
		t.Fatal(err)
	}
	loc := created.header.Get("Location")
	if p.Currency != "EUR" || p.Version != 1 || loc == "" || created.header.Get("ETag") != httpapi.ETag(p.ID, 1) {
		t.Fatalf("created %+v, Location %q ETag %q", p, loc, created.header.Get("ETag"))
	}

	update := strings.Replace(newProduct, "API lamp", "API lamp v2", 1)
	updated := do(t, srv, call{method: "PUT", path: loc, body: update, header: auth(map[string]string{"If-Match": httpapi.ETag(p.ID, 1)})})
	if updated.status != 200 || updated.header.Get("ETag") != httpapi.ETag(p.ID, 2) {
		t.Fatalf("update: %d %s (ETag %q)", updated.status, updated.body, updated.header.Get("ETag"))
	}
	stale := do(t, srv, call{method: "PUT", path: loc, body: update, header: auth(map[string]string{"If-Match": httpapi.ETag(p.ID, 1)})})
	if stale.status != 412 {
		t.Fatalf("second update with the old ETag: %d, want 412", stale.status)
	}
	if got := do(t, srv, call{method: "GET", path: loc}); !strings.Contains(string(got.body), "API lamp v2") {
		t.Fatalf("read after update: %s", got.body)
	}
	if del := do(t, srv, call{method: "DELETE", path: loc, header: auth(nil)}); del.status != 204 {
		t.Fatalf("delete: %d %s", del.status, del.body)
	}
	if gone := do(t, srv, call{method: "GET", path: loc}); gone.status != 404 {
		t.Fatalf("read after delete: %d", gone.status)
	}
}

func TestWritesRefusedWithoutAdminToken(t *testing.T) {
	srv, _ := newAPI(t, "")
	for _, c := range []call{
		{method: "POST", path: "/api/v1/products", body: newProduct, header: auth(nil)},
		{method: "PUT", path: "/api/v1/products/1", body: newProduct, header: auth(nil)},
		{method: "DELETE", path: "/api/v1/products/1", header: map[string]string{"Authorization": "Bearer "}},
	} {
		a := do(t, srv, c)
		if a.status != 403 || a.problem(t)["type"] != httpapi.ProblemTypePrefix+"writes-disabled" {
			t.Errorf("%s %s with ADMIN_TOKEN unset: %d %s", c.method, c.path, a.status, a.body)
		}
	}
	if a := do(t, srv, call{method: "GET", path: "/api/v1/products/1"}); a.status != 200 {
		t.Errorf("reads must still work: %d", a.status)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	srv, _ := newAPI(t, token)
	for _, path := range []string{"/health", "/ready"} {
		if a := do(t, srv, call{method: "GET", path: path}); a.status != 200 {
			t.Errorf("%s: %d %s", path, a.status, a.body)
		}
	}

	// A database that does not answer: /ready says why with 503, /health stays 200, reads get 503.
	db, err := gorm.Open(postgres.Open("postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1"),
		&gorm.Config{DisableAutomaticPing: true, Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	down := pgstore.New(db, pgstore.Options{QueryTimeout: 2 * time.Second})
	srv, logs := serve(t, down, down.Ping, token)
	if a := do(t, srv, call{method: "GET", path: "/health"}); a.status != 200 {
		t.Errorf("/health with the database down: %d", a.status)
	}
	ready := do(t, srv, call{method: "GET", path: "/ready"})
	if ready.status != 503 || !strings.Contains(ready.problem(t)["detail"].(string), "postgres") {
		t.Errorf("/ready with the database down: %d %s", ready.status, ready.body)
	}
	read := do(t, srv, call{method: "GET", path: "/api/v1/products/1"})
	if read.status != 503 || read.problem(t)["type"] != httpapi.ProblemTypePrefix+"unavailable" || read.header.Get("Retry-After") == "" {
		t.Errorf("read with the database down: %d %s", read.status, read.body)
	}
	// "Not ready" is the probe's answer, a warning; a read that fails is an error.
	levels := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var e struct{ Msg, Level, Route string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "request" {
			levels[e.Route] = e.Level
		}
	}
	if levels["/ready"] != "warning" || levels["/api/v1/products/:id"] != "error" {
		t.Errorf("access log levels %v: want /ready's 503 at warning, the read's 503 at error", levels)
	}
}
