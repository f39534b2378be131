package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/product-service-lab/product-service/app/internal/cache"
	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
	"github.com/product-service-lab/product-service/app/internal/httpapi"
	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/seed"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// newCachedAPI serves the router over the cache over a seeded database, as `serve` wires it.
func newCachedAPI(t *testing.T, preset string) *httptest.Server {
	t.Helper()
	addr := testdb.RedisAddr(t)
	db := testdb.New(t)
	sqlDB, _ := db.Gorm.DB()
	if _, err := seed.Run(context.Background(), sqlDB, seed.Options{Products: products, Generator: seed.Generator{Seed: 3, HotShare: 0.1}}, nil); err != nil {
		t.Fatal(err)
	}
	store := pgstore.New(db.Gorm, pgstore.Options{})
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	ns := privateNamespace(t, rdb, "api-test-")
	policy, err := cache.Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cached, err := cache.New(store, rdb, policy, cache.Options{Namespace: ns, Metrics: cache.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cached.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	log := logrus.New()
	log.SetOutput(io.Discard)
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{
		Store: cached, Cache: cached, Gatherer: reg, Log: log,
		Checks: []httpapi.Check{{Name: "postgres", Probe: store.Ping}, {Name: "cache", Probe: cached.Ready}},
	}, httpapi.Options{AdminToken: token, MaxBodyBytes: 1 << 20, CacheMaxAge: 5 * time.Second, SlowRequest: time.Second}))
	t.Cleanup(srv.Close)
	lab.WaitFor(t, "the cached API to be ready", func() bool {
		return do(t, srv, call{method: "GET", path: "/ready"}).status == 200
	})
	return srv
}

func TestCacheAdminNeedsTheToken(t *testing.T) {
	srv := newCachedAPI(t, "protected")
	for _, c := range []call{
		{method: "GET", path: "/api/v1/admin/cache"},
		{method: "PUT", path: "/api/v1/admin/cache", body: `{"preset":"none"}`},
		{method: "POST", path: "/api/v1/admin/cache/reset"},
		{method: "POST", path: "/api/v1/admin/cache/warmup"},
		{method: "DELETE", path: "/api/v1/admin/cache/products/1"},
	} {
		if a := do(t, srv, c); a.status != 401 {
			t.Errorf("%s %s without a token: %d", c.method, c.path, a.status)
		}
		c.header = map[string]string{"Authorization": "Bearer wrong"}
		if a := do(t, srv, c); a.status != 403 {
			t.Errorf("%s %s with a wrong token: %d", c.method, c.path, a.status)
		}
	}
}

func xcache(t *testing.T, srv *httptest.Server, path string) string {
	t.Helper()
	return do(t, srv, call{method: "GET", path: path}).header.Get("X-Cache")
}

func TestCacheAdminAndXCache(t *testing.T) {
	srv := newCachedAPI(t, "protected")
	var state struct {
		Policy  cache.Policy `json:"policy"`
		Status  cache.Status `json:"status"`
		Presets []string     `json:"presets"`
	}
	a := do(t, srv, call{method: "GET", path: "/api/v1/admin/cache", header: auth(nil)})
	if err := json.Unmarshal(a.body, &state); err != nil || state.Policy.Preset != "protected" || len(state.Presets) != len(cache.PresetNames()) {
		t.Fatalf("GET policy: %d %s", a.status, a.body)
	}

	steps := []struct {
		what string
		path string
		want string
	}{
		{"first read", "/api/v1/products/5", "MISS"},
		{"second read", "/api/v1/products/5", "HIT-REDIS"},
		{"unknown id", "/api/v1/products/999999", "BLOOM-REJECT"},
		{"inventory", "/api/v1/products/5/inventory", "MISS"},
		{"inventory again", "/api/v1/products/5/inventory", "HIT-REDIS"},
	}
	for _, s := range steps {
		if got := xcache(t, srv, s.path); got != s.want {
			t.Errorf("%s: X-Cache %q, want %q", s.what, got, s.want)
		}
	}

	a = do(t, srv, call{method: "PUT", path: "/api/v1/admin/cache", body: `{"preset":"two-level","ttl":"2m"}`, header: auth(nil)})
	if err := json.Unmarshal(a.body, &state); err != nil || a.status != 200 || state.Policy.Layers != cache.LayersTwoLevel ||
		state.Policy.Preset != "custom" {
		t.Fatalf("PUT policy: %d %s", a.status, a.body)
	}
	if got := []string{xcache(t, srv, "/api/v1/products/6"), xcache(t, srv, "/api/v1/products/6")}; got[0] != "MISS" || got[1] != "HIT-L1" {
		t.Errorf("two-level reads: %v, want MISS then HIT-L1", got)
	}
	if a := do(t, srv, call{method: "DELETE", path: "/api/v1/admin/cache/products/6", header: auth(nil)}); a.status != 204 {
		t.Fatalf("evict: %d %s", a.status, a.body)
	}
	if got := xcache(t, srv, "/api/v1/products/6"); got != "MISS" {
		t.Errorf("after evict: %s, want MISS", got)
	}
	if a := do(t, srv, call{method: "POST", path: "/api/v1/admin/cache/reset", header: auth(nil)}); a.status != 200 ||
		!strings.Contains(string(a.body), `"generation"`) {
		t.Fatalf("reset: %d %s", a.status, a.body)
	}
	if got := xcache(t, srv, "/api/v1/products/6"); got != "MISS" {
		t.Errorf("after reset: %s, want MISS", got)
	}
	a = do(t, srv, call{method: "POST", path: "/api/v1/admin/cache/warmup", header: auth(nil)})
	var warm struct{ Loaded int }
	if err := json.Unmarshal(a.body, &warm); err != nil || a.status != 200 || warm.Loaded == 0 {
		t.Fatalf("warmup: %d %s", a.status, a.body)
	}

	for _, bad := range []struct {
		body, wantType string
		status         int
	}{
		{`{"preset":"turbo"}`, "invalid-policy", 422},
		{`{"ttl":"soon"}`, "invalid-policy", 422},
		{`{"layers":"local","breakdown":"lock"}`, "invalid-policy", 422},
		{`{"ttl":`, "malformed-json", 400},
	} {
		a := do(t, srv, call{method: "PUT", path: "/api/v1/admin/cache", body: bad.body, header: auth(nil)})
		if a.status != bad.status || a.problem(t)["type"] != httpapi.ProblemTypePrefix+bad.wantType {
			t.Errorf("PUT %s: %d %s", bad.body, a.status, a.body)
		}
	}

	metrics := string(do(t, srv, call{method: "GET", path: "/metrics"}).body)
	for _, want := range []string{`cache_policy_info{`, `preset="custom"`, `cache_requests_total{layer="l1",result="hit"} 1`,
		`cache_db_loads_total{cause="warmup"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// The HTTP answers are the same under every preset: the cache changes where an answer comes
// from, never what it says.
func TestSameBodiesUnderEveryPreset(t *testing.T) {
	srv := newCachedAPI(t, "none")
	paths := []string{"/api/v1/products/9", "/api/v1/products/9/inventory", "/api/v1/products?ids=4,999999,2", "/api/v1/products/999999"}
	want := map[string]string{}
	for _, p := range paths {
		want[p] = stripVolatile(do(t, srv, call{method: "GET", path: p}).body)
	}
	for _, preset := range cache.PresetNames() {
		if a := do(t, srv, call{method: "PUT", path: "/api/v1/admin/cache", body: `{"preset":"` + preset + `"}`, header: auth(nil)}); a.status != 200 {
			t.Fatalf("PUT %s: %d", preset, a.status)
		}
		for round := range 2 {
			for _, p := range paths {
				if got := stripVolatile(do(t, srv, call{method: "GET", path: p}).body); got != want[p] {
					t.Errorf("%s round %d %s:\n got %s\nwant %s", preset, round, p, got, want[p])
				}
			}
		}
	}
}

// stripVolatile removes what differs between two answers by design (the request id).
func stripVolatile(body []byte) string {
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		return string(body)
	}
	delete(v, "request_id")
	b, _ := json.Marshal(v)
	return string(b)
}
