//go:build e2e

package nginxconf

// Debian's nginx (NGINX_BIN, `make tools`) running the rendered configurations: `make e2e`.
// Without NGINX_BIN the tests skip, and fail under CI.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// TestNginxCheck: `nginx -t` accepts both rendered configurations.
func TestNginxCheck(t *testing.T) {
	bin := lab.Tool(t, "NGINX_BIN", "")
	edge, err := Edge(repoFile(t, EdgeFile), EdgeAddrs{Listen: "127.0.0.1:1", Status: "127.0.0.1:2", Upstream: "127.0.0.1:3"})
	if err != nil {
		t.Fatal(err)
	}
	balancer, err := Balancer(repoFile(t, BalancerFile), BalancerAddrs{Listen: "127.0.0.1:1", Status: "127.0.0.1:2",
		Upstreams: []string{"127.0.0.1:3", "127.0.0.1:4", "127.0.0.1:5"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, conf := range map[string]string{"edge": edge, "balancer": balancer} {
		if err := Check(context.Background(), bin, conf); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := Check(context.Background(), bin, "events {}\nhttp { nonsense; }\n"); err == nil {
		t.Error("nginx -t accepted an unknown directive")
	}
}

// TestNginxServers runs the edge in front of the balancer in front of three upstreams: the
// balancer spreads over all three, the edge caches a product read for its Cache-Control max-age
// and logs one JSON line a request, and Stop ends both.
func TestNginxServers(t *testing.T) {
	bin := lab.Tool(t, "NGINX_BIN", "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var ups []string
	for i := range 3 {
		name := fmt.Sprintf("upstream-%d", i)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "public, max-age=30")
			fmt.Fprint(w, name)
		}))
		t.Cleanup(srv.Close)
		ups = append(ups, strings.TrimPrefix(srv.URL, "http://"))
	}

	bl, bs := lab.MustFreeAddr(t), lab.MustFreeAddr(t)
	conf, err := Balancer(repoFile(t, BalancerFile), BalancerAddrs{Listen: bl, Status: bs, Upstreams: ups})
	if err != nil {
		t.Fatal(err)
	}
	balancer, err := Start(ctx, Options{Name: "balancer", Bin: bin, Config: conf, Health: "http://" + bs + "/health"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { balancer.Stop(); balancer.Remove() })
	el, es := lab.MustFreeAddr(t), lab.MustFreeAddr(t)
	if conf, err = Edge(repoFile(t, EdgeFile), EdgeAddrs{Listen: el, Status: es, Upstream: bl}); err != nil {
		t.Fatal(err)
	}
	edge, err := Start(ctx, Options{Name: "edge", Bin: bin, Config: conf, Health: "http://" + es + "/health"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { edge.Stop(); edge.Remove() })

	get := func(url string) (string, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", url, resp.Status)
		}
		return string(body), resp.Header.Get("X-Edge-Cache")
	}
	served := map[string]int{}
	for range 6 {
		body, _ := get("http://" + bl + "/api/v1/products")
		served[body]++
	}
	if d := cmp.Diff(map[string]int{"upstream-0": 2, "upstream-1": 2, "upstream-2": 2}, served); d != "" {
		t.Errorf("the balancer's answers by upstream (-want round robin +got):\n%s", d)
	}
	var statuses []string
	for range 2 {
		_, st := get("http://" + el + "/api/v1/products/7")
		statuses = append(statuses, st)
	}
	if d := cmp.Diff([]string{"MISS", "HIT"}, statuses); d != "" {
		t.Errorf("the edge's X-Edge-Cache (-want +got):\n%s", d)
	}

	edge.Stop()
	balancer.Stop()
	for _, s := range []*Server{edge, balancer} {
		if done, _ := s.Exited(); !done {
			t.Errorf("nginx in %s runs on after Stop", s.Prefix)
		}
	}
	if c, err := net.DialTimeout("tcp", bl, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", bl)
	}
	f, err := os.Open(edge.Path(EdgeAccessLog))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var logged []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct {
			URI         string `json:"uri"`
			CacheStatus string `json:"cache_status"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("edge access log line %q: %v", sc.Text(), err)
		}
		logged = append(logged, l.URI+" "+l.CacheStatus)
	}
	if d := cmp.Diff([]string{"/api/v1/products/7 MISS", "/api/v1/products/7 HIT"}, logged); d != "" {
		t.Errorf("edge access log (-want +got):\n%s", d)
	}
	// The balancer's access log goes to its stdout: the Log file.
	if raw, _ := os.ReadFile(balancer.Log); strings.Count(string(raw), "upstream=") != 7 {
		t.Errorf("balancer output has %d access log lines, want 7 (six reads and the edge's miss):\n%s",
			strings.Count(string(raw), "upstream="), raw)
	}
}
