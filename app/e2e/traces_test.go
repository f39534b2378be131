//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// missionQuery is the mission's LogQL, literally.
const missionQuery = `{app="product-service"} | json | status=500 | latency > 1000`

// logLine is the part of a request log line these checks read.
type logLine struct {
	RequestID string  `json:"request_id"`
	TraceID   string  `json:"trace_id"`
	Status    int     `json:"status"`
	Latency   float64 `json:"latency"`
	Route     string  `json:"route"`
}

// lokiLines returns the log lines of a LogQL query over [from, to], newest first.
func lokiLines(loki, query string, from, to time.Time, limit int) ([]logLine, error) {
	var body struct {
		Data struct {
			Result []struct {
				Values [][2]string `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	params := url.Values{"query": {query}, "limit": {strconv.Itoa(limit)},
		"start": {strconv.FormatInt(from.UnixNano(), 10)}, "end": {strconv.FormatInt(to.UnixNano(), 10)}}
	if err := getJSON(loki, "/loki/api/v1/query_range", params, &body); err != nil {
		return nil, err
	}
	var out []logLine
	for _, r := range body.Data.Result {
		for _, v := range r.Values {
			var l logLine
			if err := json.Unmarshal([]byte(v[1]), &l); err != nil {
				return nil, fmt.Errorf("a line of %s is not JSON: %v: %s", query, err, v[1])
			}
			out = append(out, l)
		}
	}
	return out, nil
}

// checkMission runs the mission's LogQL: it must return every injected slow 500, and only slow
// 500s.
func checkMission(t *testing.T, loki string, from, to time.Time, slowIDs []string) {
	t.Helper()
	lines, err := lokiLines(loki, missionQuery, from, to, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range lines {
		if l.Status != 500 || l.Latency <= 1000 {
			t.Errorf("the mission's query returned a line with status %d, latency %v ms", l.Status, l.Latency)
		}
		got = append(got, l.RequestID)
	}
	for _, id := range slowIDs {
		if !slices.Contains(got, id) {
			t.Errorf("the mission's query %s did not return the slow 500 %s (it returned %d lines: %v)", missionQuery, id, len(got), got)
		}
	}
	t.Logf("mission LogQL %s: %d lines, the %d injected slow 500s among them", missionQuery, len(lines), len(slowIDs))
}

// span is the part of a Jaeger span these checks read.
type span struct {
	OperationName string `json:"operationName"`
	Tags          []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
}

// jaegerTrace returns the spans of a trace from Jaeger's query API, or an error when Jaeger does
// not have it.
func jaegerTrace(jaeger, traceID string) ([]span, error) {
	var body struct {
		Data []struct {
			Spans []span `json:"spans"`
		} `json:"data"`
	}
	if err := getJSON(jaeger, "/api/traces/"+traceID, nil, &body); err != nil {
		return nil, err
	}
	if len(body.Data) == 0 || len(body.Data[0].Spans) == 0 {
		return nil, fmt.Errorf("trace %s has no spans", traceID)
	}
	return body.Data[0].Spans, nil
}

// seams reports which instrumented seams a product read's trace went through.
func seams(spans []span) map[string]bool {
	got := map[string]bool{}
	for _, s := range spans {
		switch op := s.OperationName; {
		case op == "GET /api/v1/products/:id":
			got["gin"] = true
		case op == "cache.lookup":
			got["cache"] = true
		case op == "get" || op == "set" || op == "evalsha":
			got["redis "+op] = true
		case strings.HasPrefix(op, "gorm."):
			got["gorm"] = true
		}
	}
	return got
}

// wantSeams are the seams a product read that missed the cache passes: the HTTP server span,
// the cache decision, Redis (lookup, lock and fill, lock release) and the database.
var wantSeams = []string{"gin", "cache", "redis get", "redis set", "redis evalsha", "gorm"}

// checkLogToTrace takes trace ids from Loki lines of product reads that missed the cache and
// finds their traces in Jaeger: every one must be there, and one (the first whose request held
// the breakdown lock) must show every seam.
func checkLogToTrace(t *testing.T, loki, jaeger string, from, to time.Time) {
	t.Helper()
	query := `{app="product-service"} | json | route="/api/v1/products/:id" | status=200 | cache="MISS"`
	// 100 lines, not 20: with 20, 2 runs in 4 on 2 cores shared by the whole stack found no trace
	// with every seam (a read whose Redis budget is spent before its lock reads without one, by
	// design; not confirmed as the cause). The error lists what the traces lack.
	lines, err := lokiLines(loki, query, from, to, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) == 0 {
		t.Fatalf("Loki has no line for %s", query)
	}
	complete := ""
	partial := map[string]int{} // the seams each incomplete trace lacks, counted
	for _, l := range lines {
		if l.TraceID == "" {
			t.Errorf("log line of request %s has no trace_id", l.RequestID)
			continue
		}
		spans, err := jaegerTrace(jaeger, l.TraceID)
		if err != nil {
			t.Errorf("trace %s of Loki line (request %s) is not in Jaeger: %v", l.TraceID, l.RequestID, err)
			continue
		}
		got := seams(spans)
		var lacks []string
		for _, s := range wantSeams {
			if !got[s] {
				lacks = append(lacks, s)
			}
		}
		if len(lacks) > 0 {
			partial[strings.Join(lacks, "+")]++
		} else if complete == "" {
			complete = fmt.Sprintf("%s (request %s, %d spans)", l.TraceID, l.RequestID, len(spans))
		}
	}
	if complete == "" {
		t.Errorf("no trace of %d Loki lines of %s shows every seam %v; traces by what they lack: %v", len(lines), query, wantSeams, partial)
		return
	}
	t.Logf("Loki → Jaeger: %d trace ids from Loki lines found in Jaeger; %s has spans of %v", len(lines), complete, wantSeams)
}

// checkExemplarToTrace takes trace ids from the exemplars Prometheus stored for product reads and
// finds their traces in Jaeger.
func checkExemplarToTrace(t *testing.T, prometheus, jaeger string, from, to time.Time) {
	t.Helper()
	var body struct {
		Data []struct {
			SeriesLabels map[string]string `json:"seriesLabels"`
			Exemplars    []struct {
				Labels map[string]string `json:"labels"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	params := url.Values{"query": {`app_request_latency_seconds_bucket{route="/api/v1/products/:id"}`},
		"start": {unixSeconds(from)}, "end": {unixSeconds(to)}}
	if err := getJSON(prometheus, "/api/v1/query_exemplars", params, &body); err != nil {
		t.Fatal(err)
	}
	var traceIDs []string
	for _, s := range body.Data {
		for _, e := range s.Exemplars {
			if id := e.Labels["trace_id"]; id != "" && len(traceIDs) < 5 {
				traceIDs = append(traceIDs, id)
			}
		}
	}
	if len(traceIDs) == 0 {
		t.Fatalf("Prometheus stored no exemplar with a trace_id for product reads (%d series)", len(body.Data))
	}
	for _, id := range traceIDs {
		spans, err := jaegerTrace(jaeger, id)
		if err != nil {
			t.Errorf("exemplar trace %s is not in Jaeger: %v", id, err)
			continue
		}
		if !seams(spans)["gin"] {
			t.Errorf("exemplar trace %s has no server span of GET /api/v1/products/:id", id)
		}
	}
	t.Logf("exemplar → Jaeger: %d exemplar trace ids of product reads found in Jaeger (first %s)", len(traceIDs), traceIDs[0])
}
