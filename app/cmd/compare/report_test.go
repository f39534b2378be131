package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

func TestAggregate(t *testing.T) {
	key := cellKey{"consistency", "naive"}
	cells := []cell{
		{Key: key, Repeat: 1, Seconds: 10, K6: k6Summary{P99: ptr(200), StaleReads: ptr(0), ThresholdsOK: true, Writes: ptr(400)},
			Service: growth{DBLoads: map[string]float64{"miss": 100}}},
		{Key: key, Repeat: 2, Seconds: 10, Exit: lab.K6ThresholdsCrossed,
			K6: k6Summary{P99: ptr(300), StaleReads: ptr(2), Writes: ptr(398),
				Thresholds: []threshold{{Metric: "stale_reads", Expr: "count==0"}}},
			Service: growth{DBLoads: map[string]float64{"miss": 300}}},
		{Key: cellKey{"consistency", "protected"}, Repeat: 1},
	}
	got := aggregate(cells, key)
	want := summaryRow{
		preset: "naive", runs: 2,
		f:      figures{P99: ptr(250), DBLoadsPerS: 20, PathLoadsPerS: 20, StaleReads: ptr(2)},
		failed: []string{"stale_reads count==0"},
		extra:  ptr(399),
		causes: map[string]float64{"miss": 200},
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(summaryRow{})); d != "" {
		t.Errorf("aggregate (-want +got):\n%s", d)
	}
}

func TestTable(t *testing.T) {
	cells := matrixCells([]string{"breakdown"}, []string{"none", "naive", "protected"}, 1, 800)
	cells[0].K6.DBLoadsPerExpiry = ptr(625) // none: not shown
	cells[1].K6.DBLoadsPerExpiry = ptr(101)
	cells[2] = cell{Key: cells[2].Key, Repeat: 1, Err: "k6 run: exit status 107\nstack"}
	// Behind the edge the service saw 1,000 reads of 5,000; 40 loads: shield 1 − 40/5,000.
	edge := cell{Key: cellKey{"breakdown", edgeColumn}, Repeat: 1, Seconds: 10,
		K6:      k6Summary{ThresholdsOK: true, P50: ptr(0.5), P95: ptr(1), P99: ptr(3), DBLoadsPerExpiry: ptr(1)},
		Service: growth{DBLoads: map[string]float64{"miss": 40}, ProductReads: 1000},
		Edge:    &edgeStats{Preset: "protected", Reads: 5000, ByStatus: map[string]float64{"HIT": 3900, "STALE": 100, "MISS": 1000}}}
	cells = append(cells, edge)
	got := table(cells, "breakdown", []string{"none", "naive", "protected", "two-level", edgeColumn})
	want := "| preset | p50 ms | p95 ms | p99 ms | p99.9 ms | errors | DB loads/s | DB shield | L1 hit | Redis hit | edge hit | lock timeouts | stale reads | DB loads per expiry | thresholds |\n" +
		"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n" +
		"| none | 1.00 | 2.00 | 200 | – | 0.0 % | 0.1 | 100.0 % | – | – | – | 0 | – | – | ok |\n" +
		"| naive | 1.00 | 2.00 | 200 | – | 0.0 % | 80 | 84.0 % | – | – | – | 0 | – | 101 | ok |\n" +
		"| protected | | | | | | | | | | | | | | did not run: k6 run: exit status 107 |\n" +
		"| edge | 0.50 | 1.00 | 3.00 | – | 0.0 % | 4 | 99.2 % | – | – | 80.0 % | 0 | – | 1 | ok |\n"
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("table (-want +got):\n%s", d)
	}
}

func TestRenderReport(t *testing.T) {
	scen := []string{"read", "breakdown", "penetration"}
	pres := []string{"none", "naive", "protected"}
	cells := matrixCells(scen, pres, 2, 500)
	cells[0].Service.Redis.Error = 7
	cells[1].K6.Dropped = 3
	res := check(cells, scen, pres, 2, true)
	md := renderReport(reportInput{
		header: header{Date: "2026-01-02 03:04 UTC", Mode: "quick", Repeats: 2, Commit: "abc1234", Versions: "go1.26",
			Machine: "2 cores", Dataset: "100000 products", Service: "one instance", Settings: "RATE 500/s", Duration: "5m0s",
			Scenarios: []scenarioLine{{Name: "read", Title: "Zipf reads", Knobs: "DURATION=4s", WarmS: 10}}},
		cells: cells, scenarios: scen, presets: pres, chartDir: "compare-2026-01-02",
		charts: map[string][]string{"read": {"read.svg"}}, check: &res,
	})
	for _, want := range []string{
		"# Cache strategy comparison, 2026-01-02 03:04 UTC",
		"- **commit**: abc1234",
		"- **machine**: 2 cores",
		"## read\n\n`loadtest/read.js`: Zipf reads. Knobs: `DURATION=4s`; measured after 10s of unmeasured load.",
		"## breakdown", "## penetration",
		"![read](compare-2026-01-02/read.svg)",
		"- none: 7 Redis calls failed",
		"- naive: k6 could not start 3 requests on time",
		"## Repeatability", "spread: 9 of 9 cells within ±10 %",
		"## Checks", "check: passed",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	// One row per preset in each scenario's two tables, and one in the targets.
	if n := strings.Count(md, "\n| protected |"); n != 7 {
		t.Errorf("protected has %d rows, want 7 (two per scenario, one target row)", n)
	}
}

func TestProgressLine(t *testing.T) {
	c := matrixCells([]string{"consistency"}, []string{"naive"}, 1, 500)[0]
	c.K6.StaleReads = ptr(0)
	want := "r1 consistency × naive: p50 1.00 ms, p99 200 ms, errors 0.0 %, 50 DB loads/s, shield 90.0 %, 0 stale reads; thresholds ok"
	if got := progressLine(c); got != want {
		t.Errorf("progressLine = %q, want %q", got, want)
	}
	c.Err = "boom\ndetail"
	if got := progressLine(c); got != "r1 consistency × naive: ERROR boom" {
		t.Errorf("progressLine of a failed cell = %q", got)
	}
}

func TestWriteCharts(t *testing.T) {
	dir := t.TempDir()
	cells := matrixCells([]string{"read", "avalanche"}, []string{"none", "naive", "protected"}, 1, 500)
	for i := range cells {
		if cells[i].Key.Scenario == "avalanche" {
			cells[i].K6.WindowS = ptr(1)
			cells[i].K6.Windows.DBLoads = map[string]float64{"0000": 0, "0001": 5, "0002": 120, "0003": 40, "0050": 9}
		}
	}
	files, err := writeCharts(dir, cells, []string{"read", "avalanche"}, []string{"none", "naive", "protected"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"read": {"read.svg"}, "avalanche": {"avalanche.svg", "avalanche-timeline.svg"}}
	if d := cmp.Diff(want, files); d != "" {
		t.Errorf("charts (-want +got):\n%s", d)
	}
	for _, f := range []string{"read.svg", "avalanche.svg", "avalanche-timeline.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !strings.Contains(string(b), "<svg") {
			t.Errorf("%s is not an SVG (%v)", f, err)
		}
	}
}
