//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/product-service-lab/product-service/app/internal/nginxconf"
)

// startBalancer runs observability/nginx.conf (app/internal/nginxconf: only its listen
// addresses, pid file and upstream servers substituted, one per replica) in front of the
// replicas, its output (access log included) in logs/balancer.log.
func startBalancer(ctx context.Context, t *testing.T, logs, bin string, a addrs) *nginxconf.Server {
	t.Helper()
	conf, err := nginxconf.Balancer(readRepoFile(t, nginxconf.BalancerFile),
		nginxconf.BalancerAddrs{Listen: a.balancer, Status: a.balancerStatus, Upstreams: a.replicas[:]})
	if err != nil {
		t.Fatal(err)
	}
	return startNginx(ctx, t, logs, "balancer", bin, conf, a.balancerStatus)
}

// startEdge runs observability/nginx-edge.conf (only its listen addresses and upstream
// substituted) in front of the balancer. Its JSON access log is in its prefix
// (nginxconf.EdgeAccessLog), where the shipper (edgelogs_test.go) reads it.
func startEdge(ctx context.Context, t *testing.T, logs, bin string, a addrs) *nginxconf.Server {
	t.Helper()
	conf, err := nginxconf.Edge(readRepoFile(t, nginxconf.EdgeFile),
		nginxconf.EdgeAddrs{Listen: a.edge, Status: a.edgeStatus, Upstream: a.balancer})
	if err != nil {
		t.Fatal(err)
	}
	return startNginx(ctx, t, logs, "edge", bin, conf, a.edgeStatus)
}

// startNginx runs nginx with conf until the test's cleanup, which also removes its prefix; its
// output goes to logs/name.log.
func startNginx(ctx context.Context, t *testing.T, logs, name, bin, conf, status string) *nginxconf.Server {
	t.Helper()
	s, err := nginxconf.Start(ctx, nginxconf.Options{Name: name, Bin: bin, Config: conf,
		Health: "http://" + status + "/health", Log: filepath.Join(logs, name+".log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of %s:\n%s", name, s.Tail(15))
		}
		s.Stop()
		_ = s.Remove()
	})
	return s
}

// readRepoFile reads a file of the repository.
func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
