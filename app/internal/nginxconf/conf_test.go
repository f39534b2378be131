package nginxconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// repoFile reads a file of the repository.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// change is one line of a configuration and the lines it became (both trimmed).
type change struct {
	Old string
	New []string
}

// changes walks the original and the rendered configuration line by line and returns what
// changed, assuming that each changed line became the lines of the one change in want that starts
// with it (so the walk can skip them). A replacement line must keep the original's indentation.
func changes(t *testing.T, orig, rendered string, want []change) []change {
	t.Helper()
	news := map[string]int{}
	for _, c := range want {
		news[c.Old] = len(c.New)
	}
	o, r := strings.Split(orig, "\n"), strings.Split(rendered, "\n")
	var got []change
	i, j := 0, 0
	for ; i < len(o) && j < len(r); i, j = i+1, j+1 {
		if o[i] == r[j] {
			continue
		}
		old := strings.TrimSpace(o[i])
		n := max(1, news[old])
		if j+n > len(r) {
			t.Fatalf("rendered config ends within the replacement of %q", old)
		}
		indent := o[i][:len(o[i])-len(strings.TrimLeft(o[i], " \t"))]
		c := change{Old: old}
		for _, l := range r[j : j+n] {
			if !strings.HasPrefix(l, indent) || strings.TrimLeft(l[len(indent):], " \t") != l[len(indent):] {
				t.Errorf("line %q is not indented as %q was", l, o[i])
			}
			c.New = append(c.New, strings.TrimSpace(l))
		}
		got = append(got, c)
		j += n - 1
	}
	if i != len(o) || j != len(r) {
		t.Errorf("the configurations end differently: %d of %d original lines, %d of %d rendered ones walked", i, len(o), j, len(r))
	}
	return got
}

// TestEdge: the native edge runs nginx-edge.conf with its two listeners and its upstream server
// substituted, and not one other line changed.
func TestEdge(t *testing.T) {
	orig := repoFile(t, EdgeFile)
	got, err := Edge(orig, EdgeAddrs{Listen: "127.0.0.1:18080", Status: "127.0.0.1:18081", Upstream: "127.0.0.1:19000"})
	if err != nil {
		t.Fatal(err)
	}
	want := []change{
		{"server nginx:8080;", []string{"server 127.0.0.1:19000;"}},
		{"listen 8080;", []string{"listen 127.0.0.1:18080;"}},
		{"listen 8081;", []string{"listen 127.0.0.1:18081;"}},
	}
	if d := cmp.Diff(want, changes(t, orig, got, want)); d != "" {
		t.Errorf("lines changed (-want +got):\n%s", d)
	}
}

// TestBalancer: the native balancer runs nginx.conf with its listeners, its pid file and its
// upstream servers substituted (one line per replica), and not one other line changed.
func TestBalancer(t *testing.T) {
	orig := repoFile(t, BalancerFile)
	for _, ups := range [][]string{
		{"127.0.0.1:9001"},
		{"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"},
	} {
		got, err := Balancer(orig, BalancerAddrs{Listen: "127.0.0.1:8001", Status: "127.0.0.1:8002", Upstreams: ups})
		if err != nil {
			t.Fatal(err)
		}
		var servers []string
		for _, u := range ups {
			servers = append(servers, "server "+u+";")
		}
		want := []change{
			{"pid /tmp/nginx.pid;", []string{"pid nginx.pid;"}},
			{"server product-service:8080 resolve;", servers},
			{"listen 8080;", []string{"listen 127.0.0.1:8001;"}},
			{"listen 8081;", []string{"listen 127.0.0.1:8002;"}},
		}
		if d := cmp.Diff(want, changes(t, orig, got, want)); d != "" {
			t.Errorf("%d upstreams: lines changed (-want +got):\n%s", len(ups), d)
		}
	}
}

// TestRefused: a configuration whose directives moved, or an address that is not one, is an
// error rather than a half-substituted configuration.
func TestRefused(t *testing.T) {
	edge, balancer := repoFile(t, EdgeFile), repoFile(t, BalancerFile)
	ea := EdgeAddrs{Listen: "127.0.0.1:1", Status: "127.0.0.1:2", Upstream: "127.0.0.1:3"}
	ba := BalancerAddrs{Listen: "127.0.0.1:1", Status: "127.0.0.1:2", Upstreams: []string{"127.0.0.1:3"}}
	tests := []struct {
		name string
		run  func() (string, error)
	}{
		{"edge without its status listener", func() (string, error) {
			return Edge(strings.Replace(edge, "listen 8081;", "listen 9999;", 1), ea)
		}},
		{"edge with two upstream servers", func() (string, error) {
			return Edge(strings.Replace(edge, "server nginx:8080;", "server nginx:8080;\nserver nginx:8080;", 1), ea)
		}},
		{"edge with an empty address", func() (string, error) {
			return Edge(edge, EdgeAddrs{Listen: "127.0.0.1:1", Status: "", Upstream: "127.0.0.1:3"})
		}},
		{"edge with a directive in an address", func() (string, error) {
			return Edge(edge, EdgeAddrs{Listen: "127.0.0.1:1; user root", Status: "127.0.0.1:2", Upstream: "127.0.0.1:3"})
		}},
		{"balancer without upstreams", func() (string, error) {
			return Balancer(balancer, BalancerAddrs{Listen: "127.0.0.1:1", Status: "127.0.0.1:2"})
		}},
		{"balancer without its pid directive", func() (string, error) {
			return Balancer(strings.Replace(balancer, "pid /tmp/nginx.pid;", "", 1), ba)
		}},
		{"balancer whose upstream lost resolve", func() (string, error) {
			return Balancer(strings.Replace(balancer, "product-service:8080 resolve;", "product-service:8080;", 1), ba)
		}},
		{"balancer with an upstream holding a space", func() (string, error) {
			return Balancer(balancer, BalancerAddrs{Listen: "127.0.0.1:1", Status: "127.0.0.1:2", Upstreams: []string{"127.0.0.1:3 backup"}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := tt.run(); err == nil {
				t.Errorf("accepted:\n%s", got)
			}
		})
	}
}

func TestArgs(t *testing.T) {
	got := Args("/tmp/p", "/tmp/p/nginx.conf", "daemon off;")
	want := []string{"-p", "/tmp/p/", "-c", "/tmp/p/nginx.conf", "-e", "/tmp/p/logs/error.log", "-g", "daemon off;"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("args (-want +got):\n%s", d)
	}
	if got := Args("/tmp/p", "/tmp/p/nginx.conf", ""); len(got) != 6 {
		t.Errorf("without global directives: %q, want no -g", got)
	}
}
