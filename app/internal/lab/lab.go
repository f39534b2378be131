// Package lab owns the service as a process under test, for the commands that measure it
// (compare, bench) and for the suites that test it (e2e, drills, profiling, package tests).
//
// The core returns errors: build a Go command once (ServiceBinary, Build), start processes each in
// a process group of its own with a clean environment and a parent-death signal so nothing
// outlives the harness (Start, Proc), run a command to its end within a time limit (Run, Output,
// RunK6), wait until an URL answers (WaitHTTP), describe the product-service and start replicas of
// it on a prepared database (Service, Replica), scrape and sum metrics (Scrape, MetricSum), read a
// process's CPU time (CPUTime), hand out free local ports (FreePort, FreeAddr) and create
// databases (EnsureDatabase).
//
// testing.go is the testing.TB flavour: the Must… functions fail the test instead of returning an
// error and stop what they started at the test's cleanup; Missing is the one "tool or server
// missing: skip locally, fail when CI is set"; WaitFor and Context wait with no bound of their
// own but the test binary's deadline.
package lab

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

// ports remembers the ports FreePort handed out, so none is handed out twice in one process.
var ports = struct {
	sync.Mutex
	taken map[int]bool
}{taken: map[int]bool{}}

// FreePort returns a 127.0.0.1 port nothing listens on, never the same twice in this process.
// Ports are taken below the ephemeral range, so outgoing connections (k6 makes many) cannot take
// one between choosing and listening. Another process may still take it before the caller binds
// it; the start of a server then fails, loudly.
func FreePort() (int, error) {
	ports.Lock()
	defer ports.Unlock()
	for range 200 {
		port := 20000 + rand.IntN(12000)
		if ports.taken[port] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		_ = l.Close()
		ports.taken[port] = true
		return port, nil
	}
	return 0, errors.New("find a free port: 200 tries failed")
}

// FreeAddr returns 127.0.0.1:port for a FreePort.
func FreeAddr() (string, error) {
	port, err := FreePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(port), nil
}

// CleanEnv returns an environment holding only PATH and HOME of this process, then extra
// (KEY=VALUE): nothing else of the caller's environment (a cache or telemetry setting, CI's
// variables) reaches the process.
func CleanEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	return append(env, extra...)
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
