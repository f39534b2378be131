package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// spread is the median of a figure over the rounds and its range.
type spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// summarize returns the median, min and max of vs (zero for none).
func summarize(vs []float64) spread {
	if len(vs) == 0 {
		return spread{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{Median: m, Min: s[0], Max: s[len(s)-1]}
}

// row is one target over every round.
type row struct {
	Target    string  `json:"target"`
	Runs      int     `json:"runs"`
	RPS       spread  `json:"rps"`
	CPUus     spread  `json:"cpu_us_per_request"`
	P99ms     spread  `json:"p99_ms"`
	TargetCPU spread  `json:"target_cpu_cores"`
	WrkCPU    spread  `json:"wrk_cpu_cores"`
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
}

// rows summarizes samples per target, in the order of names.
func rows(samples []sample, names []string) []row {
	out := make([]row, 0, len(names))
	for _, name := range names {
		r := row{Target: name}
		var rps, cpu, p99, tcpu, wcpu []float64
		for _, s := range samples {
			if s.Target != name {
				continue
			}
			r.Runs++
			r.Requests += s.Requests
			r.Errors += s.Errors
			rps, cpu, p99 = append(rps, s.RPS), append(cpu, s.CPUus), append(p99, s.P99ms)
			tcpu, wcpu = append(tcpu, s.TargetCPU), append(wcpu, s.WrkCPU)
		}
		r.RPS, r.CPUus, r.P99ms = summarize(rps), summarize(cpu), summarize(p99)
		r.TargetCPU, r.WrkCPU = summarize(tcpu), summarize(wcpu)
		if r.Requests > 0 {
			r.ErrorRate = float64(r.Errors) / float64(r.Requests)
		}
		out = append(out, r)
	}
	return out
}

// ratio compares the medians of a target with those of a reference of the same run.
type ratio struct {
	Target string  `json:"target"`
	Ref    string  `json:"ref"`
	RPS    float64 `json:"rps"`             // target req/s ÷ reference req/s: below 1 is slower
	CPU    float64 `json:"cpu_per_request"` // target CPU/request ÷ reference's: above 1 costs more
	P99    float64 `json:"p99"`             // target p99 ÷ reference p99
}

// ratios computes, for each target of refs, its ratios against each of its references.
func ratios(rs []row, refs map[string][]string) []ratio {
	byName := map[string]row{}
	for _, r := range rs {
		byName[r.Target] = r
	}
	var out []ratio
	for _, r := range rs {
		for _, ref := range refs[r.Target] {
			b, ok := byName[ref]
			if !ok {
				continue
			}
			out = append(out, ratio{Target: r.Target, Ref: ref,
				RPS: div(r.RPS.Median, b.RPS.Median), CPU: div(r.CPUus.Median, b.CPUus.Median), P99: div(r.P99ms.Median, b.P99ms.Median)})
		}
	}
	return out
}

// div is a/b, or 0 when b is not positive.
func div(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// The figures a goal can bound.
const (
	metricRPS = "rps"             // at least Bound × the reference
	metricCPU = "cpu_per_request" // at most Bound × the reference
	metricP99 = "p99"             // at most Bound × the reference
)

// goal bounds the ratio of a target to a reference.
type goal struct {
	Target string  `json:"target"`
	Ref    string  `json:"ref"`
	Metric string  `json:"metric"`
	Bound  float64 `json:"bound"`
}

// outcome is a goal checked against a run.
type outcome struct {
	goal
	Ratio float64 `json:"ratio"`
	Met   bool    `json:"met"`
}

// check evaluates the goals whose target and reference were both measured.
func check(goals []goal, rs []ratio) []outcome {
	var out []outcome
	for _, g := range goals {
		i := slices.IndexFunc(rs, func(r ratio) bool { return r.Target == g.Target && r.Ref == g.Ref })
		if i < 0 {
			continue
		}
		o := outcome{goal: g}
		switch g.Metric {
		case metricRPS:
			o.Ratio, o.Met = rs[i].RPS, rs[i].RPS >= g.Bound
		case metricCPU:
			o.Ratio, o.Met = rs[i].CPU, rs[i].CPU > 0 && rs[i].CPU <= g.Bound
		case metricP99:
			o.Ratio, o.Met = rs[i].P99, rs[i].P99 > 0 && rs[i].P99 <= g.Bound
		}
		out = append(out, o)
	}
	return out
}

// String says the goal in words: "req/s ≥ 0.80× redis-get (ceiling)".
func (g goal) String() string {
	op, what := "≤", map[string]string{metricRPS: "req/s", metricCPU: "CPU/request", metricP99: "p99"}[g.Metric]
	if g.Metric == metricRPS {
		op = "≥"
	}
	return fmt.Sprintf("%s %s %.2f× %s", what, op, g.Bound, g.Ref)
}

// printReport writes a suite's table, its ratios and its goals.
func printReport(w io.Writer, suite string, rs []row, rats []ratio, outs []outcome) {
	fmt.Fprintf(w, "\n== %s: medians over the rounds, (min–max) ==\n", suite)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\treq/s\t(min–max)\tCPU µs/req\t(min–max)\tp99 ms\ttarget CPU\twrk CPU\terrors\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%.0f\t(%.0f–%.0f)\t%.1f\t(%.1f–%.1f)\t%.2f\t%.2f\t%.2f\t%.2f%%\t\n", r.Target,
			r.RPS.Median, r.RPS.Min, r.RPS.Max, r.CPUus.Median, r.CPUus.Min, r.CPUus.Max, r.P99ms.Median,
			r.TargetCPU.Median, r.WrkCPU.Median, 100*r.ErrorRate)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "(CPU columns are cores: CPU time over wall time; wrk CPU well under its -t threads means wrk had idle time, so the target set the pace)")
	if len(rats) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "target\tagainst\treq/s ×\tCPU/req ×\tp99 ×\t")
		for _, r := range rats {
			fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.2f\t%.2f\t\n", r.Target, r.Ref, r.RPS, r.CPU, r.P99)
		}
		_ = tw.Flush()
	}
	for _, o := range outs {
		verdict := "missed"
		if o.Met {
			verdict = "met"
		}
		fmt.Fprintf(w, "goal %s: %s — %.2f× — %s\n", o.Target, o.goal, o.Ratio, verdict)
	}
}

// failedTargets names the targets whose error rate is above limit.
func failedTargets(rs []row, limit float64) []string {
	var bad []string
	for _, r := range rs {
		if r.ErrorRate > limit || r.Requests == 0 {
			bad = append(bad, strings.TrimSpace(r.Target))
		}
	}
	return bad
}
