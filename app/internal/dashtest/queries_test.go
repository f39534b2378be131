package dashtest

import (
	"regexp"
	"strings"
	"testing"
)

// TestQueryList: the list covers every dashboard and rule file, substitution leaves no variable,
// and every recording rule a query reads exists.
func TestQueryList(t *testing.T) {
	queries := allQueries(t)
	bySource := map[string]bool{}
	for _, q := range queries {
		if bySource[q.Source] {
			t.Errorf("two queries have source %s", q.Source)
		}
		bySource[q.Source] = true
		if q.Datasource != "prometheus" && q.Datasource != "loki" {
			t.Errorf("%s: datasource %q: want prometheus or loki", q.Source, q.Datasource)
		}
		if strings.Contains(q.Expr, "$") || strings.Contains(q.Expr, "[[") {
			t.Errorf("%s: %q still has a variable after substitution", q.Source, q.Expr)
		}
	}
	recorded := map[string]bool{}
	for _, r := range rules(t) {
		if r.Record != "" {
			recorded[r.Record] = true
		}
	}
	for _, q := range queries {
		if q.Datasource != "prometheus" {
			continue
		}
		for _, name := range recordedNames(q.Expr) {
			if !recorded[name] {
				t.Errorf("%s reads %s, which no recording rule records", q.Source, name)
			}
		}
	}
	for _, d := range loadDashboards(t) {
		if len(dashboardQueries(d)) == 0 {
			t.Errorf("dashboard %s has no query", d.name)
		}
	}
}

// quoted and colonName find the recording rules (names with colons) an expression reads, outside
// string literals (route="/api/v1/products/:id" is a label value).
var (
	quoted    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	colonName = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*:[A-Za-z0-9_:]*[A-Za-z0-9_]`)
)

func recordedNames(expr string) []string {
	return colonName.FindAllString(quoted.ReplaceAllString(expr, `""`), -1)
}
