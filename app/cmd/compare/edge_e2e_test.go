//go:build e2e

package main

// The edge (observability/nginx-edge.conf) run natively by Debian's nginx (NGINX_BIN, `make
// tools`) in front of a real product-service on a fresh database: `make e2e`. Without NGINX_BIN
// the tests skip, and fail under CI.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/nginxconf"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// nginxBin returns NGINX_BIN, skipping the test without it (failing under CI).
func nginxBin(t *testing.T) string {
	t.Helper()
	return lab.Tool(t, "NGINX_BIN", "")
}

// TestEdgeConfigSyntax runs `nginx -t` on the native edge configuration.
func TestEdgeConfigSyntax(t *testing.T) {
	bin := nginxBin(t)
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", nginxconf.EdgeFile))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := nginxconf.Edge(string(raw), nginxconf.EdgeAddrs{Listen: "127.0.0.1:1", Status: "127.0.0.1:2", Upstream: "127.0.0.1:3"})
	if err != nil {
		t.Fatal(err)
	}
	if err := nginxconf.Check(context.Background(), bin, conf); err != nil {
		t.Fatal(err)
	}
}

// TestEdge puts the native edge in front of product-service (HTTP_CACHE_MAX_AGE=2s) and follows
// one product through it.
func TestEdge(t *testing.T) {
	bin := nginxBin(t)
	db := testdb.New(t)
	redisAddr := testdb.RedisAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	const maxAge = 2 * time.Second
	token := randomToken()
	t.Cleanup(lab.RemoveServiceBinary)
	svc := &lab.Service{Bin: lab.MustServiceBinary(t), Dir: root, LogDir: t.TempDir(), Env: []string{
		"DATABASE_URL=" + db.URL, "REDIS_ADDR=" + redisAddr, "CACHE_NAMESPACE=edge-test-" + randomToken()[:8],
		"ADMIN_TOKEN=" + token, "LOG_LEVEL=warn", "CACHE_PRESET=none", "HTTP_CACHE_MAX_AGE=" + maxAge.String(),
	}}
	if err := svc.Prepare(ctx, db.URL, 50); err != nil {
		t.Fatal(err)
	}
	base := lab.MustStartService(ctx, t, svc, "service", "").Base
	admin := newAdminClient(base, token)
	t.Cleanup(func() { _ = admin.reset(context.Background()) })
	if _, err := admin.setPreset(ctx, "protected"); err != nil {
		t.Fatal(err)
	}
	e, err := startEdge(ctx, bin, root, strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.stop()
		if t.Failed() {
			t.Logf("nginx's stderr:\n%s", e.srv.Tail(20))
		}
		e.remove()
	})

	const path = "/api/v1/products/7"
	get := func(header ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.base+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	expect := func(step string, resp *http.Response, status int, edgeCache, xCache string) {
		t.Helper()
		if resp.StatusCode != status || resp.Header.Get("X-Edge-Cache") != edgeCache ||
			(xCache != "" && resp.Header.Get("X-Cache") != xCache) {
			t.Errorf("%s: %d, X-Edge-Cache %q, X-Cache %q; want %d, %q, %q", step, resp.StatusCode,
				resp.Header.Get("X-Edge-Cache"), resp.Header.Get("X-Cache"), status, edgeCache, xCache)
		}
	}

	first, _ := get("X-Request-ID", "edge-test-first")
	expect("first read", first, http.StatusOK, "MISS", "")
	etag := first.Header.Get("ETag")
	if cc := first.Header.Get("Cache-Control"); cc != "public, max-age=2" {
		t.Errorf("Cache-Control %q passed on, want the service's public, max-age=2", cc)
	}
	second, _ := get("X-Request-ID", "edge-test-second")
	expect("second read", second, http.StatusOK, "HIT", "HIT-EDGE")
	if got := second.Header.Get("X-Request-ID"); got != "edge-test-second" {
		t.Errorf("a cached answer carries X-Request-ID %q, want this request's", got)
	}
	if second.Header.Get("ETag") != etag {
		t.Errorf("cached ETag %q, want %q", second.Header.Get("ETag"), etag)
	}
	notModified, _ := get("If-None-Match", etag)
	expect("conditional read", notModified, http.StatusNotModified, "HIT", "")
	withAuth, _ := get("Authorization", "Bearer "+token)
	expect("read with Authorization", withAuth, http.StatusOK, "BYPASS", "")
	if x := withAuth.Header.Get("X-Cache"); x == "HIT-EDGE" || x == "" {
		t.Errorf("a bypassed read has X-Cache %q, want the service's", x)
	}

	// A write (through the edge, never cached) is visible once the cached copy's max-age is over.
	var p struct {
		SKU         string `json:"sku"`
		Name        string `json:"name"`
		Description string `json:"description"`
		PriceCents  int64  `json:"price_cents"`
		Currency    string `json:"currency"`
		IsHot       bool   `json:"is_hot"`
		Category    struct {
			ID int64 `json:"id"`
		} `json:"category"`
	}
	_, body := get()
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("product body %q: %v", body, err)
	}
	newName := p.Name + " (edge test)"
	update, _ := json.Marshal(map[string]any{"sku": p.SKU, "name": newName, "description": p.Description,
		"price_cents": p.PriceCents, "currency": p.Currency, "category_id": p.Category.ID, "is_hot": p.IsHot})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, e.base+path, strings.NewReader(string(update)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("If-Match", etag)
	put, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	put.Body.Close()
	wrote := time.Now()
	if put.StatusCode != http.StatusOK || put.Header.Get("X-Edge-Cache") != "" {
		t.Fatalf("PUT through the edge: %d, X-Edge-Cache %q; want 200 and no cache status", put.StatusCode, put.Header.Get("X-Edge-Cache"))
	}
	var seen time.Duration
	for {
		resp, body := get()
		if strings.Contains(body, newName) {
			seen = time.Since(wrote)
			if resp.Header.Get("ETag") == etag {
				t.Errorf("the new version came with the old ETag %s", etag)
			}
			break
		}
		if time.Since(wrote) > maxAge+2*time.Second {
			t.Fatalf("the write is not visible %s after it (max-age %s); last X-Edge-Cache %q",
				time.Since(wrote).Round(time.Millisecond), maxAge, resp.Header.Get("X-Edge-Cache"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the write became visible through the edge after %s (max-age %s)", seen.Round(time.Millisecond), maxAge)

	// The JSON access log: one object a line, with the cache status (flushed at stop).
	e.stop()
	f, err := os.Open(e.logPath())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	statuses := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("access log line %q is not JSON: %v", sc.Text(), err)
		}
		for _, k := range []string{"time", "method", "uri", "status", "request_time", "cache_status", "request_id"} {
			if _, ok := line[k]; !ok {
				t.Errorf("access log line %s has no %s", sc.Text(), k)
			}
		}
		if line["uri"] == path {
			statuses[fmt.Sprintf("%s %v", line["method"], line["cache_status"])]++
		}
		if line["request_id"] == "edge-test-second" && line["cache_status"] != "HIT" {
			t.Errorf("the second read's log line has cache_status %v, want HIT", line["cache_status"])
		}
	}
	for _, want := range []string{"GET MISS", "GET HIT", "GET BYPASS", "PUT "} {
		if statuses[want] == 0 {
			t.Errorf("no access log line %q for %s; lines by method and cache status: %v", want, path, statuses)
		}
	}
}
