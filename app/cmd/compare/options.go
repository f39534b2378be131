package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/product-service-lab/product-service/app/internal/cache"
)

// options is the command line.
type options struct {
	quick bool
	// seconds, when set, is how long the main load of each scenario that is only a steady load
	// lasts (read, read-write, breakdown, penetration, consistency), in full mode.
	seconds     int
	check       bool
	repeat      int
	scenarios   []string
	presets     []string
	rate        int
	dbLatency   time.Duration
	products    int
	seed        int
	zipfS       float64
	k6          string
	pgAdminURL  string
	dbName      string
	redisAddr   string
	results     string
	baseURL     string
	adminToken  string
	databaseURL string
	// edge adds the column "edge": each scenario once more through a native nginx edge
	// (observability/nginx-edge.conf, binary nginx) in front of the service at edgePreset.
	edge       bool
	edgePreset string
	nginx      string
	// replicas is how many service processes run, behind a native nginx balancer
	// (observability/nginx.conf) when more than one; the report is then scale-<date>.md.
	replicas int
	// throughput adds, after the matrix, the maximum read rate through the balancer with one
	// replica and with all of them (closed loop, throughputVUs virtual users).
	throughput    bool
	throughputVUs int
	// redisTimeout is the service's REDIS_TIMEOUT; zero leaves the service's default (50 ms).
	redisTimeout time.Duration
}

// parseOptions reads the flags, with defaults from the environment (lookup).
func parseOptions(args []string, lookup func(string) (string, bool)) (options, error) {
	env := func(name, def string) string {
		if v, ok := lookup(name); ok && v != "" {
			return v
		}
		return def
	}
	home, _ := os.UserHomeDir()
	var o options
	var scenarios, presets string
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.BoolVar(&o.quick, "quick", env("QUICK", "0") == "1", "a few seconds per cell, to prove the pipeline (env QUICK=1)")
	fs.IntVar(&o.seconds, "seconds", 0, "full mode: seconds of the main load of read, read-write, breakdown, penetration and consistency (0: each scenario's own, 15-20 s)")
	fs.BoolVar(&o.check, "check", false, "verify the report's cells, the naive > protected loads and the thresholds; exit 1 if not")
	fs.IntVar(&o.repeat, "repeat", 1, "run the whole matrix this many times and print the spread between runs")
	fs.StringVar(&scenarios, "scenarios", strings.Join(scenarioNames(false), ","),
		"scenarios to run, comma-separated; besides the default ones: "+strings.Join(optionalScenarios(), ", "))
	fs.StringVar(&presets, "presets", strings.Join(cache.PresetNames(), ","), "presets to run, comma-separated")
	fs.IntVar(&o.rate, "rate", 500, "requests per second of each scenario's main load")
	fs.DurationVar(&o.dbLatency, "db-latency", 200*time.Millisecond, "the service's DB_SIMULATED_LATENCY")
	fs.IntVar(&o.products, "products", atoiOr(env("PRODUCTS", ""), 100000), "products seeded and read (env PRODUCTS)")
	fs.IntVar(&o.seed, "seed", 1, "seed of k6's id generators")
	fs.Float64Var(&o.zipfS, "zipf-s", 1.1, "Zipf exponent of the read workloads")
	fs.StringVar(&o.k6, "k6", env("K6", filepath.Join(home, ".cache/product-service-lab/tools/k6-v1.8.1/k6")), "k6 binary (env K6)")
	fs.StringVar(&o.pgAdminURL, "pg-admin-url", env("PG_ADMIN_URL", "postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		"maintenance database URL, used to create -db-name (env PG_ADMIN_URL)")
	fs.StringVar(&o.dbName, "db-name", "products_compare", "database the service runs on, on the -pg-admin-url server")
	fs.StringVar(&o.redisAddr, "redis-addr", env("REDIS_ADDR", "127.0.0.1:6379"), "Redis host:port (env REDIS_ADDR)")
	fs.StringVar(&o.results, "results", env("RESULTS_DIR", "results"), "directory of the report (env RESULTS_DIR)")
	fs.StringVar(&o.baseURL, "base-url", "", "measure this running service instead of starting one")
	fs.StringVar(&o.adminToken, "admin-token", env("ADMIN_TOKEN", ""), "with -base-url: its admin token (env ADMIN_TOKEN)")
	fs.StringVar(&o.databaseURL, "database-url", "", "with -base-url: its database, read for the is_hot ids (optional)")
	fs.BoolVar(&o.edge, "edge", env("EDGE", "1") == "1", "run each scenario once more through the nginx edge cache: the column \"edge\" (env EDGE=0 turns it off)")
	fs.StringVar(&o.edgePreset, "edge-preset", "protected", "the service's preset behind the edge")
	fs.StringVar(&o.nginx, "nginx", env("NGINX", filepath.Join(home, ".cache/product-service-lab/tools/debian/nginx/nginx")),
		"nginx binary for -edge (env NGINX)")
	fs.IntVar(&o.replicas, "replicas", atoiOr(env("REPLICAS", ""), 1), "service processes behind a native nginx balancer (env REPLICAS); above 1 the report is scale-<date>.md")
	fs.BoolVar(&o.throughput, "throughput", false, "also measure the maximum read rate through the balancer with 1 replica and with -replicas")
	fs.IntVar(&o.throughputVUs, "throughput-vus", 64, "closed-loop virtual users of -throughput")
	fs.DurationVar(&o.redisTimeout, "redis-timeout", 0, "the service's REDIS_TIMEOUT (0: its default, 50ms); more replicas than cores starve Redis calls past 50 ms")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.scenarios = splitList(scenarios)
	o.presets = splitList(presets)
	return o, o.validate()
}

// validate checks the options together.
func (o options) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, s := range o.scenarios {
		if _, ok := findScenario(s); !ok {
			bad("-scenarios: unknown scenario %q (want %s)", s, strings.Join(scenarioNames(true), ", "))
		}
	}
	for _, p := range o.presets {
		if !slices.Contains(cache.PresetNames(), p) {
			bad("-presets: unknown preset %q (want %s)", p, strings.Join(cache.PresetNames(), ", "))
		}
	}
	if o.edge && !slices.Contains(cache.PresetNames(), o.edgePreset) {
		bad("-edge-preset: unknown preset %q (want %s)", o.edgePreset, strings.Join(cache.PresetNames(), ", "))
	}
	if len(o.scenarios) == 0 || len(o.presets) == 0 {
		bad("-scenarios and -presets must name at least one each")
	}
	if o.repeat < 1 || o.repeat > 5 {
		bad("-repeat must be 1..5, got %d", o.repeat)
	}
	if o.rate < 1 || o.rate > 20000 {
		bad("-rate must be 1..20000, got %d", o.rate)
	}
	if o.products < 10000 {
		bad("-products must be at least 10000 (avalanche warms 10000), got %d", o.products)
	}
	if o.zipfS <= 0 {
		bad("-zipf-s must be positive")
	}
	if o.dbLatency < 0 {
		bad("-db-latency must not be negative")
	}
	if o.redisTimeout < 0 {
		bad("-redis-timeout must not be negative")
	}
	if o.replicas < 1 || o.replicas > 5 {
		bad("-replicas must be 1..5, got %d", o.replicas)
	}
	if o.throughputVUs < 1 || o.throughputVUs > 1000 {
		bad("-throughput-vus must be 1..1000, got %d", o.throughputVUs)
	}
	if (o.replicas > 1 || o.throughput) && o.baseURL != "" {
		bad("-replicas and -throughput start their own replicas: not with -base-url")
	}
	if o.baseURL != "" {
		if u, err := url.Parse(o.baseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("-base-url must be http(s)://host:port, got %q", o.baseURL)
		}
		if o.adminToken == "" {
			bad("-base-url needs -admin-token (or ADMIN_TOKEN)")
		}
	}
	return errors.Join(errs...)
}

// edgeColumn names the edge's column (a row of each scenario's table), after the presets.
const edgeColumn = "edge"

// columns are the report's rows of each scenario: the presets, then the edge when it runs.
func (o options) columns() []string {
	if !o.edge {
		return o.presets
	}
	return append(slices.Clip(o.presets), edgeColumn)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func atoiOr(s string, def int) int {
	if v, err := strconv.Atoi(s); err == nil {
		return v
	}
	return def
}
