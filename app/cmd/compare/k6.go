package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"time"
)

// k6ThresholdsFailed is k6's exit status when a threshold was crossed.
const k6ThresholdsFailed = 99

// threshold is one k6 threshold and whether it held.
type threshold struct {
	Metric string `json:"metric"`
	Expr   string `json:"expr"`
	OK     bool   `json:"ok"`
}

// k6Summary is the "derived" block that loadtest/lib/summary.js writes: the figures of the
// script's main scenario.
type k6Summary struct {
	Scenario     string      `json:"scenario"`
	Testid       string      `json:"testid"`
	Requests     float64     `json:"requests"`
	RPS          float64     `json:"rps"`
	P50          *float64    `json:"p50_ms"`
	P95          *float64    `json:"p95_ms"`
	P99          *float64    `json:"p99_ms"`
	P999         *float64    `json:"p999_ms"`
	Max          *float64    `json:"max_ms"`
	FailedRate   float64     `json:"failed_rate"`
	Dropped      float64     `json:"dropped"`
	HitL1        *float64    `json:"hit_l1"`
	HitRedis     *float64    `json:"hit_redis"`
	Served       *float64    `json:"served"`
	Misses       float64     `json:"misses"`
	StaleReads   *float64    `json:"stale_reads"`
	SetupDBLoads float64     `json:"setup_db_loads"`
	Windows      k6Windows   `json:"windows"`
	WindowS      *float64    `json:"window_s"`
	Thresholds   []threshold `json:"thresholds"`
	ThresholdsOK bool        `json:"thresholds_ok"`
	// Scenario-specific figures.
	PeakDBLoadsPerS *float64 `json:"peak_db_loads_per_s"`
	PeakMissesPerS  *float64 `json:"peak_misses_per_s"`
	// Expiries of breakdown's hot key (EXPIRY=ttl: floor(DURATION / HOT_TTL); evict: the
	// evictions made), and the database loads per expiry the script counted (one instance).
	Expiries         *float64 `json:"expiries"`
	DBLoadsPerExpiry *float64 `json:"db_loads_per_expiry"`
	Writes           *float64 `json:"writes"`
	WriteErrors      *float64 `json:"write_errors"`
	P99Hold          *float64 `json:"p99_hold_ms"`
}

// k6Windows are per-window counts, keyed by the window's start second ("0005").
type k6Windows struct {
	Misses  map[string]float64 `json:"misses"`
	DBLoads map[string]float64 `json:"db_loads"`
}

// timeline returns a per-window series as (second, count per second) points in time order.
func timeline(w map[string]float64, widthS float64) [][2]float64 {
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][2]float64, 0, len(keys))
	for _, k := range keys {
		var at float64
		fmt.Sscan(k, &at)
		out = append(out, [2]float64{at, w[k] / widthS})
	}
	return out
}

// readK6Summary reads the derived block of a summary file.
func readK6Summary(path string) (k6Summary, error) {
	var doc struct {
		Derived *k6Summary `json:"derived"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return k6Summary{}, fmt.Errorf("read k6 summary: %w", err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return k6Summary{}, fmt.Errorf("parse k6 summary %s: %w", path, err)
	}
	if doc.Derived == nil {
		return k6Summary{}, fmt.Errorf("k6 summary %s has no derived block", path)
	}
	return *doc.Derived, nil
}

// k6Run is one run of a script.
type k6Run struct {
	k6, script string
	env        map[string]string
	logPath    string
	limit      time.Duration
}

// run runs k6 and returns its exit status: 0, or k6ThresholdsFailed when thresholds were
// crossed; any other ending is an error.
func (r k6Run) run(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.limit)
	defer cancel()
	env := []string{"K6_NO_USAGE_REPORT=true"}
	for k, v := range r.env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	log, err := os.Create(r.logPath)
	if err != nil {
		return 0, err
	}
	defer log.Close()
	// --address= turns k6's REST API off: no port to collide with another k6 on the machine.
	cmd := command(ctx, env, r.k6, "run", "--quiet", "--no-usage-report", "--no-color", "--address=", r.script)
	cmd.Stdout, cmd.Stderr = log, log
	err = cmd.Run()
	if ctx.Err() != nil {
		return 0, fmt.Errorf("k6 run %s: %w (limit %s; see %s)", r.script, ctx.Err(), r.limit, r.logPath)
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == k6ThresholdsFailed {
		return k6ThresholdsFailed, nil
	}
	if err != nil {
		return 0, fmt.Errorf("k6 run %s: %w; last lines of %s:\n%s", r.script, err, r.logPath, tail(r.logPath, 15))
	}
	return 0, nil
}
