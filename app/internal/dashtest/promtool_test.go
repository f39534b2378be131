package dashtest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// promtool returns the path of promtool, skipping the test when it is missing, except under CI,
// where a missing promtool fails it.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is not on the PATH (CI is set): install Prometheus (Debian: apt-get install prometheus)")
		}
		t.Skip("promtool is not on the PATH; install Prometheus to check the config and rules")
	}
	return path
}

// TestPromtool runs promtool on the Prometheus files: the config (and the rule files it names),
// the rules, and the rules' unit tests.
func TestPromtool(t *testing.T) {
	bin := promtool(t)
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
