package dashtest

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// TestPromtool runs promtool on the Prometheus files: the config (and the rule files it names),
// the rules, and the rules' unit tests.
func TestPromtool(t *testing.T) {
	bin := lab.Tool(t, "PROMTOOL", "promtool") // Debian: apt-get install prometheus
	glob := func(pattern string) []string {
		files, err := filepath.Glob(pattern)
		if err != nil || len(files) == 0 {
			t.Fatalf("no files match %s", pattern)
		}
		return files
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"check config", []string{"check", "config", promConfigFile}},
		{"check rules", append([]string{"check", "rules"}, glob(filepath.Join(rulesDir, "*.yml"))...)},
		{"test rules", append([]string{"test", "rules"}, glob(filepath.Join(rulesTestsDir, "*.yml"))...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(bin, tc.args...).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool %v: %v\n%s", tc.args, err, out)
			}
		})
	}
}
