package dashtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestQueriesEvaluate runs every query against a live Prometheus (DASHTEST_PROMETHEUS_URL) and
// Loki (DASHTEST_LOKI_URL), each optional: a query the server refuses fails the test, one that
// returns nothing is logged (a 5xx panel is empty while nothing fails).
func TestQueriesEvaluate(t *testing.T) {
	servers := map[string]string{
		"prometheus": strings.TrimRight(os.Getenv("DASHTEST_PROMETHEUS_URL"), "/"),
		"loki":       strings.TrimRight(os.Getenv("DASHTEST_LOKI_URL"), "/"),
	}
	if servers["prometheus"] == "" && servers["loki"] == "" {
		t.Skip("neither DASHTEST_PROMETHEUS_URL nor DASHTEST_LOKI_URL is set")
	}
	client := &http.Client{Timeout: 30 * time.Second}
	var ran, empty int
	for _, q := range allQueries(t) {
		base := servers[q.Datasource]
		if base == "" {
			continue
		}
		n, err := evaluate(client, base, q)
		if err != nil {
			t.Errorf("%s (%s): %v\n  %s", q.Source, q.Title, err, q.Expr)
			continue
		}
		ran++
		if n == 0 {
			empty++
			t.Logf("no data: %s (%s)\n  %s", q.Source, q.Title, q.Expr)
		}
	}
	t.Logf("%d queries evaluated, %d returned no data", ran, empty)
}

// evaluate runs q on the Prometheus or Loki at base and returns how many series it returned.
// Metric queries run as instant queries; LogQL log queries over the last 15 minutes.
func evaluate(client *http.Client, base string, q Query) (int, error) {
	params := url.Values{"query": {q.Expr}}
	path := "/api/v1/query"
	if q.Datasource == "loki" {
		path = "/loki/api/v1/query"
		if q.Kind == "logs" {
			path = "/loki/api/v1/query_range"
			now := time.Now()
			params.Set("start", strconv.FormatInt(now.Add(-15*time.Minute).UnixNano(), 10))
			params.Set("end", strconv.FormatInt(now.UnixNano(), 10))
			params.Set("limit", "10")
		}
	}
	resp, err := client.Get(base + path + "?" + params.Encode())
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil || resp.StatusCode != http.StatusOK || r.Status != "success" {
		return 0, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	var result []json.RawMessage
	if err := json.Unmarshal(r.Data.Result, &result); err != nil {
		// A scalar or string result is one value.
		return 1, nil
	}
	return len(result), nil
}
