package dashtest

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Query is one PromQL or LogQL expression of a panel, variable, annotation or rule, ready to be
// evaluated: dashboard variables are substituted.
type Query struct {
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

// Queries lists every expression of every dashboard and rule file of the repository at root,
// sorted by Source (see the package doc).
func Queries(root string) ([]Query, error) {
	dashboards, err := readDashboards(root)
	if err != nil {
		return nil, err
	}
	rules, err := readRules(root)
	if err != nil {
		return nil, err
	}
	var out []Query
	for _, d := range dashboards {
		out = append(out, dashboardQueries(d)...)
	}
	for _, r := range rules {
		name := r.Record + r.Alert
		out = append(out, Query{Source: "rules/" + r.file + "/" + name, Title: name,
			Datasource: "prometheus", Kind: "metric", Expr: strings.TrimSpace(r.Expr), raw: r.Expr})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out, nil
}

// labelValues matches Grafana's label_values(selector, label) variable query.
var labelValues = regexp.MustCompile(`^\s*label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)\s*$`)

// varRef finds dashboard variables in a query: $name, ${name}, ${name:format}, [[name]].
var varRef = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// dashboardQueries lists the expressions of one dashboard with its variables substituted.
func dashboardQueries(d dashboard) []Query {
	values := variableValues(d)
	var out []Query
	add := func(source, title, ds, kind, expr string) {
		if strings.TrimSpace(expr) == "" {
			return
		}
		out = append(out, Query{Source: "dashboard/" + d.name + "/" + source, Title: title,
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
