package main

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// header is what the report records about the run.
type header struct {
	Date, Mode, Commit, Versions, Machine, Dataset, Service, Settings, Duration string
	Repeats                                                                     int
	Scenarios                                                                   []scenarioLine
}

// scenarioLine describes one scenario as it ran.
type scenarioLine struct {
	Name, Script, Title, Knobs string
	WarmS                      float64
}

// knobs renders a script's env as KEY=VALUE in order.
func knobs(env map[string]string) string {
	keys := slices.Sorted(maps.Keys(env))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + env[k]
	}
	return strings.Join(parts, " ")
}

// reportInput is everything the report shows.
type reportInput struct {
	header    header
	cells     []cell
	scenarios []string
	presets   []string
	charts    map[string][]string // scenario → chart files, relative to chartDir
	chartDir  string
	check     *checkResult
}

// summaryRow is one preset's figures in a scenario table: the mean over the repeats.
type summaryRow struct {
	preset        string
	runs, errored int
	errs          []string
	f             figures
	failed        []string // thresholds crossed, in any repeat
	extra         *float64
	// causes are the mean database loads of each cause over the cell.
	causes map[string]float64
}

// aggregate averages a cell's repeats: means of the figures, the highest stale-read count,
// thresholds held only if they held every time.
func aggregate(cells []cell, key cellKey) summaryRow {
	row := summaryRow{preset: key.Preset}
	var p50, p95, p99, p999, errRate, loads, shield, l1, redis, edgeHit, locks, extra []float64
	var path, background, stale, staleAge, warmS, warmLoads, redisMiB, redisGrowth, refills []float64
	row.f.ThresholdsOK = true
	row.causes = map[string]float64{}
	for _, c := range cells {
		if c.Key != key {
			continue
		}
		row.runs++
		if c.Err != "" {
			row.errored++
			row.errs = append(row.errs, c.Err)
			row.f.ThresholdsOK = false
			continue
		}
		f := c.figures()
		p50, p95, p99 = appendPtr(p50, f.P50), appendPtr(p95, f.P95), appendPtr(p99, f.P99)
		errRate, loads, locks = append(errRate, f.ErrorRate), append(loads, f.DBLoadsPerS), append(locks, f.LockTimeouts)
		shield, l1, redis = appendPtr(shield, f.Shield), appendPtr(l1, f.L1Hit), appendPtr(redis, f.RedisHit)
		edgeHit, p999 = appendPtr(edgeHit, f.EdgeHit), appendPtr(p999, f.P999)
		extra = appendPtr(extra, extraFigure(c))
		path, background = append(path, f.PathLoadsPerS), append(background, f.BackgroundLoadsPerS)
		stale, staleAge, refills = append(stale, f.StaleAnswers), appendPtr(staleAge, f.StaleAgeP99), append(refills, f.Refills)
		warmS, warmLoads = appendPtr(warmS, f.WarmupS), appendPtr(warmLoads, f.WarmupLoads)
		redisMiB, redisGrowth = appendPtr(redisMiB, f.RedisMiB), appendPtr(redisGrowth, f.RedisGrowthMiB)
		for cause, n := range c.causes() {
			row.causes[cause] += n
		}
		if f.StaleReads != nil && (row.f.StaleReads == nil || *f.StaleReads > *row.f.StaleReads) {
			v := *f.StaleReads
			row.f.StaleReads = &v
		}
		if !f.ThresholdsOK {
			row.f.ThresholdsOK = false
			for _, t := range c.failedThresholds() {
				if !slices.Contains(row.failed, t) {
					row.failed = append(row.failed, t)
				}
			}
		}
	}
	row.f.P50, row.f.P95, row.f.P99, row.f.P999 = mean(p50), mean(p95), mean(p99), mean(p999)
	row.f.StaleAgeP99, row.f.WarmupS, row.f.WarmupLoads = mean(staleAge), mean(warmS), mean(warmLoads)
	row.f.RedisMiB, row.f.RedisGrowthMiB = mean(redisMiB), mean(redisGrowth)
	row.f.PathLoadsPerS, row.f.BackgroundLoadsPerS = zeroIfNil(mean(path)), zeroIfNil(mean(background))
	row.f.StaleAnswers, row.f.Refills = zeroIfNil(mean(stale)), zeroIfNil(mean(refills))
	if ran := row.runs - row.errored; ran > 0 {
		for cause := range row.causes {
			row.causes[cause] /= float64(ran)
		}
	}
	row.f.Shield, row.f.L1Hit, row.f.RedisHit, row.f.EdgeHit = mean(shield), mean(l1), mean(redis), mean(edgeHit)
	row.extra = mean(extra)
	if m := mean(errRate); m != nil {
		row.f.ErrorRate = *m
	}
	if m := mean(loads); m != nil {
		row.f.DBLoadsPerS = *m
	}
	if m := mean(locks); m != nil {
		row.f.LockTimeouts = *m
	}
	return row
}

func zeroIfNil(v *float64) float64 {
	if v == nil {
		return 0
	}
	return *v
}

func appendPtr(s []float64, v *float64) []float64 {
	if v == nil || math.IsNaN(*v) {
		return s
	}
	return append(s, *v)
}

func mean(s []float64) *float64 {
	if len(s) == 0 {
		return nil
	}
	var t float64
	for _, v := range s {
		t += v
	}
	m := t / float64(len(s))
	return &m
}

// extraColumns name the one figure a scenario adds to its table.
var extraColumns = map[string]string{
	"breakdown":       "DB loads per expiry",
	"breakdown-evict": "DB loads per eviction",
	"avalanche":       "peak DB loads/s",
	"spike":           "p99 at peak ms",
	"consistency":     "writes",
	"read-write":      "writes",
}

// extraFigure is the cell's figure for its scenario's extra column.
func extraFigure(c cell) *float64 {
	switch c.Key.Scenario {
	case "breakdown", "breakdown-evict":
		if c.Key.Preset == "none" {
			return nil // every read is a load: expiries change nothing
		}
		return c.loadsPerExpiry()
	case "avalanche":
		if c.K6.PeakDBLoadsPerS != nil {
			return c.K6.PeakDBLoadsPerS
		}
		return c.K6.PeakMissesPerS
	case "spike":
		return c.K6.P99Hold
	case "consistency", "read-write":
		return c.K6.Writes
	}
	return nil
}

func ms(v *float64) string {
	if v == nil {
		return "–"
	}
	switch {
	case *v < 10:
		return fmt.Sprintf("%.2f", *v)
	case *v < 100:
		return fmt.Sprintf("%.1f", *v)
	}
	return fmt.Sprintf("%.0f", *v)
}

func pct(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf("%.1f %%", *v*100)
}

func num(v *float64) string {
	if v == nil {
		return "–"
	}
	if *v == math.Trunc(*v) || *v >= 100 {
		return fmt.Sprintf("%.0f", *v)
	}
	return fmt.Sprintf("%.1f", *v)
}

func ptr(v float64) *float64 { return &v }

// table renders one scenario's table.
func table(cells []cell, scenario string, presets []string) string {
	var b strings.Builder
	cols := []string{"preset", "p50 ms", "p95 ms", "p99 ms", "p99.9 ms", "errors", "DB loads/s", "DB shield", "L1 hit", "Redis hit", "edge hit", "lock timeouts", "stale reads"}
	extra, hasExtra := extraColumns[scenario]
	if hasExtra {
		cols = append(cols, extra)
	}
	cols = append(cols, "thresholds")
	fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
	for _, p := range presets {
		r := aggregate(cells, cellKey{scenario, p})
		if r.runs == 0 {
			continue
		}
		if r.errored == r.runs {
			fmt.Fprintf(&b, "| %s |%s did not run: %s |\n", p, strings.Repeat(" |", len(cols)-2), oneLine(r.errs[0]))
			continue
		}
		f := r.f
		row := []string{p, ms(f.P50), ms(f.P95), ms(f.P99), ms(f.P999), pct(&f.ErrorRate), num(&f.DBLoadsPerS), pct(f.Shield),
			pct(f.L1Hit), pct(f.RedisHit), pct(f.EdgeHit), num(&f.LockTimeouts), num(f.StaleReads)}
		if hasExtra {
			row = append(row, num(r.extra))
		}
		status := "ok"
		if !f.ThresholdsOK {
			status = "**crossed**: " + strings.Join(r.failed, ", ")
			if r.errored > 0 {
				status = fmt.Sprintf("**%d run(s) failed**", r.errored)
			}
		}
		row = append(row, status)
		fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
	}
	return b.String()
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.ReplaceAll(s, "|", "/")
}

// renderReport renders the markdown report.
func renderReport(in reportInput) string {
	h := in.header
	var b strings.Builder
	fmt.Fprintf(&b, "# Cache strategy comparison, %s\n\n", h.Date)
	fmt.Fprintf(&b, "Which cache preset protects the database, at what latency: every k6 scenario of `loadtest/` against every preset, "+
		"%s mode, %d repeat(s), %s in all.\n\n", h.Mode, h.Repeats, h.Duration)
	for _, kv := range [][2]string{
		{"commit", h.Commit}, {"versions", h.Versions}, {"machine", h.Machine}, {"dataset", h.Dataset},
		{"service", h.Service}, {"settings", h.Settings},
	} {
		fmt.Fprintf(&b, "- **%s**: %s\n", kv[0], kv[1])
	}
	b.WriteString("\nColumns: latency percentiles of the scenario's requests (k6); errors: share of failed requests; DB loads/s: " +
		"the service's `cache_db_loads_total` growth (every cause; a script's own warm-up excluded) over the load's duration; " +
		"DB shield: share of product reads that cost no database load (1 − loads caused by reads ÷ product reads); " +
		"L1/Redis hit: hits (a cached \"not found\" included) per lookup of that layer; edge hit (the row `edge` only: the " +
		"service at the edge preset with k6 reading through the native nginx edge cache, observability/nginx-edge.conf): " +
		"share of product reads the edge answered from its cache (HIT, STALE, UPDATING, or REVALIDATED after a 304), from " +
		"cache_status in its JSON access log, and its DB shield counts the reads it answered as reads without a load; lock timeouts: breakdown-lock waiters " +
		"that gave up and loaded themselves; stale reads: reads older than a version the reader had acknowledged or seen; " +
		"thresholds: the script's k6 thresholds for the preset (`loadtest/lib/thresholds.js`). " +
		"The second table of each scenario is what the preset spends: the database loads on the request path (" + strings.Join(readCauses, ", ") +
		") and in the background (" + strings.Join(backgroundCauses, ", ") + ") per second of load, each cause's count over the cell; " +
		"stale answers (`cache_requests_total{result=\"stale\"}`, both layers) and the p99 of how far past fresh-until they were " +
		"(`cache_stale_age_seconds`, estimated within its buckets); the preset's warm-up before the cell (switch, " +
		"POST /api/v1/admin/cache/warmup on each replica, until none runs: seconds and `cache_db_loads_total{cause=\"warmup\"}`); " +
		"the script's own setup loads (avalanche's warm reads, breakdown's first read) are left out of the miss count; " +
		"Redis `used_memory` (INFO memory, the whole server) after the cell and its growth from the emptied namespace at the cell's " +
		"start; refills: values writers stored after their commit (`cache_refills_total`).")
	if h.Repeats > 1 {
		b.WriteString(" Figures are means over the repeats; stale reads the highest count.")
	}
	b.WriteString("\n")
	for _, name := range in.scenarios {
		var line scenarioLine
		for _, l := range h.Scenarios {
			if l.Name == name {
				line = l
			}
		}
		if line.Script == "" {
			line.Script = name
		}
		fmt.Fprintf(&b, "\n## %s\n\n`loadtest/%s.js`: %s. Knobs: `%s`", name, line.Script, line.Title, line.Knobs)
		if line.WarmS > 0 {
			fmt.Fprintf(&b, "; measured after %gs of unmeasured load", line.WarmS)
		}
		b.WriteString(".\n\n")
		b.WriteString(table(in.cells, name, in.presets))
		b.WriteString("\n")
		b.WriteString(costTable(in.cells, name, in.presets))
		if n := notes(in.cells, name, in.presets); len(n) > 0 {
			b.WriteString("\n")
			for _, line := range n {
				fmt.Fprintf(&b, "- %s\n", line)
			}
		}
		if files := in.charts[name]; len(files) > 0 {
			b.WriteString("\n")
			for _, f := range files {
				fmt.Fprintf(&b, "![%s](%s/%s)\n", strings.TrimSuffix(f, ".svg"), in.chartDir, f)
			}
		}
	}
	if t := targets(in.cells, in.scenarios, in.presets); t != "" {
		b.WriteString("\n## Targets\n\n")
		b.WriteString(t)
	}
	if h.Repeats > 1 {
		b.WriteString("\n## Repeatability\n\n")
		b.WriteString(renderSpread(spreads(in.cells, in.presets, in.scenarios)))
	}
	if in.check != nil {
		b.WriteString("\n## Checks\n\n```\n")
		b.WriteString(in.check.text())
		b.WriteString("```\n")
	}
	return b.String()
}

// notes are what a scenario's table does not show but its figures depend on: Redis calls that
// failed, writes that gave up, and requests k6 could not start on time, summed over the repeats.
func notes(cells []cell, scenario string, presets []string) []string {
	var out []string
	for _, p := range presets {
		var redisErrors, dropped, writeErrors float64
		for _, c := range cells {
			if c.Key == (cellKey{scenario, p}) && c.Err == "" {
				redisErrors += c.Service.Redis.Error
				dropped += c.K6.Dropped
				if c.K6.WriteErrors != nil {
					writeErrors += *c.K6.WriteErrors
				}
			}
		}
		if redisErrors > 0 {
			out = append(out, fmt.Sprintf("%s: %.0f Redis calls failed (each waits up to REDIS_TIMEOUT, 50 ms; after 5 in a row "+
				"the circuit breaker opens: reads go to the database, and writes skip their invalidation)", p, redisErrors))
		}
		if writeErrors > 0 {
			out = append(out, fmt.Sprintf("%s: %.0f writes failed: 5 tries each answered 412 (the writer's If-Match came from "+
				"a read that kept returning an older version) or an error", p, writeErrors))
		}
		if dropped > 0 {
			out = append(out, fmt.Sprintf("%s: k6 could not start %.0f requests on time (dropped iterations: no free VU, "+
				"the service or the machine was at its limit)", p, dropped))
		}
	}
	return out
}

// progressLine is a cell's one-line result on the terminal.
func progressLine(c cell) string {
	name := fmt.Sprintf("r%d %s", c.Repeat, c.Key)
	if c.Err != "" {
		return fmt.Sprintf("%s: ERROR %s", name, oneLine(c.Err))
	}
	f := c.figures()
	status := "thresholds ok"
	if !f.ThresholdsOK {
		status = "thresholds crossed: " + strings.Join(c.failedThresholds(), ", ")
	}
	stale := ""
	if f.StaleReads != nil {
		stale = fmt.Sprintf(", %s stale reads", num(f.StaleReads))
	}
	return fmt.Sprintf("%s: p50 %s ms, p99 %s ms, errors %s, %s DB loads/s, shield %s%s; %s",
		name, ms(f.P50), ms(f.P99), pct(&f.ErrorRate), num(&f.DBLoadsPerS), pct(f.Shield), stale, status)
}
