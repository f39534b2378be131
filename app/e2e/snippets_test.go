//go:build e2e

package e2e

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/product-service-lab/product-service/app/internal/docsnippets"
)

// absentMetrics names the metrics a snippet of the docs may read that this run cannot produce,
// and why. Any other metric name a PromQL snippet reads must exist in Prometheus by the end of
// the run: a misspelt name would make its snippet return nothing forever, and look fine.
var absentMetrics = map[string]string{
	"pg_stat_statements_calls_total":   pgStatStatements,
	"pg_stat_statements_seconds_total": pgStatStatements,
	"loki_discarded_samples_total":     "Loki creates it with the first line it refuses (rate limit, too old, too long); the run sends none it would refuse",
	"k6_stale_reads_total":             "only loadtest/consistency.js counts stale_reads; the run's k6 script is observability/e2e/load.js",
}

// checkSnippets runs every PromQL and LogQL snippet of docsnippets.Documents (README.md,
// docs/queries.md, docs/telemetry.md, docs/troubleshooting.md) on the run's Prometheus and Loki, over the whole run: a
// snippet the server refuses fails the test, one without data is reported, not failed (many
// show a problem the run does not have). It also fails on a metric name no target exports.
func checkSnippets(t *testing.T, e evaluator) {
	t.Helper()
	snippets, err := docsnippets.ExtractFiles(repoRoot, docsnippets.Documents...)
	if err != nil {
		t.Fatal(err)
	}
	if len(snippets) == 0 {
		t.Fatalf("no snippet in %v", docsnippets.Documents)
	}
	known := metricNames(t, e.prometheus)
	used := map[string]bool{}
	e.wholeRun = true
	var ran, withData int
	var empty []string
	for _, s := range snippets {
		q := query{Source: s.Source(), Title: s.Comment, Datasource: "prometheus", Kind: "metric", Expr: s.Expr}
		if s.Lang == docsnippets.LogQL {
			q.Datasource = "loki"
			if s.IsLogQuery() {
				q.Kind = "logs"
			}
		}
		names, err := s.MetricNames()
		if err != nil {
			t.Errorf("%v", err)
		}
		for _, name := range names {
			used[name] = true
			if _, excused := absentMetrics[name]; !known[name] && !excused {
				t.Errorf("%s reads %s, which no target of the run exports (misspelt?)\n  %s", s.Source(), name, s.Expr)
			}
		}
		n, _, err := e.samples(q)
		if err != nil {
			t.Errorf("%s (%s, %s): %v\n  %s", s.Source(), s.Lang, s.Comment, err, s.Expr)
			continue
		}
		ran++
		if n > 0 {
			withData++
			t.Logf("data (%d): %s %s: %s", n, s.Source(), s.Lang, oneLine(s.Expr))
		} else {
			empty = append(empty, s.Source())
			t.Logf("no data: %s %s: %s", s.Source(), s.Lang, oneLine(s.Expr))
		}
	}
	for name, reason := range absentMetrics {
		switch {
		case !used[name]:
			t.Errorf("absentMetrics lists %s, which no snippet reads any more: remove it", name)
		case known[name]:
			t.Logf("%s exists after all in this run (absentMetrics: %s)", name, reason)
		}
	}
	t.Logf("doc snippets: %d found in %s, %d ran, %d returned data; without data: %s",
		len(snippets), strings.Join(docsnippets.Documents, ", "), ran, withData, strings.Join(empty, " "))
}

// metricNames returns every metric name Prometheus holds.
func metricNames(t *testing.T, prometheus string) map[string]bool {
	t.Helper()
	var body struct {
		Data []string `json:"data"`
	}
	if err := getJSON(prometheus, "/api/v1/label/__name__/values", url.Values{}, &body); err != nil {
		t.Fatal(err)
	}
	known := make(map[string]bool, len(body.Data))
	for _, n := range body.Data {
		known[n] = true
	}
	if !slices.Contains(body.Data, "up") {
		t.Fatalf("Prometheus lists %d metric names, not even up", len(body.Data))
	}
	return known
}

// oneLine joins a wrapped expression for a log line.
func oneLine(expr string) string { return strings.Join(strings.Fields(expr), " ") }
