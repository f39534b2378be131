// Package lab runs the programs of a measurement or a test as processes under control: it builds
// a Go command once, starts each process in a process group of its own with a clean environment
// and a parent-death signal (so nothing outlives the harness, even when it is killed), waits until
// an URL answers, reads a process's CPU time from /proc, hands out free local ports, and stops a
// process by its group with a time limit. make bench uses it; compare, the drills, e2e and the
// profiling tests are meant to move onto it (issue 18).
package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Build compiles the Go package pkg (e.g. "./app/cmd/product-service") of the module in dir into
// out, statically (CGO_ENABLED=0) and with -trimpath, with goCmd ("go" when empty).
func Build(ctx context.Context, goCmd, dir, pkg, out string) error {
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s in %s: %w: %s", pkg, dir, err, strings.TrimSpace(string(b)))
	}
	return nil
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listened on a moment ago. Another
// process may take it before the caller binds it; the start of a server then fails, loudly.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// CleanEnv returns an environment holding only PATH and HOME of this process, then extra
// (KEY=VALUE): nothing else of the caller's environment (a cache or telemetry setting) reaches the
// process.
func CleanEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	return append(env, extra...)
}

// WaitHTTP polls url every 100 ms until it answers 2xx, p ends, ctx ends or limit passes.
func WaitHTTP(ctx context.Context, p *Proc, url string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := httpClient(time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if answered(ctx, client, url) {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited before %s answered: %v (log: %s)", p.Name, url, p.Err(), p.Log)
		case <-ctx.Done():
			return fmt.Errorf("%s: %s did not answer within %s: %w (log: %s)", p.Name, url, limit, ctx.Err(), p.Log)
		case <-tick.C:
		}
	}
}

// ModuleRoot is the nearest directory holding go.mod at or above the working directory: run a
// harness from anywhere inside the repository and it builds that checkout.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory: run from the repository")
		}
		dir = parent
	}
}
