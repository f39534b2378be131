package main

import (
	"fmt"
	"math"
	"strings"
)

// repeatTolerance is the repeatability target: each run within ±10 % of the runs' mean.
const repeatTolerance = 0.10

// spreadMetric is one figure compared across repeats.
type spreadMetric struct {
	name string
	get  func(figures) *float64
	// floor is an absolute difference below which runs count as equal whatever their ratio (a
	// p50 of 0.4 against 0.5 ms, or 1 against 2 loads/s, is noise, not a 20 % change).
	floor float64
	// ratio marks shares (0..1): their deviation is in points, not relative.
	ratio bool
}

var spreadMetrics = []spreadMetric{
	{name: "p50", get: func(f figures) *float64 { return f.P50 }, floor: 1},
	{name: "p95", get: func(f figures) *float64 { return f.P95 }, floor: 1},
	{name: "p99", get: func(f figures) *float64 { return f.P99 }, floor: 1},
	{name: "DB loads/s", get: func(f figures) *float64 { return ptr(f.DBLoadsPerS) }, floor: 2},
	{name: "DB shield", get: func(f figures) *float64 { return f.Shield }, ratio: true},
	{name: "L1 hit", get: func(f figures) *float64 { return f.L1Hit }, ratio: true},
	{name: "Redis hit", get: func(f figures) *float64 { return f.RedisHit }, ratio: true},
	{name: "edge hit", get: func(f figures) *float64 { return f.EdgeHit }, ratio: true},
}

// cellSpread is how far a cell's repeats are from their mean, per figure: the largest
// |run − mean| ÷ mean (for shares, |run − mean| in points ÷ 100); nil when the figure is missing.
type cellSpread struct {
	key        cellKey
	deviations []*float64 // in spreadMetrics order
}

// worst returns the largest deviation and its figure's name.
func (c cellSpread) worst() (float64, string) {
	best, name := 0.0, ""
	for i, d := range c.deviations {
		if d != nil && *d >= best {
			best, name = *d, spreadMetrics[i].name
		}
	}
	return best, name
}

// deviation is the largest distance of a value from the values' mean, relative to the mean (or
// absolute for shares); 0 when every difference is under floor.
func deviation(values []float64, m spreadMetric) float64 {
	lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
	for _, v := range values {
		lo, hi, sum = min(lo, v), max(hi, v), sum+v
	}
	mean := sum / float64(len(values))
	if hi-lo <= m.floor {
		return 0
	}
	d := max(hi-mean, mean-lo)
	if m.ratio {
		return d
	}
	if mean == 0 {
		return math.Inf(1)
	}
	return d / mean
}

// spreads computes every cell's deviations across its repeats (cells that ran more than once).
func spreads(cells []cell, presets, scenarios []string) []cellSpread {
	var out []cellSpread
	for _, s := range scenarios {
		for _, p := range presets {
			key := cellKey{s, p}
			var runs []figures
			for _, c := range cells {
				if c.Key == key && c.Err == "" {
					runs = append(runs, c.figures())
				}
			}
			if len(runs) < 2 {
				continue
			}
			cs := cellSpread{key: key}
			for _, m := range spreadMetrics {
				var values []float64
				for _, f := range runs {
					if v := m.get(f); v != nil {
						values = append(values, *v)
					}
				}
				if len(values) < 2 {
					cs.deviations = append(cs.deviations, nil)
					continue
				}
				cs.deviations = append(cs.deviations, ptr(deviation(values, m)))
			}
			out = append(out, cs)
		}
	}
	return out
}

// renderSpread renders the deviations as a table and a verdict.
func renderSpread(rows []cellSpread) string {
	if len(rows) == 0 {
		return "spread: no cell ran twice\n"
	}
	var b strings.Builder
	b.WriteString("Spread between repeats: the largest distance of a run from the runs' mean, ± % of the mean " +
		"(shares: ± points); differences under 1 ms or 2 loads/s count as none.\n\n")
	cols := []string{"cell"}
	for _, m := range spreadMetrics {
		cols = append(cols, m.name)
	}
	cols = append(cols, "within ±10 %")
	fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
	within := 0
	worstAll, worstCell, worstName := 0.0, cellKey{}, ""
	for _, r := range rows {
		row := []string{r.key.String()}
		for i, d := range r.deviations {
			switch {
			case d == nil:
				row = append(row, "–")
			case spreadMetrics[i].ratio:
				row = append(row, fmt.Sprintf("±%.1f pt", *d*100))
			default:
				row = append(row, fmt.Sprintf("±%.1f %%", *d*100))
			}
		}
		w, name := r.worst()
		ok := w <= repeatTolerance
		if ok {
			within++
		}
		if w > worstAll {
			worstAll, worstCell, worstName = w, r.key, name
		}
		row = append(row, map[bool]string{true: "yes", false: "**no**"}[ok])
		fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
	}
	fmt.Fprintf(&b, "\nspread: %d of %d cells within ±10 %% on every figure", within, len(rows))
	if worstName != "" {
		fmt.Fprintf(&b, "; the largest: %s of %s, ±%.1f %%", worstName, worstCell, worstAll*100)
	}
	b.WriteString("\n")
	return b.String()
}
