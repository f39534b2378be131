package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    wrkResult
		wantErr bool
	}{
		{"wrk output with the summary line", `Running 10s test @ http://127.0.0.1:40001
  2 threads and 32 connections
  Latency Distribution
     50%    1.10ms
     99%    6.20ms
  225850 requests in 10.00s, 180.00MB read
  Non-2xx or 3xx responses: 3
Requests/sec:  22585.00
BENCH {"requests":225850,"duration_us":10000123,"bytes":188743680,"connect":0,"read":1,"write":0,"status":3,"timeout":2,"p50_us":1100,"p99_us":6200}
`, wrkResult{Requests: 225850, DurationUS: 10000123, Bytes: 188743680, Read: 1, Status: 3, Timeout: 2, P50US: 1100, P99US: 6200}, false},
		{"no summary line", "Running 10s test\nunable to connect to 127.0.0.1:1 Connection refused\n", wrkResult{}, true},
		{"broken summary line", "BENCH {\"requests\":\n", wrkResult{}, true},
		{"no duration", `BENCH {"requests":1,"duration_us":0}`, wrkResult{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseWrk error = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Fatalf("parseWrk = %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := (wrkResult{Connect: 1, Read: 2, Write: 3, Status: 4, Timeout: 5}).Errors(); got != 15 {
		t.Errorf("Errors = %d, want 15", got)
	}
}

func TestNewSample(t *testing.T) {
	r := wrkResult{Requests: 20_000, DurationUS: 2_000_000, Status: 10, P50US: 1500, P99US: 7000}
	got := newSample(2, "map", r, 3*time.Second, time.Second)
	want := sample{Round: 2, Target: "map", RPS: 10_000, CPUus: 150, P50ms: 1.5, P99ms: 7, Requests: 20_000,
		Errors: 10, TargetCPU: 1.5, WrkCPU: 0.5}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("newSample (-want +got):\n%s", diff)
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		in   []float64
		want spread
	}{
		{nil, spread{}},
		{[]float64{5}, spread{5, 5, 5}},
		{[]float64{3, 1, 2}, spread{2, 1, 3}},
		{[]float64{4, 1, 3, 2}, spread{2.5, 1, 4}},
	}
	for _, tt := range tests {
		if got := summarize(tt.in); got != tt.want {
			t.Errorf("summarize(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// samplesOf gives each target one sample per round with the figures given.
func samplesOf(figures map[string][][3]float64) []sample {
	var out []sample
	for name, runs := range figures {
		for i, f := range runs {
			out = append(out, sample{Round: i + 1, Target: name, RPS: f[0], CPUus: f[1], P99ms: f[2], Requests: 1000})
		}
	}
	return out
}

func TestRowsRatiosAndGoals(t *testing.T) {
	samples := samplesOf(map[string][][3]float64{
		"ceiling": {{20_000, 50, 6}, {22_000, 48, 6}, {21_000, 40, 8}},
		"service": {{10_000, 100, 9}, {17_000, 70, 6}, {16_000, 60, 12}},
	})
	for i := range samples {
		if samples[i].Target == "ceiling" && samples[i].Round == 1 {
			samples[i].Errors = 30 // 1 % of the target's 3000 requests
		}
	}
	rs := rows(samples, []string{"ceiling", "service"})
	wantRows := []row{
		{Target: "ceiling", Runs: 3, RPS: spread{21_000, 20_000, 22_000}, CPUus: spread{48, 40, 50}, P99ms: spread{6, 6, 8},
			Requests: 3000, Errors: 30, ErrorRate: 0.01},
		{Target: "service", Runs: 3, RPS: spread{16_000, 10_000, 17_000}, CPUus: spread{70, 60, 100}, P99ms: spread{9, 6, 12}, Requests: 3000},
	}
	if diff := cmp.Diff(wantRows, rs); diff != "" {
		t.Fatalf("rows (-want +got):\n%s", diff)
	}

	rats := ratios(rs, map[string][]string{"service": {"ceiling", "absent"}})
	wantRatios := []ratio{{Target: "service", Ref: "ceiling", RPS: 16_000.0 / 21_000, CPU: 70.0 / 48, P99: 1.5}}
	if diff := cmp.Diff(wantRatios, rats); diff != "" {
		t.Fatalf("ratios (-want +got):\n%s", diff)
	}

	goals := []goal{
		{Target: "service", Ref: "ceiling", Metric: metricRPS, Bound: 0.8},
		{Target: "service", Ref: "ceiling", Metric: metricRPS, Bound: 0.7},
		{Target: "service", Ref: "ceiling", Metric: metricCPU, Bound: 1.5},
		{Target: "service", Ref: "ceiling", Metric: metricP99, Bound: 1.5},
		{Target: "service", Ref: "absent", Metric: metricP99, Bound: 1.5},
	}
	var met []bool
	for _, o := range check(goals, rats) {
		met = append(met, o.Met)
	}
	if diff := cmp.Diff([]bool{false, true, true, true}, met); diff != "" {
		t.Fatalf("goals met (-want +got):\n%s", diff)
	}

	if got := failedTargets(rs, 0.005); !cmp.Equal(got, []string{"ceiling"}) {
		t.Errorf("failedTargets = %v", got)
	}
	if got := failedTargets(rs, maxErrorRate); len(got) != 0 {
		t.Errorf("failedTargets at exactly 1 %% = %v, want none", got)
	}

	var buf bytes.Buffer
	printReport(&buf, "hits", rs, rats, check(goals, rats))
	for _, want := range []string{"== hits", "service", "0.76", "req/s ≥ 0.80× ceiling", "missed", "met"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestSlugAndDurations(t *testing.T) {
	tests := []struct{ in, want string }{
		{"service protected, Redis hit", "service-protected-redis-hit"},
		{"+ traces 10 %", "traces-10"},
		{"peer: gin+GORM+go-redis/cache", "peer-gin-gorm-go-redis-cache"},
	}
	for _, tt := range tests {
		if got := slug(tt.in); got != tt.want {
			t.Errorf("slug(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := wrkDuration(1500 * time.Millisecond); got != "2s" {
		t.Errorf("wrkDuration(1.5s) = %q", got)
	}
	if got := uploadRate(2 * time.Second); got != "1s" {
		t.Errorf("uploadRate(2s) = %q", got)
	}
}

func TestParse(t *testing.T) {
	var buf bytes.Buffer
	o, err := parse([]string{"-quick", "-suites", "hits,telemetry,hits"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if o.products != 5000 || o.duration != 2*time.Second || o.rounds != 1 || o.redisTimeout != time.Second || !cmp.Equal(o.suites, []string{"hits", "telemetry"}) {
		t.Errorf("parse -quick = %+v", o)
	}
	o, err = parse([]string{"-rounds", "5"}, &buf)
	if err != nil || o.products != 100_000 || o.rounds != 5 || o.redisTimeout != 0 || !cmp.Equal(o.suites, []string{"hits", "uncached"}) {
		t.Errorf("parse defaults = %+v, %v", o, err)
	}
	for _, args := range [][]string{{"-suites", "nope"}, {"-suites", ""}, {"-duration", "10ms"}, {"-service-before", "a", "-before-rev", "b"}, {"extra"}} {
		if _, err := parse(args, &buf); err == nil {
			t.Errorf("parse(%q) succeeded", args)
		}
	}
}

func TestFormatCounts(t *testing.T) {
	if got := formatCounts(nil); got != "" {
		t.Errorf("formatCounts(nil) = %q", got)
	}
	if got, want := formatCounts(map[string]int{"MISS": 2, "HIT-L1": 98}), "; X-Cache of 100 ids: HIT-L1 98, MISS 2"; got != want {
		t.Errorf("formatCounts = %q, want %q", got, want)
	}
}
