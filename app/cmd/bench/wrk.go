package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// wrkScript makes wrk ask for uniform ids over 1..PRODUCTS (its first argument; the second seeds
// the generator, per thread) and print, when done, one line that parseWrk reads: totals, errors
// by kind and latency percentiles in microseconds.
const wrkScript = `local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  products = tonumber(args[1])
  math.randomseed(tonumber(args[2]) + id * 7919)
end
function request()
  return wrk.format("GET", "/api/v1/products/" .. math.random(products))
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`

// wrkResult is what one wrk run reports (the BENCH line of wrkScript).
type wrkResult struct {
	Requests   int64 `json:"requests"`
	DurationUS int64 `json:"duration_us"`
	Bytes      int64 `json:"bytes"`
	Connect    int64 `json:"connect"`
	Read       int64 `json:"read"`
	Write      int64 `json:"write"`
	Status     int64 `json:"status"` // answers with a status of 400 or more
	Timeout    int64 `json:"timeout"`
	P50US      int64 `json:"p50_us"`
	P99US      int64 `json:"p99_us"`
}

// Errors is every failed request: socket errors, timeouts and non-2xx/3xx answers.
func (r wrkResult) Errors() int64 { return r.Connect + r.Read + r.Write + r.Status + r.Timeout }

// parseWrk finds the BENCH line in wrk's output.
func parseWrk(out string) (wrkResult, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "BENCH ")
		if !ok {
			continue
		}
		var r wrkResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return r, fmt.Errorf("parse wrk summary %q: %w", line, err)
		}
		if r.DurationUS <= 0 {
			return r, fmt.Errorf("wrk summary %q: no duration", line)
		}
		return r, nil
	}
	return wrkResult{}, fmt.Errorf("no BENCH line in wrk's output: %q", lastLines(out, 5))
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// sample is one measured run of one target.
type sample struct {
	Round     int     `json:"round"`
	Target    string  `json:"target"`
	RPS       float64 `json:"rps"`
	CPUus     float64 `json:"cpu_us_per_request"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	TargetCPU float64 `json:"target_cpu_cores"` // the target's CPU time over the run's wall time
	WrkCPU    float64 `json:"wrk_cpu_cores"`    // wrk's
}

// newSample derives a sample from a wrk result, the target's CPU time during the run and wrk's
// own CPU time.
func newSample(round int, name string, r wrkResult, targetCPU, wrkCPU time.Duration) sample {
	secs := float64(r.DurationUS) / 1e6
	s := sample{Round: round, Target: name, Requests: r.Requests, Errors: r.Errors(),
		RPS: float64(r.Requests) / secs, P50ms: float64(r.P50US) / 1e3, P99ms: float64(r.P99US) / 1e3,
		TargetCPU: targetCPU.Seconds() / secs, WrkCPU: wrkCPU.Seconds() / secs}
	if r.Requests > 0 {
		s.CPUus = float64(targetCPU.Microseconds()) / float64(r.Requests)
	}
	return s
}

// runWrk loads t for the run's duration and returns the sample. The script lives in b.tmp.
func (b *bench) runWrk(ctx context.Context, t *target, round int, seed int64) (sample, error) {
	script := filepath.Join(b.tmp, "ids.lua")
	if _, err := os.Stat(script); err != nil {
		if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
			return sample{}, fmt.Errorf("write the wrk script: %w", err)
		}
	}
	log := filepath.Join(b.tmp, "wrk.out")
	spec := lab.Spec{Name: "wrk", Bin: b.o.wrk, Log: log, Env: lab.CleanEnv("LD_LIBRARY_PATH=" + b.o.wrkLib),
		Args: []string{"-t" + strconv.Itoa(b.o.threads), "-c" + strconv.Itoa(b.o.conns), "-d" + wrkDuration(b.o.duration),
			"--latency", "-s", script, t.url, "--", strconv.FormatInt(b.o.products, 10), strconv.FormatInt(seed, 10)}}
	before, err := lab.CPUTime(t.proc.Pid())
	if err != nil {
		return sample{}, err
	}
	p, err := lab.Start(spec)
	if err != nil {
		return sample{}, err
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		_ = p.Stop()
		return sample{}, ctx.Err()
	case <-time.After(b.o.duration + time.Minute):
		_ = p.Stop()
		return sample{}, fmt.Errorf("wrk against %s did not end within a minute of its duration", t.name)
	}
	after, err := lab.CPUTime(t.proc.Pid())
	if err != nil {
		return sample{}, fmt.Errorf("target %s: %w (did it exit?)", t.name, err)
	}
	out, err := os.ReadFile(log)
	if err != nil {
		return sample{}, fmt.Errorf("wrk output: %w", err)
	}
	if err := p.Err(); err != nil {
		return sample{}, fmt.Errorf("wrk against %s: %w: %s", t.name, err, lastLines(string(out), 5))
	}
	r, err := parseWrk(string(out))
	if err != nil {
		return sample{}, err
	}
	st := p.State()
	return newSample(round, t.name, r, after-before, st.UserTime()+st.SystemTime()), nil
}

// wrkDuration writes d as wrk's -d wants it: whole seconds.
func wrkDuration(d time.Duration) string {
	return strconv.Itoa(max(1, int(d.Round(time.Second).Seconds()))) + "s"
}
