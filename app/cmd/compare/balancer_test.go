package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNativeBalancerConfig: a native run changes the balancer's listeners, pid file and upstream
// servers, and not one other line of observability/nginx.conf.
func TestNativeBalancerConfig(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", balancerConfigPath))
	if err != nil {
		t.Fatal(err)
	}
	ups := []string{"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"}
	conf, err := nativeBalancerConfig(string(raw), "127.0.0.1:8001", "127.0.0.1:8002", ups)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"listen 127.0.0.1:8001;", "listen 127.0.0.1:8002;", "pid nginx.pid;",
		"server 127.0.0.1:9001;\n        server 127.0.0.1:9002;\n        server 127.0.0.1:9003;"} {
		if !strings.Contains(conf, want) {
			t.Errorf("native config lacks %q", want)
		}
	}
	orig, native := strings.Split(string(raw), "\n"), strings.Split(conf, "\n")
	if len(native) != len(orig)+len(ups)-1 {
		t.Fatalf("native config has %d lines, want %d", len(native), len(orig)+len(ups)-1)
	}
	changed := 0
	for i, j := 0, 0; i < len(orig); i, j = i+1, j+1 {
		if orig[i] == native[j] {
			continue
		}
		changed++
		if strings.Contains(orig[i], "product-service:8080") {
			j += len(ups) - 1
		}
	}
	if changed != 4 {
		t.Errorf("%d lines changed, want 4 (two listens, pid, upstream)", changed)
	}
	if _, err := nativeBalancerConfig(string(raw), "a", "b", nil); err == nil {
		t.Error("a balancer without upstreams was accepted")
	}
	if _, err := nativeBalancerConfig(strings.Replace(string(raw), "listen 8081;", "", 1), "a", "b", ups); err == nil {
		t.Error("a config without its status listener was accepted")
	}
}
