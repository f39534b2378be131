package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/nginxconf"
)

// balancer is a native nginx running observability/nginx.conf (app/internal/nginxconf) in a temp
// prefix of its own.
type balancer struct {
	srv  *nginxconf.Server
	base string // http://127.0.0.1:port
}

// startBalancer starts nginx with the balancer configuration over upstreams (host:port each, or
// http://host:port) and waits until it answers; its output goes to logs/<name>.log of the run.
func (c *comparison) startBalancer(ctx context.Context, upstreams []string, name string) (*balancer, error) {
	raw, err := os.ReadFile(filepath.Join(c.root, nginxconf.BalancerFile))
	if err != nil {
		return nil, err
	}
	var ports [2]int
	for i := range ports {
		if ports[i], err = lab.FreePort(); err != nil {
			return nil, err
		}
	}
	a := nginxconf.BalancerAddrs{Listen: fmt.Sprintf("127.0.0.1:%d", ports[0]), Status: fmt.Sprintf("127.0.0.1:%d", ports[1])}
	for _, u := range upstreams {
		a.Upstreams = append(a.Upstreams, strings.TrimPrefix(u, "http://"))
	}
	conf, err := nginxconf.Balancer(string(raw), a)
	if err != nil {
		return nil, err
	}
	srv, err := nginxconf.Start(ctx, nginxconf.Options{Name: "balancer", Bin: c.o.nginx, Config: conf,
		Health: "http://" + a.Status + "/health", Log: filepath.Join(c.outDir, "logs", name+".log"), ReadyTimeout: lab.DefaultReadyTimeout})
	if err != nil {
		return nil, err
	}
	return &balancer{srv: srv, base: "http://" + a.Listen}, nil
}

// stop ends nginx and removes its prefix.
func (b *balancer) stop() {
	b.srv.Stop()
	_ = b.srv.Remove()
}
