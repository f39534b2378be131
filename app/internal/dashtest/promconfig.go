package dashtest

import (
	"fmt"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// NativeConfig returns the prometheus/prometheus.yml of the repository at root for a Prometheus
// run outside compose: each job named in targets scrapes those static host:port targets instead
// of its compose ones, other jobs are removed, and rule_files become absolute paths.
func NativeConfig(root string, targets map[string][]string) ([]byte, error) {
	var cfg map[string]any
	if err := decodeYAML(filepath.Join(root, promConfigPath), &cfg); err != nil {
		return nil, err
	}
	rulesAbs, err := filepath.Abs(filepath.Join(root, filepath.Dir(promConfigPath)))
	if err != nil {
		return nil, fmt.Errorf("rule files: %w", err)
	}
	var ruleFiles []any
	for _, f := range list(cfg["rule_files"]) {
		ruleFiles = append(ruleFiles, filepath.Join(rulesAbs, str(f)))
	}
	cfg["rule_files"] = ruleFiles
	var jobs []any
	for _, sc := range list(cfg["scrape_configs"]) {
		m := obj(sc)
		addrs, ok := targets[str(m["job_name"])]
		if !ok {
			continue
		}
		delete(m, "dns_sd_configs")
		m["static_configs"] = []any{map[string]any{"targets": addrs}}
		jobs = append(jobs, m)
	}
	cfg["scrape_configs"] = jobs
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode prometheus.yml: %w", err)
	}
	return out, nil
}
