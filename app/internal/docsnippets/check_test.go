package docsnippets

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheckPromQL(t *testing.T) {
	for _, tc := range []struct {
		expr    string
		wantErr string
	}{
		{expr: `sum by (route) (rate(app_requests_total[1m]))`},
		{expr: "histogram_quantile(0.99,\n  sum by (le) (rate(x_bucket[5m])))"},
		{expr: `sum by (route) (rate(app_requests_total[1m])`, wantErr: "unclosed"},
		{expr: `rate(app_requests_total)`, wantErr: "range vector"},
		{expr: `app_requests_total{route="<route>"}`},
		{expr: `app_requests_total{route=<route>}`, wantErr: "parse error"},
	} {
		err := Snippet{File: "f.md", Line: 1, Lang: PromQL, Expr: tc.expr}.Check()
		checkErr(t, tc.expr, err, tc.wantErr)
	}
}

func TestCheckLogQL(t *testing.T) {
	for _, tc := range []struct {
		expr    string
		wantErr string
	}{
		{expr: `{app="product-service"} | json | status=500 | latency > 1000`},
		{expr: `{app="product-service"} | json | trace_id="<trace id>"`},
		{expr: `sum by (level) (count_over_time({app="product-service"}[1m]))`},
		{expr: `topk(10, sum by (route) (count_over_time({app="product-service"} | json | status >= 500 [5m])))`},
		{expr: `quantile_over_time(0.99, {app="x"} |= "a" | json | __error__="" | unwrap latency | __error__="" [1m]) by (route)`},
		{expr: `{app="x", level=~"warn.*"} != "/metrics" |~ "(?i)timeout" | logfmt | status != 200`},
		{expr: `{app="x"} | json | line_format "{{.route}} {{.status}}" | label_format s="{{.status}}"`},
		{expr: `sum(bytes_over_time({app="x"} | json | route="/api/v1/products/:id" [5m])) / 1e6`},
		{expr: `{app="x"} | jsn`, wantErr: `pipeline stage "jsn"`},
		{expr: `{app="x"} | json |`, wantErr: "empty pipeline stage"},
		{expr: `{app=x}`, wantErr: "stream selector"},
		{expr: `{app=~".*"}`, wantErr: "non-empty matcher"},
		{expr: `count_over_time({app="x"}[1 minute])`, wantErr: "range"},
		{expr: `count_over_time({app="x"}[1m]`, wantErr: "never closed"},
		{expr: `{app="x"} |= "unclosed`, wantErr: "never closed"},
		{expr: `sum(rate(app_requests_total[1m]))`, wantErr: "no stream selector"},
	} {
		err := Snippet{File: "f.md", Line: 1, Lang: LogQL, Expr: tc.expr}.Check()
		checkErr(t, tc.expr, err, tc.wantErr)
	}
}

func checkErr(t *testing.T, expr string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: %v", expr, err)
	case want != "" && err == nil:
		t.Errorf("%s: no error, want one containing %q", expr, want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("%s: error %q, want one containing %q", expr, err, want)
	}
}

func TestMetricNames(t *testing.T) {
	s := Snippet{Lang: PromQL, Expr: `sum(rate(a_total{x="1"}[1m])) / sum(rate(a_total[1m])) + on() group_left {__name__="b"} + job:c:rate1m`}
	got, err := s.MetricNames()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a_total", "b", "job:c:rate1m"}, got); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}

// FuzzCheckLogQL: the structural check never panics, whatever it is given.
func FuzzCheckLogQL(f *testing.F) {
	f.Add(`{app="x"} | json | status >= 500`)
	f.Add(`sum by (a) (count_over_time({app="x"} != "y" [5m]))`)
	f.Add("{a=`b`} |~ `c` | line_format \"{{.x}}\"")
	f.Fuzz(func(t *testing.T, expr string) {
		_ = checkLogQL(expr)
	})
}
