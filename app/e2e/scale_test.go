//go:build e2e

package e2e

import (
	"fmt"
	"math"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// replicaCount is how many product-service processes run behind the balancer, as
// `docker compose up --scale product-service=3` does.
const replicaCount = 3

// groupBy finds the label lists of PromQL's `by (...)` clauses.
var groupBy = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)

// byInstance reports whether a PromQL expression keeps one series per instance.
func byInstance(expr string) bool {
	for _, m := range groupBy.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if strings.TrimSpace(l) == "instance" {
				return true
			}
		}
	}
	return false
}

// checkPerInstance evaluates every dashboard expression that groups by instance at the end of the
// run and fails unless it returns one series for each replica, and none for anything else. The
// service overview must have such panels for requests and for latency.
func checkPerInstance(t *testing.T, e evaluator, qs []query, replicas []string) {
	t.Helper()
	want := slices.Clone(replicas)
	sort.Strings(want)
	var checked []string
	for _, q := range qs {
		if !strings.HasPrefix(q.Source, "dashboard/") || q.Datasource != "prometheus" || !byInstance(q.Expr) {
			continue
		}
		var body struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
				} `json:"result"`
			} `json:"data"`
		}
		params := url.Values{"query": {q.Expr}, "time": {unixSeconds(e.at)}}
		if err := getJSON(e.prometheus, "/api/v1/query", params, &body); err != nil {
			t.Errorf("%s (%s): %v", q.Source, q.Title, err)
			continue
		}
		var got []string
		for _, r := range body.Data.Result {
			got = append(got, r.Metric["instance"])
		}
		sort.Strings(got)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s (%s): series by instance (-one per replica +got):\n%s  %s", q.Source, q.Title, d, q.Expr)
		}
		checked = append(checked, q.Source+" "+q.Title)
	}
	for _, metric := range []string{"app_requests_total", "app_request_latency_seconds_bucket"} {
		found := false
		for _, q := range qs {
			found = found || (strings.HasPrefix(q.Source, "dashboard/service-overview/") && byInstance(q.Expr) &&
				strings.Contains(q.Expr, metric))
		}
		if !found {
			t.Errorf("the service overview has no panel of %s by instance", metric)
		}
	}
	t.Logf("per-instance panels: %d, each with a series for each of the %d replicas: %s", len(checked), len(replicas),
		strings.Join(checked, "; "))
}

// checkBalancer counts the balancer's access log lines (its output, logs/balancer.log) by the
// replica that answered, and fails unless every replica answered requests through it.
func checkBalancer(t *testing.T, log string, replicas []string) {
	t.Helper()
	raw, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	byUpstream := map[string]int{}
	lines := 0
	for _, l := range strings.Split(string(raw), "\n") {
		_, rest, ok := strings.Cut(l, " upstream=")
		if !ok {
			continue
		}
		lines++
		addrs, _, _ := strings.Cut(rest, " ")
		// A retried request lists every replica it tried: "a, b".
		for _, a := range strings.Split(strings.ReplaceAll(addrs, ",", " "), " ") {
			if a != "" {
				byUpstream[a]++
			}
		}
	}
	for _, r := range replicas {
		if byUpstream[r] == 0 {
			t.Errorf("the balancer sent no request to replica %s; its %d access log lines by upstream: %v", r, lines, byUpstream)
		}
	}
	t.Logf("balancer: %d requests, by replica %v", lines, byUpstream)
}

// checkServedPerReplica logs the requests each replica served over the run (Prometheus).
func checkServedPerReplica(t *testing.T, e evaluator) {
	t.Helper()
	window := strconv.Itoa(int(math.Ceil(e.at.Sub(e.runStart).Seconds()))) + "s"
	var body struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	expr := `sum by (instance) (increase(app_requests_total{job="product-service"}[` + window + `]))`
	if err := getJSON(e.prometheus, "/api/v1/query", url.Values{"query": {expr}, "time": {unixSeconds(e.at)}}, &body); err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, r := range body.Data.Result {
		v, _ := strconv.ParseFloat(fmt.Sprint(r.Value[1]), 64)
		parts = append(parts, fmt.Sprintf("%s %.0f", r.Metric["instance"], v))
	}
	sort.Strings(parts)
	t.Logf("requests served over the run (%s) by replica: %s", window, strings.Join(parts, ", "))
}

// lokiVector runs a LogQL metric query at at and returns its samples by the value of label.
func lokiVector(t *testing.T, loki, expr, label string, at time.Time) map[string]float64 {
	t.Helper()
	var body struct {
		Data struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	params := url.Values{"query": {expr}, "time": {strconv.FormatInt(at.UnixNano(), 10)}}
	if err := getJSON(loki, "/loki/api/v1/query", params, &body); err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	out := map[string]float64{}
	for _, r := range body.Data.Result {
		v, err := strconv.ParseFloat(fmt.Sprint(r.Value[1]), 64)
		if err != nil {
			t.Fatalf("%s: sample %v: %v", expr, r.Value, err)
		}
		out[r.Metric[label]] += v
	}
	return out
}
