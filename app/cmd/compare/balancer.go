package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// balancerConfigPath is the balancer's nginx configuration, shared with docker-compose.yml.
const balancerConfigPath = "observability/nginx.conf"

// balancerSubstitutions are the directives of nginx.conf a native run changes, each of which
// must occur exactly once: its two listeners, its pid file (an absolute path in the container),
// and the one upstream server, the compose service name that Docker's DNS resolves to every
// replica, which becomes one server line per replica.
var balancerSubstitutions = []struct {
	re  *regexp.Regexp
	get func(listen, status string, upstreams []string) string
}{
	{regexp.MustCompile(`(?m)^(\s*)listen\s+8080;`), func(l, _ string, _ []string) string { return "${1}listen " + l + ";" }},
	{regexp.MustCompile(`(?m)^(\s*)listen\s+8081;`), func(_, s string, _ []string) string { return "${1}listen " + s + ";" }},
	{regexp.MustCompile(`(?m)^(\s*)pid\s+\S+;`), func(string, string, []string) string { return "${1}pid nginx.pid;" }},
	{regexp.MustCompile(`(?m)^(\s*)server\s+product-service:8080\s+resolve;`), func(_, _ string, ups []string) string {
		lines := make([]string, len(ups))
		for i, u := range ups {
			lines[i] = "${1}server " + u + ";"
		}
		return strings.Join(lines, "\n")
	}},
}

// nativeBalancerConfig returns the compose balancer configuration listening on listen and status
// (host:port) and spreading over upstreams (host:port each), nothing else changed.
func nativeBalancerConfig(conf, listen, status string, upstreams []string) (string, error) {
	if len(upstreams) == 0 {
		return "", fmt.Errorf("%s: no upstream", balancerConfigPath)
	}
	for _, s := range balancerSubstitutions {
		if n := len(s.re.FindAllStringIndex(conf, -1)); n != 1 {
			return "", fmt.Errorf("%s: %d matches of %s, want 1", balancerConfigPath, n, s.re)
		}
		conf = s.re.ReplaceAllString(conf, s.get(listen, status, upstreams))
	}
	return conf, nil
}

// balancer is a native nginx running nginx.conf in a temp prefix of its own.
type balancer struct {
	srv    *server
	prefix string
	base   string // http://127.0.0.1:port
}

// startBalancer starts nginx with the balancer configuration over upstreams (host:port each, or
// http://host:port) and waits until it answers; its output goes to logs/<name>.log of the run.
func (c *comparison) startBalancer(ctx context.Context, upstreams []string, name string) (_ *balancer, err error) {
	raw, err := os.ReadFile(filepath.Join(c.root, balancerConfigPath))
	if err != nil {
		return nil, err
	}
	hosts := make([]string, len(upstreams))
	for i, u := range upstreams {
		hosts[i] = strings.TrimPrefix(u, "http://")
	}
	// World-readable, as for the edge: nginx's workers run unprivileged.
	prefix, err := os.MkdirTemp("", "balancer-")
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
	var ports [2]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	listen, status := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	conf, err := nativeBalancerConfig(string(raw), listen, status, hosts)
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	srv, err := start(command(ctx, nil, c.o.nginx, nginxArgs(prefix, confPath, "daemon off;")...),
		filepath.Join(c.outDir, "logs", name+".log"))
	if err != nil {
		return nil, err
	}
	if err := waitUp(ctx, srv, "http://"+status+"/health", "nginx balancer"); err != nil {
		srv.stop()
		return nil, err
	}
	return &balancer{srv: srv, prefix: prefix, base: "http://" + listen}, nil
}

// stop ends nginx and removes its prefix.
func (b *balancer) stop() {
	b.srv.stop()
	os.RemoveAll(b.prefix)
}
