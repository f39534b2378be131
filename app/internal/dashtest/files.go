package dashtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// The files the package reads, relative to the repository root.
const (
	dashboardsPath = "grafana/dashboards"
	promConfigPath = "prometheus/prometheus.yml"
	rulesPath      = "prometheus/rules"
)

// dashboard is one dashboard file, decoded generically: the checks read what Grafana reads.
type dashboard struct {
	name string // file name without .json, e.g. "cache-lab"
	json map[string]any
}

// readDashboards decodes every grafana/dashboards/*.json under root, sorted by file name.
func readDashboards(root string) ([]dashboard, error) {
	files, err := glob(filepath.Join(root, dashboardsPath), "*.json")
	if err != nil {
		return nil, err
	}
	var out []dashboard
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read dashboard: %w", err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("%s is not valid JSON: %w", f, err)
		}
		out = append(out, dashboard{name: strings.TrimSuffix(filepath.Base(f), ".json"), json: m})
	}
	return out, nil
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

// varQuery is a query variable's query, in either of the forms Grafana saves.
func varQuery(v map[string]any) string {
	if q, ok := v["query"].(string); ok {
		return q
	}
	return str(obj(v["query"])["query"])
}

// decodeYAML decodes the YAML file at path into v.
func decodeYAML(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
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

// fileRule is a rule and the file it is in.
type fileRule struct {
	file string
	rule
}

// readRules returns every rule of every prometheus/rules/*.yml under root, files in name order.
func readRules(root string) ([]fileRule, error) {
	files, err := glob(filepath.Join(root, rulesPath), "*.yml")
	if err != nil {
		return nil, err
	}
	var out []fileRule
	for _, f := range files {
		var rf ruleFile
		if err := decodeYAML(f, &rf); err != nil {
			return nil, err
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				out = append(out, fileRule{filepath.Base(f), r})
			}
		}
	}
	return out, nil
}

// glob returns the files of dir matching pattern, sorted; none is an error.
func glob(dir, pattern string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no %s in %s (%v)", pattern, dir, err)
	}
	sort.Strings(files)
	return files, nil
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
