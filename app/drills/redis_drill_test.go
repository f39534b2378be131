package drills

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestDrillRedisKilled kills the drill's redis-server under read load and starts it again (empty,
// as a replaced node) on the same port. Reads fail open to the database: none fails. The breaker
// opens while Redis is gone, and closes again by itself; the Redis hit ratio is back within 10 s
// of the restart, without restarting the service.
func TestDrillRedisKilled(t *testing.T) {
	ctx := drillContext(t, 5*time.Minute)
	sh := loadShape()
	products := 2000
	if useK6 {
		products = 10000
	}
	st := newStack(ctx, t, stackOptions{products: products, env: []string{"CACHE_PRESET=protected"}})
	api := newAPIClient(st.svc().Base)

	const window = time.Second
	after := max(sh.phase, 12*time.Second) // long enough to see the ratio come back within 10 s
	sched := newSchedule(time.Second, phases3, sh.phase, sh.phase, after)
	load := startReadLoad(ctx, t, st.logs, readLoadSpec{bases: []string{st.svc().Base}, rate: sh.rate, sched: sched, products: products})
	w := watch(ctx, 250*time.Millisecond, func(ctx context.Context) []float64 {
		hits, _ := api.metricSum(ctx, "cache_requests_total", map[string]string{"layer": "redis", "result": "hit"})
		all, _ := api.metricSum(ctx, "cache_requests_total", map[string]string{"layer": "redis"})
		state, _ := api.metricSum(ctx, "cache_redis_breaker_state", nil)
		return []float64{hits, all, state}
	})

	sleepUntil(ctx, sched.start("during"))
	st.redis.kill()
	killed := time.Now()
	sleepUntil(ctx, sched.start("after"))
	st.redis.start()
	restarted := time.Now()
	res := load.wait()
	ticks := w.end()

	// The ratio over the second half of "before", and the first window after the restart at 90 %
	// of it.
	ratio := func(from, to time.Time) (float64, bool) {
		a, b := at(ticks, from), at(ticks, to)
		if a == nil || b == nil || b.values[1]-a.values[1] < 5 {
			return 0, false
		}
		return (b.values[0] - a.values[0]) / (b.values[1] - a.values[1]), true
	}
	before, ok := ratio(sched.start("during").Add(-sh.phase/2), sched.start("during"))
	if !ok {
		t.Fatal("no Redis lookups measured before the kill")
	}
	recovered := time.Duration(-1)
	for _, tk := range ticks {
		if tk.at.Before(restarted.Add(window)) {
			continue
		}
		if r, ok := ratio(tk.at.Add(-window), tk.at); ok && r >= 0.9*before {
			recovered = tk.at.Sub(restarted)
			break
		}
	}
	breakerOpened, breakerClosed := false, false
	for _, tk := range ticks {
		if tk.at.After(killed) && tk.at.Before(restarted) && tk.values[2] == 2 {
			breakerOpened = true
		}
	}
	if last := ticks[len(ticks)-1]; last.values[2] == 0 {
		breakerClosed = true
	}

	failed := res.total("", "") - res.total("", outOK)
	recText := "not within the run"
	if recovered >= 0 {
		recText = recovered.Round(250 * time.Millisecond).String()
	}
	addRow(t, reportRow{
		drill: "Redis killed (SIGKILL, back empty after " + sh.phase.String() + ")", load: sh.String(),
		sent: res.total("", ""), failed: fmt.Sprintf("%d (want 0)", failed),
		p99:     [3]time.Duration{res.get("read", "before").p99, res.get("read", "during").p99, res.get("read", "after").p99},
		figures: fmt.Sprintf("breaker opened: %v, closed again: %v; Redis hit ratio %.2f before, ≥ 90 %% of it %s after the restart (want ≤ 10 s)", breakerOpened, breakerClosed, before, recText),
	})
	if failed != 0 {
		t.Errorf("%d reads failed, want 0 (fail open to the database): %+v", failed, res.describe(""))
	}
	if !breakerOpened {
		t.Error("the Redis breaker never showed open (2) while Redis was down")
	}
	if !breakerClosed {
		t.Error("the Redis breaker is not closed at the end of the run")
	}
	if recovered < 0 || recovered > 10*time.Second {
		t.Errorf("Redis hit ratio not back to 90 %% of %.2f within 10 s of the restart (%s)", before, recText)
	}
}

// at returns the last tick at or before when (nil when none).
func at(ticks []tick, when time.Time) *tick {
	var found *tick
	for i := range ticks {
		if ticks[i].at.After(when) {
			break
		}
		found = &ticks[i]
	}
	return found
}
