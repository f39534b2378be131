package dashtest

import (
	"testing"
)

// The files under test, relative to this package.
const (
	repoRoot        = "../../.."
	dashboardsDir   = repoRoot + "/" + dashboardsPath
	datasourcesFile = repoRoot + "/grafana/provisioning/datasources/datasources.yml"
	// profileDatasourcesFile provisions Pyroscope, in a file of its own.
	profileDatasourcesFile = repoRoot + "/grafana/provisioning/datasources/pyroscope.yml"
	providersFile          = repoRoot + "/grafana/provisioning/dashboards/dashboards.yml"
	promConfigFile         = repoRoot + "/" + promConfigPath
	rulesDir               = repoRoot + "/" + rulesPath
	rulesTestsDir          = repoRoot + "/prometheus/rules/tests"
	runbooksFile           = repoRoot + "/docs/alerts.md"
)

// must returns read(repoRoot), failing the test on error.
func must[T any](t *testing.T, read func(root string) (T, error)) T {
	t.Helper()
	v, err := read(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// loadDashboards, rules and allQueries read the repository's dashboards, rules and queries.
func loadDashboards(t *testing.T) []dashboard { t.Helper(); return must(t, readDashboards) }
func rules(t *testing.T) []fileRule           { t.Helper(); return must(t, readRules) }
func allQueries(t *testing.T) []Query         { t.Helper(); return must(t, Queries) }

// readYAML decodes a YAML file into v.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	if err := decodeYAML(path, v); err != nil {
		t.Fatal(err)
	}
}
