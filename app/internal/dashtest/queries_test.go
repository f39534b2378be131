package dashtest_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// query is one PromQL or LogQL expression of a panel, variable, annotation or rule, ready to be
// evaluated: dashboard variables are substituted.
type query struct {
	// Source says where it comes from: "dashboard/<file>/panel <id>/<refId>",
	// "dashboard/<file>/variable <name>", "dashboard/<file>/annotation <name>",
	// "rules/<file>/<record or alert name>".
	Source string `json:"source"`
	// Title is the panel title or the rule name, for people reading the list.
	Title string `json:"title"`
	// Datasource is the uid of the data source that runs it: prometheus or loki.
	Datasource string `json:"datasource"`
	// Kind is "metric" (an instant query returns samples) or "logs" (a LogQL log query, which
	// Loki only runs as a range query).
	Kind string `json:"kind"`
	Expr string `json:"expr"`
	// raw is the expression as written, before substitution.
	raw string
}

// builtinValues stand in for Grafana's own variables when a query runs outside Grafana.
var builtinValues = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "1m",
	"__auto":          "1m",
	"__range":         "5m",
}

// allQueries lists every expression of every dashboard and rule file.
func allQueries(t *testing.T) []query {
	t.Helper()
	var out []query
	for _, d := range loadDashboards(t) {
		out = append(out, dashboardQueries(d)...)
	}
	for _, r := range rules(t) {
		name := r.Record + r.Alert
		out = append(out, query{Source: "rules/" + r.file + "/" + name, Title: name,
			Datasource: "prometheus", Kind: "metric", Expr: strings.TrimSpace(r.Expr), raw: r.Expr})
	}
	return out
}

// labelValues matches Grafana's label_values(selector, label) variable query.
var labelValues = regexp.MustCompile(`^\s*label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)\s*$`)

// dashboardQueries lists the expressions of one dashboard with its variables substituted.
func dashboardQueries(d dashboard) []query {
	values := variableValues(d)
	var out []query
	add := func(source, title, ds, kind, expr string) {
		if strings.TrimSpace(expr) == "" {
			return
		}
		out = append(out, query{Source: "dashboard/" + d.name + "/" + source, Title: title,
			Datasource: ds, Kind: kind, Expr: substitute(expr, values), raw: expr})
	}
	for _, p := range d.panels() {
		panelDS := str(obj(p["datasource"])["uid"])
		for _, tg := range list(p["targets"]) {
			tm := obj(tg)
			ds := str(obj(tm["datasource"])["uid"])
			if ds == "" {
				ds = panelDS
			}
			kind := "metric"
			if str(p["type"]) == "logs" {
				kind = "logs"
			}
			add(fmt.Sprintf("panel %v/%s", p["id"], str(tm["refId"])), str(p["title"]), ds, kind, str(tm["expr"]))
		}
	}
	for _, v := range d.variables() {
		// label_values(sel, label) is Grafana's; the same question in PromQL is group by (label) (sel).
		if m := labelValues.FindStringSubmatch(varQuery(v)); m != nil && str(obj(v["datasource"])["uid"]) == "prometheus" {
			add("variable "+str(v["name"]), "variable "+str(v["name"]), "prometheus", "metric",
				fmt.Sprintf("group by (%s) (%s)", m[2], m[1]))
		}
	}
	for _, a := range d.annotations() {
		if expr := str(a["expr"]); expr != "" {
			add("annotation "+str(a["name"]), "annotation "+str(a["name"]), str(obj(a["datasource"])["uid"]), "metric", expr)
		}
	}
	return out
}

// variableValues gives each template variable the value an evaluation uses: the allValue when
// "All" is selected (".*" here, so every series matches), else the current value.
func variableValues(d dashboard) map[string]string {
	values := map[string]string{}
	for name, v := range builtinValues {
		values[name] = v
	}
	for _, v := range d.variables() {
		cur := obj(v["current"])
		val := str(cur["value"])
		if vals := list(cur["value"]); len(vals) > 0 {
			val = str(vals[0])
		}
		if val == "$__all" || (val == "" && v["includeAll"] == true) {
			val = str(v["allValue"])
			if val == "" {
				val = ".*"
			}
		}
		values[str(v["name"])] = val
	}
	return values
}

// substitute replaces $name, ${name}, ${name:format} and [[name]] by values[name]; unknown names
// stay as they are (TestDashboards reports them).
func substitute(expr string, values map[string]string) string {
	return varRef.ReplaceAllStringFunc(expr, func(ref string) string {
		m := varRef.FindStringSubmatch(ref)
		if v, ok := values[m[1]+m[2]+m[3]]; ok {
			return v
		}
		return ref
	})
}

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

// TestWriteQueryList writes the query list for end-to-end runs (see the package doc).
func TestWriteQueryList(t *testing.T) {
	out := os.Getenv("DASHTEST_QUERIES_OUT")
	if out == "" {
		t.Skip("DASHTEST_QUERIES_OUT is not set")
	}
	queries := allQueries(t)
	sort.SliceStable(queries, func(i, j int) bool { return queries[i].Source < queries[j].Source })
	raw, err := json.MarshalIndent(queries, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, append(raw, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d queries to %s", len(queries), out)
}
