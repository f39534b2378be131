package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/product-service-lab/product-service/app/internal/catalog"
	"github.com/product-service-lab/product-service/app/internal/httpapi"
	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/telemetry"
)

// clock is a settable clock for the rate limits.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// heldStore is a fakeStore whose single reads wait until the test releases them, so a test holds
// requests in flight for as long as it needs.
type heldStore struct {
	*fakeStore
	entered chan int64
	release chan struct{}
}

func newHeldStore() *heldStore {
	return &heldStore{fakeStore: &fakeStore{}, entered: make(chan int64, 16), release: make(chan struct{})}
}

func (s *heldStore) Product(ctx context.Context, id int64) (catalog.Product, error) {
	s.entered <- id
	select {
	case <-s.release:
	case <-ctx.Done():
		return catalog.Product{}, ctx.Err()
	}
	return s.fakeStore.Product(ctx, id)
}

// overloadAPI is the router with overload protection over store.
type overloadAPI struct {
	router *gin.Engine
	reg    *prometheus.Registry
}

func newOverloadAPI(t *testing.T, opts httpapi.OverloadOptions, store catalog.Store) *overloadAPI {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	return newOverloadAPIWithLog(t, opts, store, log)
}

func newOverloadAPIWithLog(t *testing.T, opts httpapi.OverloadOptions, store catalog.Store, log *logrus.Logger) *overloadAPI {
	t.Helper()
	reg := prometheus.NewRegistry()
	o, err := httpapi.NewOverload(opts, reg)
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeStore{}
	r := httpapi.New(httpapi.Deps{
		Store: httpapi.Uncached(store), Cache: &fakeCache{store: fs}, Gatherer: reg, Metrics: httpapi.NewMetrics(reg),
		Overload: o, Log: log, Checks: []httpapi.Check{{Name: "store", Probe: func(context.Context) error { return nil }}},
	}, httpapi.Options{AdminToken: token, MaxBodyBytes: 4 << 10, CacheMaxAge: time.Second, SlowRequest: time.Hour})
	return &overloadAPI{router: r, reg: reg}
}

// get sends GET path from client (an IP address) with ctx.
func (a *overloadAPI) get(ctx context.Context, client, path string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	req.RemoteAddr = client + ":40000"
	if strings.HasPrefix(path, "/api/v1/admin/") {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	a.router.ServeHTTP(w, req)
	return w
}

// metric sums the samples of name whose labels include match.
func (a *overloadAPI) metric(t *testing.T, name string, match map[string]string) float64 {
	t.Helper()
	return lab.MetricSum(lab.MustGather(t, a.reg), name, match)
}

// refusal is what a test checks of a refused request.
type refusal struct {
	Status     int
	Type       string
	RetryAfter string
}

func refusalOf(t *testing.T, w *httptest.ResponseRecorder) refusal {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("status %d, Content-Type %q, want a problem: %s", w.Code, ct, w.Body)
	}
	var p httpapi.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	return refusal{Status: w.Code, Type: strings.TrimPrefix(p.Type, httpapi.ProblemTypePrefix), RetryAfter: w.Header().Get("Retry-After")}
}

// TestRateLimitChargesEachRequestItsCost: with a bucket of 100 and 10 per second on a stopped
// clock, a client gets as many requests of a kind as their costs fit in 100, then 429 with the
// seconds until the bucket holds one more; another client is not affected, and once the clock
// has moved by Retry-After the first client is served again.
func TestRateLimitChargesEachRequestItsCost(t *testing.T) {
	ids := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprint(i + 1)
		}
		return strings.Join(parts, ",")
	}
	tests := []struct {
		name       string
		path       string
		itemCost   float64
		served     int
		retryAfter string
	}{
		{"single read costs 1", "/api/v1/products/1", 1, 100, "1"},
		{"inventory costs 1", "/api/v1/products/1/inventory", 1, 100, "1"},
		{"batch of 100 ids costs 100", "/api/v1/products?ids=" + ids(100), 1, 1, "10"},
		{"batch of 50 ids costs 50", "/api/v1/products?ids=" + ids(50), 1, 2, "5"},
		{"batch over the maximum (a 400) costs a whole batch", "/api/v1/products?ids=" + ids(150), 1, 1, "10"},
		{"page of 100 rows costs 100", "/api/v1/products?limit=100", 1, 1, "10"},
		{"default page costs 20", "/api/v1/products", 1, 5, "2"},
		{"item cost 0.1: batch of 100 costs 10", "/api/v1/products?ids=" + ids(100), 0.1, 10, "1"},
		{"item cost 0: a batch costs 1", "/api/v1/products?ids=" + ids(100), 0, 100, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{now: time.Unix(1_700_000_000, 0)}
			a := newOverloadAPI(t, httpapi.OverloadOptions{ClientRate: 10, ClientBurst: 100, ItemCost: tt.itemCost,
				MaxClients: 10, Now: clk.Now}, &fakeStore{})
			ctx := context.Background()
			for i := range tt.served {
				if w := a.get(ctx, "192.0.2.1", tt.path); w.Code == http.StatusTooManyRequests {
					t.Fatalf("request %d: status %d, want it served: %s", i+1, w.Code, w.Body)
				}
			}
			got := refusalOf(t, a.get(ctx, "192.0.2.1", tt.path))
			want := refusal{Status: http.StatusTooManyRequests, Type: httpapi.ProblemRateLimited, RetryAfter: tt.retryAfter}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("request %d (-want +got):\n%s", tt.served+1, diff)
			}
			if w := a.get(ctx, "192.0.2.2", tt.path); w.Code == http.StatusTooManyRequests {
				t.Errorf("another client: status %d, want it served", w.Code)
			}
			var wait time.Duration
			fmt.Sscan(tt.retryAfter, &wait)
			clk.advance(wait * time.Second)
			if w := a.get(ctx, "192.0.2.1", tt.path); w.Code == http.StatusTooManyRequests {
				t.Errorf("after Retry-After: status %d, want it served: %s", w.Code, w.Body)
			}
			if n := a.metric(t, "app_overload_rejected_total", map[string]string{"reason": "client_rate"}); n != 1 {
				t.Errorf("app_overload_rejected_total{reason=client_rate} = %v, want 1", n)
			}
		})
	}
}

// TestOverloadExemptsProbesMetricsAndAdmin: with the client's budget spent and the only slot
// held, probes, /metrics and the admin routes still answer.
func TestOverloadExemptsProbesMetricsAndAdmin(t *testing.T) {
	store := newHeldStore()
	a := newOverloadAPI(t, httpapi.OverloadOptions{MaxInFlight: 1, ClientRate: 1, ClientBurst: 2, ItemCost: 1,
		MaxClients: 10, Now: (&clock{now: time.Unix(0, 0)}).Now}, store)
	ctx := context.Background()
	held := make(chan int)
	go func() { held <- a.get(ctx, "192.0.2.1", "/api/v1/products/1").Code }()
	<-store.entered
	if got := refusalOf(t, a.get(ctx, "192.0.2.1", "/api/v1/products/2")); got.Status != http.StatusServiceUnavailable {
		t.Fatalf("second read with the slot held: %+v, want 503", got)
	}
	if got := refusalOf(t, a.get(ctx, "192.0.2.1", "/api/v1/products/3")); got.Status != http.StatusTooManyRequests {
		t.Fatalf("third read with the budget spent: %+v, want 429", got)
	}
	for _, path := range []string{"/health", "/ready", "/metrics", "/api/v1/admin/cache"} {
		for range 20 {
			if w := a.get(ctx, "192.0.2.1", path); w.Code != http.StatusOK {
				t.Fatalf("%s: status %d, want 200 (never limited): %s", path, w.Code, w.Body)
			}
		}
	}
	close(store.release)
	if code := <-held; code != http.StatusOK {
		t.Errorf("held read: status %d, want 200", code)
	}
}

// TestConcurrencyLimitQueuesThenRefuses: with one slot and a queue of one, the second request
// waits for the first and is served; a third, with the queue full, is refused at once with 503.
func TestConcurrencyLimitQueuesThenRefuses(t *testing.T) {
	store := newHeldStore()
	a := newOverloadAPI(t, httpapi.OverloadOptions{MaxInFlight: 1, MaxQueued: 1, QueueTimeout: time.Hour}, store)
	ctx := context.Background()
	codes := make(chan int, 2)
	go func() { codes <- a.get(ctx, "192.0.2.1", "/api/v1/products/1").Code }()
	<-store.entered
	go func() { codes <- a.get(ctx, "192.0.2.2", "/api/v1/products/2").Code }()
	waitFor(t, func() bool { return a.metric(t, "app_overload_queued", nil) == 1 })
	got := refusalOf(t, a.get(ctx, "192.0.2.3", "/api/v1/products/3"))
	want := refusal{Status: http.StatusServiceUnavailable, Type: httpapi.ProblemOverloaded, RetryAfter: "1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("third request (-want +got):\n%s", diff)
	}
	if n := a.metric(t, "app_overload_in_flight", nil); n != 1 {
		t.Errorf("app_overload_in_flight = %v, want 1", n)
	}
	close(store.release)
	for range 2 {
		if code := <-codes; code != http.StatusOK {
			t.Errorf("held or queued request: status %d, want 200", code)
		}
	}
	for reason, want := range map[string]float64{"queue_full": 1, "queue_timeout": 0, "client_rate": 0} {
		labels := map[string]string{"reason": reason, "route": "/api/v1/products/:id"}
		if n := a.metric(t, "app_overload_rejected_total", labels); n != want {
			t.Errorf("app_overload_rejected_total%v = %v, want %v", labels, n, want)
		}
	}
	if n := a.metric(t, "app_overload_limit", nil); n != 1 {
		t.Errorf("app_overload_limit = %v, want 1", n)
	}
}

// TestQueueDeadline: a request that cannot get a slot within QueueTimeout is refused with 503;
// one whose client leaves while it waits is counted apart.
func TestQueueDeadline(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		leave   bool
		reason  string
		status  int
	}{
		{"deadline passes", time.Nanosecond, false, "queue_timeout", http.StatusServiceUnavailable},
		{"client leaves", time.Hour, true, "client_closed", 499},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newHeldStore()
			a := newOverloadAPI(t, httpapi.OverloadOptions{MaxInFlight: 1, MaxQueued: 10, QueueTimeout: tt.timeout}, store)
			held := make(chan int)
			go func() { held <- a.get(context.Background(), "192.0.2.1", "/api/v1/products/1").Code }()
			<-store.entered
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.leave {
				go func() {
					waitFor(t, func() bool { return a.metric(t, "app_overload_queued", nil) == 1 })
					cancel()
				}()
			}
			if w := a.get(ctx, "192.0.2.2", "/api/v1/products/2"); w.Code != tt.status {
				t.Errorf("queued request: status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if n := a.metric(t, "app_overload_rejected_total", map[string]string{"reason": tt.reason}); n != 1 {
				t.Errorf("app_overload_rejected_total{reason=%s} = %v, want 1", tt.reason, n)
			}
			if n := a.metric(t, "app_overload_queued", nil); n != 0 {
				t.Errorf("app_overload_queued = %v after the refusal, want 0", n)
			}
			close(store.release)
			if code := <-held; code != http.StatusOK {
				t.Errorf("held request: status %d, want 200", code)
			}
		})
	}
}

// TestRefusalsLogAtInfo: a refused request's access log line is at info with the reason in
// "shed", so a flood does not write a warning per refusal; other 4xx stay warnings.
func TestRefusalsLogAtInfo(t *testing.T) {
	var buf bytes.Buffer
	log := logrus.New()
	log.SetOutput(&buf)
	log.SetFormatter(&logrus.JSONFormatter{})
	a := newOverloadAPIWithLog(t, httpapi.OverloadOptions{ClientRate: 1, ClientBurst: 1, ItemCost: 1, MaxClients: 10,
		Now: (&clock{now: time.Unix(0, 0)}).Now}, &fakeStore{}, log)
	for _, path := range []string{"/api/v1/products/1", "/api/v1/products/2", "/nowhere"} {
		a.get(context.Background(), "192.0.2.1", path)
	}
	type line struct{ Level, Shed string }
	var got []line
	for _, raw := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var l line
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		got = append(got, l)
	}
	want := []line{{Level: "info"}, {Level: "info", Shed: "client_rate"}, {Level: "warning"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("access log levels (-want +got):\n%s", diff)
	}
}

func TestNewOverloadRejectsBadOptions(t *testing.T) {
	tests := []httpapi.OverloadOptions{
		{MaxInFlight: -1},
		{MaxQueued: -1},
		{QueueTimeout: -time.Second},
		{ClientRate: -1},
		{ClientRate: 10, ClientBurst: 0, MaxClients: 10},
		{ClientRate: 10, ClientBurst: 10, MaxClients: 0},
		{ItemCost: -1},
	}
	for _, opts := range tests {
		if _, err := httpapi.NewOverload(opts, prometheus.NewRegistry()); err == nil {
			t.Errorf("NewOverload(%+v) accepted", opts)
		}
	}
}

// waitFor yields until cond holds; the test's own timeout bounds it.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkOverload is the CPU a request costs the router (the service's middleware, over the
// in-memory fakeStore) when overload protection refuses it, against one it serves: a refusal
// must be much cheaper than the work it saves.
func BenchmarkOverload(b *testing.B) {
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprint(i + 1)
	}
	batch := "/api/v1/products?ids=" + strings.Join(ids, ",")
	cases := []struct {
		name string
		path string
		rate float64
	}{
		{"refused-batch", batch, 1e-9},
		{"served-batch", batch, 1e12},
		{"served-single", "/api/v1/products/1", 1e12},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			log, _, err := telemetry.NewLogger(io.Discard, telemetry.LogOptions{Level: "warn", Env: "test"})
			if err != nil {
				b.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			o, err := httpapi.NewOverload(httpapi.OverloadOptions{MaxInFlight: 256, MaxQueued: 512, QueueTimeout: time.Second,
				ClientRate: bc.rate, ClientBurst: 100, ItemCost: 1, MaxClients: 1000}, reg)
			if err != nil {
				b.Fatal(err)
			}
			r := httpapi.New(httpapi.Deps{Store: httpapi.Uncached(&fakeStore{}), Metrics: httpapi.NewMetrics(reg), Overload: o, Log: log},
				httpapi.Options{MaxBodyBytes: 4 << 10, CacheMaxAge: time.Second, SlowRequest: time.Hour})
			req := httptest.NewRequest(http.MethodGet, bc.path, nil)
			req.RemoteAddr = "192.0.2.1:40000"
			r.ServeHTTP(httptest.NewRecorder(), req) // spends the refused case's one full bucket
			b.ReportAllocs()
			for b.Loop() {
				r.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
