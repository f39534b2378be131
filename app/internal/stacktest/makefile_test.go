package stacktest_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/product-service-lab/product-service/app/internal/config"
	"github.com/product-service-lab/product-service/app/internal/lab"
)

// makeOutput runs make in the repository root with args (-n for a dry run) and returns its output.
func makeOutput(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		lab.Missing(t, "make is not installed: %v", err)
	}
	cmd := exec.Command("make", append([]string{"-s", "--no-print-directory"}, args...)...)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestMakeHelpShowsValues: `make help` prints the tools directory, not the text $(TOOLS_DIR).
func TestMakeHelpShowsValues(t *testing.T) {
	out := makeOutput(t, "help", "TOOLS_DIR=/opt/lab-tools")
	if strings.Contains(out, "$(") {
		t.Errorf("make help prints a make variable unexpanded:\n%s", out)
	}
	if !strings.Contains(out, "/opt/lab-tools") {
		t.Errorf("make help does not name TOOLS_DIR's value:\n%s", out)
	}
}

// TestMakeRunHasItsOwnCacheNamespace: `make run` does not share the service's default cache
// namespace on a Redis other services may use, and the one it sets passes the service's check.
func TestMakeRunHasItsOwnCacheNamespace(t *testing.T) {
	out := makeOutput(t, "-n", "run")
	m := regexp.MustCompile(`CACHE_NAMESPACE='([^']*)'[^\n]* serve`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("make run sets no CACHE_NAMESPACE for serve:\n%s", out)
	}
	cfg, err := config.Load(func(key string) (string, bool) {
		if key == "CACHE_NAMESPACE" {
			return m[1], true
		}
		return "", false
	})
	if err != nil {
		t.Fatalf("make run's CACHE_NAMESPACE=%q: %v", m[1], err)
	}
	def, err := config.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cache.Namespace == def.Cache.Namespace {
		t.Errorf("make run uses the default cache namespace %q", def.Cache.Namespace)
	}
}

// debianVersion matches a Debian package version with a revision (1.22.1-9+deb12u11, 0.11.1-3+b5).
var debianVersion = regexp.MustCompile(`\d+\.\d+[.\d]*-\d+(\+\w+)?`)

// TestMakeToolsFetchTheArchivesDebianVersions: the Debian packages `make tools` unpacks are
// not pinned (a security update removes the pinned version from the archive and breaks the
// build); debian-tool.sh records the version it fetched instead.
func TestMakeToolsFetchTheArchivesDebianVersions(t *testing.T) {
	out := makeOutput(t, "-n", "tools", "TOOLS_DIR=/nonexistent/lab-tools")
	lines := 0
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "debian-tool.sh") {
			continue
		}
		lines++
		// LIBS names library packages, whose names hold their soname (libluajit2-5.1-2).
		_, args, _ := strings.Cut(line, "debian-tool.sh")
		if v := debianVersion.FindString(args); v != "" {
			t.Errorf("make tools pins Debian version %s: %s", v, line)
		}
	}
	if lines != 4 {
		t.Errorf("make tools runs debian-tool.sh %d times, want 4 (two exporters, nginx, wrk):\n%s", lines, out)
	}
}
