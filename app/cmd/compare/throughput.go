package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// throughputPreset is the preset of the throughput runs: two-level, where a replica answers most
// reads from its own L1, so the figure is what the replicas themselves can serve.
const throughputPreset = "two-level"

// throughputRun is loadtest/throughput.js through a balancer over some of the replicas.
type throughputRun struct {
	Replicas int       `json:"replicas"`
	K6       k6Summary `json:"k6"`
	// PerReplica are the product reads each replica served, in replica order: the balancer's
	// spread.
	PerReplica []float64 `json:"per_replica"`
	Exit       int       `json:"exit"`
	Err        string    `json:"error,omitempty"`
}

// throughput measures the maximum read rate through a fresh balancer over the first replica
// alone, then over all of them, at throughputPreset, after the same warm load.
func (c *comparison) throughput(ctx context.Context) []throughputRun {
	var runs []throughputRun
	for _, n := range []int{1, len(c.replicas)} {
		r := throughputRun{Replicas: n}
		if err := c.throughputOnce(ctx, &r); err != nil {
			r.Err = err.Error()
		}
		fmt.Printf("throughput with %d replica(s): %s\n", n, throughputLine(r))
		runs = append(runs, r)
	}
	return runs
}

func (c *comparison) throughputOnce(ctx context.Context, r *throughputRun) error {
	upstreams := c.replicas[:r.Replicas]
	lb, err := c.startBalancer(ctx, upstreams, fmt.Sprintf("balancer-throughput-%d", r.Replicas))
	if err != nil {
		return err
	}
	defer lb.stop()
	if err := c.eachReplica(func(a *adminClient) error { _, err := a.setPreset(ctx, throughputPreset); return err }); err != nil {
		return err
	}
	if err := c.admins[0].reset(ctx); err != nil {
		return err
	}
	id := fmt.Sprintf("throughput-%d", r.Replicas)
	seconds := 20.0
	if c.o.quick {
		seconds = 4
	}
	// The replicas' L1s fill from the same Zipf reads first; the measured run starts warm.
	warm := c.k6Env(id+"-warm", throughputPreset, "none")
	warm["BASE_URL"], warm["DURATION"] = lb.base, fmt.Sprintf("%gs", seconds/2)
	if _, err := c.k6(ctx, "read", warm, seconds/2, id+"-warm"); err != nil {
		return err
	}
	before, err := c.perReplicaReads(ctx)
	if err != nil {
		return err
	}
	summaryPath, err := filepath.Abs(filepath.Join(c.outDir, "cells", id+".json"))
	if err != nil {
		return err
	}
	env := c.k6Env("compare-"+c.started.Format("20060102T150405")+"-"+id, throughputPreset, summaryPath)
	env["BASE_URL"], env["DURATION"], env["VUS"] = lb.base, fmt.Sprintf("%gs", seconds), fmt.Sprint(c.o.throughputVUs)
	if r.Exit, err = c.k6(ctx, "throughput", env, seconds, id); err != nil {
		return err
	}
	after, err := c.perReplicaReads(ctx)
	if err != nil {
		return err
	}
	for i := range after {
		r.PerReplica = append(r.PerReplica, after[i]-before[i])
	}
	r.K6, err = readK6Summary(summaryPath)
	return err
}

// perReplicaReads are the product reads each replica has served so far.
func (c *comparison) perReplicaReads(ctx context.Context) ([]float64, error) {
	out := make([]float64, len(c.replicas))
	for i, base := range c.replicas {
		snap, err := scrape(ctx, c.metrics, base)
		if err != nil {
			return nil, err
		}
		out[i] = diff(snapshot{}, snap).ProductReads
	}
	return out, nil
}

func throughputLine(r throughputRun) string {
	if r.Err != "" {
		return "ERROR " + oneLine(r.Err)
	}
	return fmt.Sprintf("%.0f reads/s, p50 %s ms, p99 %s ms, errors %s, per replica %s", r.K6.RPS, ms(r.K6.P50), ms(r.K6.P99),
		pct(&r.K6.FailedRate), spread(r.PerReplica))
}

// spread renders each replica's share of the reads.
func spread(perReplica []float64) string {
	var total float64
	for _, v := range perReplica {
		total += v
	}
	if total == 0 {
		return "–"
	}
	parts := make([]string, len(perReplica))
	for i, v := range perReplica {
		parts[i] = fmt.Sprintf("%.0f %%", 100*v/total)
	}
	return strings.Join(parts, " / ")
}

// scaleSection is the report's part on what scaling out costs the cache: the L1 invalidation
// lag other replicas saw, the database loads per hot-key expiry for the whole cluster, and the
// throughput with one replica and with all.
func scaleSection(cells []cell, runs []throughputRun, replicas int, vus int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Scale-out: %d replicas\n\n", replicas)
	b.WriteString("Every replica's counters are added up. L1 invalidation lag: `cache_l1_invalidation_lag_seconds` on the replicas " +
		"that did not make the write, from the write's pub/sub message to the L1 eviction (quantiles estimated within the " +
		"histogram's buckets, as `histogram_quantile` does); each write should reach every other replica once (twice with " +
		"double_delete), so samples ≈ writes × (replicas − 1). DB loads per expiry: every replica's loads of the hot " +
		"key (reads' misses and lock timeouts, background refreshes and revalidations; the script's setup load left out) " +
		"divided by its expiries.\n\n")
	b.WriteString("| scenario | preset | writes | lag samples | lag p50 ms | lag p99 ms | DB loads per expiry |\n|---|---|---|---|---|---|---|\n")
	for _, c := range cells {
		breakdown := kind(c.Key.Scenario) == "breakdown"
		if c.Err != "" || (c.Service.Lag.Count == 0 && !breakdown) {
			continue
		}
		writes := "–"
		if c.K6.Writes != nil {
			writes = fmt.Sprintf("%.0f", *c.K6.Writes)
		}
		perEviction := "–"
		if breakdown {
			perEviction = num(c.loadsPerExpiry())
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %s | %s | %s |\n", c.Key.Scenario, c.Key.Preset, writes, c.Service.Lag.Count,
			msOfSeconds(c.Service.Lag.quantile(0.5)), msOfSeconds(c.Service.Lag.quantile(0.99)), perEviction)
	}
	if len(runs) > 0 {
		fmt.Fprintf(&b, "\nThroughput: `loadtest/throughput.js`, %d closed-loop VUs of Zipf reads at %s through a fresh native "+
			"nginx balancer (observability/nginx.conf) over the first replica, then over all; every process (k6, nginx, the "+
			"replicas, PostgreSQL, Redis) shares this machine's cores.\n\n", vus, throughputPreset)
		b.WriteString("| replicas | reads/s | ratio | p50 ms | p99 ms | errors | reads per replica |\n|---|---|---|---|---|---|---|\n")
		var base float64
		for _, r := range runs {
			if r.Err != "" {
				fmt.Fprintf(&b, "| %d | did not run: %s | | | | | |\n", r.Replicas, oneLine(r.Err))
				continue
			}
			if base == 0 {
				base = r.K6.RPS
			}
			ratio := "–"
			if base > 0 {
				ratio = fmt.Sprintf("%.2f×", r.K6.RPS/base)
			}
			fmt.Fprintf(&b, "| %d | %.0f | %s | %s | %s | %s | %s |\n", r.Replicas, r.K6.RPS, ratio, ms(r.K6.P50), ms(r.K6.P99),
				pct(&r.K6.FailedRate), spread(r.PerReplica))
		}
	}
	return b.String()
}

func msOfSeconds(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprintf("%.2f", *v*1000)
}
