package stacktest_test

// These tests check the container stack as files: docker-compose.yml is loaded with the Compose
// specification's own Go loader and the Dockerfile is read as text, so neither Docker nor the
// caller's environment is needed or consulted.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/product-service-lab/product-service/app/internal/config"
)

// The files under test live at the repository root.
const (
	composeFile    = "../../../docker-compose.yml"
	dockerfilePath = "../../../Dockerfile"
)

// Services of the stack and how they run.
const (
	longRunning = "long-running"
	oneShot     = "one-shot"
)

// stackServices lists every service the compose file must define, and how each one runs.
var stackServices = map[string]string{
	"postgres":        longRunning,
	"redis":           longRunning,
	"migrate":         oneShot,
	"seed":            oneShot,
	"product-service": longRunning,
}

// appServices are the services that run the product-service binary and so read its configuration.
var appServices = []string{"migrate", "seed", "product-service"}

// loadCompose loads docker-compose.yml, interpolated with exactly env: neither the process
// environment nor a .env file is read, so the result does not depend on who runs the test.
func loadCompose(t *testing.T, env map[string]string) *types.Project {
	t.Helper()
	pairs := make([]string, 0, len(env))
	for k, v := range env {
		pairs = append(pairs, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{composeFile},
		cli.WithWorkingDirectory("."),
		cli.WithEnv(pairs),
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
	p := loadCompose(t, nil)

	want := slices.Sorted(maps.Keys(stackServices))
	got := p.ServiceNames()
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
}

func TestComposeHealthchecks(t *testing.T) {
	p := loadCompose(t, nil)
	tests := []struct {
		service string
		// wantIn names a word the health check command must contain; empty for one-shot jobs,
		// whose image health check (GET /health) must be disabled instead.
		wantIn string
	}{
		{service: "postgres", wantIn: "pg_isready"},
		{service: "redis", wantIn: "ping"},
		{service: "product-service", wantIn: "healthcheck"},
		{service: "migrate"},
		{service: "seed"},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			hc := service(t, p, tt.service).HealthCheck
			if stackServices[tt.service] == oneShot {
				if hc == nil || !hc.Disable {
					t.Errorf("one-shot job %s must set healthcheck.disable: true (the image's check expects a server)", tt.service)
				}
				return
			}
			if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Test[0] == "NONE" {
				t.Fatalf("long-running service %s has no health check: %+v", tt.service, hc)
			}
			if !slices.ContainsFunc(hc.Test[1:], func(s string) bool { return strings.Contains(s, tt.wantIn) }) {
				t.Errorf("health check %q does not run %q", hc.Test, tt.wantIn)
			}
			if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil {
				t.Errorf("health check of %s needs interval, timeout and retries: %+v", tt.service, hc)
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
	p := loadCompose(t, nil)
	for _, name := range sortedNames(p) {
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

func TestComposeDependencies(t *testing.T) {
	p := loadCompose(t, nil)
	tests := []struct {
		service string
		want    map[string]string // dependency → condition
	}{
		{service: "postgres", want: map[string]string{}},
		{service: "redis", want: map[string]string{}},
		{service: "migrate", want: map[string]string{
			"postgres": types.ServiceConditionHealthy,
		}},
		{service: "seed", want: map[string]string{
			"migrate": types.ServiceConditionCompletedSuccessfully,
		}},
		{service: "product-service", want: map[string]string{
			"postgres": types.ServiceConditionHealthy,
			"redis":    types.ServiceConditionHealthy,
			"seed":     types.ServiceConditionCompletedSuccessfully,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			got := map[string]string{}
			for dep, cfg := range service(t, p, tt.service).DependsOn {
				got[dep] = cfg.Condition
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("depends_on of %s (-want +got):\n%s", tt.service, diff)
			}
		})
	}
}

func TestComposePorts(t *testing.T) {
	p := loadCompose(t, nil)
	tests := []struct {
		service   string
		target    uint32
		published string
	}{
		{service: "product-service", target: 8080, published: "8080"},
		// The Makefile's test target and `make run` expect the servers on the usual local ports.
		{service: "postgres", target: 5432, published: "5432"},
		{service: "redis", target: 6379, published: "6379"},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			ports := service(t, p, tt.service).Ports
			found := slices.ContainsFunc(ports, func(pc types.ServicePortConfig) bool {
				return pc.Target == tt.target && pc.Published == tt.published
			})
			if !found {
				t.Errorf("%s does not publish %s:%d; ports: %+v", tt.service, tt.published, tt.target, ports)
			}
		})
	}
}

func TestComposeMemoryLimits(t *testing.T) {
	p := loadCompose(t, nil)
	for _, name := range sortedNames(p) {
		t.Run(name, func(t *testing.T) {
			if limit := memoryLimit(service(t, p, name)); limit <= 0 {
				t.Errorf("%s has no memory limit (deploy.resources.limits.memory or mem_limit)", name)
			}
		})
	}
}

func TestComposeRestartPolicies(t *testing.T) {
	p := loadCompose(t, nil)
	for _, name := range sortedNames(p) {
		t.Run(name, func(t *testing.T) {
			want := types.RestartPolicyUnlessStopped
			if stackServices[name] == oneShot {
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
	p := loadCompose(t, nil)
	env := service(t, p, "product-service").Environment
	for _, key := range []string{"HTTP_ADDR", "DATABASE_URL", "REDIS_ADDR", "ADMIN_TOKEN", "SHUTDOWN_TIMEOUT"} {
		t.Run(key, func(t *testing.T) {
			if v := env[key]; v == nil || *v == "" {
				t.Errorf("product-service does not set %s", key)
			}
		})
	}
}

// TestComposeAddressesNameServices checks that the service reaches its servers by their compose
// names, not by 127.0.0.1 (which inside a container is the container itself).
func TestComposeAddressesNameServices(t *testing.T) {
	p := loadCompose(t, nil)
	env := service(t, p, "product-service").Environment
	tests := []struct {
		key, wantHost string
		host          func(string) (string, error)
	}{
		{key: "DATABASE_URL", wantHost: "postgres", host: func(v string) (string, error) {
			u, err := url.Parse(v)
			if err != nil {
				return "", fmt.Errorf("parse url: %w", err)
			}
			return u.Hostname(), nil
		}},
		{key: "REDIS_ADDR", wantHost: "redis", host: func(v string) (string, error) {
			h, _, err := net.SplitHostPort(v)
			if err != nil {
				return "", fmt.Errorf("split host and port: %w", err)
			}
			return h, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			v := env[tt.key]
			if v == nil {
				t.Fatalf("product-service does not set %s", tt.key)
			}
			got, err := tt.host(*v)
			if err != nil {
				t.Fatalf("%s=%q: %v", tt.key, *v, err)
			}
			if got != tt.wantHost {
				t.Errorf("%s points at host %q, want the compose service %q", tt.key, got, tt.wantHost)
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
			},
		},
		{
			name: "overrides",
			env:  map[string]string{"SEED_PRODUCTS": "500", "ADMIN_TOKEN": "s3cret", "DB_SIMULATED_LATENCY": "25ms"},
			want: map[string]string{
				"seed.products":                        "500",
				"product-service.ADMIN_TOKEN":          "s3cret",
				"product-service.DB_SIMULATED_LATENCY": "25ms",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := loadCompose(t, tt.env)
			got := map[string]string{}
			if v, ok := parseFlags(service(t, p, "seed").Command)["--products"]; ok {
				got["seed.products"] = v
			}
			env := service(t, p, "product-service").Environment
			for _, key := range []string{"ADMIN_TOKEN", "DB_SIMULATED_LATENCY"} {
				if v := env[key]; v != nil {
					got["product-service."+key] = *v
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

// dockerfile is the Dockerfile as a list of instructions, comments and line continuations removed.
type dockerfile []instruction

// instruction is one Dockerfile instruction: its upper-cased keyword and the rest of the line.
type instruction struct {
	keyword, args string
}

// stages splits the instructions at each FROM; each stage starts with its FROM.
func (d dockerfile) stages() [][]instruction {
	var stages [][]instruction
	for _, in := range d {
		if in.keyword == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	return stages
}

// last returns the last instruction of the final stage with keyword, and whether there is one.
func (d dockerfile) last(keyword string) (instruction, bool) {
	stages := d.stages()
	if len(stages) == 0 {
		return instruction{}, false
	}
	final := stages[len(stages)-1]
	for i := len(final) - 1; i >= 0; i-- {
		if final[i].keyword == keyword {
			return final[i], true
		}
	}
	return instruction{}, false
}

// parseDockerfile splits Dockerfile text into instructions. It knows enough of the syntax for the
// checks here (comments, line continuations), not heredocs or a changed escape character.
func parseDockerfile(text string) dockerfile {
	var (
		d       dockerfile
		pending string
	)
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && pending == "") {
			continue
		}
		if cont, ok := strings.CutSuffix(trimmed, `\`); ok {
			pending += strings.TrimSpace(cont) + " "
			continue
		}
		full := strings.TrimSpace(pending + trimmed)
		pending = ""
		if full == "" {
			continue
		}
		keyword, args, _ := strings.Cut(full, " ")
		d = append(d, instruction{keyword: strings.ToUpper(keyword), args: strings.TrimSpace(args)})
	}
	return d
}

func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatalf("read %s: %v", dockerfilePath, err)
	}
	text := string(raw)
	df := parseDockerfile(text)

	tests := []struct {
		name  string
		check func() error
	}{
		{name: "multi-stage", check: func() error {
			if n := len(df.stages()); n < 2 {
				return fmt.Errorf("%d FROM, want a build stage and a separate run stage", n)
			}
			return nil
		}},
		{name: "base images pinned", check: func() error {
			var errs []error
			stageNames := map[string]bool{"scratch": true}
			for _, stage := range df.stages() {
				image, as := fromImage(stage[0].args)
				if !stageNames[strings.ToLower(image)] {
					errs = append(errs, pinned(image))
				}
				if as != "" {
					stageNames[strings.ToLower(as)] = true
				}
			}
			return errors.Join(errs...)
		}},
		{name: "no latest tag", check: func() error {
			for _, in := range df {
				if strings.Contains(strings.ToLower(in.args), ":latest") {
					return fmt.Errorf("%s %s uses :latest", in.keyword, in.args)
				}
			}
			return nil
		}},
		{name: "static build", check: func() error {
			for _, in := range df {
				if in.keyword == "RUN" && strings.Contains(in.args, "go build") && strings.Contains(in.args, "CGO_ENABLED=0") {
					return nil
				}
			}
			return errors.New("no RUN with CGO_ENABLED=0 go build")
		}},
		{name: "non-root user", check: func() error {
			in, ok := df.last("USER")
			if !ok {
				return errors.New("the final stage has no USER, so it runs as root")
			}
			user, _, _ := strings.Cut(in.args, ":")
			if user == "" || user == "root" || user == "0" {
				return fmt.Errorf("USER %s is root", in.args)
			}
			return nil
		}},
		{name: "healthcheck", check: func() error {
			in, ok := df.last("HEALTHCHECK")
			if !ok || strings.EqualFold(in.args, "NONE") {
				return errors.New("the final stage has no HEALTHCHECK")
			}
			if !strings.Contains(in.args, "product-service") || !strings.Contains(in.args, "healthcheck") {
				return fmt.Errorf("HEALTHCHECK %s does not run `product-service healthcheck`", in.args)
			}
			return nil
		}},
		{name: "exposes 8080", check: func() error {
			if in, ok := df.last("EXPOSE"); !ok || !slices.Contains(strings.Fields(in.args), "8080") {
				return errors.New("the final stage does not EXPOSE 8080")
			}
			return nil
		}},
		{name: "entrypoint and command", check: func() error {
			got := map[string]string{}
			for _, k := range []string{"ENTRYPOINT", "CMD"} {
				if in, ok := df.last(k); ok {
					got[k] = in.args
				}
			}
			want := map[string]string{"ENTRYPOINT": `["product-service"]`, "CMD": `["serve"]`}
			if diff := cmp.Diff(want, got); diff != "" {
				return fmt.Errorf("final stage (-want +got):\n%s", diff)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.check(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestImagePinning(t *testing.T) {
	tests := []struct {
		image string
		want  bool
	}{
		{image: "alpine:3.22.2", want: true},
		{image: "golang:1.26.8-bookworm", want: true},
		{image: "postgres:16.9-alpine", want: true},
		{image: "registry.local:5000/team/redis:7.4.4-alpine", want: true},
		{image: "gcr.io/distroless/static-debian12@sha256:" + strings.Repeat("a", 64), want: true},
		{image: "alpine", want: false},
		{image: "alpine:latest", want: false},
		{image: "postgres:16-alpine", want: false},
		{image: "gcr.io/distroless/static-debian12:nonroot", want: false},
		{image: "registry.local:5000/redis", want: false},
		{image: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			if got := pinned(tt.image) == nil; got != tt.want {
				t.Errorf("pinned(%q) = %v, want %v", tt.image, got, tt.want)
			}
		})
	}
}

func TestParseDockerfile(t *testing.T) {
	text := "# syntax comment\nFROM --platform=$BUILDPLATFORM golang:1.26.8 AS build\n" +
		"RUN a \\\n    && b\n\n# note\nfrom alpine:3.22.2\nUSER 10001:10001\n"
	want := dockerfile{
		{keyword: "FROM", args: "--platform=$BUILDPLATFORM golang:1.26.8 AS build"},
		{keyword: "RUN", args: "a && b"},
		{keyword: "FROM", args: "alpine:3.22.2"},
		{keyword: "USER", args: "10001:10001"},
	}
	if diff := cmp.Diff(want, parseDockerfile(text), cmp.AllowUnexported(instruction{})); diff != "" {
		t.Errorf("parseDockerfile (-want +got):\n%s", diff)
	}
	image, as := fromImage(want[0].args)
	if diff := cmp.Diff([]string{"golang:1.26.8", "build"}, []string{image, as}); diff != "" {
		t.Errorf("fromImage (-want +got):\n%s", diff)
	}
}

// versionTag matches a tag that names at least a minor version: 3.22.2, 16.9-alpine, v1.2.
var versionTag = regexp.MustCompile(`^v?\d+\.\d+`)

// pinned reports why an image reference could change under us, or nil when it is pinned by
// digest or by a tag naming at least a minor version.
func pinned(image string) error {
	tag, digest := imageTag(image)
	switch {
	case image == "":
		return errors.New("empty image")
	case digest != "":
		return nil
	case tag == "" || tag == "latest":
		return fmt.Errorf("image %q floats: pin a version tag", image)
	case !versionTag.MatchString(tag):
		return fmt.Errorf("image %q: tag %q is not a version (want at least major.minor)", image, tag)
	}
	return nil
}

// imageTag splits an image reference into its tag and digest; a registry port is not a tag.
func imageTag(image string) (tag, digest string) {
	if name, d, ok := strings.Cut(image, "@"); ok {
		image, digest = name, d
	}
	last := image[strings.LastIndex(image, "/")+1:]
	if _, t, ok := strings.Cut(last, ":"); ok {
		tag = t
	}
	return tag, digest
}

// fromImage returns the image and the stage name of a FROM instruction's arguments.
func fromImage(args string) (image, as string) {
	var rest []string
	for _, f := range strings.Fields(args) {
		if !strings.HasPrefix(f, "--") {
			rest = append(rest, f)
		}
	}
	if len(rest) > 0 {
		image = rest[0]
	}
	if len(rest) == 3 && strings.EqualFold(rest[1], "AS") {
		as = rest[2]
	}
	return image, as
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

// parseFlags reads "--name value" pairs from a command line; a flag followed by another flag or
// by nothing has the value "true".
func parseFlags(args []string) map[string]string {
	flags := map[string]string{}
	for i := 0; i < len(args); i++ {
		if !strings.HasPrefix(args[i], "--") {
			continue
		}
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			flags[args[i]] = args[i+1]
			i++
			continue
		}
		flags[args[i]] = "true"
	}
	return flags
}

// sortedNames returns the project's service names in order, so subtests run in a stable order.
func sortedNames(p *types.Project) []string {
	names := p.ServiceNames()
	sort.Strings(names)
	return names
}
