// Package nginxconf runs the repository's two nginx configurations natively, with Debian's nginx
// (`make tools`) instead of the nginx 1.28 containers of docker-compose.yml:
//
//   - observability/nginx.conf, the balancer in front of the product-service replicas;
//   - observability/nginx-edge.conf, the edge micro-cache in front of the balancer.
//
// Balancer and Edge render a configuration for a native run by substituting only what differs
// outside Docker (listen addresses, upstream servers, the pid file) and refuse a file whose
// directives moved rather than run it half-substituted. Start runs nginx with a rendered
// configuration in a prefix directory of its own, waits until it answers and stops it.
package nginxconf

import (
	"fmt"
	"regexp"
	"strings"
)

// The configurations, relative to the repository root (shared with docker-compose.yml).
const (
	BalancerFile = "observability/nginx.conf"
	EdgeFile     = "observability/nginx-edge.conf"
)

// EdgeAccessLog is where nginx-edge.conf writes its JSON access log, relative to the prefix
// (Server.Path).
const EdgeAccessLog = "logs/edge-access.log"

// EdgeAddrs are the addresses (host:port each) of a native edge: where it listens, its health and
// stub_status listener, and its upstream (the balancer, or one service).
type EdgeAddrs struct {
	Listen, Status, Upstream string
}

// BalancerAddrs are the addresses (host:port each) of a native balancer: where it listens, its
// health and stub_status listener, and one upstream server per replica.
type BalancerAddrs struct {
	Listen, Status string
	Upstreams      []string
}

// substitution replaces the one match of re (in multi-line mode, its group 1 the indentation)
// with the lines of with, each indented as the match was.
type substitution[A any] struct {
	re   *regexp.Regexp
	with func(A) []string
}

// edgeSubstitutions are the directives of nginx-edge.conf that name an address. Its paths are
// relative to the prefix already, its pid file among them.
var edgeSubstitutions = []substitution[EdgeAddrs]{
	{regexp.MustCompile(`(?m)^(\s*)listen\s+8080;`), func(a EdgeAddrs) []string { return []string{"listen " + a.Listen + ";"} }},
	{regexp.MustCompile(`(?m)^(\s*)listen\s+8081;`), func(a EdgeAddrs) []string { return []string{"listen " + a.Status + ";"} }},
	{regexp.MustCompile(`(?m)^(\s*)server\s+nginx:8080;`), func(a EdgeAddrs) []string { return []string{"server " + a.Upstream + ";"} }},
}

// balancerSubstitutions are the directives of nginx.conf a native run changes: its two listeners,
// its pid file (an absolute path in the container) and its one upstream server, the compose
// service name that Docker's DNS resolves to every replica (`resolve`, which nginx 1.22 lacks),
// which becomes one server line per replica. Docker's resolver stays: without `resolve` nginx
// never asks it.
var balancerSubstitutions = []substitution[BalancerAddrs]{
	{regexp.MustCompile(`(?m)^(\s*)listen\s+8080;`), func(a BalancerAddrs) []string { return []string{"listen " + a.Listen + ";"} }},
	{regexp.MustCompile(`(?m)^(\s*)listen\s+8081;`), func(a BalancerAddrs) []string { return []string{"listen " + a.Status + ";"} }},
	{regexp.MustCompile(`(?m)^(\s*)pid\s+\S+;`), func(BalancerAddrs) []string { return []string{"pid nginx.pid;"} }},
	{regexp.MustCompile(`(?m)^(\s*)server\s+product-service:8080\s+resolve;`), func(a BalancerAddrs) []string {
		lines := make([]string, len(a.Upstreams))
		for i, u := range a.Upstreams {
			lines[i] = "server " + u + ";"
		}
		return lines
	}},
}

// Edge returns nginx-edge.conf (its text) with its two listeners and its upstream server set to
// a, every other byte unchanged.
func Edge(conf string, a EdgeAddrs) (string, error) {
	if err := nonEmpty(EdgeFile, a.Listen, a.Status, a.Upstream); err != nil {
		return "", err
	}
	return substitute(EdgeFile, conf, a, edgeSubstitutions)
}

// Balancer returns nginx.conf (its text) with its two listeners set to a, its pid file in the
// prefix and one upstream server per a.Upstreams, every other byte unchanged.
func Balancer(conf string, a BalancerAddrs) (string, error) {
	if len(a.Upstreams) == 0 {
		return "", fmt.Errorf("%s: no upstream server", BalancerFile)
	}
	if err := nonEmpty(BalancerFile, append([]string{a.Listen, a.Status}, a.Upstreams...)...); err != nil {
		return "", err
	}
	return substitute(BalancerFile, conf, a, balancerSubstitutions)
}

// nonEmpty refuses an empty or blank address, or one that would end the directive early.
func nonEmpty(file string, addrs ...string) error {
	for _, a := range addrs {
		if a == "" || strings.ContainsAny(a, " \t\n;{}") {
			return fmt.Errorf("%s: bad address %q", file, a)
		}
	}
	return nil
}

// substitute applies subs to conf, each to exactly one directive.
func substitute[A any](file, conf string, a A, subs []substitution[A]) (string, error) {
	for _, s := range subs {
		if n := len(s.re.FindAllStringIndex(conf, -1)); n != 1 {
			return "", fmt.Errorf("%s: %d matches of %s, want 1", file, n, s.re)
		}
		lines := s.with(a)
		for i, l := range lines {
			lines[i] = "${1}" + strings.ReplaceAll(l, "$", "$$") // a literal $, ${1} the indentation
		}
		conf = s.re.ReplaceAllString(conf, strings.Join(lines, "\n"))
	}
	return conf, nil
}
