package stacktest_test

// Continuous profiling: Pyroscope runs in the stack, keeps its data on its volume, receives the
// service's profiles, and Grafana reaches it from Tempo's spans.

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/product-service-lab/product-service/app/internal/config"
)

const datasourcesDir = "grafana/provisioning/datasources"

func TestComposePyroscope(t *testing.T) {
	p := loadCompose(t, nil)
	s := service(t, p, "pyroscope")
	repo, tag, _ := strings.Cut(s.Image, ":")
	if repo != "grafana/pyroscope" || !strings.HasPrefix(tag, "1.") {
		t.Errorf("pyroscope image %q, want grafana/pyroscope:1.x (the push API the Go SDK speaks)", s.Image)
	}
	dir := parseFlags(s.Command)["-pyroscopedb.data-path"]
	if dir == "" || !onNamedVolume(s, dir) {
		t.Errorf("pyroscope keeps its data in %q (-pyroscopedb.data-path), which is not on a named volume", dir)
	}
	if limit, soft := memoryLimit(s), goMemLimit(t, s.Environment["GOMEMLIMIT"]); soft <= 0 || soft >= limit {
		t.Errorf("pyroscope GOMEMLIMIT %d MiB must be set below its memory limit %d MiB, or the GC runs late", soft>>20, limit>>20)
	}

	// The service pushes there, under the name its spans carry (OTEL_SERVICE_NAME), which the
	// Tempo datasource maps to Pyroscope's service_name.
	env := service(t, p, "product-service").Environment
	cfg, err := config.Load(func(key string) (string, bool) {
		if v := env[key]; v != nil {
			return *v, true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Telemetry.PyroscopeURL == "" || cfg.Telemetry.OTLPEndpoint == "" {
		t.Errorf("product-service: PYROSCOPE_URL %q and OTEL_EXPORTER_OTLP_ENDPOINT %q must both be set for span profiles",
			cfg.Telemetry.PyroscopeURL, cfg.Telemetry.OTLPEndpoint)
	}
}

// provisionedDatasource is one data source of any file under grafana/provisioning/datasources.
type provisionedDatasource struct {
	file     string
	Name     string         `yaml:"name"`
	Type     string         `yaml:"type"`
	UID      string         `yaml:"uid"`
	URL      string         `yaml:"url"`
	JSONData map[string]any `yaml:"jsonData"`
}

// loadAllDatasources reads every provisioning file Grafana reads (it loads them all), by uid.
func loadAllDatasources(t *testing.T) map[string]provisionedDatasource {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, datasourcesDir, "*.y*ml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no datasource files in %s: %v", datasourcesDir, err)
	}
	byUID := map[string]provisionedDatasource{}
	for _, f := range files {
		rel := datasourcesDir + "/" + filepath.Base(f)
		var cfg struct {
			Datasources []provisionedDatasource `yaml:"datasources"`
		}
		readYAML(t, rel, &cfg)
		for _, ds := range cfg.Datasources {
			ds.file = rel
			if prev, dup := byUID[ds.UID]; dup {
				t.Errorf("uid %q provisioned by both %s and %s", ds.UID, prev.file, rel)
			}
			byUID[ds.UID] = ds
		}
	}
	return byUID
}

// TestGrafanaDatasourceFilesAreComposeServices extends the datasources.yml check to every file of
// the directory, pyroscope.yml included.
func TestGrafanaDatasourceFilesAreComposeServices(t *testing.T) {
	for uid, ds := range loadAllDatasources(t) {
		checkAddress(t, ds.file+": datasource "+uid, ds.URL)
	}
}

// TestTracesLeadToProfiles: a span in Tempo links to the Pyroscope datasource, by the service
// name, on the CPU profile the Go SDK pushes.
func TestTracesLeadToProfiles(t *testing.T) {
	byUID := loadAllDatasources(t)
	pyro, ok := byUID["pyroscope"]
	if !ok || pyro.Type != "grafana-pyroscope-datasource" {
		t.Fatalf("no datasource uid pyroscope of type grafana-pyroscope-datasource: %+v", pyro)
	}
	if host, port, err := hostPort(pyro.URL); err != nil || host != "pyroscope" || !slices.Contains(listens["pyroscope"], port) {
		t.Errorf("pyroscope datasource url %q, want the compose service pyroscope:4040", pyro.URL)
	}
	link, _ := byUID["tempo"].JSONData["tracesToProfiles"].(map[string]any)
	if link == nil {
		t.Fatal("tempo datasource has no tracesToProfiles")
	}
	if link["datasourceUid"] != "pyroscope" {
		t.Errorf("tracesToProfiles.datasourceUid %v, want pyroscope", link["datasourceUid"])
	}
	if id, _ := link["profileTypeId"].(string); !strings.HasPrefix(id, "process_cpu:cpu:nanoseconds:") {
		t.Errorf("tracesToProfiles.profileTypeId %q, want the Go SDK's CPU profile process_cpu:cpu:nanoseconds:…", id)
	}
	tags, _ := link["tags"].([]any)
	if !slices.ContainsFunc(tags, func(tag any) bool {
		m, _ := tag.(map[string]any)
		return m["key"] == "service.name" && m["value"] == "service_name"
	}) {
		t.Errorf("tracesToProfiles.tags %v lack {key: service.name, value: service_name}", tags)
	}
}

// goMemLimit parses a GOMEMLIMIT value such as 300MiB (0 when unset or unreadable).
func goMemLimit(t *testing.T, v *string) int64 {
	t.Helper()
	if v == nil {
		return 0
	}
	for suffix, mult := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if n, ok := strings.CutSuffix(*v, suffix); ok {
			i, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				t.Errorf("GOMEMLIMIT %q: %v", *v, err)
				return 0
			}
			return i * mult
		}
	}
	t.Errorf("GOMEMLIMIT %q: want a number of KiB, MiB or GiB", *v)
	return 0
}
