package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// profileWarmup is how long the read load runs before the capture, and after it.
const profileWarmup = 5 * time.Second

// envPair is what -service-env accepts: KEY=VALUE of plain characters.
var envPair = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=[A-Za-z0-9._:/@+-]*$`)

// profile is make profile: where the service spends its CPU under the main read workload, without
// Pyroscope. It starts the service with PPROF_ADDR (or uses a running one: -base-url and
// -pprof-url), runs loadtest/read.js (Zipf reads at -rate), captures a -seconds CPU profile from
// /debug/pprof/profile while the load runs into -results/cpu-<date>.pprof and prints its top
// functions (go tool pprof -top). A service pushing to Pyroscope cannot serve a CPU profile (Go
// allows one at a time), so none is passed to the one it starts.
func profile(ctx context.Context, args []string, lookup func(string) (string, bool)) error {
	var c common
	var seconds int
	var preset, serviceEnv, baseURL, pprofURL, results, goCmd string
	fs := flag.NewFlagSet("lab profile", flag.ContinueOnError)
	env := envOf(lookup)
	c.flags(fs, env, "products_bench", 100000, 500)
	fs.IntVar(&seconds, "seconds", atoi(env("PROFILE_SECONDS", ""), 30), "length of the CPU profile in seconds (env PROFILE_SECONDS)")
	fs.StringVar(&preset, "preset", env("CACHE_PRESET", "protected"), "the started service's cache preset (env CACHE_PRESET)")
	fs.StringVar(&serviceEnv, "service-env", env("SERVICE_ENV", ""), "more KEY=VALUE settings of the started service, space-separated (env SERVICE_ENV)")
	fs.StringVar(&baseURL, "base-url", env("BASE_URL", ""), "profile this running service instead (env BASE_URL; with -pprof-url)")
	fs.StringVar(&pprofURL, "pprof-url", env("PPROF_URL", ""), "its PPROF_ADDR as a URL (env PPROF_URL)")
	fs.StringVar(&results, "results", env("RESULTS_DIR", "results"), "where the profile goes (env RESULTS_DIR)")
	fs.StringVar(&goCmd, "go", env("GO", "go"), "go command, for go tool pprof (env GO)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	extra := strings.Fields(serviceEnv)
	for _, kv := range extra {
		if !envPair.MatchString(kv) {
			return fmt.Errorf("-service-env must be KEY=VALUE pairs, got %q", kv)
		}
	}
	if seconds < 1 || (baseURL == "") != (pprofURL == "") {
		return fmt.Errorf("-seconds must be positive, and -base-url and -pprof-url go together")
	}
	root, err := lab.ModuleRoot()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(results, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "lab-profile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if baseURL == "" {
		pprofAddr, err := lab.FreeAddr()
		if err != nil {
			return err
		}
		s, err := startService(ctx, c, "profile", results, append([]string{"PPROF_ADDR=" + pprofAddr, "CACHE_PRESET=" + preset}, extra...)...)
		if err != nil {
			return err
		}
		defer s.stop()
		baseURL, pprofURL = s.Base, "http://"+pprofAddr
	}

	duration := time.Duration(seconds)*time.Second + 2*profileWarmup
	fmt.Printf("profile: k6 read.js at %d/s for %s against %s; CPU profile of %ds after %s\n", c.rate, duration, baseURL, seconds, profileWarmup)
	k6 := lab.K6{Bin: c.k6, Script: "loadtest/read.js", Dir: root, Log: filepath.Join(tmp, "k6.log"),
		Env: []string{"BASE_URL=" + baseURL, fmt.Sprintf("RATE=%d", c.rate), "DURATION=" + duration.String(),
			fmt.Sprintf("PRODUCTS=%d", c.products), "SUMMARY_FILE=" + filepath.Join(tmp, "read.json")}}
	load := make(chan error, 1)
	var crossed bool
	go func() {
		var err error
		crossed, err = lab.RunK6(ctx, k6, duration+time.Minute)
		load <- err
	}()
	select {
	case err := <-load:
		return fmt.Errorf("the read load ended before the capture: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(profileWarmup):
	}
	out := filepath.Join(results, "cpu-"+time.Now().UTC().Format("2006-01-02T150405Z")+".pprof")
	captureErr := capture(ctx, pprofURL, seconds, out)
	if err := <-load; err != nil || captureErr != nil {
		return fmt.Errorf("profile: %w", errors.Join(captureErr, err))
	}
	if crossed {
		fmt.Fprintln(os.Stderr, "profile: warning: read.js missed a threshold; the profile is of a service under strain")
	}
	fmt.Printf("profile: wrote %s (open with: %s tool pprof -http=127.0.0.1:0 %s)\n", out, goCmd, out)
	top := exec.CommandContext(ctx, goCmd, "tool", "pprof", "-top", "-nodecount=25", out)
	top.Stdout, top.Stderr = os.Stdout, os.Stderr
	return top.Run()
}

// capture writes a CPU profile of seconds from the pprof server at pprofURL to path.
func capture(ctx context.Context, pprofURL string, seconds int, path string) error {
	client := &http.Client{Timeout: time.Duration(seconds)*time.Second + 30*time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", pprofURL, seconds), nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("capture the CPU profile (PPROF_ADDR unset?): %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("capture the CPU profile: %s (another CPU profile running, e.g. PYROSCOPE_URL set?)", resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("capture the CPU profile: %w", err)
	}
	return os.WriteFile(path, b, 0o644)
}
