package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/product-service-lab/product-service/app/internal/cache"
	"github.com/product-service-lab/product-service/app/internal/httpapi"
	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/logctl"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// manualClock is an injected clock whose timers run only when advance is called: every timer
// then runs, and logctl ignores those not due (or superseded).
type manualClock struct {
	mu  sync.Mutex
	now time.Time
	due []func()
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(_ time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.due = append(c.due, f)
	return func() bool { return true }
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	due := c.due
	c.due = nil
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

// loggedReplica is one replica's router with the run-time log settings, its access lines in logs.
type loggedReplica struct {
	srv  *httptest.Server
	logs *bytes.Buffer
	reg  *prometheus.Registry
}

// newLoggedReplica serves the router over the fake store with the access log's controls and the
// admin logging routes; peers may be nil (a replica alone).
func newLoggedReplica(t *testing.T, clock *manualClock, peers logctl.Peers) *loggedReplica {
	t.Helper()
	r := &loggedReplica{logs: &bytes.Buffer{}, reg: prometheus.NewRegistry()}
	log := logrus.New()
	log.SetOutput(r.logs)
	log.SetFormatter(&logrus.JSONFormatter{})
	control, err := logctl.New(logctl.Options{
		Logger: log, Startup: logctl.Settings{Level: logrus.InfoLevel, SampleEvery: 1}, DebugMax: 15 * time.Minute,
		Peers: peers, Registerer: r.reg, Now: clock.Now, AfterFunc: clock.AfterFunc,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.srv = httptest.NewServer(httpapi.New(httpapi.Deps{
		Store: httpapi.Uncached(&fakeStore{}), Log: log, Logging: control,
		AccessLog: httpapi.NewAccessLog(r.reg, httpapi.AccessLogOptions{SampleEvery: control.SampleEvery}),
	}, httpapi.Options{AdminToken: token, MaxBodyBytes: 1 << 10, SlowRequest: time.Hour}))
	t.Cleanup(r.srv.Close)
	return r
}

// admin calls an admin logging route with the token.
func (r *loggedReplica) admin(t *testing.T, method, body string) answer {
	t.Helper()
	return do(t, r.srv, call{method: method, path: "/api/v1/admin/logging", body: body,
		header: map[string]string{"Authorization": "Bearer " + token}})
}

// state is GET /api/v1/admin/logging.
func (r *loggedReplica) state(t *testing.T) logctl.State {
	t.Helper()
	a := r.admin(t, "GET", "")
	var st logctl.State
	if err := json.Unmarshal(a.body, &st); err != nil || a.status != 200 {
		t.Fatalf("GET /api/v1/admin/logging: %d %s", a.status, a.body)
	}
	return st
}

// changes returns log_settings_changes_total by source, the sources counted only.
func (r *loggedReplica) changes(t *testing.T) map[string]float64 {
	t.Helper()
	return counted(t, r.reg, "log_settings_changes_total")
}

// productLines counts the access-log lines of product reads written so far and sums their weights.
func (r *loggedReplica) productLines(t *testing.T) (lines, weight int) {
	t.Helper()
	for _, l := range (&sampledAPI{logs: r.logs}).lines(t) {
		if l.Route == productRoute {
			lines++
			weight += l.SampleRate
		}
	}
	return lines, weight
}

func TestLoggingAdminRefusesBadInput(t *testing.T) {
	r := newLoggedReplica(t, newManualClock(), nil)
	tests := []struct {
		name, body string
		status     int
		slug       string
		field      string // the field named in errors
	}{
		{"not JSON", `{"level":`, 400, "malformed-json", ""},
		{"unknown field", `{"level":"info","duration":"1m"}`, 400, "unknown-field", "duration"},
		{"sample_every not a number", `{"sample_every":"ten"}`, 400, "invalid-field", "sample_every"},
		{"nothing to change", `{}`, 400, "invalid-log-settings", "level"},
		{"unknown level", `{"level":"loud"}`, 400, "invalid-log-settings", "level"},
		{"fatal", `{"level":"fatal"}`, 400, "invalid-log-settings", "level"},
		{"debug without a bound", `{"level":"debug"}`, 400, "invalid-log-settings", "for"},
		{"debug past LOG_DEBUG_MAX", `{"level":"debug","for":"15m1s"}`, 400, "invalid-log-settings", "for"},
		{"trace for a day", `{"level":"trace","for":"24h"}`, 400, "invalid-log-settings", "for"},
		{"bound not a duration", `{"level":"warn","for":"soon"}`, 400, "invalid-log-settings", "for"},
		{"sample_every 0", `{"sample_every":0}`, 400, "invalid-log-settings", "sample_every"},
		{"sample_every negative", `{"sample_every":-4}`, 400, "invalid-log-settings", "sample_every"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := r.admin(t, "PUT", tt.body)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			p := a.problem(t)
			if p["type"] != httpapi.ProblemTypePrefix+tt.slug {
				t.Errorf("type %v, want %s", p["type"], tt.slug)
			}
			if errs, _ := p["errors"].(map[string]any); tt.field != "" && errs[tt.field] == nil {
				t.Errorf("errors %v: want %q named", p["errors"], tt.field)
			}
		})
	}
	if st := r.state(t); st.Level != "info" || st.SampleEvery != 1 || st.Source != "startup" {
		t.Errorf("after refusals: %+v, want the start-up settings", st)
	}
	if n := r.changes(t); len(n) != 0 {
		t.Errorf("refusals counted as changes: %v", n)
	}
}

// The admin API changes the level of the whole logger and the sampling; debug ends by itself at
// its bound (an injected clock); DELETE returns to the start-up settings.
func TestLoggingAdminAppliesAndExpires(t *testing.T) {
	clock := newManualClock()
	r := newLoggedReplica(t, clock, nil)
	read := func(n int) {
		for i := range n {
			do(t, r.srv, call{method: "GET", path: "/api/v1/products/" + strconv.Itoa(i%5+1)})
		}
	}

	a := r.admin(t, "PUT", `{"level":"warn"}`)
	if a.status != 200 {
		t.Fatalf("PUT warn: %d %s", a.status, a.body)
	}
	read(3)
	if lines, _ := r.productLines(t); lines != 0 {
		t.Errorf("%d success lines at warn, want none", lines)
	}

	a = r.admin(t, "PUT", `{"level":"debug","sample_every":4,"for":"10m"}`)
	var st logctl.State
	if err := json.Unmarshal(a.body, &st); err != nil || a.status != 200 {
		t.Fatalf("PUT debug: %d %s", a.status, a.body)
	}
	until := clock.Now().Add(10 * time.Minute)
	want := logctl.State{Level: "debug", SampleEvery: 4, Until: &until, Source: "admin",
		Startup: logctl.StateSettings{Level: "info", SampleEvery: 1}, DebugMax: "15m0s", PeersNotified: ptr(true)}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("PUT debug answer (-want +got):\n%s", diff)
	}
	read(9) // kept: the 1st, 5th and 9th, each weighing 4
	if lines, weight := r.productLines(t); lines != 3 || weight != 12 {
		t.Errorf("%d lines weighing %d at 1 in 4, want 3 weighing 12", lines, weight)
	}

	clock.advance(10 * time.Minute)
	st = r.state(t)
	if st.Level != "info" || st.SampleEvery != 1 || st.Until != nil || st.Source != "expiry" {
		t.Errorf("after the bound: %+v, want the start-up settings by expiry", st)
	}

	r.admin(t, "PUT", `{"sample_every":50}`)
	if a := r.admin(t, "DELETE", ""); a.status != 200 || r.state(t).SampleEvery != 1 {
		t.Errorf("DELETE: %d %s", a.status, a.body)
	}
	if diff := cmp.Diff(map[string]float64{"admin": 4, "expiry": 1}, r.changes(t)); diff != "" {
		t.Errorf("log_settings_changes_total (-want +got):\n%s", diff)
	}
}

func ptr[T any](v T) *T { return &v }

// fakeSource is the fake catalogue as the cache's source (no hot products to warm up).
type fakeSource struct{ *fakeStore }

func (fakeSource) HotProductIDs(context.Context, int) ([]int64, error) { return nil, nil }
func (fakeSource) ProductIDs(context.Context) ([]int64, error)         { return nil, nil }

// newCacheReplica is one replica's cache on a shared Redis namespace, running, subscribed.
func newCacheReplica(t *testing.T, rdb *redis.Client, ns string) *cache.Store {
	t.Helper()
	policy, err := cache.Preset("naive")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(fakeSource{&fakeStore{}}, rdb, policy, cache.Options{Namespace: ns, Metrics: cache.NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	lab.WaitFor(t, "the cache to subscribe", func() bool { return c.Ready(ctx) == nil })
	return c
}

// Two replicas sharing a real Redis: a change through one's admin API is in force on the other,
// with the same absolute expiry; both return to their start-up settings at it; a reset reaches
// both.
func TestLoggingAppliesOnEveryReplica(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testdb.RedisAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	ns := privateNamespace(t, rdb, "logging-test-")
	clock := newManualClock()
	one := newLoggedReplica(t, clock, newCacheReplica(t, rdb, ns))
	two := newLoggedReplica(t, clock, newCacheReplica(t, rdb, ns))

	a := one.admin(t, "PUT", `{"level":"debug","sample_every":3,"for":"5m"}`)
	var set logctl.State
	if err := json.Unmarshal(a.body, &set); err != nil || a.status != 200 || set.PeersNotified == nil || !*set.PeersNotified {
		t.Fatalf("PUT on replica one: %d %s", a.status, a.body)
	}
	lab.WaitFor(t, "replica two to apply the change", func() bool { return two.state(t).Source == "peer" })
	got := two.state(t)
	if got.Level != "debug" || got.SampleEvery != 3 || got.Until == nil || !got.Until.Equal(*set.Until) {
		t.Fatalf("replica two: %+v, want debug, 1 in 3, until %s", got, set.Until)
	}

	clock.advance(5 * time.Minute)
	for name, r := range map[string]*loggedReplica{"one": one, "two": two} {
		if st := r.state(t); st.Level != "info" || st.SampleEvery != 1 || st.Source != "expiry" {
			t.Errorf("replica %s after the bound: %+v", name, st)
		}
	}
	if diff := cmp.Diff(map[string]float64{"admin": 1, "expiry": 1}, one.changes(t)); diff != "" {
		t.Errorf("replica one's log_settings_changes_total (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]float64{"peer": 1, "expiry": 1}, two.changes(t)); diff != "" {
		t.Errorf("replica two's log_settings_changes_total (-want +got):\n%s", diff)
	}

	// A change without a bound stays until DELETE, which reaches the other replica too.
	two.admin(t, "PUT", `{"sample_every":7}`)
	lab.WaitFor(t, "replica one to sample 1 in 7", func() bool { return one.state(t).SampleEvery == 7 })
	one.admin(t, "DELETE", "")
	lab.WaitFor(t, "replica two to reset", func() bool { return two.state(t).SampleEvery == 1 })
}
