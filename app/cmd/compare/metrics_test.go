package main

import (
	"context"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const scrapeBefore = `# HELP cache_db_loads_total Keys loaded.
# TYPE cache_db_loads_total counter
cache_db_loads_total{cause="miss"} 100
cache_db_loads_total{cause="lock_timeout"} 1
cache_db_loads_total{cause="warmup"} 50
# TYPE cache_requests_total counter
cache_requests_total{layer="l1",result="hit"} 10
cache_requests_total{layer="l1",result="miss"} 5
cache_requests_total{layer="redis",result="hit"} 20
cache_requests_total{layer="redis",result="null_hit"} 2
cache_requests_total{layer="redis",result="miss"} 8
cache_requests_total{layer="redis",result="error"} 0
# TYPE cache_lock_total counter
cache_lock_total{result="acquired"} 3
cache_lock_total{result="timeout"} 0
# TYPE cache_bloom_rejects_total counter
cache_bloom_rejects_total 4
# TYPE app_requests_total counter
app_requests_total{method="GET",route="/api/v1/products/:id",status="200"} 40
app_requests_total{method="GET",route="/api/v1/products/:id",status="404"} 2
app_requests_total{method="GET",route="/api/v1/products",status="200"} 7
app_requests_total{method="PUT",route="/api/v1/products/:id",status="200"} 9
# TYPE go_goroutines gauge
go_goroutines 12
`

const scrapeAfter = `# TYPE cache_db_loads_total counter
cache_db_loads_total{cause="miss"} 160
cache_db_loads_total{cause="lock_timeout"} 3
cache_db_loads_total{cause="warmup"} 50
cache_db_loads_total{cause="refresh"} 5
# TYPE cache_requests_total counter
cache_requests_total{layer="l1",result="hit"} 70
cache_requests_total{layer="l1",result="miss"} 25
cache_requests_total{layer="redis",result="hit"} 30
cache_requests_total{layer="redis",result="null_hit"} 2
cache_requests_total{layer="redis",result="miss"} 18
cache_requests_total{layer="redis",result="error"} 5
# TYPE cache_lock_total counter
cache_lock_total{result="acquired"} 13
cache_lock_total{result="timeout"} 2
# TYPE cache_bloom_rejects_total counter
cache_bloom_rejects_total 1
# TYPE app_requests_total counter
app_requests_total{method="GET",route="/api/v1/products/:id",status="200"} 140
app_requests_total{method="GET",route="/api/v1/products/:id",status="404"} 2
app_requests_total{method="GET",route="/api/v1/products/:id/inventory",status="200"} 10
app_requests_total{method="GET",route="/api/v1/products",status="200"} 70
app_requests_total{method="PUT",route="/api/v1/products/:id",status="200"} 90
`

func mustParse(t *testing.T, text string) snapshot {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	byName, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return snapshotOf(slices.Collect(maps.Values(byName)))
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name          string
		before, after string
		want          growth
	}{
		{
			name:   "growth of each followed counter",
			before: scrapeBefore, after: scrapeAfter,
			want: growth{
				DBLoads: map[string]float64{"miss": 60, "lock_timeout": 2, "warmup": 0, "refresh": 5},
				L1:      lookups{Hit: 60, Miss: 20},
				Redis:   lookups{Hit: 10, Miss: 10, Error: 5},
				Locks:   map[string]float64{"acquired": 10, "timeout": 2},
				// The counter went down (4 → 1): a restart, so it counts from zero.
				BloomRejects: 1,
				// GETs of a product or its inventory only: not the batch route, not PUTs.
				ProductReads: 110,
			},
		},
		{
			name:   "nothing happened",
			before: scrapeBefore, after: scrapeBefore,
			want: growth{
				DBLoads: map[string]float64{"miss": 0, "lock_timeout": 0, "warmup": 0},
				Locks:   map[string]float64{"acquired": 0, "timeout": 0},
			},
		},
		{
			name:   "series new in the second scrape count whole",
			before: "", after: `cache_db_loads_total{cause="bypass"} 42` + "\n",
			want: growth{DBLoads: map[string]float64{"bypass": 42}, Locks: map[string]float64{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := diff(mustParse(t, tt.before), mustParse(t, tt.after))
			if d := cmp.Diff(tt.want, got, cmp.AllowUnexported(growth{})); d != "" {
				t.Errorf("diff (-want +got):\n%s", d)
			}
		})
	}
}

func TestGrowthLoadsAndRatios(t *testing.T) {
	g := growth{
		DBLoads: map[string]float64{"miss": 10, "lock_timeout": 2, "bypass": 3, "warmup": 100, "refresh": 5},
		L1:      lookups{Hit: 3, NullHit: 1, Miss: 4},
		Redis:   lookups{},
	}
	if got := g.totalLoads(); got != 120 {
		t.Errorf("totalLoads = %v, want 120", got)
	}
	if got := g.readLoads(); got != 15 {
		t.Errorf("readLoads = %v, want 15 (miss, lock_timeout and bypass only)", got)
	}
	if got := g.L1.hitRatio(); got == nil || *got != 0.5 {
		t.Errorf("L1 hit ratio = %v, want 0.5 (a null hit is a hit)", got)
	}
	if got := g.Redis.hitRatio(); got != nil {
		t.Errorf("Redis hit ratio without lookups = %v, want nil", *got)
	}
}

const lagBefore = `# TYPE cache_l1_invalidation_lag_seconds histogram
cache_l1_invalidation_lag_seconds_bucket{le="0.001"} 10
cache_l1_invalidation_lag_seconds_bucket{le="0.01"} 20
cache_l1_invalidation_lag_seconds_bucket{le="0.1"} 20
cache_l1_invalidation_lag_seconds_bucket{le="+Inf"} 20
cache_l1_invalidation_lag_seconds_sum 0.05
cache_l1_invalidation_lag_seconds_count 20
`

const lagAfter = `# TYPE cache_l1_invalidation_lag_seconds histogram
cache_l1_invalidation_lag_seconds_bucket{le="0.001"} 60
cache_l1_invalidation_lag_seconds_bucket{le="0.01"} 110
cache_l1_invalidation_lag_seconds_bucket{le="0.1"} 119
cache_l1_invalidation_lag_seconds_bucket{le="+Inf"} 120
cache_l1_invalidation_lag_seconds_sum 0.5
cache_l1_invalidation_lag_seconds_count 120
`

func TestLagQuantiles(t *testing.T) {
	g := diff(mustParse(t, lagBefore), mustParse(t, lagAfter))
	if g.Lag.Count != 100 {
		t.Fatalf("lag samples %v, want 100", g.Lag.Count)
	}
	tests := []struct {
		q    float64
		want float64
	}{
		// 50 samples ≤ 1 ms, 40 in (1 ms, 10 ms], 9 in (10 ms, 100 ms], 1 above.
		{0.5, 0.001},
		{0.7, 0.001 + 0.009*20/40},
		{0.99, 0.1},
		{1, 0.1}, // past the last finite bound: that bound
	}
	for _, tt := range tests {
		got := g.Lag.quantile(tt.q)
		if got == nil || math.Abs(*got-tt.want) > 1e-9 {
			t.Errorf("quantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := (histogram{}).quantile(0.99); got != nil {
		t.Errorf("quantile without samples = %v, want nil", *got)
	}
}

func TestScrapeAllAddsReplicasUp(t *testing.T) {
	var bases []string
	for _, body := range []string{scrapeBefore + lagBefore, scrapeAfter + lagAfter} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, body)
		}))
		defer srv.Close()
		bases = append(bases, srv.URL)
	}
	got, err := scrapeAll(context.Background(), http.DefaultClient, bases)
	if err != nil {
		t.Fatal(err)
	}
	g := diff(snapshot{}, got)
	if g.DBLoads["miss"] != 260 || g.Lag.Count != 140 || g.Lag.Buckets["0.001"] != 70 || g.ProductReads != 194 {
		t.Errorf("summed growth %+v, want miss 260, lag count 140, ≤1ms 70, product reads 194", g)
	}
	if _, err := scrapeAll(context.Background(), http.DefaultClient, append(bases, "http://127.0.0.1:1")); err == nil {
		t.Error("scrapeAll ignored a replica that does not answer")
	}
}

func TestDiffStaleAndBackground(t *testing.T) {
	before := `# TYPE cache_requests_total counter
cache_requests_total{layer="redis",result="stale"} 5
# TYPE cache_stale_age_seconds histogram
cache_stale_age_seconds_bucket{layer="l1",le="0.1"} 1
cache_stale_age_seconds_bucket{layer="l1",le="+Inf"} 1
cache_stale_age_seconds_sum{layer="l1"} 0.05
cache_stale_age_seconds_count{layer="l1"} 1
`
	after := `# TYPE cache_requests_total counter
cache_requests_total{layer="redis",result="stale"} 25
cache_requests_total{layer="l1",result="stale"} 4
# TYPE cache_stale_age_seconds histogram
cache_stale_age_seconds_bucket{layer="l1",le="0.1"} 3
cache_stale_age_seconds_bucket{layer="l1",le="+Inf"} 5
cache_stale_age_seconds_sum{layer="l1"} 1
cache_stale_age_seconds_count{layer="l1"} 5
cache_stale_age_seconds_bucket{layer="redis",le="0.1"} 10
cache_stale_age_seconds_bucket{layer="redis",le="+Inf"} 20
cache_stale_age_seconds_sum{layer="redis"} 2
cache_stale_age_seconds_count{layer="redis"} 20
# TYPE cache_background_loads_skipped_total counter
cache_background_loads_skipped_total{cause="revalidate"} 7
# TYPE cache_fence_rejects_total counter
cache_fence_rejects_total 2
# TYPE cache_refills_total counter
cache_refills_total 9
`
	g := diff(mustParse(t, before), mustParse(t, after))
	want := growth{
		DBLoads: map[string]float64{}, Locks: map[string]float64{},
		L1: lookups{Stale: 4}, Redis: lookups{Stale: 20},
		// Both label sets added up by bound.
		StaleAge: histogram{Count: 24, Buckets: map[string]float64{"0.1": 12, "+Inf": 24}},
		Skipped:  map[string]float64{"revalidate": 7}, FenceRejects: 2, Refills: 9,
	}
	if d := cmp.Diff(want, g); d != "" {
		t.Errorf("diff (-want +got):\n%s", d)
	}
	if got := g.staleAnswers(); got != 24 {
		t.Errorf("staleAnswers = %v, want 24", got)
	}
	if r := g.Redis.hitRatio(); r == nil || *r != 1 {
		t.Errorf("a stale answer is the layer's answer: Redis hit ratio %v, want 1", r)
	}
}
