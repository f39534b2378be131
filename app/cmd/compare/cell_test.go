package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

func TestCellFigures(t *testing.T) {
	tests := []struct {
		name string
		c    cell
		want figures
	}{
		{
			name: "loads per second and the DB shield",
			c: cell{
				Seconds: 10,
				K6:      k6Summary{P50: ptr(1), P95: ptr(150), P99: ptr(210), FailedRate: 0.001, ThresholdsOK: true},
				Service: growth{DBLoads: map[string]float64{"miss": 40, "refresh": 10}, ProductReads: 400,
					Redis: lookups{Hit: 300, Miss: 100}, Locks: map[string]float64{"timeout": 3}},
			},
			want: figures{P50: ptr(1), P95: ptr(150), P99: ptr(210), ErrorRate: 0.001, DBLoadsPerS: 5, Shield: ptr(0.9),
				RedisHit: ptr(0.75), LockTimeouts: 3, ThresholdsOK: true, PathLoadsPerS: 4, BackgroundLoadsPerS: 1},
		},
		{
			name: "the script's own warm-up loads are left out",
			c: cell{
				Seconds: 10,
				K6:      k6Summary{SetupDBLoads: 1000, ThresholdsOK: true},
				Service: growth{DBLoads: map[string]float64{"miss": 1100}, ProductReads: 1000},
			},
			want: figures{DBLoadsPerS: 10, Shield: ptr(0.9), ThresholdsOK: true, PathLoadsPerS: 10},
		},
		{
			name: "the shield never goes below 0 (a batch read loads many keys)",
			c: cell{
				Seconds: 1,
				K6:      k6Summary{ThresholdsOK: true},
				Service: growth{DBLoads: map[string]float64{"bypass": 50}, ProductReads: 10},
			},
			want: figures{DBLoadsPerS: 50, Shield: ptr(0), ThresholdsOK: true, PathLoadsPerS: 50},
		},
		{
			name: "stale answers, their age, the warm-up and Redis memory",
			c: cell{
				Seconds: 10,
				K6:      k6Summary{P999: ptr(4), ThresholdsOK: true},
				Service: growth{DBLoads: map[string]float64{"revalidate": 20, "early_refresh": 10, "warmup": 10}, ProductReads: 1000,
					Redis: lookups{Hit: 900, Stale: 100}, L1: lookups{Stale: 10}, Refills: 7,
					StaleAge: histogram{Count: 110, Buckets: map[string]float64{"0.1": 0, "1": 110, "+Inf": 110}}},
				Warmup: &warmupRun{Seconds: 12.5, DBLoads: 1000},
				Redis:  &redisMemory{Before: 2 * mib, After: 66 * mib},
			},
			want: figures{P999: ptr(4), DBLoadsPerS: 4, Shield: ptr(1), RedisHit: ptr(1), L1Hit: ptr(1), ThresholdsOK: true,
				BackgroundLoadsPerS: 4, StaleAnswers: 110, StaleAgeP99: ptr(100 + 900*0.99), Refills: 7,
				WarmupS: ptr(12.5), WarmupLoads: ptr(1000), RedisMiB: ptr(66), RedisGrowthMiB: ptr(64)},
		},
		{
			name: "k6 exited 99: thresholds crossed",
			c:    cell{Seconds: 1, Exit: lab.K6ThresholdsCrossed, K6: k6Summary{ThresholdsOK: false}, Service: growth{}},
			want: figures{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, tt.c.figures()); d != "" {
				t.Errorf("figures (-want +got):\n%s", d)
			}
		})
	}
}
