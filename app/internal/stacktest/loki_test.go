package stacktest_test

import (
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

const lokiConfig = repoRoot + "/loki/loki.yaml"

// lokiLimits are the limits loki.yaml must set explicitly rather than inherit from Loki's
// defaults: each one decides when Loki refuses lines (and the service counts them dropped) or
// when it deletes them.
var lokiLimits = []string{
	"retention_period",
	"ingestion_rate_mb", "ingestion_burst_size_mb",
	"per_stream_rate_limit", "per_stream_rate_limit_burst",
	"max_global_streams_per_user",
	"max_line_size",
	"reject_old_samples", "reject_old_samples_max_age",
}

// TestLokiLimitsExplained: every limit of lokiLimits is set in limits_config with a comment
// giving its reason (on the key, or on the key just above it that it goes with), and the
// compactor enforces retention_period. That the real Loki accepts the file is checked by
// `make e2e` (loki -verify-config) and by every e2e run that starts it.
func TestLokiLimitsExplained(t *testing.T) {
	raw, err := os.ReadFile(lokiConfig)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", lokiConfig, err)
	}
	limits := mappingValue(doc.Content[0], "limits_config")
	if limits == nil {
		t.Fatalf("%s has no limits_config", lokiConfig)
	}
	explained := map[string]bool{}
	for i := 0; i+1 < len(limits.Content); i += 2 {
		key := limits.Content[i]
		explained[key.Value] = key.HeadComment != ""
		if i >= 2 {
			prev := limits.Content[i-2]
			// A key on the line right after an explained one shares its comment.
			if explained[prev.Value] && key.Line == prev.Line+1 {
				explained[key.Value] = true
			}
		}
	}
	for _, name := range lokiLimits {
		got, set := explained[name]
		switch {
		case !set:
			t.Errorf("limits_config.%s is not set: Loki's default would apply silently", name)
		case !got:
			t.Errorf("limits_config.%s has no comment giving its reason", name)
		}
	}
	compactor := mappingValue(doc.Content[0], "compactor")
	if v := mappingValue(compactor, "retention_enabled"); v == nil || v.Value != "true" {
		t.Error("compactor.retention_enabled is not true: retention_period would only bound queries, never delete")
	}
}

// mappingValue returns the value of key in the YAML mapping m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
