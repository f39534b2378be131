package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/product-service-lab/product-service/app/internal/cache"
)

func TestLoadsPerExpiry(t *testing.T) {
	tests := []struct {
		name string
		c    cell
		want *float64
	}{
		{
			name: "every replica's loads of the key, setup's load left out",
			c: cell{Replicas: 3, K6: k6Summary{Expiries: ptr(6), SetupDBLoads: 1},
				Service: growth{DBLoads: map[string]float64{"miss": 1, "revalidate": 5, "lock_timeout": 1, "warmup": 900}}},
			want: ptr(1),
		},
		{
			name: "background refreshes count",
			c: cell{K6: k6Summary{Expiries: ptr(4)},
				Service: growth{DBLoads: map[string]float64{"refresh": 2, "early_refresh": 2}}},
			want: ptr(1),
		},
		{
			name: "no expiry count: k6's figure",
			c:    cell{K6: k6Summary{DBLoadsPerExpiry: ptr(2.5)}},
			want: ptr(2.5),
		},
		{
			name: "never below zero",
			c:    cell{K6: k6Summary{Expiries: ptr(2), SetupDBLoads: 1}, Service: growth{DBLoads: map[string]float64{}}},
			want: ptr(0),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, tt.c.loadsPerExpiry()); d != "" {
				t.Errorf("loadsPerExpiry (-want +got):\n%s", d)
			}
		})
	}
}

func TestAvalancheRatio(t *testing.T) {
	tests := []struct {
		name         string
		windows      map[string]float64
		peak, steady *float64
	}{
		{"a wave over the run's mean", map[string]float64{"0000": 10, "0001": 10, "0002": 70, "0003": 10, "0006": 500}, ptr(70), ptr(25)},
		{"windows after the load are left out", map[string]float64{"0004": 8, "0005": 999}, ptr(8), ptr(8)},
		{"no timeline", nil, nil, nil},
		{"no load", map[string]float64{"0000": 0}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cell{Seconds: 5, K6: k6Summary{Windows: k6Windows{DBLoads: tt.windows}}}
			peak, steady := c.avalancheRatio()
			if d := cmp.Diff([]*float64{tt.peak, tt.steady}, []*float64{peak, steady}); d != "" {
				t.Errorf("avalancheRatio (-want +got):\n%s", d)
			}
		})
	}
}

func TestByCause(t *testing.T) {
	tests := []struct {
		causes map[string]float64
		want   string
	}{
		{nil, "none"},
		{map[string]float64{"revalidate": 6, "miss": 120, "warmup": 0}, "miss 120, revalidate 6"},
		{map[string]float64{"zeta": 1, "bypass": 2.5, "early_refresh": 3}, "bypass 2.5, early_refresh 3, zeta 1"},
	}
	for _, tt := range tests {
		if got := byCause(tt.causes); got != tt.want {
			t.Errorf("byCause(%v) = %q, want %q", tt.causes, got, tt.want)
		}
	}
}

func TestCostTable(t *testing.T) {
	cells := []cell{
		{Key: cellKey{"read", "full"}, Repeat: 1, Seconds: 10,
			Service: growth{DBLoads: map[string]float64{"miss": 100, "refresh": 10}},
			Warmup:  &warmupRun{Seconds: 1.25, DBLoads: 300}, Redis: &redisMemory{Before: mib, After: 11 * mib}},
		{Key: cellKey{"read", "tail"}, Repeat: 1, Seconds: 10,
			Service: growth{DBLoads: map[string]float64{"revalidate": 20}, Redis: lookups{Stale: 40}, Refills: 3,
				StaleAge: histogram{Count: 40, Buckets: map[string]float64{"0.5": 40, "+Inf": 40}}}},
		{Key: cellKey{"read", "none"}, Repeat: 1, Err: "boom"},
	}
	got := costTable(cells, "read", []string{"none", "full", "tail"})
	want := "| preset | DB loads/s on the request path | in the background | DB loads by cause | stale answers | stale age p99 ms | warm-up s | warm-up DB loads | Redis MiB | Redis growth MiB | refills |\n" +
		"|---|---|---|---|---|---|---|---|---|---|---|\n" +
		"| full | 10 | 1 | miss 100, refresh 10 | 0 | – | 1.2 | 300 | 11.0 | 10.0 | 0 |\n" +
		"| tail | 0 | 2 | revalidate 20 | 40 | 495 | – | – | – | – | 3 |\n"
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("costTable (-want +got):\n%s", d)
	}
}

func TestTargets(t *testing.T) {
	mk := func(s, p string, k k6Summary) cell {
		return cell{Key: cellKey{s, p}, Repeat: 1, Seconds: 5, K6: k, Service: growth{DBLoads: map[string]float64{}}}
	}
	cells := []cell{
		mk("read", "full", k6Summary{P99: ptr(204)}),
		mk("read", "tail", k6Summary{P99: ptr(1.5)}),
		mk("avalanche", "tail", k6Summary{P99: ptr(3), Windows: k6Windows{DBLoads: map[string]float64{"0000": 10, "0001": 30}}}),
		mk("consistency", "tail", k6Summary{StaleReads: ptr(0)}),
	}
	got := targets(cells, []string{"read", "avalanche", "consistency"}, []string{"none", "full", "tail"})
	for _, want := range []string{
		"| preset | read p99 ≤ 5 ms | avalanche p99 ≤ 5 ms | avalanche peak DB loads/s ≤ 2× steady | consistency: 0 stale reads |\n",
		"| full | **not met** (204 ms) | – | – | – |\n",
		"| tail | met (1.50 ms) | met (3.00 ms) | met (1.5× (30/s over 20/s)) | met (0) |\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("targets lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "| none |") {
		t.Errorf("a preset without figures has a row:\n%s", got)
	}
	if got := targets(cells, []string{"penetration"}, []string{"tail"}); got != "" {
		t.Errorf("targets without their scenarios = %q, want none", got)
	}
}

func TestCheckClaims(t *testing.T) {
	claim := []threshold{{Metric: "stale_reads", Expr: "count==0", OK: true}}
	tests := []struct {
		name string
		c    cell
		ok   bool
		want string
	}{
		{"consistency claimed and held", cell{Key: cellKey{"consistency", "tail"}, Repeat: 1, K6: k6Summary{StaleReads: ptr(0), Thresholds: claim}},
			true, "consistency × tail (repeat 1): 0 stale reads (the preset claims consistency on 1 replica(s))"},
		{"consistency claimed, a stale read", cell{Key: cellKey{"consistency", "protected"}, Repeat: 1, Replicas: 3,
			K6: k6Summary{StaleReads: ptr(2), Thresholds: []threshold{{Metric: "stale_reads", Expr: "count==0"}}}},
			false, "consistency × protected (repeat 1): 2 stale reads (the preset claims consistency on 3 replica(s))"},
		{"not claimed: no line", cell{Key: cellKey{"consistency", "two-level"}, Repeat: 1, Replicas: 3, K6: k6Summary{StaleReads: ptr(2)}},
			true, ""},
		{"tail's loads per expiry within the bound", cell{Key: cellKey{"breakdown", "tail"}, Repeat: 1,
			K6: k6Summary{Expiries: ptr(3)}, Service: growth{DBLoads: map[string]float64{"revalidate": 4}}},
			true, "breakdown × tail (repeat 1): 1.3 database loads per expiry over 1 replica(s) (bound ≤ 1.5, target ≤ 1)"},
		{"tail's loads per expiry over the bound", cell{Key: cellKey{"breakdown", "tail"}, Repeat: 1,
			K6: k6Summary{Expiries: ptr(3)}, Service: growth{DBLoads: map[string]float64{"miss": 6}}},
			false, "breakdown × tail (repeat 1): 2 database loads per expiry"},
		{"xfetch's errors", cell{Key: cellKey{"read", "xfetch"}, Repeat: 1, K6: k6Summary{FailedRate: 0.02}},
			false, "read × xfetch (repeat 1): errors 2.0 % (bound < 1 %)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r checkResult
			r.checkClaims([]cell{tt.c})
			if r.ok() != tt.ok {
				t.Errorf("ok = %v, want %v:\n%s", r.ok(), tt.ok, r.text())
			}
			if tt.want == "" && len(r.lines) > 0 || !strings.Contains(r.text(), tt.want) {
				t.Errorf("verdict lacks %q:\n%s", tt.want, r.text())
			}
		})
	}
}

func TestParseUsedMemory(t *testing.T) {
	info := "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nused_memory_rss:9000000\r\n"
	if got, err := parseUsedMemory(info); err != nil || got != 1048576 {
		t.Errorf("parseUsedMemory = %v, %v; want 1048576", got, err)
	}
	if _, err := parseUsedMemory("# Memory\r\n"); err == nil {
		t.Error("parseUsedMemory without used_memory: no error")
	}
}

// TestPresetsMatchK6 keeps the k6 scripts' preset list (loadtest/lib/config.js PRESETS) equal to
// the service's cache.PresetNames() (JavaScript cannot import it).
func TestPresetsMatchK6(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "..", "loadtest", "lib", "config.js"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`export const PRESETS = \[([^\]]*)\]`).FindSubmatch(src)
	if m == nil {
		t.Fatal("loadtest/lib/config.js has no PRESETS list")
	}
	var k6 []string
	for _, f := range strings.Split(string(m[1]), ",") {
		k6 = append(k6, strings.Trim(strings.TrimSpace(f), "'\""))
	}
	if d := cmp.Diff(cache.PresetNames(), k6); d != "" {
		t.Errorf("loadtest/lib/config.js PRESETS differ from cache.PresetNames() (-cache +k6):\n%s", d)
	}
}

func TestCausesLeaveSetupOut(t *testing.T) {
	c := cell{K6: k6Summary{SetupDBLoads: 2000}, Service: growth{DBLoads: map[string]float64{"miss": 2100, "revalidate": 30}}}
	if d := cmp.Diff(map[string]float64{"miss": 100, "revalidate": 30}, c.causes()); d != "" {
		t.Errorf("causes (-want +got):\n%s", d)
	}
	if c.Service.DBLoads["miss"] != 2100 {
		t.Error("causes changed the cell's counters")
	}
}

func TestCheckClaimsLeaveTheEdgeToExpectCrossed(t *testing.T) {
	var r checkResult
	r.checkClaims([]cell{{Key: cellKey{"consistency", edgeColumn}, Repeat: 1,
		K6: k6Summary{StaleReads: ptr(51), Thresholds: []threshold{{Metric: "stale_reads", Expr: "count==0"}}}}})
	if len(r.lines) != 0 {
		t.Errorf("the edge column got claim lines:\n%s", r.text())
	}
}
