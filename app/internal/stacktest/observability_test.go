package stacktest_test

// How the telemetry services are wired: the flags each backend needs, and that every address in
// their configuration files (Prometheus targets, Grafana datasources, Tempo's receivers and remote
// write, Loki's port) names a compose service on a port it listens on. The files' own content
// (rules, dashboards, datasource links) is tested in app/internal/dashtest.

import (
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// readYAML decodes a file of the repository (path relative to its root) into v.
func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	raw, err := os.ReadFile(repoRoot + "/" + file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// checkAddress reports an error unless addr names a compose service on a port it listens on.
func checkAddress(t *testing.T, where, addr string) {
	t.Helper()
	host, port, err := hostPort(addr)
	switch {
	case err != nil:
		t.Errorf("%s: address %q: %v", where, addr, err)
	case listens[host] == nil:
		t.Errorf("%s: %q names %q, which is not a server of the compose stack", where, addr, host)
	case !slices.Contains(listens[host], port):
		t.Errorf("%s: %q: %s listens on %v, not %d", where, addr, host, listens[host], port)
	}
}

func TestComposePrometheus(t *testing.T) {
	s := service(t, loadCompose(t, nil), "prometheus")
	flags := parseFlags(s.Command)
	if got := flags["--config.file"]; got != "/etc/prometheus/prometheus.yml" {
		t.Errorf("--config.file=%q, want /etc/prometheus/prometheus.yml", got)
	}
	if host, ok := hostPath(s, "/etc/prometheus/prometheus.yml"); !ok || !strings.HasSuffix(host, "/prometheus/prometheus.yml") {
		t.Errorf("/etc/prometheus/prometheus.yml comes from %q, want ./prometheus/prometheus.yml", host)
	}
	if flags["--web.enable-remote-write-receiver"] != "true" {
		t.Error("no --web.enable-remote-write-receiver: k6 and Tempo's metrics generator cannot write")
	}
	features := strings.Split(flags["--enable-feature"], ",")
	for _, f := range []string{"exemplar-storage", "native-histograms"} {
		if !slices.Contains(features, f) {
			t.Errorf("--enable-feature=%s lacks %s", flags["--enable-feature"], f)
		}
	}
	if got := flags["--storage.tsdb.path"]; got != "/prometheus" {
		t.Errorf("--storage.tsdb.path=%q, want /prometheus (the prometheus-data volume)", got)
	}
	// Rule files are relative to the config file; each must reach the container.
	var cfg struct {
		RuleFiles []string `yaml:"rule_files"`
	}
	readYAML(t, "prometheus/prometheus.yml", &cfg)
	if len(cfg.RuleFiles) == 0 {
		t.Error("prometheus.yml loads no rules")
	}
	for _, f := range cfg.RuleFiles {
		file := path.Join(path.Dir(flags["--config.file"]), f)
		host, ok := hostPath(s, file)
		if !ok {
			t.Errorf("rule file %s is not mounted", file)
			continue
		}
		if _, err := os.Stat(host); err != nil {
			t.Errorf("rule file %s: %v", file, err)
		}
	}
}

// TestPrometheusTargetsAreComposeServices: every job scrapes compose services on their ports, and
// the service's job finds every replica by DNS rather than naming one container.
func TestPrometheusTargetsAreComposeServices(t *testing.T) {
	var cfg struct {
		ScrapeConfigs []struct {
			JobName      string `yaml:"job_name"`
			DNSSDConfigs []struct {
				Names []string `yaml:"names"`
				Type  string   `yaml:"type"`
				Port  int      `yaml:"port"`
			} `yaml:"dns_sd_configs"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus/prometheus.yml", &cfg)
	jobs := map[string]bool{}
	for _, sc := range cfg.ScrapeConfigs {
		jobs[sc.JobName] = true
		for _, sd := range sc.DNSSDConfigs {
			for _, name := range sd.Names {
				checkAddress(t, "job "+sc.JobName, name+":"+strconv.Itoa(sd.Port))
			}
		}
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				if strings.HasPrefix(target, "localhost:") && sc.JobName == "prometheus" {
					continue // Prometheus itself
				}
				checkAddress(t, "job "+sc.JobName, target)
			}
		}
		if sc.JobName == "product-service" && (len(sc.DNSSDConfigs) == 0 || len(sc.StaticConfigs) > 0) {
			t.Error("job product-service must find the replicas by DNS (dns_sd_configs), not list targets")
		}
	}
	for _, want := range []string{"product-service", "postgres", "redis", "loki", "tempo"} {
		if !jobs[want] {
			t.Errorf("no scrape job %s", want)
		}
	}
}

func TestGrafanaDatasourcesAreComposeServices(t *testing.T) {
	var cfg struct {
		Datasources []struct {
			UID string `yaml:"uid"`
			URL string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, "grafana/provisioning/datasources/datasources.yml", &cfg)
	if len(cfg.Datasources) == 0 {
		t.Fatal("no datasources")
	}
	for _, ds := range cfg.Datasources {
		checkAddress(t, "datasource "+ds.UID, ds.URL)
	}
}

func TestComposeGrafana(t *testing.T) {
	s := service(t, loadCompose(t, nil), "grafana")
	env := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			env[k] = *v
		}
	}
	for k, want := range map[string]string{
		"GF_AUTH_ANONYMOUS_ENABLED":  "true",
		"GF_AUTH_ANONYMOUS_ORG_ROLE": "Admin",
		"GF_AUTH_DISABLE_LOGIN_FORM": "true",
	} {
		if env[k] != want {
			t.Errorf("%s=%q, want %q (no login)", k, env[k], want)
		}
	}
	if _, ok := hostPath(s, "/etc/grafana/provisioning/datasources/datasources.yml"); !ok {
		t.Error("grafana/provisioning is not mounted at /etc/grafana/provisioning")
	}
	// The dashboard provider reads a directory of the container: it must be the mounted one.
	var providers struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "grafana/provisioning/dashboards/dashboards.yml", &providers)
	for _, pr := range providers.Providers {
		host, ok := hostPath(s, pr.Options.Path+"/service-overview.json")
		if !ok {
			t.Errorf("dashboard provider path %s is not a mounted directory", pr.Options.Path)
			continue
		}
		if _, err := os.Stat(host); err != nil {
			t.Errorf("dashboard provider path %s: %v", pr.Options.Path, err)
		}
	}
	if home := env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != "" {
		if host, ok := hostPath(s, home); !ok {
			t.Errorf("home dashboard %s is not mounted", home)
		} else if _, err := os.Stat(host); err != nil {
			t.Errorf("home dashboard %s: %v", home, err)
		}
	}
}

func TestComposeLoki(t *testing.T) {
	s := service(t, loadCompose(t, nil), "loki")
	flags := parseFlags(s.Command)
	if flags["-config.expand-env"] != "true" {
		t.Error("loki needs -config.expand-env=true: loki.yaml reads ${LOKI_DATA:-/loki} and its ports from the environment")
	}
	// With no LOKI_* set in the container, loki.yaml's defaults apply.
	for k := range s.Environment {
		if strings.HasPrefix(k, "LOKI_") {
			t.Errorf("loki sets %s; the config's defaults are the compose values", k)
		}
	}
	raw, err := os.ReadFile(repoRoot + "/loki/loki.yaml")
	if err != nil {
		t.Fatal(err)
	}
	expanded := regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`).ReplaceAllString(string(raw), "$1")
	var cfg struct {
		Server struct {
			HTTPListenPort int `yaml:"http_listen_port"`
		} `yaml:"server"`
		Common struct {
			PathPrefix string `yaml:"path_prefix"`
		} `yaml:"common"`
	}
	if err := yaml.Unmarshal([]byte(expanded), &cfg); err != nil {
		t.Fatalf("loki.yaml with its defaults: %v", err)
	}
	if !slices.Contains(listens["loki"], cfg.Server.HTTPListenPort) {
		t.Errorf("loki.yaml listens on %d, the stack expects %v", cfg.Server.HTTPListenPort, listens["loki"])
	}
	if cfg.Common.PathPrefix != "/loki" {
		t.Errorf("loki.yaml keeps data in %q, not on the /loki volume", cfg.Common.PathPrefix)
	}
}

// TestTempoConfig: Tempo receives OTLP where the service sends it, serves Grafana where the
// datasource looks, keeps its data on its volume, and writes span metrics and the service graph
// to Prometheus's remote-write receiver.
func TestTempoConfig(t *testing.T) {
	var cfg struct {
		Server struct {
			HTTPListenPort int `yaml:"http_listen_port"`
		} `yaml:"server"`
		Distributor struct {
			Receivers struct {
				OTLP struct {
					Protocols map[string]struct {
						Endpoint string `yaml:"endpoint"`
					} `yaml:"protocols"`
				} `yaml:"otlp"`
			} `yaml:"receivers"`
		} `yaml:"distributor"`
		MetricsGenerator struct {
			Storage struct {
				Path        string `yaml:"path"`
				RemoteWrite []struct {
					URL           string `yaml:"url"`
					SendExemplars bool   `yaml:"send_exemplars"`
				} `yaml:"remote_write"`
			} `yaml:"storage"`
		} `yaml:"metrics_generator"`
		Storage struct {
			Trace struct {
				Backend string `yaml:"backend"`
				WAL     struct {
					Path string `yaml:"path"`
				} `yaml:"wal"`
				Local struct {
					Path string `yaml:"path"`
				} `yaml:"local"`
			} `yaml:"trace"`
		} `yaml:"storage"`
		Overrides struct {
			Defaults struct {
				MetricsGenerator struct {
					Processors []string `yaml:"processors"`
				} `yaml:"metrics_generator"`
			} `yaml:"defaults"`
		} `yaml:"overrides"`
	}
	readYAML(t, "observability/tempo.yaml", &cfg)

	if !slices.Contains(listens["tempo"], cfg.Server.HTTPListenPort) {
		t.Errorf("http_listen_port %d, the stack expects one of %v", cfg.Server.HTTPListenPort, listens["tempo"])
	}
	for proto, want := range map[string]string{"grpc": "0.0.0.0:4317", "http": "0.0.0.0:4318"} {
		if got := cfg.Distributor.Receivers.OTLP.Protocols[proto].Endpoint; got != want {
			t.Errorf("OTLP %s receiver on %q, want %q (reachable from other containers)", proto, got, want)
		}
	}
	if len(cfg.MetricsGenerator.Storage.RemoteWrite) == 0 {
		t.Error("the metrics generator writes nowhere")
	}
	for _, rw := range cfg.MetricsGenerator.Storage.RemoteWrite {
		checkAddress(t, "metrics generator remote_write", rw.URL)
		if host, _, _ := hostPort(rw.URL); host != "prometheus" || !strings.HasSuffix(rw.URL, "/api/v1/write") {
			t.Errorf("remote_write %q, want Prometheus's receiver http://prometheus:9090/api/v1/write", rw.URL)
		}
		if !rw.SendExemplars {
			t.Errorf("remote_write %q without exemplars: span metrics would not lead to traces", rw.URL)
		}
	}
	for _, want := range []string{"service-graphs", "span-metrics"} {
		if !slices.Contains(cfg.Overrides.Defaults.MetricsGenerator.Processors, want) {
			t.Errorf("metrics generator processors %v lack %s", cfg.Overrides.Defaults.MetricsGenerator.Processors, want)
		}
	}
	if cfg.Storage.Trace.Backend != "local" {
		t.Errorf("trace storage backend %q, want local", cfg.Storage.Trace.Backend)
	}
	s := service(t, loadCompose(t, nil), "tempo")
	for _, dir := range []string{cfg.Storage.Trace.WAL.Path, cfg.Storage.Trace.Local.Path, cfg.MetricsGenerator.Storage.Path} {
		if !onNamedVolume(s, dir) {
			t.Errorf("tempo writes %q, which is not on a named volume", dir)
		}
	}
}

// onNamedVolume reports whether dir is at or below a named volume of s.
func onNamedVolume(s types.ServiceConfig, dir string) bool {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeVolume && (dir == v.Target || strings.HasPrefix(dir, strings.TrimSuffix(v.Target, "/")+"/")) {
			return true
		}
	}
	return false
}

// TestComposePgStatStatements: the statements the postgres exporter reports exist only when the
// library is preloaded and the extension is created in the database it connects to.
func TestComposePgStatStatements(t *testing.T) {
	p := loadCompose(t, nil)
	var settings []string
	cmd := service(t, p, "postgres").Command
	for i := 0; i+1 < len(cmd); i++ {
		if cmd[i] == "-c" {
			settings = append(settings, cmd[i+1])
		}
	}
	if !slices.Contains(settings, "shared_preload_libraries=pg_stat_statements") {
		t.Errorf("postgres settings %v do not preload pg_stat_statements", settings)
	}

	initCmd := strings.Join(service(t, p, "postgres-init").Command, " ")
	if !strings.Contains(initCmd, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements") {
		t.Errorf("postgres-init runs %q, not an idempotent CREATE EXTENSION", initCmd)
	}
	exporter := service(t, p, "postgres-exporter")
	dsn := exporter.Environment["DATA_SOURCE_NAME"]
	if dsn == nil {
		t.Fatal("postgres-exporter has no DATA_SOURCE_NAME")
	}
	db := (*dsn)[strings.LastIndex(*dsn, "/")+1:]
	db, _, _ = strings.Cut(db, "?")
	if !strings.Contains(initCmd, "-d "+db) {
		t.Errorf("postgres-init creates the extension elsewhere than the exporter's database %q: %q", db, initCmd)
	}
	flags := parseFlags(exporter.Command)
	for _, f := range []string{"--collector.stat_statements", "--collector.stat_statements.include_query"} {
		if flags[f] != "true" {
			t.Errorf("postgres-exporter lacks %s", f)
		}
	}
}

// TestComposeK6: k6 runs only on demand, writes to Prometheus whatever script it is given, and
// writes its trends the way the Load test dashboard reads them.
func TestComposeK6(t *testing.T) {
	p := loadAll(t)
	raw, err := os.ReadFile(repoRoot + "/grafana/dashboards/load-test.json")
	if err != nil {
		t.Fatal(err)
	}
	percentiles := map[string]bool{}
	for _, m := range regexp.MustCompile(`k6_[a-z_]+_p(\d+)\b`).FindAllStringSubmatch(string(raw), -1) {
		percentiles[m[1]] = true
	}
	if len(percentiles) == 0 {
		t.Fatal("the Load test dashboard reads no k6 percentile gauge; update this test")
	}
	for _, name := range []string{"k6", "traffic"} {
		t.Run(name, func(t *testing.T) {
			s := service(t, p, name)
			env := map[string]string{}
			for k, v := range s.Environment {
				if v != nil {
					env[k] = *v
				}
			}
			if !slices.Contains(strings.Split(env["K6_OUT"], ","), "experimental-prometheus-rw") {
				t.Errorf("K6_OUT=%q: results would not reach Prometheus", env["K6_OUT"])
			}
			if env["K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM"] == "true" {
				t.Error("trends as native histograms: the dashboard reads the p95/p99 gauges")
			}
			stats := strings.Split(env["K6_PROMETHEUS_RW_TREND_STATS"], ",")
			for pct := range percentiles {
				if !slices.Contains(stats, "p("+pct+")") {
					t.Errorf("K6_PROMETHEUS_RW_TREND_STATS=%q lacks p(%s), which the dashboard reads", env["K6_PROMETHEUS_RW_TREND_STATS"], pct)
				}
			}
			if len(s.Entrypoint) != 0 {
				t.Errorf("entrypoint %q: keep the image's (k6), so `run …` works", s.Entrypoint)
			}
			if len(s.Command) == 0 || s.Command[0] != "run" {
				t.Errorf("command %q, want `run …`", s.Command)
			}
		})
	}
	if host, ok := hostPath(service(t, p, "k6"), "/loadtest/smoke.js"); !ok || !strings.HasSuffix(host, "/loadtest/smoke.js") {
		t.Errorf("/loadtest is not ./loadtest (got %q): `docker compose run --rm k6 run /loadtest/<script>.js` needs it", host)
	}
}
