package dashtest_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The files under test, relative to this package.
const (
	repoRoot        = "../../.."
	dashboardsDir   = repoRoot + "/grafana/dashboards"
	datasourcesFile = repoRoot + "/grafana/provisioning/datasources/datasources.yml"
	// profileDatasourcesFile provisions Pyroscope, in a file of its own.
	profileDatasourcesFile = repoRoot + "/grafana/provisioning/datasources/pyroscope.yml"
	providersFile          = repoRoot + "/grafana/provisioning/dashboards/dashboards.yml"
	promConfigFile         = repoRoot + "/prometheus/prometheus.yml"
	rulesDir               = repoRoot + "/prometheus/rules"
	rulesTestsDir          = repoRoot + "/prometheus/rules/tests"
	runbooksFile           = repoRoot + "/docs/alerts.md"
)

// dashboard is one dashboard file, decoded generically: the tests read what Grafana reads.
type dashboard struct {
	name string // file name without .json, e.g. "cache-lab"
	json map[string]any
}

// loadDashboards decodes every grafana/dashboards/*.json, sorted by file name.
func loadDashboards(t *testing.T) []dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dashboardsDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no dashboards in %s", dashboardsDir)
	}
	sort.Strings(files)
	var out []dashboard
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s is not valid JSON: %v", f, err)
		}
		out = append(out, dashboard{name: strings.TrimSuffix(filepath.Base(f), ".json"), json: m})
	}
	return out
}

// panels returns every panel of d, those nested in collapsed rows included.
func (d dashboard) panels() []map[string]any {
	var out []map[string]any
	for _, p := range list(d.json["panels"]) {
		pm := obj(p)
		out = append(out, pm)
		for _, nested := range list(pm["panels"]) {
			out = append(out, obj(nested))
		}
	}
	return out
}

// variables returns the dashboard's template variables.
func (d dashboard) variables() []map[string]any {
	var out []map[string]any
	for _, v := range list(obj(d.json["templating"])["list"]) {
		out = append(out, obj(v))
	}
	return out
}

// annotations returns the dashboard's annotation queries, the built-in one included.
func (d dashboard) annotations() []map[string]any {
	var out []map[string]any
	for _, a := range list(obj(d.json["annotations"])["list"]) {
		out = append(out, obj(a))
	}
	return out
}

// readYAML decodes a YAML file into v.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// ruleFile is a Prometheus rule file.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

// rule is a recording rule (Record set) or an alerting rule (Alert set).
type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// ruleFiles returns the rule files of prometheus/rules by base name.
func ruleFiles(t *testing.T) map[string]ruleFile {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(rulesDir, "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]ruleFile{}
	for _, f := range files {
		var rf ruleFile
		readYAML(t, f, &rf)
		out[filepath.Base(f)] = rf
	}
	if len(out) == 0 {
		t.Fatalf("no rule files in %s", rulesDir)
	}
	return out
}

// fileRule is a rule and the file it is in.
type fileRule struct {
	file string
	rule
}

// rules returns every rule of every rule file, files in name order.
func rules(t *testing.T) []fileRule {
	t.Helper()
	files := ruleFiles(t)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []fileRule
	for _, name := range names {
		for _, g := range files[name].Groups {
			for _, r := range g.Rules {
				out = append(out, fileRule{name, r})
			}
		}
	}
	return out
}

// obj and list read decoded JSON without panicking on a missing or mistyped field.
func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
