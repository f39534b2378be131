package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/product-service-lab/product-service/app/internal/httpapi"
)

// accessLine is what the sampling tests read of an access-log line.
type accessLine struct {
	Route      string `json:"route"`
	Status     int    `json:"status"`
	Level      string `json:"level"`
	SampleRate int    `json:"sample_rate"`
}

// sampledAPI is the router with the access log's volume controls over the fake store, its access
// lines in logs and its decisions on reg.
type sampledAPI struct {
	serve func(path string) int
	logs  *bytes.Buffer
	reg   *prometheus.Registry
	store *fakeStore
}

// newSampledAPI serves the router keeping 1 in every success lines but those of exclude; every 0
// serves it without an AccessLog.
func newSampledAPI(t *testing.T, every int, exclude []string, slow time.Duration) *sampledAPI {
	t.Helper()
	var logs bytes.Buffer
	log := logrus.New()
	log.SetOutput(&logs)
	log.SetFormatter(&logrus.JSONFormatter{})
	reg := prometheus.NewRegistry()
	store := &fakeStore{}
	deps := httpapi.Deps{
		Store: httpapi.Uncached(store), Gatherer: reg, Log: log,
		Checks: []httpapi.Check{{Name: "store", Probe: func(context.Context) error { return store.fail("ping") }}},
	}
	if every > 0 {
		deps.AccessLog = httpapi.NewAccessLog(reg, httpapi.AccessLogOptions{Exclude: exclude, SampleEvery: func() int { return every }})
	}
	r := httpapi.New(deps, httpapi.Options{MaxBodyBytes: 4 << 10, SlowRequest: slow})
	return &sampledAPI{logs: &logs, reg: reg, store: store, serve: func(path string) int {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w.Code
	}}
}

// lines returns the access-log lines written so far.
func (a *sampledAPI) lines(t *testing.T) []accessLine {
	t.Helper()
	var out []accessLine
	for _, raw := range bytes.Split(bytes.TrimSpace(a.logs.Bytes()), []byte("\n")) {
		if len(raw) == 0 {
			continue
		}
		var l struct {
			accessLine
			Msg string `json:"msg"`
		}
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if l.Msg == "request" {
			out = append(out, l.accessLine)
		}
	}
	return out
}

// decisions returns log_access_lines_total as "decision route" → count.
func (a *sampledAPI) decisions(t *testing.T) map[string]float64 {
	t.Helper()
	return counted(t, a.reg, "log_access_lines_total")
}

// counted returns the samples of the counter family name that are above 0, keyed by their label
// values in the order of the label names.
func counted(t *testing.T, g prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var values []string
			for _, l := range m.GetLabel() {
				values = append(values, l.GetValue())
			}
			if v := m.GetCounter().GetValue(); v > 0 {
				out[strings.Join(values, " ")] = v
			}
		}
	}
	return out
}

const (
	productRoute   = "/api/v1/products/:id"
	inventoryRoute = "/api/v1/products/:id/inventory"
)

func TestAccessLogSampling(t *testing.T) {
	probes := []string{"/health", "/ready", "/metrics"}
	ok := func(route string, rate int) accessLine {
		return accessLine{Route: route, Status: 200, Level: "info", SampleRate: rate}
	}
	tests := []struct {
		name    string
		every   int
		exclude []string
		slow    time.Duration
		down    bool // the store fails: reads are 503 and /ready too
		paths   []string
		want    []accessLine
		counts  map[string]float64
	}{
		{
			name: "N=1 keeps every line, weight 1", every: 1, exclude: probes,
			paths:  []string{"/api/v1/products/1", "/api/v1/products/2"},
			want:   []accessLine{ok(productRoute, 1), ok(productRoute, 1)},
			counts: map[string]float64{"kept " + productRoute: 2},
		},
		{
			name: "1 in 3 per route, the first of every 3, weight 3", every: 3, exclude: probes,
			paths: []string{
				"/api/v1/products/1", "/api/v1/products/1/inventory", "/api/v1/products/2", "/api/v1/products/3",
				"/api/v1/products/2/inventory", "/api/v1/products/4", "/api/v1/products/5", "/api/v1/products/3/inventory",
				"/api/v1/products/6", "/api/v1/products/8/inventory", "/api/v1/products/9",
			},
			want: []accessLine{ok(productRoute, 3), ok(inventoryRoute, 3), ok(productRoute, 3), ok(inventoryRoute, 3), ok(productRoute, 3)},
			counts: map[string]float64{"kept " + productRoute: 3, "sampled_out " + productRoute: 4,
				"kept " + inventoryRoute: 2, "sampled_out " + inventoryRoute: 2},
		},
		{
			name: "4xx always kept and not counted by the sampling", every: 2, exclude: probes,
			paths: []string{"/api/v1/products/1", "/api/v1/products/7", "/api/v1/products/14", "/api/v1/products/2",
				"/api/v1/products/3", "/nowhere"},
			want: []accessLine{ok(productRoute, 2), {Route: productRoute, Status: 404, Level: "warning", SampleRate: 1},
				{Route: productRoute, Status: 404, Level: "warning", SampleRate: 1}, ok(productRoute, 2),
				{Route: "unmatched", Status: 404, Level: "warning", SampleRate: 1}},
			counts: map[string]float64{"kept " + productRoute: 4, "sampled_out " + productRoute: 1, "kept unmatched": 1},
		},
		{
			name: "5xx always kept, a failing probe too", every: 100, exclude: probes, down: true,
			paths: []string{"/api/v1/products/1", "/api/v1/products/2", "/ready", "/health"},
			want: []accessLine{{Route: productRoute, Status: 503, Level: "error", SampleRate: 1},
				{Route: productRoute, Status: 503, Level: "error", SampleRate: 1},
				{Route: "/ready", Status: 503, Level: "warning", SampleRate: 1}},
			counts: map[string]float64{"kept " + productRoute: 2, "kept /ready": 1, "excluded /health": 1},
		},
		{
			name: "slow lines always kept", every: 100, exclude: probes, slow: -1,
			paths: []string{"/api/v1/products/1", "/api/v1/products/2", "/health"},
			want: []accessLine{{Route: productRoute, Status: 200, Level: "warning", SampleRate: 1},
				{Route: productRoute, Status: 200, Level: "warning", SampleRate: 1},
				{Route: "/health", Status: 200, Level: "warning", SampleRate: 1}},
			counts: map[string]float64{"kept " + productRoute: 2, "kept /health": 1},
		},
		{
			name: "probe and scrape successes excluded", every: 1, exclude: probes,
			paths:  []string{"/health", "/ready", "/metrics", "/health", "/api/v1/products/1"},
			want:   []accessLine{ok(productRoute, 1)},
			counts: map[string]float64{"excluded /health": 2, "excluded /ready": 1, "excluded /metrics": 1, "kept " + productRoute: 1},
		},
		{
			name: "no exclusions: probes are lines like any, sampled too", every: 2,
			paths:  []string{"/health", "/health", "/health", "/ready"},
			want:   []accessLine{ok("/health", 2), ok("/health", 2), ok("/ready", 2)},
			counts: map[string]float64{"kept /health": 2, "sampled_out /health": 1, "kept /ready": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			slow := time.Hour
			if tt.slow != 0 {
				slow = tt.slow
			}
			a := newSampledAPI(t, tt.every, tt.exclude, slow)
			a.store.down.Store(tt.down)
			for _, p := range tt.paths {
				a.serve(p)
			}
			if diff := cmp.Diff(tt.want, a.lines(t)); diff != "" {
				t.Errorf("access lines (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.counts, a.decisions(t)); diff != "" {
				t.Errorf("log_access_lines_total (-want +got):\n%s", diff)
			}
		})
	}
}

// Without an AccessLog (tests, tools) every line is written, with weight 1.
func TestAccessLogWithoutControlsKeepsAll(t *testing.T) {
	a := newSampledAPI(t, 0, nil, time.Hour)
	for range 3 {
		a.serve("/health")
	}
	want := []accessLine{{"/health", 200, "info", 1}, {"/health", 200, "info", 1}, {"/health", 200, "info", 1}}
	if diff := cmp.Diff(want, a.lines(t)); diff != "" {
		t.Errorf("access lines (-want +got):\n%s", diff)
	}
}
