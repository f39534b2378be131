package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// smoke is make e2e's contract and load smoke: loadtest/smoke.js against a fresh service, one pass
// over every route (bad input included) and a short constant-rate read load. It fails on any
// failed check or crossed threshold, and on any error the service logged.
func smoke(ctx context.Context, args []string, lookup func(string) (string, bool)) error {
	var c common
	var duration time.Duration
	fs := flag.NewFlagSet("lab smoke", flag.ContinueOnError)
	env := envOf(lookup)
	c.flags(fs, env, "products_e2e", 10000, 200)
	fs.DurationVar(&duration, "duration", 10*time.Second, "length of the read load")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	root, err := lab.ModuleRoot()
	if err != nil {
		return err
	}
	logDir, err := os.MkdirTemp("", "lab-smoke-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(logDir)
	s, err := startService(ctx, c, "smoke", logDir)
	if err != nil {
		return err
	}
	defer s.stop()
	crossed, err := lab.RunK6(ctx, lab.K6{Bin: c.k6, Script: "loadtest/smoke.js", Dir: root, Log: filepath.Join(logDir, "k6.log"),
		Env: []string{"BASE_URL=" + s.Base, "ADMIN_TOKEN=" + s.token, fmt.Sprintf("PRODUCTS=%d", c.products),
			fmt.Sprintf("RATE=%d", c.rate), "DURATION=" + duration.String()}}, duration+3*time.Minute)
	if err == nil && crossed {
		b, _ := os.ReadFile(filepath.Join(logDir, "k6.log"))
		err = fmt.Errorf("k6: a check failed or a threshold was crossed:\n%s", b)
	}
	if err != nil {
		return fmt.Errorf("%w\nlast lines of the service's log:\n%s", err, s.Tail(30))
	}
	if errs := errorLines(s.Log); len(errs) > 0 {
		return fmt.Errorf("the service logged errors:\n%s", strings.Join(errs[:min(len(errs), 10)], "\n"))
	}
	fmt.Println("smoke: passed")
	return nil
}

// errorLines returns the lines of the log at path at level error.
func errorLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return []string{"read the service's log: " + err.Error()}
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `"level":"error"`) {
			out = append(out, line)
		}
	}
	return out
}
