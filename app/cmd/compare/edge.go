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
)

// edgeConfigPath is the edge's nginx configuration, shared with docker-compose.yml.
const edgeConfigPath = "observability/nginx-edge.conf"

// edgeAddresses are the only parts of the edge's configuration a native run changes: where it
// listens (8080, 8081 in its container) and where its upstream is (the compose balancer).
type edgeAddresses struct {
	listen, status, upstream string // host:port each
}

// edgeSubstitutions are the directives of nginx-edge.conf that name an address, each of which
// must occur exactly once.
var edgeSubstitutions = []struct {
	re  *regexp.Regexp
	get func(edgeAddresses) string
}{
	{regexp.MustCompile(`(?m)^(\s*listen\s+)8080(;)`), func(a edgeAddresses) string { return a.listen }},
	{regexp.MustCompile(`(?m)^(\s*listen\s+)8081(;)`), func(a edgeAddresses) string { return a.status }},
	{regexp.MustCompile(`(?m)^(\s*server\s+)nginx:8080(;)`), func(a edgeAddresses) string { return a.upstream }},
}

// nativeEdgeConfig returns the compose edge configuration with its three addresses replaced, and
// nothing else changed: its paths are relative to nginx's prefix already.
func nativeEdgeConfig(conf string, a edgeAddresses) (string, error) {
	for _, s := range edgeSubstitutions {
		if n := len(s.re.FindAllStringIndex(conf, -1)); n != 1 {
			return "", fmt.Errorf("%s: %d matches of %s, want 1", edgeConfigPath, n, s.re)
		}
		conf = s.re.ReplaceAllString(conf, "${1}"+s.get(a)+"${2}")
	}
	return conf, nil
}

// edge is a native nginx running nginx-edge.conf in a temp prefix of its own.
type edge struct {
	srv    *server
	prefix string
	base   string // http://127.0.0.1:port
	status string // its health listener
}

// startEdge starts nginx with the edge configuration in front of upstream (host:port), in a new
// prefix in the system's temp dir, and waits until it answers. Its access log is logPath(), its
// stderr stderr.log in the prefix; stop removes the prefix.
func startEdge(ctx context.Context, nginx, root, upstream string) (_ *edge, err error) {
	raw, err := os.ReadFile(filepath.Join(root, edgeConfigPath))
	if err != nil {
		return nil, err
	}
	// Not under a private (0700) temp dir: started as root, nginx's workers run as an
	// unprivileged user, which must reach the cache and temp directories the master creates
	// for it in the prefix.
	prefix, err := os.MkdirTemp("", "edge-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(prefix)
		}
	}()
	if err := os.Chmod(prefix, 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(prefix, "logs"), 0o755); err != nil {
		return nil, err
	}
	ports := make([]int, 2)
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	a := edgeAddresses{
		listen: fmt.Sprintf("127.0.0.1:%d", ports[0]), status: fmt.Sprintf("127.0.0.1:%d", ports[1]), upstream: upstream,
	}
	conf, err := nativeEdgeConfig(string(raw), a)
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	cmd := command(ctx, nil, nginx, nginxArgs(prefix, confPath, "daemon off;")...)
	srv, err := start(cmd, filepath.Join(prefix, "stderr.log"))
	if err != nil {
		return nil, err
	}
	e := &edge{srv: srv, prefix: prefix, base: "http://" + a.listen, status: "http://" + a.status}
	if err := waitUp(ctx, srv, e.status+"/health", "nginx"); err != nil {
		srv.stop()
		return nil, err
	}
	return e, nil
}

// nginxArgs are nginx's flags for a configuration run in prefix: everything it writes stays there.
func nginxArgs(prefix, conf string, global string) []string {
	args := []string{"-p", prefix + "/", "-c", conf, "-e", filepath.Join(prefix, "logs", "error.log")}
	if global != "" {
		args = append(args, "-g", global)
	}
	return args
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
func (e *edge) logPath() string { return filepath.Join(e.prefix, "logs", "edge-access.log") }

// stop ends nginx (SIGTERM to its group: a fast shutdown, which flushes the buffered access log).
func (e *edge) stop() { e.srv.stop() }

// remove deletes the edge's prefix, its logs included.
func (e *edge) remove() { os.RemoveAll(e.prefix) }

// waitUp polls url until it answers 200 while the server runs.
func waitUp(ctx context.Context, srv *server, url, what string) error {
	deadline := time.Now().Add(readyTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		if done, err := srv.exited(); done {
			return fmt.Errorf("%s exited during start-up (%v); last lines of %s:\n%s", what, err, srv.log, tail(srv.log, 20))
		}
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not up at %s within %s; last lines of %s:\n%s", what, url, readyTimeout, srv.log, tail(srv.log, 20))
}

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
