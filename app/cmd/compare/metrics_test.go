package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
	s, err := parseSnapshot(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return s
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

func TestParseSnapshotRejectsGarbage(t *testing.T) {
	if _, err := parseSnapshot(strings.NewReader("cache_db_loads_total{cause=\"miss\" 1\n")); err == nil {
		t.Fatal("parseSnapshot accepted a malformed line")
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
