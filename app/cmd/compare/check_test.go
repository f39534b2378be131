package main

import (
	"strings"
	"testing"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// matrixCells builds a passing matrix: every cell ran, held its thresholds, and naive loads
// more than protected (loads per cell: naiveLoads for naive, 1 otherwise).
func matrixCells(scenarios, presets []string, repeats int, naiveLoads float64) []cell {
	var cells []cell
	for r := 1; r <= repeats; r++ {
		for _, s := range scenarios {
			for _, p := range presets {
				loads := 1.0
				if p == "naive" {
					loads = naiveLoads
				}
				cells = append(cells, cell{
					Key: cellKey{s, p}, Repeat: r, Seconds: 10,
					K6:      k6Summary{ThresholdsOK: true, P50: ptr(1), P95: ptr(2), P99: ptr(200)},
					Service: growth{DBLoads: map[string]float64{"miss": loads}, ProductReads: 5000},
				})
			}
		}
	}
	return cells
}

func TestCheck(t *testing.T) {
	scen := []string{"read", "breakdown", "penetration"}
	pres := []string{"none", "naive", "protected"}
	tests := []struct {
		name    string
		cells   func() []cell
		repeats int
		ok      bool
		want    string // a line the verdict must contain
	}{
		{
			name:    "a complete, passing matrix",
			cells:   func() []cell { return matrixCells(scen, pres, 1, 500) },
			repeats: 1, ok: true, want: "every cell ran: 3 scenarios × 3 presets × 1 repeat(s) = 9",
		},
		{
			name:    "naive must load more than protected",
			cells:   func() []cell { return matrixCells(scen, pres, 1, 1) },
			repeats: 1, ok: false, want: "FAIL breakdown: naive 1 database loads is not above protected 1 (repeat 1)",
		},
		{
			name: "a missing cell",
			cells: func() []cell {
				c := matrixCells(scen, pres, 1, 500)
				return c[1:]
			},
			repeats: 1, ok: false, want: "FAIL cell read × none (repeat 1) is missing",
		},
		{
			name: "a cell that did not run",
			cells: func() []cell {
				c := matrixCells(scen, pres, 1, 500)
				c[0].Err = "k6 run: exit status 107\nmore"
				return c
			},
			repeats: 1, ok: false, want: "FAIL cell read × none (repeat 1) did not run: k6 run: exit status 107",
		},
		{
			name: "a crossed threshold",
			cells: func() []cell {
				c := matrixCells(scen, pres, 1, 500)
				c[2].Exit, c[2].K6.ThresholdsOK = lab.K6ThresholdsCrossed, false
				c[2].K6.Thresholds = []threshold{{Metric: "http_req_duration{scenario:read}", Expr: "p(99)<750", OK: false}}
				return c
			},
			repeats: 1, ok: false, want: "FAIL read × protected (repeat 1): thresholds crossed: http_req_duration{scenario:read} p(99)<750",
		},
		{
			name:    "every repeat is checked",
			cells:   func() []cell { return matrixCells(scen, pres, 1, 500) },
			repeats: 2, ok: false, want: "FAIL cell read × none (repeat 2) is missing",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(tt.cells(), scen, pres, tt.repeats, true)
			if res.ok() != tt.ok {
				t.Errorf("ok = %v, want %v\n%s", res.ok(), tt.ok, res.text())
			}
			if !strings.Contains(res.text(), tt.want) {
				t.Errorf("verdict lacks %q:\n%s", tt.want, res.text())
			}
		})
	}
}

func TestCheckExpectedCrossing(t *testing.T) {
	key := cellKey{"spike", "none"}
	expectCrossed[key] = "the machine's limit"
	defer delete(expectCrossed, key)
	cells := matrixCells([]string{"spike"}, []string{"none"}, 1, 1)
	cells[0].K6.ThresholdsOK = false
	res := check(cells, []string{"spike"}, []string{"none"}, 1, true)
	if !res.ok() || !strings.Contains(res.text(), "thresholds crossed, as expected: the machine's limit") {
		t.Errorf("an expected crossing must pass and say why:\n%s", res.text())
	}
}

func TestCheckEdge(t *testing.T) {
	scen := []string{"read"}
	cols := []string{"protected", edgeColumn}
	cells := func(edgeLoads, hits float64) []cell {
		c := matrixCells(scen, cols, 1, 1)
		c[0].Service.DBLoads["miss"] = 100
		c[1].Service.DBLoads["miss"] = edgeLoads
		c[1].Edge = &edgeStats{Preset: "protected", Reads: 1000, ByStatus: map[string]float64{"HIT": hits, "MISS": 1000 - hits}}
		return c
	}
	tests := []struct {
		name  string
		cells []cell
		ok    bool
		want  string
	}{
		{"fewer loads through the edge", cells(60, 700), true, "ok   read: edge (protected behind nginx) 60 database loads ≤ protected alone 100 (repeat 1)"},
		{"within the tolerance", cells(112, 700), true, "ok   read: edge (protected behind nginx) 112 database loads ≤ protected alone 100"},
		{"more loads through the edge", cells(130, 700), false, "FAIL read: edge (protected behind nginx) 130 database loads above protected alone 100"},
		{"an edge that answered nothing", cells(60, 0), false, "FAIL read: the edge answered 0.0 % of 1000 product reads from its cache"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := check(tt.cells, scen, cols, 1, true)
			if res.ok() != tt.ok || !strings.Contains(res.text(), tt.want) {
				t.Errorf("ok = %v (want %v), verdict lacks %q:\n%s", res.ok(), tt.ok, tt.want, res.text())
			}
		})
	}
	if res := check(matrixCells(scen, cols, 1, 1), scen, cols, 1, true); res.ok() {
		t.Errorf("an edge cell without edge figures passed:\n%s", res.text())
	}
}

// In quick mode a cell that crossed only its latency bound is reported, not failed; an error rate
// crossed still fails, and with latency judged the latency bound fails too.
func TestCheckQuickLatency(t *testing.T) {
	tests := []struct {
		name         string
		crossed      []threshold
		judgeLatency bool
		ok           bool
	}{
		{"quick, latency only", []threshold{{Metric: "http_req_duration{scenario:read}", Expr: "p(99)<750"}}, false, true},
		{"quick, error rate too", []threshold{{Metric: "http_req_duration{scenario:read}", Expr: "p(99)<750"},
			{Metric: "http_req_failed{scenario:read}", Expr: "rate<0.01"}}, false, false},
		{"judged, latency only", []threshold{{Metric: "http_req_duration{scenario:read}", Expr: "p(99)<750"}}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cells := matrixCells([]string{"read"}, []string{"naive", "protected"}, 1, 1)
			cells[1].K6.ThresholdsOK = false
			cells[1].K6.Thresholds = tt.crossed
			res := check(cells, []string{"read"}, []string{"naive", "protected"}, 1, tt.judgeLatency)
			if res.ok() != tt.ok {
				t.Errorf("check ok = %v, want %v:\n%s", res.ok(), tt.ok, res.text())
			}
		})
	}
}
