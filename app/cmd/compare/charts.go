package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// writeCharts draws, for each scenario, its latency percentiles and database loads/s per preset
// (one SVG of two panels), and for avalanche the database loads over time per preset. It returns
// the files by scenario, relative to dir.
func writeCharts(dir string, cells []cell, scenarios, presets []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, s := range scenarios {
		rows := make([]summaryRow, 0, len(presets))
		for _, p := range presets {
			if r := aggregate(cells, cellKey{s, p}); r.runs > r.errored {
				rows = append(rows, r)
			}
		}
		if len(rows) == 0 {
			continue
		}
		lat, err := latencyPlot(s, rows)
		if err != nil {
			return nil, err
		}
		loads, err := loadsPlot(rows)
		if err != nil {
			return nil, err
		}
		name := s + ".svg"
		if err := savePanels(filepath.Join(dir, name), 24*vg.Centimeter, 9*vg.Centimeter, lat, loads); err != nil {
			return nil, err
		}
		out[s] = append(out[s], name)
		if s == "avalanche" {
			p, ok, err := timelinePlot(cells, s, presets)
			if err != nil {
				return nil, err
			}
			if ok {
				name := s + "-timeline.svg"
				if err := savePanels(filepath.Join(dir, name), 24*vg.Centimeter, 9*vg.Centimeter, p); err != nil {
					return nil, err
				}
				out[s] = append(out[s], name)
			}
		}
	}
	return out, nil
}

// latencyPlot draws p50, p95 and p99 per preset on a log scale.
func latencyPlot(scenario string, rows []summaryRow) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = scenario + ": latency (ms, log scale)"
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.preset
	}
	p.NominalX(names...)
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	lo, hi := math.Inf(1), 0.0
	for i, q := range []struct {
		name string
		get  func(figures) *float64
	}{
		{"p50", func(f figures) *float64 { return f.P50 }},
		{"p95", func(f figures) *float64 { return f.P95 }},
		{"p99", func(f figures) *float64 { return f.P99 }},
	} {
		xys := plotter.XYs{}
		for x, r := range rows {
			if v := q.get(r.f); v != nil {
				y := max(*v, 0.01) // a log scale has no 0
				xys = append(xys, plotter.XY{X: float64(x), Y: y})
				lo, hi = min(lo, y), max(hi, y)
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		line.Color, points.Color, points.Shape = plotutil.Color(i), plotutil.Color(i), plotutil.Shape(i)
		p.Add(line, points)
		p.Legend.Add(q.name, line, points)
	}
	if hi > 0 {
		// A decade of headroom keeps the legend, top right, clear of the lines.
		p.Y.Min, p.Y.Max = lo/2, hi*10
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p, nil
}

// loadsPlot draws database loads/s per preset as bars.
func loadsPlot(rows []summaryRow) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "database loads/s"
	values := make(plotter.Values, len(rows))
	names := make([]string, len(rows))
	for i, r := range rows {
		values[i], names[i] = r.f.DBLoadsPerS, r.preset
	}
	bars, err := plotter.NewBarChart(values, vg.Points(22))
	if err != nil {
		return nil, err
	}
	bars.Color = color.RGBA{R: 0x4c, G: 0x72, B: 0xb0, A: 0xff}
	bars.LineStyle.Width = 0
	p.Add(bars)
	p.NominalX(names...)
	p.Y.Min = 0
	// Each bar's value above it.
	labels, err := plotter.NewLabels(barLabels(values))
	if err != nil {
		return nil, err
	}
	p.Add(labels)
	if mx := maxOf(values); mx > 0 {
		p.Y.Max = mx * 1.15
	}
	return p, nil
}

func barLabels(values plotter.Values) plotter.XYLabels {
	l := plotter.XYLabels{XYs: make(plotter.XYs, len(values)), Labels: make([]string, len(values))}
	for i, v := range values {
		l.XYs[i] = plotter.XY{X: float64(i) - 0.15, Y: v}
		l.Labels[i] = fmt.Sprintf("%.1f", v)
	}
	return l
}

func maxOf(values plotter.Values) float64 {
	m := 0.0
	for _, v := range values {
		m = max(m, v)
	}
	return m
}

// timelinePlot draws a scenario's database loads/s per window over time, one line per preset
// but none (every read is a load: 500/s would flatten the others), from the first repeat (the k6
// probe's counts; X-Cache misses when there is no probe), over the load's duration.
func timelinePlot(cells []cell, scenario string, presets []string) (*plot.Plot, bool, error) {
	p := plot.New()
	p.Title.Text = scenario + ": database loads/s after the warm-up (none left out)"
	p.X.Label.Text, p.Y.Label.Text = "s", "loads/s"
	drawn, peak := false, 0.0
	for i, preset := range presets {
		if preset == "none" {
			continue
		}
		for _, c := range cells {
			if c.Repeat != 1 || c.Key != (cellKey{scenario, preset}) || c.Err != "" || c.K6.WindowS == nil {
				continue
			}
			w := c.K6.Windows.DBLoads
			if len(w) == 0 {
				w = c.K6.Windows.Misses
			}
			var xys plotter.XYs
			for _, pt := range timeline(w, *c.K6.WindowS) {
				if pt[0] < c.Seconds {
					xys = append(xys, plotter.XY{X: pt[0], Y: pt[1]})
					peak = max(peak, pt[1])
				}
			}
			if len(xys) == 0 {
				continue
			}
			line, err := plotter.NewLine(xys)
			if err != nil {
				return nil, false, err
			}
			line.Color, line.Width, line.Dashes = plotutil.Color(i), vg.Points(1.5), plotutil.Dashes(i)
			p.Add(line)
			p.Legend.Add(preset, line)
			drawn = true
		}
	}
	p.Legend.Top = true
	p.Y.Min, p.Y.Max = 0, peak*1.4 // headroom for the legend, top right
	p.Add(plotter.NewGrid())
	return p, drawn, nil
}

// savePanels writes plots side by side into one SVG.
func savePanels(path string, w, h vg.Length, plots ...*plot.Plot) error {
	c := vgsvg.New(w, h)
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Centimeter, PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3,
		PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3}
	canvases := plot.Align([][]*plot.Plot{plots}, tiles, dc)
	for i, p := range plots {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
