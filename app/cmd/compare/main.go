// Command compare runs every k6 scenario of loadtest/ against every cache preset and writes a
// report of which strategy protects the database, at what latency: `make compare`.
//
// For each repeat, scenario (read, read-write, breakdown, avalanche, penetration, consistency,
// spike, soak; breakdown-evict when named) and preset (none, naive, protected, two-level, full,
// xfetch, tail), one cell: wait until no warm-up runs, empty the namespace (its keys, the
// popularity set too, then POST …/reset for every L1), read Redis's used_memory, switch the
// preset (PUT /api/v1/admin/cache) and, where the preset warms up, run its warm-up (POST
// …/warmup on each replica, until none runs: timed, its database loads counted), for read.js run an
// unmeasured warm load, scrape /metrics, run the scenario's script at -rate for its fixed time,
// scrape /metrics and used_memory again. The cell keeps k6's summary (latency percentiles up to
// p99.9, errors, X-Cache shares, stale reads, thresholds) and the growth of the service's counters
// (database loads by cause, L1 and Redis lookups, stale answers and their age, lock outcomes).
//
// It builds product-service, creates the database -db-name when missing (migrate, then seed
// -products with the default seed: a fixed dataset), and starts one instance on a free
// 127.0.0.1 port with a clean environment: DB_SIMULATED_LATENCY=-db-latency, a CACHE_NAMESPACE of
// its own, a random ADMIN_TOKEN. Everything it starts runs in a process group it stops on exit or
// signal; every step has a time limit; its Redis keys are deleted at the end (SCAN + UNLINK of its
// namespace only). With -base-url it measures a running service instead (-admin-token; the
// database is then only read, for the is_hot ids, with -database-url).
//
// It writes -results/compare-<date>.md (the header: commit, versions, machine, dataset and
// settings; two tables per scenario: its figures, and what each preset spent on them; the issue's
// targets met or not; the repeat spread), SVG charts in -results/compare-<date>/, and
// each cell's k6 summary under -results/compare-<date>/cells/.
//
// -edge (on by default; -edge=false or EDGE=0 turns it off) adds the column "edge" to every
// scenario: the -edge-preset preset (protected) with k6 reading through a fresh native nginx edge
// cache per cell (-nginx, from `make tools`), which runs observability/nginx-edge.conf with only
// its addresses substituted, in a temp prefix (edge.go). Its edge hit ratio comes from
// cache_status in the edge's JSON access log.
//
// -quick runs each cell for a few seconds (CI proves the pipeline with it); -check then verifies
// that every cell ran, that naive costs more database loads than protected on breakdown and
// penetration, that on read the edge answered reads from its cache and cost no more database loads
// than its preset alone (within 10 % + 5), that every threshold held where it should, that every
// preset that claims consistency served 0 stale reads, that tail's breakdown cost at most 1.5
// database loads per expiry, and that xfetch and tail failed under 1 % of requests, and exits 1
// otherwise. -repeat 2 runs the matrix twice and prints the spread of each figure between
// the runs.
//
// Usage:
//
//	go run ./app/cmd/compare [-quick] [-check] [-repeat N] [-scenarios a,b] [-presets a,b]
//	                         [-rate 500] [-db-latency 200ms] [-products 100000] [-seed 1] [-zipf-s 1.1]
//	                         [-k6 PATH] [-pg-admin-url URL] [-db-name products_compare]
//	                         [-redis-addr 127.0.0.1:6379] [-results results]
//	                         [-base-url URL -admin-token T [-database-url URL]]
//	                         [-edge=false] [-edge-preset protected] [-nginx PATH]
//
// Each flag may also come from the environment (QUICK=1, K6, PG_ADMIN_URL, REDIS_ADDR, PRODUCTS,
// RESULTS_DIR, EDGE, NGINX); a flag wins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.LookupEnv)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}
