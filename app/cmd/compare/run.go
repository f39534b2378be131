package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// comparison is one invocation: its settings, where it writes, and what it talks to.
type comparison struct {
	o      options
	root   string // the repository: loadtest/ lives there
	outDir string // results/compare-<date>/
	report string // results/compare-<date>.md
	tmp    string
	base   string // the service's URL: the balancer's with several replicas
	admin  *adminClient
	// replicas are the service processes' own URLs and admin clients (one when -replicas 1 or
	// -base-url): the admin calls and the scrapes go to each.
	replicas  []string
	admins    []*adminClient
	rdb       *redis.Client // nil when measuring a service it did not start
	ns        string        // the service's CACHE_NAMESPACE, when it started it
	hotFile   string        // the is_hot ids, or "" when unknown
	hotCount  int
	machine   machine
	pgVersion string
	started   time.Time
	metrics   *http.Client
}

// run parses the command line and runs the comparison.
func run(ctx context.Context, args []string, lookup func(string) (string, bool)) (err error) {
	o, err := parseOptions(args, lookup)
	if err != nil {
		return err
	}
	c := &comparison{o: o, started: time.Now(), metrics: &http.Client{Timeout: 10 * time.Second}}
	if c.root, err = lab.ModuleRoot(); err != nil {
		return err
	}
	if _, err := os.Stat(o.k6); err != nil {
		return fmt.Errorf("k6 not found at %s: run 'make tools' or pass -k6 (%w)", o.k6, err)
	}
	if _, err := os.Stat(o.nginx); (o.edge || o.replicas > 1) && err != nil {
		return fmt.Errorf("nginx not found at %s: run 'make tools', pass -nginx, or -edge=false and -replicas 1 (%w)", o.nginx, err)
	}
	date := c.started.Format("2006-01-02")
	name := "compare-"
	if o.replicas > 1 {
		name = "scale-"
	}
	c.report = filepath.Join(o.results, name+date+".md")
	c.outDir = filepath.Join(o.results, name+date)
	for _, d := range []string{filepath.Join(c.outDir, "cells"), filepath.Join(c.outDir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if c.tmp, err = os.MkdirTemp("", "compare-"); err != nil {
		return err
	}
	defer os.RemoveAll(c.tmp)
	defer lab.RemoveServiceBinary()

	stop, err := c.startService(ctx)
	if stop != nil {
		defer stop()
	}
	if err != nil {
		return err
	}
	if err := c.checkPresets(ctx); err != nil {
		return err
	}
	c.machine = describe(ctx, c.root, o.k6, c.rdb)
	c.machine.PostgresVersion = c.pgVersion
	if o.edge || o.replicas > 1 {
		c.machine.NginxVersion = nginxVersion(ctx, o.nginx)
	}
	fmt.Printf("compare: %d scenario(s) × %d column(s) × %d repeat(s) at %d/s, DB latency %s, %s mode: about %s\n",
		len(o.scenarios), len(o.columns()), o.repeat, o.rate, o.dbLatency, mode(o.quick), estimate(o).Round(time.Minute))

	cells, runErr := c.matrix(ctx)
	if runErr == nil && ctx.Err() != nil {
		runErr = fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if len(cells) == 0 {
		return runErr
	}
	var runs []throughputRun
	if o.throughput && runErr == nil {
		runs = c.throughput(ctx)
	}
	var verdict *checkResult
	if o.check && runErr == nil {
		// A quick cell lasts seconds on a machine it shares with k6, PostgreSQL and Redis: its p99
		// is the machine's, so its latency bounds are reported, not judged.
		r := check(cells, o.scenarios, o.columns(), o.repeat, !o.quick)
		for _, t := range runs {
			r.add(t.Err == "" && t.K6.FailedRate < 0.01, "throughput with %d replica(s): %s", t.Replicas, throughputLine(t))
		}
		verdict = &r
	}
	if err := c.write(cells, runs, verdict); err != nil {
		return errors.Join(runErr, err)
	}
	fmt.Printf("compare: wrote %s (%s)\n", c.report, time.Since(c.started).Round(time.Second))
	if o.repeat > 1 {
		fmt.Print(renderSpread(spreads(cells, o.columns(), o.scenarios)))
	}
	if runErr != nil {
		return runErr
	}
	if verdict != nil {
		fmt.Print(verdict.text())
		if !verdict.ok() {
			return errors.New("check failed")
		}
	}
	return nil
}

func mode(quick bool) string {
	if quick {
		return "quick"
	}
	return "full"
}

// startService builds and starts product-service on a prepared database, or connects to
// -base-url. The returned stop ends what it started and deletes its Redis keys.
func (c *comparison) startService(ctx context.Context) (stop func(), err error) {
	o := c.o
	if o.baseURL != "" {
		c.base = strings.TrimRight(o.baseURL, "/")
		c.admin = newAdminClient(c.base, o.adminToken)
		c.replicas, c.admins = []string{c.base}, []*adminClient{c.admin}
		if o.databaseURL != "" {
			return nil, c.readHotIDs(ctx, o.databaseURL)
		}
		return nil, nil
	}
	dbCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	databaseURL, err := lab.EnsureDatabase(dbCtx, o.pgAdminURL, o.dbName)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%w (set -pg-admin-url)", err)
	}
	fmt.Println("compare: building product-service")
	bin, err := lab.ServiceBinary()
	if err != nil {
		return nil, err
	}
	c.ns = fmt.Sprintf("compare-%d-%s", os.Getpid(), randomToken()[:6])
	token := randomToken()
	// Every replica shares the database, Redis, namespace and token: one service, scaled out.
	svc := &lab.Service{Bin: bin, Dir: c.root, LogDir: filepath.Join(c.outDir, "logs"), Env: []string{
		"DATABASE_URL=" + databaseURL, "LOG_LEVEL=warn", "APP_ENV=development",
		"DB_SIMULATED_LATENCY=" + o.dbLatency.String(), "REDIS_ADDR=" + o.redisAddr, "CACHE_PRESET=none",
		"CACHE_NAMESPACE=" + c.ns, "ADMIN_TOKEN=" + token,
		// POST /api/v1/admin/cache/warmup answers when the warm-up is done, which for a whole
		// catalogue outlasts the default 15 s write timeout (the answer is then cut off: EOF).
		"HTTP_WRITE_TIMEOUT=" + (warmupPatience + time.Minute).String(),
	}}
	if o.redisTimeout > 0 {
		svc.Env = append(svc.Env, "REDIS_TIMEOUT="+o.redisTimeout.String())
	}
	fmt.Printf("compare: migrating and seeding %d products into %s (idempotent)\n", o.products, redact(databaseURL))
	if err := svc.Prepare(ctx, databaseURL, o.products); err != nil {
		return nil, err
	}
	if err := c.readHotIDs(ctx, databaseURL); err != nil {
		return nil, err
	}
	c.rdb = redis.NewClient(&redis.Options{Addr: o.redisAddr, DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second})
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		c.rdb.Close()
		c.rdb = nil
		return nil, fmt.Errorf("redis at %s does not answer (set -redis-addr): %w", o.redisAddr, err)
	}
	var replicas []*lab.Replica
	var lb *balancer
	stop = func() {
		if lb != nil {
			lb.stop()
		}
		for _, r := range replicas {
			_ = r.Stop()
		}
		c.deleteKeys()
		c.rdb.Close()
	}
	if replicas, err = svc.StartReplicas(ctx, o.replicas); err != nil {
		return stop, err
	}
	for _, r := range replicas {
		c.replicas, c.admins = append(c.replicas, r.Base), append(c.admins, newAdminClient(r.Base, token))
		fmt.Printf("compare: product-service on %s, namespace %s\n", r.Base, c.ns)
	}
	c.base, c.admin = c.replicas[0], c.admins[0]
	if o.replicas > 1 {
		if lb, err = c.startBalancer(ctx, c.replicas, "balancer"); err != nil {
			return stop, err
		}
		c.base = lb.base
		c.admin = newAdminClient(c.base, token)
		fmt.Printf("compare: nginx balancer on %s over %d replicas\n", c.base, len(c.replicas))
	}
	return stop, nil
}

// checkPresets refuses to run a preset the service does not list (GET /api/v1/admin/cache
// "presets": cache.PresetNames()), which would fail every cell of its column.
func (c *comparison) checkPresets(ctx context.Context) error {
	st, err := c.admin.state(ctx)
	if err != nil {
		return err
	}
	want := slices.Clone(c.o.presets)
	if c.o.edge {
		want = append(want, c.o.edgePreset)
	}
	var unknown []string
	for _, p := range want {
		if !slices.Contains(st.Presets, p) && !slices.Contains(unknown, p) {
			unknown = append(unknown, p)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("the service has no preset %s (it has %s): pass -presets", strings.Join(unknown, ", "), strings.Join(st.Presets, ", "))
	}
	return nil
}

// readHotIDs writes the is_hot ids into a file for k6 (HOT_IDS_FILE).
func (c *comparison) readHotIDs(ctx context.Context, databaseURL string) error {
	d, err := readDataset(ctx, databaseURL, c.o.products)
	if err != nil {
		return err
	}
	c.pgVersion = d.postgresVersion
	if len(d.hotIDs) == 0 {
		return nil
	}
	c.hotFile, c.hotCount = filepath.Join(c.tmp, "hot-ids.txt"), len(d.hotIDs)
	return writeIDs(c.hotFile, d.hotIDs)
}

// deleteKeys deletes every key of the run's namespace (SCAN + UNLINK), never another's.
func (c *comparison) deleteKeys() {
	if c.rdb == nil || c.ns == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := lab.DeleteKeys(ctx, c.rdb, c.ns+":*", "")
	if err != nil {
		fmt.Fprintf(os.Stderr, "compare: could not delete the keys %s:* in Redis: %v\n", c.ns, err)
		return
	}
	fmt.Printf("compare: deleted %d Redis keys %s:*\n", n, c.ns)
}

// clearNamespace deletes every key of the namespace but its generation counter (which must only
// grow: a replica empties its L1 when it changes), so the next cell starts from an empty
// namespace at once instead of while the service's own sweep of a reset runs.
func (c *comparison) clearNamespace(ctx context.Context) error {
	if c.rdb == nil || c.ns == "" {
		return nil
	}
	if _, err := lab.DeleteKeys(ctx, c.rdb, c.ns+":*", c.ns+":generation"); err != nil {
		return fmt.Errorf("empty the namespace %s: %w", c.ns, err)
	}
	return nil
}

// usedMemory is Redis's used_memory in bytes (INFO memory).
func usedMemory(ctx context.Context, rdb *redis.Client) (float64, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, fmt.Errorf("redis INFO memory: %w", err)
	}
	return parseUsedMemory(info)
}

// parseUsedMemory reads used_memory from the text of INFO memory.
func parseUsedMemory(info string) (float64, error) {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, errors.New("redis INFO memory has no used_memory")
}

// randomToken returns 16 random bytes in hex.
func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
