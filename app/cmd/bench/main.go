// Command bench is `make bench` and `make bench-telemetry`: what a product read costs in
// product-service beside a raw ceiling and a peer, measured with wrk (not the bottleneck: its own
// CPU share is printed) on the same machine, in the same run.
//
// It builds product-service and bench-baseline once, creates, migrates and seeds a bench database
// (ids 1..-products), then for each suite starts every target as its own process (own process
// group, killed if the harness dies) on a free 127.0.0.1 port with a clean environment, warms it
// so that every id is cached, and runs wrk against the targets round-robin, -rounds times. Around
// each run it reads the target's CPU time from /proc, so each run gives req/s, the target's CPU
// per request, wrk's p99 and wrk's own CPU. It prints a table per suite (medians, the min–max
// spread, ratios against the ceiling or baseline of the same run, goals met or missed) and writes
// results/bench-<suite>.json.
//
// Suites (-suites, comma-separated):
//
//   - hits: ceilings redis-get (net/http + one go-redis GET of the product's bytes) and map
//     (net/http + a Go map lookup), the peer (gin + GORM + go-redis/cache), and the service:
//     protected (Redis hit) with defaults (access log at info), protected at LOG_LEVEL=warn, and
//     two-level (L1 hit).
//   - uncached: the service with preset none against bench-baseline -mode sql (net/http + pgx
//     running the same statement).
//   - telemetry: two-level L1 hits with all telemetry off (LOG_LEVEL=warn), the access log at
//     info, + Loki shipping (a real Loki), + traces at 10 % and at 100 % (a real Jaeger, OTLP), +
//     profiling pushed to a local sink; CPU per request of each against all-off.
//
// -service-before PATH or -before-rev REV (built from a git worktree of that revision) adds the
// service targets again from an older binary, interleaved with the current ones.
//
// It fails when a target does not start or a run has more than 1 % errors or non-2xx answers;
// a missed goal is printed, not failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// The suites of -suites.
const (
	suiteHits      = "hits"
	suiteUncached  = "uncached"
	suiteTelemetry = "telemetry"
)

var allSuites = []string{suiteHits, suiteUncached, suiteTelemetry}

// options is the command line.
type options struct {
	suites        []string
	goCmd         string
	wrk           string
	wrkLib        string
	loki          string
	jaeger        string
	pgAdminURL    string
	dbName        string
	redisAddr     string
	redisTimeout  time.Duration
	products      int64
	duration      time.Duration
	rounds        int
	threads       int
	conns         int
	results       string
	serviceBefore string
	beforeRev     string
	quick         bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// parse reads the command line; -quick shortens every run (2 s, 1 round, 5000 products) unless
// those flags are given too.
func parse(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	tools := filepath.Join(os.Getenv("HOME"), ".cache", "product-service-lab", "tools")
	suites := fs.String("suites", "hits,uncached", "suites to run, comma-separated: "+strings.Join(allSuites, ", "))
	fs.StringVar(&o.goCmd, "go", "go", "go command")
	fs.StringVar(&o.wrk, "wrk", filepath.Join(tools, "debian", "wrk", "wrk"), "wrk binary (make tools)")
	fs.StringVar(&o.wrkLib, "wrk-lib", "", "LD_LIBRARY_PATH for wrk (default: lib beside -wrk)")
	fs.StringVar(&o.loki, "loki", filepath.Join(tools, "loki-v3.7.8", "loki"), "Loki binary, for the telemetry suite")
	fs.StringVar(&o.jaeger, "jaeger", filepath.Join(tools, "jaeger-v1.76.0", "jaeger"), "Jaeger v2 binary, for the telemetry suite")
	fs.StringVar(&o.pgAdminURL, "pg-admin-url", "postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"URL of a maintenance database; the bench database is created on its server")
	fs.StringVar(&o.dbName, "db-name", "products_bench", "bench database")
	fs.StringVar(&o.redisAddr, "redis-addr", "127.0.0.1:6379", "Redis of the caching targets; each uses a key prefix of its own, deleted at the end")
	fs.DurationVar(&o.redisTimeout, "redis-timeout", 0,
		"Redis timeout of the service (REDIS_TIMEOUT) and the baselines; default: theirs (50ms), 1s with -quick, where a busy machine trips 50ms")
	fs.Int64Var(&o.products, "products", 0, "products seeded and requested, ids 1..products (default 100000, 5000 with -quick)")
	fs.DurationVar(&o.duration, "duration", 0, "each wrk run (default 10s, 2s with -quick)")
	fs.IntVar(&o.rounds, "rounds", 0, "rounds over the targets; the report takes medians (default 3, 1 with -quick)")
	fs.IntVar(&o.threads, "threads", 2, "wrk threads (-t)")
	fs.IntVar(&o.conns, "conns", 32, "wrk connections (-c)")
	fs.StringVar(&o.results, "results", "results", "directory of the JSON results and the targets' logs")
	fs.StringVar(&o.serviceBefore, "service-before", "", "an older product-service binary whose service targets run beside the current ones")
	fs.StringVar(&o.beforeRev, "before-rev", "", "a git revision built (git worktree) as -service-before")
	fs.BoolVar(&o.quick, "quick", false, "short runs: 2s, 1 round, 5000 products")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.products = orDefault(o.products, 100_000, 5_000, o.quick)
	o.duration = orDefault(o.duration, 10*time.Second, 2*time.Second, o.quick)
	o.rounds = orDefault(o.rounds, 3, 1, o.quick)
	if o.quick && o.redisTimeout == 0 {
		o.redisTimeout = time.Second
	}
	if o.wrkLib == "" {
		o.wrkLib = filepath.Join(filepath.Dir(o.wrk), "lib")
	}
	var bad []string
	for _, s := range strings.Split(*suites, ",") {
		s = strings.TrimSpace(s)
		switch {
		case s == "":
		case !slices.Contains(allSuites, s):
			bad = append(bad, fmt.Sprintf("unknown suite %q", s))
		case !slices.Contains(o.suites, s):
			o.suites = append(o.suites, s)
		}
	}
	if len(o.suites) == 0 {
		bad = append(bad, "-suites names no suite")
	}
	if fs.NArg() > 0 {
		bad = append(bad, "unexpected arguments "+strings.Join(fs.Args(), " "))
	}
	if o.redisTimeout < 0 || o.products < 1 || o.duration < time.Second || o.rounds < 1 || o.threads < 1 || o.conns < o.threads {
		bad = append(bad, "-products, -rounds and -threads must be positive, -duration at least 1s, -conns at least -threads")
	}
	if o.serviceBefore != "" && o.beforeRev != "" {
		bad = append(bad, "give -service-before or -before-rev, not both")
	}
	if len(bad) > 0 {
		fs.Usage()
		return o, errors.New(strings.Join(bad, "; "))
	}
	return o, nil
}

// orDefault returns v, or def (quickDef when quick) when v is zero.
func orDefault[T int | int64 | time.Duration](v, def, quickDef T, quick bool) T {
	switch {
	case v != 0:
		return v
	case quick:
		return quickDef
	default:
		return def
	}
}

// run parses the command line, prepares the binaries and the database, and runs each suite.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	root, err := lab.ModuleRoot()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.results, 0o755); err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	if err := checkTool("wrk", o.wrk); err != nil {
		return err
	}
	if slices.Contains(o.suites, suiteTelemetry) {
		for name, bin := range map[string]string{"loki": o.loki, "jaeger": o.jaeger} {
			if err := checkTool(name, bin); err != nil {
				return err
			}
		}
	}
	tmp, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)

	env, err := prepare(ctx, o, root, tmp, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bench: %d CPUs shared by wrk, the targets, PostgreSQL and Redis; wrk -t%d -c%d -d%s, %d round(s), ids uniform in 1..%d\n",
		runtime.NumCPU(), o.threads, o.conns, o.duration, o.rounds, o.products)
	var failed []string
	for _, suite := range o.suites {
		bad, err := runSuite(ctx, env, suite, stdout)
		if err != nil {
			return fmt.Errorf("suite %s: %w", suite, err)
		}
		failed = append(failed, bad...)
	}
	if len(failed) > 0 {
		return fmt.Errorf("more than 1 %% errors or non-2xx answers in: %s (logs in %s)", strings.Join(failed, ", "), o.results)
	}
	return nil
}

// checkTool fails when bin is not an executable file.
func checkTool(name, bin string) error {
	if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s not found at %s: run 'make tools' (or pass -%s)", name, bin, name)
	}
	return nil
}
