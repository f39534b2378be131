package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
)

// maxErrorRate is the share of failed requests above which a run fails the command.
const maxErrorRate = 0.01

// warmWorkers is how many reads the warm-up pass sends at once.
const warmWorkers = 16

// runSuite starts the suite's targets, warms them, runs the rounds, prints the report and writes
// results/bench-<suite>.json. It returns the targets with too many errors.
func runSuite(ctx context.Context, b *bench, suite string, stdout io.Writer) ([]string, error) {
	p, err := b.planSuite(ctx, suite, stdout)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	targets := p.targets
	defer func() {
		var prefixes []string
		for i := range targets {
			if targets[i].proc != nil {
				if err := targets[i].proc.Stop(); err != nil {
					fmt.Fprintln(stdout, "bench:", err)
				}
			}
			if targets[i].prefix != "" {
				prefixes = append(prefixes, targets[i].prefix)
			}
		}
		b.deleteKeys(prefixes, stdout)
	}()

	fmt.Fprintf(stdout, "\nbench: suite %s: starting %d targets\n", suite, len(targets))
	for i := range targets {
		if err := b.start(ctx, &targets[i], suite); err != nil {
			return nil, err
		}
	}
	if err := b.compareBodies(ctx, targets, stdout); err != nil {
		return nil, err
	}
	for i := range targets {
		if targets[i].warm {
			if err := b.warm(ctx, &targets[i], stdout); err != nil {
				return nil, err
			}
		}
	}

	var samples []sample
	for r := 1; r <= b.o.rounds; r++ {
		// Each round starts one target further, so no target always follows the same one.
		for k := range targets {
			t := &targets[(k+r-1)%len(targets)]
			s, err := b.runWrk(ctx, t, r, time.Now().UnixNano()%1_000_000)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(stdout, "bench: round %d %-36s %8.0f req/s %7.1f µs CPU/req  p99 %6.2f ms  errors %d\n",
				r, t.name, s.RPS, s.CPUus, s.P99ms, s.Errors)
			samples = append(samples, s)
		}
	}

	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.name
	}
	rs := rows(samples, names)
	rats := ratios(rs, p.refs)
	outs := check(p.goals, rats)
	printReport(stdout, suite, rs, rats, outs)
	path := filepath.Join(b.o.results, "bench-"+suite+".json")
	if err := b.writeJSON(path, suite, samples, rs, rats, outs); err != nil {
		return nil, err
	}
	fmt.Fprintln(stdout, "bench: wrote", path)
	return failedTargets(rs, maxErrorRate), nil
}

// report is results/bench-<suite>.json.
type report struct {
	When     string    `json:"when"`
	Commit   string    `json:"commit"`
	Suite    string    `json:"suite"`
	CPUs     int       `json:"cpus"`
	Products int64     `json:"products"`
	Duration string    `json:"duration"`
	Rounds   int       `json:"rounds"`
	Threads  int       `json:"wrk_threads"`
	Conns    int       `json:"wrk_connections"`
	Before   string    `json:"service_before,omitempty"`
	Runs     []sample  `json:"runs"`
	Targets  []row     `json:"targets"`
	Ratios   []ratio   `json:"ratios"`
	Goals    []outcome `json:"goals"`
}

// writeJSON writes a suite's report to path.
func (b *bench) writeJSON(path, suite string, samples []sample, rs []row, rats []ratio, outs []outcome) error {
	before := b.o.beforeRev
	if before == "" {
		before = b.o.serviceBefore
	}
	data, err := json.MarshalIndent(report{When: time.Now().UTC().Format(time.RFC3339), Commit: b.commit, Suite: suite,
		CPUs: runtime.NumCPU(), Products: b.o.products, Duration: b.o.duration.String(), Rounds: b.o.rounds,
		Threads: b.o.threads, Conns: b.o.conns, Before: before, Runs: samples, Targets: rs, Ratios: rats, Goals: outs}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// client reads from the targets outside wrk.
var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: warmWorkers}}

// get reads url and returns the answer's body and X-Cache header, failing on a status other than
// 200.
func get(ctx context.Context, url string) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return body, resp.Header.Get("X-Cache"), nil
}

// productURL is the URL of product id on base.
func productURL(base string, id int64) string {
	return base + "/api/v1/products/" + strconv.FormatInt(id, 10)
}

// warmPasses bounds the passes over every id that warm makes until the reads answer as expected.
const warmPasses = 3

// warm reads every id through t, again while fewer than 95 of 100 sampled ids answer t.expect
// (a Redis call that timed out on a busy machine leaves the id uncached), at most warmPasses
// times, and prints what the sample saw; it warns when the target's reads are still not hits.
func (b *bench) warm(ctx context.Context, t *target, stdout io.Writer) error {
	for pass := 1; ; pass++ {
		start := time.Now()
		failed, err := readAll(ctx, t.url, b.o.products)
		if err != nil {
			return fmt.Errorf("warm %s: %w", t.name, err)
		}
		counts := xCacheSample(ctx, t.url, b.o.products)
		fmt.Fprintf(stdout, "bench: warmed %s (%d ids in %s, %d failed)%s\n", t.name, b.o.products,
			time.Since(start).Round(100*time.Millisecond), failed, formatCounts(counts))
		if t.expect == "" || counts[t.expect] >= 95 {
			return nil
		}
		if pass == warmPasses {
			fmt.Fprintf(stdout, "bench: warning: %s still answers other than %s after %d passes: its figures do not measure hits (see its log)\n",
				t.name, t.expect, warmPasses)
			return nil
		}
	}
}

// readAll reads every product 1..products once, warmWorkers at a time, and returns how many
// reads failed (a busy service may shed some; the next pass or the run shows whether that lasts).
// It fails only when ctx ends.
func readAll(ctx context.Context, base string, products int64) (int64, error) {
	var failed atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(warmWorkers)
	for id := int64(1); id <= products; id++ {
		g.Go(func() error {
			if _, _, err := get(gctx, productURL(base, id)); err != nil {
				failed.Add(1)
			}
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return failed.Load(), err
	}
	return failed.Load(), nil
}

// xCacheSample reads 100 ids spread over 1..products and counts their X-Cache values ("error"
// for a failed read).
func xCacheSample(ctx context.Context, base string, products int64) map[string]int {
	counts := map[string]int{}
	for i := int64(0); i < 100; i++ {
		_, xc, err := get(ctx, productURL(base, 1+i*products/100))
		switch {
		case err != nil:
			counts["error"]++
		case xc != "":
			counts[xc]++
		}
	}
	return counts
}

// formatCounts writes X-Cache counts as "; X-Cache of 100 ids: HIT-L1 98, MISS 2", or "" for none.
func formatCounts(counts map[string]int) string {
	if len(counts) == 0 {
		return ""
	}
	parts := make([]string, 0, len(counts))
	for k, v := range counts {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(parts)
	return "; X-Cache of 100 ids: " + strings.Join(parts, ", ")
}

// compareBodies checks that every target sends the same body for the last product as the first
// target; a difference is printed (the comparison is then skewed), not failed.
func (b *bench) compareBodies(ctx context.Context, targets []target, stdout io.Writer) error {
	var first []byte
	for i, t := range targets {
		body, _, err := get(ctx, productURL(t.url, b.o.products))
		if err != nil {
			return fmt.Errorf("target %s does not serve product %d (is the database seeded?): %w", t.name, b.o.products, err)
		}
		if i == 0 {
			first = body
			continue
		}
		if !bytes.Equal(bytes.TrimSpace(body), bytes.TrimSpace(first)) {
			fmt.Fprintf(stdout, "bench: warning: %s sends another body than %s for product %d; the comparison is skewed:\n  %s\n  %s\n",
				t.name, targets[0].name, b.o.products, first, body)
		}
	}
	return nil
}

// deleteKeys deletes every Redis key under the prefixes (SCAN + UNLINK), the run's only keys.
func (b *bench) deleteKeys(prefixes []string, stdout io.Writer) {
	if len(prefixes) == 0 {
		return
	}
	rdb := redis.NewClient(&redis.Options{Addr: b.o.redisAddr})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var n int
	for _, prefix := range prefixes {
		iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		var batch []string
		flush := func() {
			if len(batch) > 0 {
				if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
					fmt.Fprintf(stdout, "bench: could not delete keys %s:*: %v\n", prefix, err)
				}
				n += len(batch)
				batch = batch[:0]
			}
		}
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == 1000 {
				flush()
			}
		}
		flush()
		if err := iter.Err(); err != nil {
			fmt.Fprintf(stdout, "bench: could not list keys %s:*: %v\n", prefix, err)
		}
	}
	fmt.Fprintf(stdout, "bench: deleted %d Redis keys of the run (%s-*)\n", n, b.runID)
}
