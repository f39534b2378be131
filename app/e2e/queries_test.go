//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"
)

// query is one expression of app/internal/dashtest's list (dashtest.Queries).
type query struct {
	Source     string `json:"source"`
	Title      string `json:"title"`
	Datasource string `json:"datasource"`
	Kind       string `json:"kind"`
	Expr       string `json:"expr"`
}

// queryEvents names the expressions that return data only while, or shortly after, something
// rare happens, and the event of the run (events_test.go) that makes it happen. They are
// evaluated over the whole run; every other expression is evaluated once, at its end.
var queryEvents = map[string]string{
	"rules/alerts.yml/ProductServiceDown":                                 "Prometheus scrapes the replicas before they start",
	"rules/alerts.yml/ScrapeTargetDown":                                   "Prometheus scrapes the replicas before they start",
	"rules/alerts.yml/ProductAPIErrorBudgetBurnFast":                      "slow 500s, then http_error_rate 0.3 for 10 s (k6 reads, category pages): over 1.44 % of product API requests fail",
	"rules/alerts.yml/ProductAPIErrorBudgetBurnSlow":                      "slow 500s, then http_error_rate 0.3 for 10 s (k6 reads, category pages): over 0.6 % of product API requests fail",
	"rules/alerts.yml/ProductReadLatencyBudgetBurnFast":                   "cold sweep: 1,800 misses, each over 100 ms (DB_SIMULATED_LATENCY=120ms)",
	"rules/alerts.yml/ProductReadLatencyBudgetBurnSlow":                   "cold sweep: 1,800 misses, each over 100 ms (DB_SIMULATED_LATENCY=120ms)",
	"rules/alerts.yml/CacheHitRatioDrop":                                  "cold sweep after a mostly hot load: the L1 hit ratio falls below its run average",
	"rules/alerts.yml/DBShieldRatioDrop":                                  "cold sweep after a mostly hot load: the DB shield ratio falls below its run average",
	"rules/alerts.yml/CacheLockTimeouts":                                  "lock timeouts: lock_wait 20 ms below a 120 ms load",
	"rules/alerts.yml/CacheRedisErrors":                                   "redis_error_rate 1 for 8 s",
	"rules/alerts.yml/CacheRedisBreakerOpen":                              "redis_error_rate 1 for 8 s opens the breaker",
	"rules/alerts.yml/CacheL1InvalidationLagHigh":                         "replica-b stalls 400 ms while replica-a writes",
	"rules/alerts.yml/LogLinesDropped":                                    "Loki refuses replica-b's pushes for 33 s",
	"rules/alerts.yml/CacheBackgroundLoadsSkipped":                        "preset tail with load_rate 1: revalidations of stale hot products skipped",
	"rules/recording.yml/job:cache_background_loads_skipped:ratio_rate5m": "preset tail with load_rate 1: revalidations of stale hot products skipped",
	"dashboard/cache-lab/panel 36/A":                                      "preset tail with ttl 2s: hot products read past their freshness are answered stale",
	"dashboard/cache-lab/panel 36/B":                                      "preset tail with ttl 2s: hot products read past their freshness are answered stale",
}

// noData lists the expressions that cannot return data in this run, and why. An expression on
// this list that does return data fails the test too: the list must stay true.
var noData = map[string]string{
	"dashboard/postgres-redis/panel 7/A": pgStatStatements,
	"dashboard/postgres-redis/panel 8/A": pgStatStatements,
	"dashboard/postgres-redis/panel 9/A": pgStatStatements,
}

const pgStatStatements = "pg_stat_statements: the shared local PostgreSQL does not preload it " +
	"(shared_preload_libraries, which needs a restart the run must not do), and Debian's " +
	"postgres_exporter 0.11.1 has no stat_statements collector"

// loadQueries reads the list dashtest wrote.
func loadQueries(t *testing.T, path string) []query {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var qs []query
	if err := json.Unmarshal(raw, &qs); err != nil {
		t.Fatal(err)
	}
	if len(qs) == 0 {
		t.Fatal("dashtest listed no query")
	}
	return qs
}

// evaluator runs queries on the stack's Prometheus and Loki.
type evaluator struct {
	prometheus, loki string
	// runStart and at bound the run: event queries are evaluated over [runStart, at], the others
	// at at.
	runStart, at time.Time
	// wholeRun evaluates every query over [runStart, at] (the docs' snippets, snippets_test.go).
	wholeRun bool
}

// samples runs q and returns how many samples with a value (not NaN) or log lines it returned,
// and how it was evaluated.
func (e evaluator) samples(q query) (n int, how string, err error) {
	params := url.Values{"query": {q.Expr}}
	_, overRun := queryEvents[q.Source]
	overRun = overRun || e.wholeRun
	var base, path string
	switch q.Datasource {
	case "prometheus":
		base, path = e.prometheus, "/api/v1/query"
		if overRun {
			path = "/api/v1/query_range"
			params.Set("start", unixSeconds(e.runStart))
			params.Set("end", unixSeconds(e.at))
			params.Set("step", "5")
		} else {
			params.Set("time", unixSeconds(e.at))
		}
	case "loki":
		base, path = e.loki, "/loki/api/v1/query"
		if overRun || q.Kind == "logs" {
			path = "/loki/api/v1/query_range"
			params.Set("start", strconv.FormatInt(e.runStart.UnixNano(), 10))
			params.Set("end", strconv.FormatInt(e.at.UnixNano(), 10))
			params.Set("limit", "10")
			params.Set("step", "5s")
		} else {
			params.Set("time", strconv.FormatInt(e.at.UnixNano(), 10))
		}
	default:
		return 0, "", fmt.Errorf("unknown datasource %q", q.Datasource)
	}
	how = "at the end"
	if overRun || q.Kind == "logs" {
		how = "over the run"
	}
	var body struct {
		Data struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(base, path, params, &body); err != nil {
		return 0, how, err
	}
	n, err = count(body.Data.ResultType, body.Data.Result)
	return n, how, err
}

// count counts the values (not NaN) of a Prometheus or Loki result, or its log lines.
func count(resultType string, raw json.RawMessage) (int, error) {
	n := 0
	switch resultType {
	case "vector":
		var v []struct {
			Value [2]any `json:"value"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return 0, err
		}
		for _, s := range v {
			n += hasValue(s.Value)
		}
	case "matrix":
		var m []struct {
			Values [][2]any `json:"values"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return 0, err
		}
		for _, s := range m {
			for _, v := range s.Values {
				n += hasValue(v)
			}
		}
	case "scalar":
		var s [2]any
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
		n = hasValue(s)
	case "streams":
		var st []struct {
			Values [][2]string `json:"values"`
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			return 0, err
		}
		for _, s := range st {
			n += len(s.Values)
		}
	default:
		return 0, fmt.Errorf("result type %q", resultType)
	}
	return n, nil
}

// hasValue is 1 when a [time, "value"] sample holds a number, not NaN.
func hasValue(sample [2]any) int {
	s, _ := sample[1].(string)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return 0
	}
	return 1
}

func unixSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

// checkQueries evaluates every query and fails on an error, on an expression without data that
// noData does not excuse, and on a stale entry of noData or queryEvents.
func checkQueries(t *testing.T, e evaluator, qs []query) {
	t.Helper()
	known := map[string]bool{}
	var withData, excused, overRun int
	for _, q := range qs {
		known[q.Source] = true
		n, how, err := e.samples(q)
		if how == "over the run" {
			overRun++
		}
		reason, listed := noData[q.Source]
		switch {
		case err != nil:
			t.Errorf("%s (%s): %v\n  %s", q.Source, q.Title, err, q.Expr)
		case n > 0 && listed:
			t.Errorf("%s (%s) returned data, but noData says it cannot (%s): remove it from the list", q.Source, q.Title, reason)
		case n > 0:
			withData++
		case listed:
			excused++
			t.Logf("no data, as expected: %s (%s): %s", q.Source, q.Title, reason)
		default:
			event := queryEvents[q.Source]
			if event != "" {
				event = "; the event that should produce it: " + event
			}
			t.Errorf("no data %s: %s (%s)%s\n  %s", how, q.Source, q.Title, event, q.Expr)
		}
	}
	for _, list := range []map[string]string{queryEvents, noData} {
		for source := range list {
			if !known[source] {
				t.Errorf("%s is listed in this test but is not a query of the dashboards or rules any more", source)
			}
		}
	}
	t.Logf("queries: %d evaluated (%d at the end of the run; %d over the run: %d for their event, %d log queries), "+
		"%d returned data, %d without data as listed in noData",
		len(qs), len(qs)-overRun, overRun, len(queryEvents), overRun-len(queryEvents), withData, excused)
}
