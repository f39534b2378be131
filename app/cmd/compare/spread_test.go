package main

import (
	"math"
	"strings"
	"testing"
)

func TestDeviation(t *testing.T) {
	latency := spreadMetrics[2] // p99: relative, floor 1 ms
	share := spreadMetrics[4]   // DB shield: points
	tests := []struct {
		name   string
		values []float64
		m      spreadMetric
		want   float64
	}{
		{"equal runs", []float64{200, 200}, latency, 0},
		{"±5 % around the mean", []float64{190, 210}, latency, 0.05},
		{"three runs: the farthest from the mean", []float64{100, 100, 130}, latency, 20.0 / 110},
		{"under the floor is noise", []float64{0.4, 1.2}, latency, 0},
		{"shares in points", []float64{0.90, 0.94}, share, 0.02},
		{"a zero mean above the floor", []float64{-5, 5}, latency, math.Inf(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := deviation(tt.values, tt.m); math.Abs(got-tt.want) > 1e-9 && !(math.IsInf(got, 1) && math.IsInf(tt.want, 1)) {
				t.Errorf("deviation(%v) = %v, want %v", tt.values, got, tt.want)
			}
		})
	}
}

func TestSpreads(t *testing.T) {
	cells := matrixCells([]string{"read"}, []string{"naive", "protected"}, 2, 500)
	// Repeat 2 of read × naive: p99 25 % higher (200 → 250: ±11.1 % around 225).
	for i := range cells {
		if cells[i].Repeat == 2 && cells[i].Key.Preset == "naive" {
			cells[i].K6.P99 = ptr(250)
		}
	}
	rows := spreads(cells, []string{"naive", "protected"}, []string{"read"})
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want 2", len(rows))
	}
	if w, name := rows[0].worst(); name != "p99" || math.Abs(w-50.0/450) > 1e-9 {
		t.Errorf("worst of read × naive = %v %s, want p99 %v", w, name, 50.0/450)
	}
	out := renderSpread(rows)
	for _, want := range []string{"| read × naive | ±0.0 % | ±0.0 % | ±11.1 % |", "**no**", "spread: 1 of 2 cells within ±10 %",
		"the largest: p99 of read × naive, ±11.1 %"} {
		if !strings.Contains(out, want) {
			t.Errorf("renderSpread lacks %q:\n%s", want, out)
		}
	}
	if got := renderSpread(nil); !strings.Contains(got, "no cell ran twice") {
		t.Errorf("renderSpread(nil) = %q", got)
	}
}
