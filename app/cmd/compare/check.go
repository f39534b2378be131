package main

import (
	"fmt"
	"slices"
	"strings"
)

// expectCrossed lists the cells whose thresholds are expected to be crossed, with why. The
// scripts pick thresholds by preset (loadtest/lib/thresholds.js), so only the edge's may: every
// other threshold should hold everywhere, and a crossed one fails the check.
var expectCrossed = map[cellKey]string{
	{"consistency", edgeColumn}: "the edge serves its copy for up to the service's max-age after a write " +
		"(stale reads), which the edge preset's stale_reads == 0 does not allow for",
}

// Edge against its preset on the read scenario: the edge may not cost the database more loads
// than the preset alone, within a tolerance for the run-to-run noise of a cold start.
const (
	edgeLoadsTolerance = 1.10
	edgeLoadsSlack     = 5
)

// moreLoads are the scenarios where naive must cost more database loads than protected: the
// breakdown lock and the Bloom filter / null caching are what protected adds.
var moreLoads = []string{"breakdown", "penetration"}

// checkLine is one verdict.
type checkLine struct {
	ok   bool
	text string
}

// checkResult is the verdicts of -check.
type checkResult struct{ lines []checkLine }

func (r *checkResult) add(ok bool, format string, args ...any) {
	r.lines = append(r.lines, checkLine{ok, fmt.Sprintf(format, args...)})
}

// ok reports whether every verdict passed.
func (r checkResult) ok() bool {
	for _, l := range r.lines {
		if !l.ok {
			return false
		}
	}
	return true
}

// text renders the verdicts, one a line, and the conclusion.
func (r checkResult) text() string {
	var b strings.Builder
	for _, l := range r.lines {
		mark := "ok  "
		if !l.ok {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "%s %s\n", mark, l.text)
	}
	if r.ok() {
		b.WriteString("check: passed\n")
	} else {
		b.WriteString("check: FAILED\n")
	}
	return b.String()
}

// check verifies the matrix: every cell ran, naive costs more database loads than protected where
// protection matters, and the thresholds held except where expectCrossed says otherwise. Without
// judgeLatency (quick cells) a cell that crossed latency bounds only is reported, not failed.
func check(cells []cell, scenarios, presets []string, repeats int, judgeLatency bool) checkResult {
	var r checkResult
	find := func(repeat int, key cellKey) *cell {
		for i := range cells {
			if cells[i].Repeat == repeat && cells[i].Key == key {
				return &cells[i]
			}
		}
		return nil
	}

	want, ran := repeats*len(scenarios)*len(presets), 0
	for rep := 1; rep <= repeats; rep++ {
		for _, s := range scenarios {
			for _, p := range presets {
				switch c := find(rep, cellKey{s, p}); {
				case c == nil:
					r.add(false, "cell %s (repeat %d) is missing", cellKey{s, p}, rep)
				case c.Err != "":
					r.add(false, "cell %s (repeat %d) did not run: %s", c.Key, rep, oneLine(c.Err))
				default:
					ran++
				}
			}
		}
	}
	if ran == want {
		r.add(true, "every cell ran: %d scenarios × %d presets × %d repeat(s) = %d", len(scenarios), len(presets), repeats, want)
	}

	for _, s := range moreLoads {
		if !slices.Contains(scenarios, s) || !slices.Contains(presets, "naive") || !slices.Contains(presets, "protected") {
			continue
		}
		for rep := 1; rep <= repeats; rep++ {
			naive, protected := find(rep, cellKey{s, "naive"}), find(rep, cellKey{s, "protected"})
			if naive == nil || protected == nil || naive.Err != "" || protected.Err != "" {
				r.add(false, "%s: naive and protected must both have run (repeat %d)", s, rep)
				continue
			}
			n, _ := naive.loads()
			p, _ := protected.loads()
			r.add(n > p, "%s: naive %.0f database loads %s protected %.0f (repeat %d)", s, n, map[bool]string{true: ">", false: "is not above"}[n > p], p, rep)
		}
	}

	r.checkEdge(find, scenarios, presets, repeats)
	r.checkScale(cells)
	r.checkClaims(cells)

	held, expected := 0, 0
	for _, c := range cells {
		if c.Err != "" {
			continue
		}
		why, crossExpected := expectCrossed[c.Key]
		crossed := !c.figures().ThresholdsOK
		switch {
		case crossExpected:
			expected++
			r.add(true, "%s (repeat %d): thresholds %s, as expected: %s", c.Key, c.Repeat, map[bool]string{true: "crossed", false: "held"}[crossed], why)
		case crossed && !judgeLatency && c.latencyOnly():
			r.add(true, "%s (repeat %d): latency bound crossed in a quick cell, reported, not judged: %s", c.Key, c.Repeat,
				strings.Join(c.failedThresholds(), ", "))
		case crossed:
			hint := ""
			if n := c.Service.Redis.Error; n > 0 {
				hint = fmt.Sprintf(" (%.0f Redis calls failed during the cell: timeouts or the open breaker)", n)
			}
			r.add(false, "%s (repeat %d): thresholds crossed: %s%s", c.Key, c.Repeat, strings.Join(c.failedThresholds(), ", "), hint)
		default:
			held++
		}
	}
	r.add(true, "thresholds held in %d cell(s) where they should (%d expected to cross)", held, expected)
	return r
}

// checkEdge verifies the edge column on the read scenario: its cache answered reads, and the
// database loads it cost are no more than those of its preset alone.
func (r *checkResult) checkEdge(find func(int, cellKey) *cell, scenarios, columns []string, repeats int) {
	if !slices.Contains(scenarios, "read") || !slices.Contains(columns, edgeColumn) {
		return
	}
	for rep := 1; rep <= repeats; rep++ {
		e := find(rep, cellKey{"read", edgeColumn})
		if e == nil || e.Err != "" || e.Edge == nil {
			r.add(false, "read: the edge must have run (repeat %d)", rep)
			continue
		}
		hit := e.Edge.hitRatio()
		r.add(hit != nil && *hit > 0, "read: the edge answered %s of %.0f product reads from its cache (repeat %d)", pct(hit), e.Edge.Reads, rep)
		preset := e.Edge.Preset
		alone := find(rep, cellKey{"read", preset})
		if alone == nil || alone.Err != "" {
			continue // the preset is not in this run's columns
		}
		el, _ := e.loads()
		pl, _ := alone.loads()
		ok := el <= pl*edgeLoadsTolerance+edgeLoadsSlack
		r.add(ok, "read: edge (%s behind nginx) %.0f database loads %s %s alone %.0f (repeat %d)", preset, el,
			map[bool]string{true: "≤", false: "above"}[ok], preset, pl, rep)
	}
}

// Scale-out targets: another replica drops its L1 copy within lagP99Target of a write (p99),
// and the breakdown lock holds across replicas: at most lockLoadsPerExpiry database loads of
// the hot key per expiry for the whole cluster (1 is the ideal; a waiter whose wait timed out
// loads once more).
const (
	lagP99Target       = 0.1
	lockLoadsPerExpiry = 2.0
)

// l1Presets are the presets with an L1 that pub/sub invalidates on every replica.
var l1Presets = []string{"two-level", "full", "xfetch", "tail"}

// Claims of the newer presets that hold on a loaded 2-core CI machine, at any replica count:
// their breakdown costs at most expiryLoads[preset] database loads per TTL expiry (the target is
// 1; a run's expiries are counted as floor(DURATION / HOT_TTL), a little off the real count), and
// fewer than maxErrorRate of their requests fail in any scenario. The latency targets are in the
// report's Targets section, not here.
var (
	expiryLoads  = map[string]float64{"tail": 1.5}
	errorPresets = []string{"xfetch", "tail"}
)

const maxErrorRate = 0.01

// checkClaims verifies what the presets claim: 0 stale reads on consistency wherever the script
// held the preset to it (its stale_reads count==0 threshold: lib/config.js claimsConsistency),
// the breakdown loads per expiry of expiryLoads, and the error rate of errorPresets.
func (r *checkResult) checkClaims(cells []cell) {
	for _, c := range cells {
		// The edge serves its copy for up to max-age after a write: expectCrossed says so.
		if c.Err != "" || c.Key.Preset == edgeColumn {
			continue
		}
		if c.Key.Scenario == "consistency" && claimsConsistency(c) {
			stale := 0.0
			if c.K6.StaleReads != nil {
				stale = *c.K6.StaleReads
			}
			r.add(c.K6.StaleReads != nil && stale == 0, "%s (repeat %d): %.0f stale reads (the preset claims consistency on %d replica(s))",
				c.Key, c.Repeat, stale, max(1, c.Replicas))
		}
		if bound, ok := expiryLoads[c.Key.Preset]; ok && c.Key.Scenario == "breakdown" {
			per := c.loadsPerExpiry()
			r.add(per != nil && *per <= bound, "%s (repeat %d): %s database loads per expiry over %d replica(s) (bound ≤ %.1f, target ≤ %.0f)",
				c.Key, c.Repeat, num(per), max(1, c.Replicas), bound, targetLoadsPerExpiry)
		}
		if slices.Contains(errorPresets, c.Key.Preset) {
			r.add(c.K6.FailedRate < maxErrorRate, "%s (repeat %d): errors %s (bound < %.0f %%)", c.Key, c.Repeat,
				pct(&c.K6.FailedRate), maxErrorRate*100)
		}
	}
}

// claimsConsistency reports whether the script held the cell's preset to 0 stale reads: its
// thresholds include stale_reads count==0 (lib/thresholds.js staleThreshold).
func claimsConsistency(c cell) bool {
	return slices.Contains(c.K6.Thresholds, threshold{Metric: "stale_reads", Expr: "count==0", OK: true}) ||
		slices.Contains(c.K6.Thresholds, threshold{Metric: "stale_reads", Expr: "count==0", OK: false})
}

// checkScale verifies the cells run on several replicas: pub/sub reached every other replica
// with each write, within the lag target, and the lock gave one load per expiry cluster-wide.
func (r *checkResult) checkScale(cells []cell) {
	for _, c := range cells {
		if c.Err != "" || c.Replicas <= 1 {
			continue
		}
		switch {
		case c.Key.Scenario == "consistency" && slices.Contains(l1Presets, c.Key.Preset):
			var writes float64
			if c.K6.Writes != nil {
				writes = *c.K6.Writes
			}
			want := writes * float64(c.Replicas-1)
			r.add(writes > 0 && c.Service.Lag.Count >= want,
				"%s (repeat %d): %.0f L1 invalidations seen by the other replicas for %.0f writes × %d other replicas",
				c.Key, c.Repeat, c.Service.Lag.Count, writes, c.Replicas-1)
			p99 := c.Service.Lag.quantile(0.99)
			r.add(p99 != nil && *p99 <= lagP99Target, "%s (repeat %d): L1 invalidation lag p99 %s ms (target ≤ %.0f ms)",
				c.Key, c.Repeat, msOfSeconds(p99), lagP99Target*1000)
		case kind(c.Key.Scenario) == "breakdown" && c.Key.Preset != "none" && c.Key.Preset != "naive" && c.Key.Preset != edgeColumn:
			per := c.loadsPerExpiry()
			r.add(per != nil && *per <= lockLoadsPerExpiry, "%s (repeat %d): %s database loads per expiry over %d replicas (target ≤ %.0f)",
				c.Key, c.Repeat, num(per), c.Replicas, lockLoadsPerExpiry)
		}
	}
}
