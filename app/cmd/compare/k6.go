package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

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
