package stacktest_test

// The edge cache (profile "edge"): observability/nginx-edge.conf read with parseNginx (caches only
// product reads, never with Authorization, says how in X-Edge-Cache and in a JSON access log with
// cache_status), and its wiring in docker-compose.yml: the config the container runs, the log
// volume it shares with its agent, and the agent's (observability/fluent-bit-edge.yaml) way to
// Loki. app/cmd/compare's tests run the same file natively (nginx -t, and through a real service).

import (
	"encoding/json"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// edgeConf parses observability/nginx-edge.conf and returns its http block.
func edgeConf(t *testing.T) []directive {
	t.Helper()
	raw, err := os.ReadFile(repoRoot + "/observability/nginx-edge.conf")
	if err != nil {
		t.Fatal(err)
	}
	top, err := parseNginx(string(raw))
	if err != nil {
		t.Fatalf("nginx-edge.conf: %v", err)
	}
	https := all(top, "http")
	if len(https) != 1 {
		t.Fatalf("nginx-edge.conf has %d http blocks, want 1", len(https))
	}
	return https[0].block
}

// args returns the arguments of the one directive named name in ds, or nil.
func args(ds []directive, name string) []string {
	if d := all(ds, name); len(d) == 1 {
		return d[0].args
	}
	return nil
}

func TestEdgeConf(t *testing.T) {
	http := edgeConf(t)

	// The cached server: the one listening on 8080.
	var front []directive
	var ports []int
	for _, srv := range all(http, "server") {
		for _, l := range all(srv.block, "listen") {
			n, err := strconv.Atoi(l.args[0])
			if err != nil {
				t.Fatalf("listen %v: want a bare port (the native run substitutes it)", l.args)
			}
			ports = append(ports, n)
			if n == 8080 {
				front = srv.block
			}
		}
	}
	slices.Sort(ports)
	if !slices.Equal(ports, listens["edge"]) {
		t.Errorf("listen ports %v, want %v", ports, listens["edge"])
	}
	if front == nil {
		t.Fatal("no server listens on 8080")
	}

	t.Run("upstream is the balancer", func(t *testing.T) {
		for _, u := range all(http, "upstream") {
			for _, s := range all(u.block, "server") {
				checkAddress(t, "upstream "+strings.Join(u.args, " "), s.args[0])
			}
		}
	})

	// Which locations cache, and what their pattern accepts.
	var cached, passed []directive
	for _, loc := range all(front, "location") {
		if len(all(loc.block, "proxy_pass")) != 1 {
			t.Errorf("location %v does not proxy_pass", loc.args)
		}
		if len(all(loc.block, "proxy_cache")) > 0 {
			cached = append(cached, loc)
		} else {
			passed = append(passed, loc)
		}
	}
	if len(all(front, "proxy_cache")) > 0 {
		t.Error("proxy_cache at server level would cache every route; set it in the product location only")
	}
	if len(cached) != 1 {
		t.Fatalf("%d locations cache, want 1 (product reads)", len(cached))
	}
	loc := cached[0]

	t.Run("only product reads are cached", func(t *testing.T) {
		if len(loc.args) != 2 || loc.args[0] != "~" {
			t.Fatalf("cached location %v: want a case-sensitive regex (~)", loc.args)
		}
		re, err := regexp.Compile(loc.args[1])
		if err != nil {
			t.Fatal(err)
		}
		for uri, want := range map[string]bool{
			"/api/v1/products/1": true, "/api/v1/products/123456": true,
			"/api/v1/products": false, "/api/v1/products/1/inventory": false, "/api/v1/products/abc": false,
			"/api/v1/admin/cache": false, "/api/v1/admin/cache/products/1": false, "/metrics": false, "/health": false,
		} {
			if got := re.MatchString(uri); got != want {
				t.Errorf("location %s matches %s: %v, want %v", loc.args[1], uri, got, want)
			}
		}
		if m := args(loc.block, "proxy_cache_methods"); !slices.Equal(m, []string{"GET", "HEAD"}) {
			t.Errorf("proxy_cache_methods %v, want GET HEAD (writes are never cached)", m)
		}
		if len(passed) != 1 || !slices.Equal(passed[0].args, []string{"/"}) {
			t.Errorf("uncached locations %v, want just / (everything else passed through)", passed)
		}
	})

	t.Run("never with Authorization", func(t *testing.T) {
		for _, name := range []string{"proxy_cache_bypass", "proxy_no_cache"} {
			if !slices.Contains(args(loc.block, name), "$http_authorization") {
				t.Errorf("%s %v: want $http_authorization (neither answer nor store a request with credentials)", name, args(loc.block, name))
			}
		}
		for _, d := range all(loc.block, "proxy_ignore_headers") {
			if slices.ContainsFunc(d.args, func(h string) bool { return h == "Cache-Control" || h == "Set-Cookie" }) {
				t.Errorf("proxy_ignore_headers %v: the service's Cache-Control and Set-Cookie must be honoured", d.args)
			}
		}
	})

	t.Run("stampede, staleness and revalidation", func(t *testing.T) {
		for name, want := range map[string]string{
			"proxy_cache_lock": "off", "proxy_cache_revalidate": "on", "proxy_cache_background_update": "on",
		} {
			if a := args(loc.block, name); !slices.Equal(a, []string{want}) {
				t.Errorf("%s %v, want %s", name, a, want)
			}
		}
		if !slices.Contains(args(loc.block, "proxy_cache_use_stale"), "updating") {
			t.Errorf("proxy_cache_use_stale %v: want updating (one refresh, the others served stale)", args(loc.block, "proxy_cache_use_stale"))
		}
		zone := strings.TrimPrefix(strings.Join(args(loc.block, "proxy_cache"), ""), "")
		cachePath := args(http, "proxy_cache_path")
		if cachePath == nil || !slices.ContainsFunc(cachePath, func(a string) bool { return strings.HasPrefix(a, "keys_zone="+zone+":") }) {
			t.Errorf("proxy_cache %s has no proxy_cache_path keys_zone (%v)", zone, cachePath)
		}
	})

	t.Run("X-Edge-Cache on every response", func(t *testing.T) {
		var found bool
		for _, h := range all(front, "add_header") {
			if strings.EqualFold(h.args[0], "X-Edge-Cache") {
				found = h.args[1] == "$upstream_cache_status" && slices.Contains(h.args, "always")
			}
		}
		if !found {
			t.Error("the server has no `add_header X-Edge-Cache $upstream_cache_status always`")
		}
		// A location's own add_header replaces the server's, X-Edge-Cache with them.
		for _, l := range all(front, "location") {
			if len(all(l.block, "add_header")) > 0 {
				t.Errorf("location %v has add_header: X-Edge-Cache would be lost there", l.args)
			}
		}
	})

	t.Run("JSON access log with cache_status", func(t *testing.T) {
		al := args(http, "access_log")
		if len(al) < 2 {
			t.Fatalf("access_log %v: want a file and a format", al)
		}
		if path.IsAbs(al[0]) || path.Dir(al[0]) != "logs" {
			t.Errorf("access_log %s: want logs/<file>, relative to the prefix (the volume the agent reads)", al[0])
		}
		var format []string
		for _, f := range all(http, "log_format") {
			if f.args[0] == al[1] {
				format = f.args[1:]
			}
		}
		if len(format) < 2 || format[0] != "escape=json" {
			t.Fatalf("log_format %s %v: want escape=json", al[1], format)
		}
		// With every variable replaced by a number, the line must be one JSON object.
		line := regexp.MustCompile(`\$[a-z_0-9]+`).ReplaceAllString(strings.Join(format[1:], ""), "1")
		var fields map[string]any
		if err := json.Unmarshal([]byte(line), &fields); err != nil {
			t.Fatalf("log_format %s is not JSON: %v\n%s", al[1], err, line)
		}
		text := strings.Join(format[1:], "")
		for key, variable := range map[string]string{
			"cache_status": "$upstream_cache_status", "status": "$status", "uri": "$request_uri", "method": "$request_method",
			"request_id": "$req_id", "time": "$time_iso8601",
		} {
			if _, ok := fields[key]; !ok || !strings.Contains(text, `"`+key+`":`) || !strings.Contains(text, variable) {
				t.Errorf("log_format %s has no %q field from %s", al[1], key, variable)
			}
		}
	})

	t.Run("paths stay under the prefix", func(t *testing.T) {
		for _, name := range []string{"client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path", "proxy_cache_path"} {
			a := args(http, name)
			if a == nil || path.IsAbs(a[0]) {
				t.Errorf("%s %v: want one path relative to the prefix (the native run needs no root)", name, a)
			}
		}
	})
}

func TestComposeEdge(t *testing.T) {
	p := loadAll(t)
	edge, agent := service(t, p, "edge"), service(t, p, "edge-logs")

	conf := parseFlags(edge.Command)["-c"]
	if host, ok := hostPath(edge, conf); !ok || !strings.HasSuffix(host, "/observability/nginx-edge.conf") {
		t.Errorf("edge runs -c %s, which is not mounted from observability/nginx-edge.conf", conf)
	}
	if nginx := service(t, p, "nginx"); edge.Image != nginx.Image {
		t.Errorf("edge image %s, want the balancer's %s", edge.Image, nginx.Image)
	}

	// The log volume: the edge writes <prefix>/logs, the agent tails the same volume.
	prefix := parseFlags(edge.Command)["-p"]
	volumeAt := func(s types.ServiceConfig, dir string) string {
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeVolume && path.Clean(v.Target) == path.Clean(dir) {
				return v.Source
			}
		}
		return ""
	}
	var cfg struct {
		Pipeline struct {
			Inputs  []map[string]any `yaml:"inputs"`
			Outputs []map[string]any `yaml:"outputs"`
		} `yaml:"pipeline"`
	}
	readYAML(t, "observability/fluent-bit-edge.yaml", &cfg)
	if len(cfg.Pipeline.Inputs) != 1 || len(cfg.Pipeline.Outputs) != 1 {
		t.Fatalf("fluent-bit-edge.yaml: %d inputs and %d outputs, want 1 each", len(cfg.Pipeline.Inputs), len(cfg.Pipeline.Outputs))
	}
	in, out := cfg.Pipeline.Inputs[0], cfg.Pipeline.Outputs[0]
	tailed, _ := in["path"].(string)
	logFile := args(edgeConf(t), "access_log")[0]
	edgeVol, agentVol := volumeAt(edge, path.Join(prefix, path.Dir(logFile))), volumeAt(agent, path.Dir(tailed))
	if edgeVol == "" || edgeVol != agentVol {
		t.Errorf("edge writes %s on volume %q, the agent tails %s on volume %q: want one named volume", path.Join(prefix, logFile), edgeVol, tailed, agentVol)
	}
	if path.Base(tailed) != path.Base(logFile) {
		t.Errorf("the agent tails %s, the edge writes %s", path.Base(tailed), path.Base(logFile))
	}
	if _, ok := p.Volumes[edgeVol]; edgeVol != "" && !ok {
		t.Errorf("volume %q is not declared", edgeVol)
	}

	agentConf := parseFlags(agent.Command)["-c"]
	if host, ok := hostPath(agent, agentConf); !ok || !strings.HasSuffix(host, "/observability/fluent-bit-edge.yaml") {
		t.Errorf("edge-logs runs -c %s, which is not mounted from observability/fluent-bit-edge.yaml", agentConf)
	}
	if in["name"] != "tail" || out["name"] != "loki" || out["match"] != in["tag"] {
		t.Errorf("fluent-bit-edge.yaml: want tail → loki on one tag, got input %v, output %v", in, out)
	}
	checkAddress(t, "fluent-bit-edge.yaml loki output", out["host"].(string)+":"+strconv.Itoa(out["port"].(int)))
	labels, _ := out["labels"].(string)
	if !slices.Contains(strings.Split(strings.ReplaceAll(labels, " ", ""), ","), "app=nginx-edge") {
		t.Errorf("loki labels %q: want app=nginx-edge (the Cache lab dashboard's selector)", labels)
	}
	if out["drop_single_key"] != "raw" {
		t.Errorf("loki drop_single_key %v: want raw, so Loki stores nginx's JSON line itself", out["drop_single_key"])
	}
}
