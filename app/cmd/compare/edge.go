package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/nginxconf"
)

// edge is a native nginx running observability/nginx-edge.conf (app/internal/nginxconf) in a temp
// prefix of its own.
type edge struct {
	srv  *nginxconf.Server
	base string // http://127.0.0.1:port
}

// startEdge starts nginx with the edge configuration in front of upstream (host:port), in a new
// prefix in the system's temp dir, and waits until it answers. Its access log is logPath(), its
// stderr stderr.log in the prefix; remove deletes the prefix.
func startEdge(ctx context.Context, nginx, root, upstream string) (*edge, error) {
	raw, err := os.ReadFile(filepath.Join(root, nginxconf.EdgeFile))
	if err != nil {
		return nil, err
	}
	ports := make([]int, 2)
	for i := range ports {
		if ports[i], err = lab.FreePort(); err != nil {
			return nil, err
		}
	}
	a := nginxconf.EdgeAddrs{
		Listen: fmt.Sprintf("127.0.0.1:%d", ports[0]), Status: fmt.Sprintf("127.0.0.1:%d", ports[1]), Upstream: upstream,
	}
	conf, err := nginxconf.Edge(string(raw), a)
	if err != nil {
		return nil, err
	}
	srv, err := nginxconf.Start(ctx, nginxconf.Options{Name: "edge", Bin: nginx, Config: conf,
		Health: "http://" + a.Status + "/health", ReadyTimeout: lab.DefaultReadyTimeout})
	if err != nil {
		return nil, err
	}
	return &edge{srv: srv, base: "http://" + a.Listen}, nil
}

// nginxVersion is what `nginx -v` says ("nginx/1.22.1"), or "unknown".
func nginxVersion(ctx context.Context, nginx string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, nginx, "-v").CombinedOutput()
	if v, ok := strings.CutPrefix(firstLine(string(out)), "nginx version: "); ok {
		return v
	}
	return "unknown"
}

// logPath is the edge's JSON access log.
func (e *edge) logPath() string { return e.srv.Path(nginxconf.EdgeAccessLog) }

// stop ends nginx (a fast shutdown, which flushes the buffered access log).
func (e *edge) stop() { e.srv.Stop() }

// remove deletes the edge's prefix, its logs included.
func (e *edge) remove() { _ = e.srv.Remove() }

// edgeLine is the part of an access log line (nginx-edge.conf's edge_json) the report reads.
type edgeLine struct {
	Method      string `json:"method"`
	URI         string `json:"uri"`
	Status      int    `json:"status"`
	CacheStatus string `json:"cache_status"`
}

// productRead matches the URI of a product read, the route the edge caches.
var productRead = regexp.MustCompile(`^/api/v1/products/[0-9]+$`)

// edgeStats counts the edge's product reads by cache status ($upstream_cache_status).
type edgeStats struct {
	Preset   string             `json:"preset"` // the service's, behind the edge
	Reads    float64            `json:"reads"`
	ByStatus map[string]float64 `json:"by_status"`
}

// answered are the product reads the edge answered from its cache without asking the service.
func (s *edgeStats) answered() float64 {
	return s.ByStatus["HIT"] + s.ByStatus["STALE"] + s.ByStatus["UPDATING"]
}

// hitRatio is the share of product reads the edge answered from its cache: without the service
// (HIT, STALE, UPDATING) or after a 304 from it (REVALIDATED).
func (s *edgeStats) hitRatio() *float64 {
	if s == nil || s.Reads == 0 {
		return nil
	}
	r := (s.answered() + s.ByStatus["REVALIDATED"]) / s.Reads
	return &r
}

// readEdgeLog counts the GET/HEAD product reads of an edge access log.
func readEdgeLog(path string) (*edgeStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := &edgeStats{ByStatus: map[string]float64{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var l edgeLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, n, err)
		}
		if (l.Method != http.MethodGet && l.Method != http.MethodHead) || !productRead.MatchString(strings.SplitN(l.URI, "?", 2)[0]) {
			continue
		}
		s.Reads++
		st := l.CacheStatus
		if st == "" {
			st = "NONE"
		}
		s.ByStatus[st]++
	}
	return s, sc.Err()
}
