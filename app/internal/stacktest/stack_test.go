package stacktest_test

// These tests check the container stack as files: docker-compose.yml is loaded with the Compose
// specification's own Go loader, so neither Docker nor the caller's environment is needed or
// consulted. This file holds the shape of the stack (services, health, start order, ports,
// memory); mounts_test.go the files it mounts; observability_test.go how the telemetry services
// are wired to each other; nginx_test.go the balancer's configuration.

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/product-service-lab/product-service/app/internal/config"
)

// The compose file lives at the repository root, and relative paths in it are resolved from
// there, as `docker compose` does.
const (
	repoRoot    = "../../.."
	composeFile = repoRoot + "/docker-compose.yml"
)

// How a service runs.
const (
	longRunning = "long-running"
	oneShot     = "one-shot"
)

// loadProfile is the Compose profile of the services started only on demand.
const loadProfile = "load"

// edgeProfile is the Compose profile of the optional edge cache and its log agent.
const edgeProfile = "edge"

// replicaProfile is the Compose profile of the PostgreSQL streaming replica.
const replicaProfile = "replica"

// stackService says how one service of the stack runs and under which profile ("" for always).
type stackService struct {
	kind, profile string
}

// stackServices lists every service the compose file must define.
var stackServices = map[string]stackService{
	"postgres":          {kind: longRunning},
	"postgres-init":     {kind: oneShot},
	"postgres-replica":  {kind: longRunning, profile: replicaProfile},
	"redis":             {kind: longRunning},
	"migrate":           {kind: oneShot},
	"seed":              {kind: oneShot},
	"product-service":   {kind: longRunning},
	"nginx":             {kind: longRunning},
	"postgres-exporter": {kind: longRunning},
	"redis-exporter":    {kind: longRunning},
	"prometheus":        {kind: longRunning},
	"loki":              {kind: longRunning},
	"tempo":             {kind: longRunning},
	"pyroscope":         {kind: longRunning},
	"grafana":           {kind: longRunning},
	"traffic":           {kind: longRunning},
	"k6":                {kind: oneShot, profile: loadProfile},
	"results-dir":       {kind: oneShot, profile: loadProfile},
	"edge":              {kind: longRunning, profile: edgeProfile},
	"edge-logs":         {kind: longRunning, profile: edgeProfile},
}

// listens names the ports each server of the stack listens on inside the compose network. The
// tests check addresses, published ports and health checks against it, and it against the
// servers' own configuration files where they set a port.
var listens = map[string][]int{
	"postgres":          {5432},
	"postgres-replica":  {5432},
	"redis":             {6379},
	"product-service":   {8080},
	"nginx":             {8080, 8081},
	"postgres-exporter": {9187},
	"redis-exporter":    {9121},
	"prometheus":        {9090},
	"loki":              {3100},
	"tempo":             {3200, 4317, 4318},
	"pyroscope":         {4040},
	"grafana":           {3000},
	"traffic":           {6565},
	"edge":              {8080, 8081},
	"edge-logs":         {2020},
}

// appServices are the services that run the product-service binary and so read its configuration.
var appServices = []string{"migrate", "seed", "product-service"}

// loadCompose loads docker-compose.yml with the given profiles active, interpolated with exactly
// env: neither the process environment nor a .env file is read, so the result does not depend on
// who runs the test.
func loadCompose(t *testing.T, env map[string]string, profiles ...string) *types.Project {
	t.Helper()
	pairs := make([]string, 0, len(env))
	for k, v := range env {
		pairs = append(pairs, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{composeFile},
		cli.WithWorkingDirectory(repoRoot),
		cli.WithEnv(pairs),
		cli.WithProfiles(profiles),
	)
	if err != nil {
		t.Fatalf("compose options: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := opts.LoadProject(ctx)
	if err != nil {
		t.Fatalf("load %s: %v", composeFile, err)
	}
	return p
}

// loadAll loads docker-compose.yml with every profile active, so every service is in it.
func loadAll(t *testing.T) *types.Project {
	t.Helper()
	return loadCompose(t, nil, loadProfile, edgeProfile, replicaProfile)
}

// service returns the named service or stops the test.
func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	return s
}

func TestComposeServices(t *testing.T) {
	var always, all []string
	for name, s := range stackServices {
		all = append(all, name)
		if s.profile == "" {
			always = append(always, name)
		}
	}
	slices.Sort(always)
	slices.Sort(all)

	if diff := cmp.Diff(always, loadCompose(t, nil).ServiceNames()); diff != "" {
		t.Errorf("services of `docker compose up` (-want +got):\n%s", diff)
	}
	p := loadAll(t)
	if diff := cmp.Diff(all, p.ServiceNames()); diff != "" {
		t.Errorf("services with profile %q (-want +got):\n%s", loadProfile, diff)
	}
	for _, name := range p.ServiceNames() {
		var want []string
		if prof := stackServices[name].profile; prof != "" {
			want = []string{prof}
		}
		if diff := cmp.Diff(want, service(t, p, name).Profiles, cmpEmpty); diff != "" {
			t.Errorf("profiles of %s (-want +got):\n%s", name, diff)
		}
	}
}

// cmpEmpty makes a nil and an empty slice or map equal.
var cmpEmpty = cmp.FilterValues(func(x, y any) bool {
	return isEmpty(x) && isEmpty(y)
}, cmp.Ignore())

func isEmpty(v any) bool {
	switch v := v.(type) {
	case []string:
		return len(v) == 0
	case map[string]string:
		return len(v) == 0
	}
	return false
}

func TestComposeHealthchecks(t *testing.T) {
	p := loadAll(t)
	tests := []struct {
		service string
		// wantIn is what the health check command must contain (a URL names the listener and
		// the path); empty for one-shot jobs, whose health check must be disabled instead.
		wantIn string
	}{
		// -h: over TCP, as clients connect (TestComposePostgresHealthOverTCP).
		{service: "postgres", wantIn: "pg_isready"},
		{service: "postgres-replica", wantIn: "pg_isready"},
		{service: "redis", wantIn: "ping"},
		{service: "product-service", wantIn: "healthcheck"},
		{service: "nginx", wantIn: "http://127.0.0.1:8081/health"},
		{service: "postgres-exporter", wantIn: "http://127.0.0.1:9187/"},
		{service: "redis-exporter", wantIn: "http://127.0.0.1:9121/health"},
		{service: "prometheus", wantIn: "http://127.0.0.1:9090/-/ready"},
		{service: "loki", wantIn: "http://127.0.0.1:3100/ready"},
		{service: "tempo", wantIn: "http://127.0.0.1:3200/ready"},
		{service: "pyroscope", wantIn: "http://127.0.0.1:4040"},
		{service: "grafana", wantIn: "http://127.0.0.1:3000/api/health"},
		{service: "traffic", wantIn: "http://127.0.0.1:6565/v1/status"},
		{service: "edge", wantIn: "http://127.0.0.1:8081/health"},
		{service: "edge-logs", wantIn: "http://127.0.0.1:2020/api/v1/health"},
		{service: "postgres-init"},
		{service: "migrate"},
		{service: "seed"},
		{service: "k6"},
		{service: "results-dir"},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			hc := service(t, p, tt.service).HealthCheck
			if stackServices[tt.service].kind == oneShot {
				if hc == nil || !hc.Disable {
					t.Errorf("one-shot job %s must set healthcheck.disable: true (nothing serves once it exits)", tt.service)
				}
				return
			}
			if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Test[0] == "NONE" {
				t.Fatalf("long-running service %s has no health check: %+v", tt.service, hc)
			}
			// Exec form: several images here (Loki's, Tempo's) have no shell to run CMD-SHELL.
			if hc.Test[0] != "CMD" {
				t.Errorf("health check %q of %s: want the exec form [\"CMD\", …]", hc.Test, tt.service)
			}
			if !slices.ContainsFunc(hc.Test[1:], func(s string) bool { return strings.Contains(s, tt.wantIn) }) {
				t.Errorf("health check %q does not run %q", hc.Test, tt.wantIn)
			}
			if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil {
				t.Errorf("health check of %s needs interval, timeout and retries: %+v", tt.service, hc)
			}
			for _, arg := range hc.Test[1:] {
				if port, ok := urlPort(arg); ok && !slices.Contains(listens[tt.service], port) {
					t.Errorf("health check of %s asks port %d; it listens on %v", tt.service, port, listens[tt.service])
				}
			}
		})
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.service] = true
	}
	for name := range stackServices {
		if !covered[name] {
			t.Errorf("service %s is missing from this table", name)
		}
	}
}

func TestComposeImagesPinned(t *testing.T) {
	p := loadAll(t)
	for _, name := range p.ServiceNames() {
		t.Run(name, func(t *testing.T) {
			s := service(t, p, name)
			if s.Build != nil {
				// Built here: a local name, but never :latest, so `up` cannot pick up a stale pull.
				if tag, _ := imageTag(s.Image); s.Image == "" || tag == "" || tag == "latest" {
					t.Errorf("built image %q needs an explicit tag other than latest", s.Image)
				}
				return
			}
			if err := pinned(s.Image); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestComposeDependencies spells out the start order: each service waits for what it needs to be
// healthy (servers) or to have completed (jobs).
func TestComposeDependencies(t *testing.T) {
	const (
		healthy   = types.ServiceConditionHealthy
		completed = types.ServiceConditionCompletedSuccessfully
	)
	want := map[string]map[string]string{
		"postgres":         {},
		"postgres-init":    {"postgres": healthy},
		"postgres-replica": {"postgres": healthy},
		"redis":            {},
		"migrate":          {"postgres": healthy},
		"seed":             {"migrate": completed},
		"product-service": {"postgres": healthy, "redis": healthy, "seed": completed, "loki": healthy, "tempo": healthy,
			"pyroscope": healthy},
		"nginx":             {"product-service": healthy},
		"postgres-exporter": {"postgres": healthy, "postgres-init": completed},
		"redis-exporter":    {"redis": healthy},
		"prometheus":        {},
		"loki":              {},
		"tempo":             {"prometheus": healthy},
		"pyroscope":         {},
		"grafana":           {"prometheus": healthy, "loki": healthy, "tempo": healthy, "pyroscope": healthy},
		"traffic":           {"nginx": healthy, "prometheus": healthy},
		"k6":                {"nginx": healthy, "prometheus": healthy, "results-dir": completed},
		"results-dir":       {},
		"edge":              {"nginx": healthy},
		"edge-logs":         {"loki": healthy, "edge": healthy},
	}
	p := loadAll(t)
	for _, name := range p.ServiceNames() {
		t.Run(name, func(t *testing.T) {
			wantDeps, ok := want[name]
			if !ok {
				t.Fatalf("service %s is missing from this table", name)
			}
			got := map[string]string{}
			for dep, cfg := range service(t, p, name).DependsOn {
				got[dep] = cfg.Condition
			}
			if diff := cmp.Diff(wantDeps, got, cmpEmpty); diff != "" {
				t.Errorf("depends_on of %s (-want +got):\n%s", name, diff)
			}
		})
	}
}

// TestComposeDependencyConditionsFitTheKind: waiting for a job to be "healthy" or for a server to
// "complete" would block `docker compose up` for ever.
func TestComposeDependencyConditionsFitTheKind(t *testing.T) {
	p := loadAll(t)
	for _, name := range p.ServiceNames() {
		for dep, cfg := range service(t, p, name).DependsOn {
			want := types.ServiceConditionHealthy
			if stackServices[dep].kind == oneShot {
				want = types.ServiceConditionCompletedSuccessfully
			}
			if cfg.Condition != want {
				t.Errorf("%s waits for %s (%s) with condition %q, want %q", name, dep, stackServices[dep].kind, cfg.Condition, want)
			}
		}
	}
}

// TestComposePorts lists every published port. The replicas publish none (nginx is their one
// entry point, and a fixed host port would stop --scale); the UIs and the servers a native run
// needs publish on the loopback interface only, except the ports the README and the Makefile use.
func TestComposePorts(t *testing.T) {
	want := map[string][]string{
		"nginx":            {":8080->8080"},
		"postgres":         {":5432->5432"},
		"postgres-replica": {"127.0.0.1:5433->5432"},
		"redis":            {":6379->6379"},
		"grafana":          {"127.0.0.1:3000->3000"},
		"prometheus":       {"127.0.0.1:9090->9090"},
		"loki":             {"127.0.0.1:3100->3100"},
		"tempo":            {"127.0.0.1:4317->4317", "127.0.0.1:4318->4318"},
		"edge":             {"127.0.0.1:8088->8080"},
	}
	p := loadAll(t)
	for _, name := range p.ServiceNames() {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, pc := range service(t, p, name).Ports {
				got = append(got, fmt.Sprintf("%s:%s->%d", pc.HostIP, pc.Published, pc.Target))
				if !slices.Contains(listens[name], int(pc.Target)) {
					t.Errorf("%s publishes container port %d; it listens on %v", name, pc.Target, listens[name])
				}
			}
			slices.Sort(got)
			if diff := cmp.Diff(want[name], got, cmpEmpty); diff != "" {
				t.Errorf("published ports of %s (-want +got):\n%s", name, diff)
			}
		})
	}
}

func TestComposeProductServiceScales(t *testing.T) {
	s := service(t, loadCompose(t, nil), "product-service")
	if s.ContainerName != "" {
		t.Errorf("product-service sets container_name %q: --scale needs generated names", s.ContainerName)
	}
	if s.Deploy != nil && s.Deploy.Replicas != nil && *s.Deploy.Replicas != 1 {
		t.Errorf("product-service sets deploy.replicas %d; leave the count to --scale", *s.Deploy.Replicas)
	}
}

func TestComposeMemoryLimits(t *testing.T) {
	p := loadAll(t)
	for _, name := range p.ServiceNames() {
		t.Run(name, func(t *testing.T) {
			if limit := memoryLimit(service(t, p, name)); limit <= 0 {
				t.Errorf("%s has no memory limit (deploy.resources.limits.memory or mem_limit)", name)
			}
		})
	}
}

// TestComposeMemoryBudget: with three replicas, a k6 run and every profile on (edge, replica),
// the limits of everything running at once stay within what an 8 GB laptop can give Docker. The
// jobs have exited by then (seed completes before the service starts; postgres-init before the
// exporter). The budget was 6 GiB until Pyroscope (384 MiB) joined the stack, 6.5 GiB until the
// PostgreSQL replica (384 MiB) did.
func TestComposeMemoryBudget(t *testing.T) {
	const (
		replicas = 3
		budget   = 7 << 30
	)
	p := loadAll(t)
	var total int64
	var parts []string
	for _, name := range p.ServiceNames() {
		if stackServices[name].kind == oneShot && name != "k6" {
			continue
		}
		n := int64(1)
		if name == "product-service" {
			n = replicas
		}
		limit := memoryLimit(service(t, p, name))
		total += n * limit
		parts = append(parts, fmt.Sprintf("%s %d×%dMiB", name, n, limit>>20))
	}
	if total > budget {
		t.Errorf("memory limits add up to %d MiB, over the %d MiB budget: %s", total>>20, budget>>20, strings.Join(parts, ", "))
	}
}

func TestComposeRestartPolicies(t *testing.T) {
	p := loadAll(t)
	for _, name := range p.ServiceNames() {
		t.Run(name, func(t *testing.T) {
			want := types.RestartPolicyUnlessStopped
			if stackServices[name].kind == oneShot {
				// A job that restarts would never "complete successfully" for its dependants.
				want = types.RestartPolicyNo
			}
			if got := service(t, p, name).Restart; got != want {
				t.Errorf("restart of %s = %q, want %q", name, got, want)
			}
		})
	}
}

func TestComposeProductServiceEnvironment(t *testing.T) {
	env := service(t, loadCompose(t, nil), "product-service").Environment
	for _, key := range []string{"HTTP_ADDR", "DATABASE_URL", "REDIS_ADDR", "ADMIN_TOKEN", "SHUTDOWN_TIMEOUT",
		"LOKI_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "PYROSCOPE_URL"} {
		t.Run(key, func(t *testing.T) {
			if v := env[key]; v == nil || *v == "" {
				t.Errorf("product-service does not set %s", key)
			}
		})
	}
	if addr := env["HTTP_ADDR"]; addr != nil {
		_, port, err := net.SplitHostPort(*addr)
		if n, _ := strconv.Atoi(port); err != nil || !slices.Contains(listens["product-service"], n) {
			t.Errorf("HTTP_ADDR=%q: want a port in %v", *addr, listens["product-service"])
		}
	}
}

// TestComposeAddressesNameServices checks that services reach each other by compose name and on a
// port the other one listens on, not at 127.0.0.1 (which inside a container is the container
// itself).
func TestComposeAddressesNameServices(t *testing.T) {
	tests := []struct {
		service, key string
		wantHost     string
		wantPort     int
	}{
		{service: "product-service", key: "DATABASE_URL", wantHost: "postgres", wantPort: 5432},
		{service: "product-service", key: "REDIS_ADDR", wantHost: "redis", wantPort: 6379},
		{service: "product-service", key: "LOKI_URL", wantHost: "loki", wantPort: 3100},
		{service: "product-service", key: "OTEL_EXPORTER_OTLP_ENDPOINT", wantHost: "tempo", wantPort: 4318},
		{service: "product-service", key: "PYROSCOPE_URL", wantHost: "pyroscope", wantPort: 4040},
		{service: "postgres-exporter", key: "DATA_SOURCE_NAME", wantHost: "postgres", wantPort: 5432},
		{service: "redis-exporter", key: "REDIS_ADDR", wantHost: "redis", wantPort: 6379},
		{service: "traffic", key: "BASE_URL", wantHost: "nginx", wantPort: 8080},
		{service: "traffic", key: "K6_PROMETHEUS_RW_SERVER_URL", wantHost: "prometheus", wantPort: 9090},
		{service: "k6", key: "BASE_URL", wantHost: "nginx", wantPort: 8080},
		{service: "k6", key: "K6_PROMETHEUS_RW_SERVER_URL", wantHost: "prometheus", wantPort: 9090},
	}
	p := loadAll(t)
	for _, tt := range tests {
		t.Run(tt.service+"/"+tt.key, func(t *testing.T) {
			v := service(t, p, tt.service).Environment[tt.key]
			if v == nil {
				t.Fatalf("%s does not set %s", tt.service, tt.key)
			}
			host, port, err := hostPort(*v)
			if err != nil {
				t.Fatalf("%s=%q: %v", tt.key, *v, err)
			}
			if host != tt.wantHost || port != tt.wantPort {
				t.Errorf("%s points at %s:%d, want the compose service %s:%d", tt.key, host, port, tt.wantHost, tt.wantPort)
			}
			if !slices.Contains(listens[host], port) {
				t.Errorf("%s=%q: %s listens on %v, not %d", tt.key, *v, host, listens[host], port)
			}
		})
	}
}

func TestComposeStopGracePeriodOutlastsShutdown(t *testing.T) {
	p := loadCompose(t, nil)
	s := service(t, p, "product-service")
	shutdown := 20 * time.Second // config.Load's default SHUTDOWN_TIMEOUT
	if v := s.Environment["SHUTDOWN_TIMEOUT"]; v != nil {
		d, err := time.ParseDuration(*v)
		if err != nil {
			t.Fatalf("SHUTDOWN_TIMEOUT=%q: %v", *v, err)
		}
		shutdown = d
	}
	if s.StopGracePeriod == nil {
		t.Fatalf("product-service has no stop_grace_period; Docker's default 10s is shorter than SHUTDOWN_TIMEOUT %s", shutdown)
	}
	if grace := time.Duration(*s.StopGracePeriod); grace <= shutdown {
		t.Errorf("stop_grace_period %s must exceed SHUTDOWN_TIMEOUT %s, or Docker kills requests mid-drain", grace, shutdown)
	}
}

func TestComposeRedisIsABoundedCache(t *testing.T) {
	p := loadCompose(t, nil)
	args := parseFlags(service(t, p, "redis").Command)
	want := map[string]string{
		"--maxmemory":        "256mb",
		"--maxmemory-policy": "allkeys-lru",
		"--save":             "",
		"--appendonly":       "no",
	}
	got := map[string]string{}
	for k := range want {
		if v, ok := args[k]; ok {
			got[k] = v
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("redis flags (-want +got):\n%s", diff)
	}
}

// TestComposeInterpolation checks the variables a developer may set, and that without them the
// file's own defaults apply (which is what keeps every other test here hermetic).
func TestComposeInterpolation(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want map[string]string // "service.KEY" → value; "seed.products" → the --products argument
	}{
		{
			name: "defaults",
			env:  nil,
			want: map[string]string{
				"seed.products":                        "100000",
				"product-service.ADMIN_TOKEN":          "dev-admin-token",
				"product-service.DB_SIMULATED_LATENCY": "0s",
				"product-service.CACHE_PRESET":         "protected",
				"traffic.PRODUCTS":                     "100000",
				"traffic.RATE":                         "20",
				"k6.PRODUCTS":                          "100000",
				"k6.ADMIN_TOKEN":                       "dev-admin-token",
			},
		},
		{
			name: "overrides",
			env: map[string]string{"SEED_PRODUCTS": "500", "ADMIN_TOKEN": "s3cret", "DB_SIMULATED_LATENCY": "25ms",
				"CACHE_PRESET": "full", "TRAFFIC_RATE": "5"},
			want: map[string]string{
				"seed.products":                        "500",
				"product-service.ADMIN_TOKEN":          "s3cret",
				"product-service.DB_SIMULATED_LATENCY": "25ms",
				"product-service.CACHE_PRESET":         "full",
				"traffic.PRODUCTS":                     "500",
				"traffic.RATE":                         "5",
				"k6.PRODUCTS":                          "500",
				"k6.ADMIN_TOKEN":                       "s3cret",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := loadCompose(t, tt.env, loadProfile)
			got := map[string]string{}
			if v, ok := parseFlags(service(t, p, "seed").Command)["--products"]; ok {
				got["seed.products"] = v
			}
			for key := range tt.want {
				name, variable, _ := strings.Cut(key, ".")
				if name == "seed" {
					continue
				}
				if v := service(t, p, name).Environment[variable]; v != nil {
					got[key] = *v
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("interpolated values (-want +got):\n%s", diff)
			}
		})
	}
}

// TestComposeEnvironmentIsValidConfig loads each app service's compose environment with
// config.Load: every variable must be one the service reads (a misspelt name would be ignored
// silently at run time) and every value must pass validation, so a bad value (a duration without
// a unit, an unknown APP_ENV) fails here rather than at `docker compose up`.
func TestComposeEnvironmentIsValidConfig(t *testing.T) {
	p := loadCompose(t, nil)
	for _, name := range appServices {
		t.Run(name, func(t *testing.T) {
			env := service(t, p, name).Environment
			read := map[string]bool{}
			_, err := config.Load(func(key string) (string, bool) {
				read[key] = true
				v, ok := env[key]
				if !ok || v == nil {
					return "", false
				}
				return *v, true
			})
			if err != nil {
				t.Fatalf("config.Load rejects the environment of %s: %v", name, err)
			}
			for _, key := range slices.Sorted(maps.Keys(env)) {
				if !read[key] {
					t.Errorf("%s sets %s, which config.Load does not read (misspelt?)", name, key)
				}
			}
		})
	}
}

// memoryLimit returns the service's memory limit in bytes from either place Compose accepts it.
func memoryLimit(s types.ServiceConfig) int64 {
	if s.MemLimit > 0 {
		return int64(s.MemLimit)
	}
	if s.Deploy != nil && s.Deploy.Resources.Limits != nil {
		return int64(s.Deploy.Resources.Limits.MemoryBytes)
	}
	return 0
}

// parseFlags reads the flags of a command line: "--name=value", or "--name value" (also with a
// single dash); a flag followed by another flag or by nothing has the value "true".
func parseFlags(args []string) map[string]string {
	flags := map[string]string{}
	for i := 0; i < len(args); i++ {
		if !strings.HasPrefix(args[i], "-") {
			continue
		}
		if name, value, ok := strings.Cut(args[i], "="); ok {
			flags[name] = value
			continue
		}
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			flags[args[i]] = args[i+1]
			i++
			continue
		}
		flags[args[i]] = "true"
	}
	return flags
}

// hostPort returns the host and port of an address given as a URL (scheme://host:port/…) or as
// host:port; a URL without a port has its scheme's.
func hostPort(addr string) (string, int, error) {
	host, port := "", ""
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil {
			return "", 0, fmt.Errorf("parse url: %w", err)
		}
		host, port = u.Hostname(), u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
	} else {
		var err error
		if host, port, err = net.SplitHostPort(addr); err != nil {
			return "", 0, fmt.Errorf("split host and port: %w", err)
		}
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", port, err)
	}
	return host, n, nil
}

// urlPort returns the port of the http URL in s (a whole argument, or a flag's value), when it
// names one.
func urlPort(s string) (int, bool) {
	i := strings.Index(s, "http://")
	if i < 0 {
		return 0, false
	}
	u, err := url.Parse(s[i:])
	if err != nil || u.Port() == "" {
		return 0, false
	}
	n, err := strconv.Atoi(u.Port())
	return n, err == nil
}

// TestComposeApplicationServicesHardened: every service running the product-service image runs
// as the image's non-root user, on a read-only root filesystem with a tmpfs /tmp, without
// capabilities or privilege escalation.
func TestComposeApplicationServicesHardened(t *testing.T) {
	p := loadAll(t)
	const image = "product-service-lab/product-service:dev"
	seen := 0
	for name, s := range p.Services {
		if s.Image != image {
			continue
		}
		seen++
		if !s.ReadOnly {
			t.Errorf("%s: read_only is not true", name)
		}
		if s.User != "" && (s.User == "root" || s.User == "0" || strings.HasPrefix(s.User, "0:")) {
			t.Errorf("%s: user %q overrides the image's non-root user", name, s.User)
		}
		if !slices.ContainsFunc(s.Tmpfs, func(m string) bool { return m == "/tmp" || strings.HasPrefix(m, "/tmp:") }) {
			t.Errorf("%s: no tmpfs on /tmp (tmpfs %v)", name, s.Tmpfs)
		}
		if !slices.Contains(s.CapDrop, "ALL") {
			t.Errorf("%s: cap_drop %v does not drop ALL", name, s.CapDrop)
		}
		if !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s: security_opt %v lacks no-new-privileges:true", name, s.SecurityOpt)
		}
	}
	if seen < 3 {
		t.Errorf("%d services run %s, want migrate, seed and product-service at least", seen, image)
	}
}

// TestComposePostgresHealthOverTCP: every PostgreSQL server's health check proves that TCP
// accepts connections, as its clients connect. pg_isready without -h asks the Unix socket, and
// on the first start of an empty volume the official image's entrypoint runs a temporary,
// socket-only server (listen_addresses=”) for initdb and its scripts: the check passed, migrate
// connected over TCP, was refused and stopped the start.
func TestComposePostgresHealthOverTCP(t *testing.T) {
	p := loadAll(t)
	servers := 0
	for _, name := range p.ServiceNames() {
		s := service(t, p, name)
		if !strings.HasPrefix(s.Image, "postgres:") || stackServices[name].kind != longRunning {
			continue
		}
		servers++
		t.Run(name, func(t *testing.T) {
			hc := s.HealthCheck
			if hc == nil || len(hc.Test) < 2 || hc.Test[1] != "pg_isready" {
				t.Fatalf("health check %v: want [\"CMD\", \"pg_isready\", …]", hc)
			}
			flags := parseFlags(hc.Test[2:])
			host, port := flags["-h"], flags["-p"]
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				t.Errorf("health check %q: want -h 127.0.0.1 (TCP); without it, or with a directory, pg_isready asks the Unix socket", hc.Test)
			}
			if n, err := strconv.Atoi(port); err != nil || !slices.Contains(listens[name], n) {
				t.Errorf("health check %q: want -p with the port %s listens on, %v", hc.Test, name, listens[name])
			}
		})
	}
	if servers < 2 {
		t.Errorf("%d PostgreSQL servers found, want postgres and postgres-replica", servers)
	}
}
