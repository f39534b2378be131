package drills

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDrillPostgresKilled crashes the drill's PostgreSQL (`pg_ctl stop -m immediate`) under read
// and write load and starts it again. While it is gone: reads of cached products keep succeeding;
// uncached reads and writes get a 503 problem+json quickly; /ready says 503 and /health 200. Once
// it is back, everything recovers without restarting the service (the first seconds after the
// restart are reported apart, as "recover"). Every acknowledged write is in the database, and no
// write is half-applied.
func TestDrillPostgresKilled(t *testing.T) {
	ctx := drillContext(t, 6*time.Minute)
	sh := loadShape()
	// Ids: 1..cached warmed and read; uncached reads each id once from cached+1; writes from writesFrom.
	products, cached, writesFrom, writeRate := 5000, 300, int64(4001), 10
	if useK6 {
		products, cached, writesFrom, writeRate = 30000, 1000, 25001, 20
	}
	st := newStack(ctx, t, stackOptions{products: products, env: []string{"CACHE_PRESET=protected"}})
	api := newAPIClient(st.svc().Base)
	warm(ctx, t, api, cached)
	originals := loadOriginals(ctx, t, st, writesFrom, products-int(writesFrom)+1)

	// The kill comes killDelay into phase "during", so the reads of "before" have answered by then
	// (uncached reads of "during" may succeed or get 503); "after" begins recoverLen after the
	// restart was started, time for PostgreSQL to replay its WAL and accept connections.
	killDelay, recoverLen := 500*time.Millisecond, 3*time.Second
	if useK6 {
		killDelay, recoverLen = 2*time.Second, 5*time.Second
	}
	names := []string{"before", "during", "recover", "after"}
	sched := newSchedule(time.Second, names, sh.phase, sh.phase, recoverLen, sh.phase)
	load := startReadLoad(ctx, t, st.logs, readLoadSpec{bases: []string{st.svc().Base}, rate: sh.rate, sched: sched,
		products: products, cachedIDs: cached, uncachedFrom: cached + 1, uncachedCount: int(writesFrom) - cached - 1,
		uncachedShare: 0.2})
	writes := startWriter(ctx, writerSpec{api: api, rate: writeRate, sched: sched, from: writesFrom, originals: originals})
	probes := probeHealth(ctx, st.svc().Base, sched)

	sleepUntil(ctx, sched.start("during").Add(killDelay))
	st.pg.Kill()
	sleepUntil(ctx, sched.start("recover"))
	st.pg.Start()
	res := load.wait()
	ws := writes()
	health := probes()
	check := checkWrites(ctx, t, st, ws, originals)

	bad := func(class, phase string, allowed ...string) int {
		b := res.get(class, phase)
		n := b.sent()
		for _, o := range append(allowed, outOK) {
			n -= b.counts[o]
		}
		return n
	}
	cachedFailed := 0
	for _, p := range names {
		cachedFailed += bad("cached", p)
	}
	uncachedDuring := res.get("uncached", "during")
	uncachedWrong := bad("uncached", "before") + bad("uncached", "during", outS503) + bad("uncached", "after")
	var writesDuring, writes503During, writesAfterFailed int
	var writeLat []time.Duration
	failedStatuses := map[int]int{}
	for _, w := range ws {
		if !w.acked() {
			failedStatuses[w.status]++
		}
		switch w.phase {
		case "during":
			if w.acked() {
				break // sent before the kill took effect
			}
			writesDuring++
			writeLat = append(writeLat, w.lat)
			if w.status == http.StatusServiceUnavailable {
				writes503During++
			}
		case "after":
			if !w.acked() {
				writesAfterFailed++
			}
		}
	}
	recoverFailed := res.get("uncached", "recover").sent() - res.get("uncached", "recover").counts[outOK]

	addRow(t, reportRow{
		drill: fmt.Sprintf("PostgreSQL killed (immediate stop %s into phase during, started again %s later)", killDelay, sh.phase-killDelay), load: sh.String(),
		sent: res.total("", ""),
		failed: fmt.Sprintf("cached reads %d (want 0); uncached reads during: %d of %d answered 503 problem+json, %d otherwise wrong (want 0)",
			cachedFailed, uncachedDuring.counts[outS503], uncachedDuring.sent(), uncachedWrong),
		p99:    [3]time.Duration{res.get("cached", "before").p99, res.get("cached", "during").p99, res.get("cached", "after").p99},
		writes: check.String(),
		figures: fmt.Sprintf("uncached reads p99 during %s (want ≤ 2 s); writes refused during: %d, %d with 503, p99 %s (statuses of all failed writes %v); /health %s; /ready %s; first %s after the restart: %d uncached reads failed; after: %d writes failed",
			ms(uncachedDuring.p99), writesDuring, writes503During, ms(percentile(writeLat, 0.99)), failedStatuses,
			health.summary("health"), health.summary("ready"), recoverLen, recoverFailed, writesAfterFailed),
	})
	if cachedFailed != 0 {
		t.Errorf("%d reads of cached products failed, want 0: %+v", cachedFailed, res.describe("cached"))
	}
	if uncachedWrong != 0 {
		t.Errorf("%d uncached reads got neither 200 nor (during the outage) 503 problem+json: %+v", uncachedWrong, res.describe("uncached"))
	}
	if uncachedDuring.counts[outS503] == 0 {
		t.Error("no uncached read got 503 while PostgreSQL was down: the drill did not bite")
	}
	if judged, why := latencyJudged(); !judged {
		t.Logf("%s: uncached reads p99 %s, writes p99 %s during the outage (bound 2 s)", why, uncachedDuring.p99, percentile(writeLat, 0.99))
	} else {
		if uncachedDuring.p99 > 2*time.Second {
			t.Errorf("uncached reads during the outage: p99 %s, want ≤ 2 s (no hanging requests)", uncachedDuring.p99)
		}
		if p := percentile(writeLat, 0.99); p > 2*time.Second {
			t.Errorf("writes during the outage: p99 %s, want ≤ 2 s", p)
		}
	}
	if writesDuring > 0 && writes503During == 0 {
		t.Error("no write got 503 while PostgreSQL was down")
	}
	if writesAfterFailed != 0 {
		t.Errorf("%d writes failed after PostgreSQL was back", writesAfterFailed)
	}
	if check.missing != 0 || check.halfApplied != 0 {
		t.Errorf("writes: %s; %d acknowledged writes missing", check, check.missing)
	}
	if health.bad("health", func(s int) bool { return s != http.StatusOK }) > 0 {
		t.Errorf("/health was not always 200: %s", health.summary("health"))
	}
	if health.count("ready", "during", http.StatusServiceUnavailable) == 0 {
		t.Errorf("/ready never said 503 while PostgreSQL was down: %s", health.summary("ready"))
	}
	if health.count("ready", "after", http.StatusOK) == 0 || health.last("ready") != http.StatusOK {
		t.Errorf("/ready not 200 again after PostgreSQL came back: %s", health.summary("ready"))
	}
}

// warm reads ids 1..n once, so they are in the cache.
func warm(ctx context.Context, t *testing.T, api *apiClient, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	ids := make(chan int64)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				if _, _, err := api.get(ctx, id); err != nil {
					errs <- err
				}
			}
		}()
	}
	for id := 1; id <= n; id++ {
		ids <- int64(id)
	}
	close(ids)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("warm-up read: %v", err)
	}
}

// healthProbes are the answers of /health and /ready, polled through a drill.
type healthProbes struct {
	mu      sync.Mutex
	answers map[string][]probeAnswer // by endpoint
}

type probeAnswer struct {
	phase  string
	status int
}

// probeHealth polls /health and /ready every 200 ms over the schedule; call the result to stop
// and read them.
func probeHealth(ctx context.Context, base string, sched schedule) func() *healthProbes {
	h := &healthProbes{answers: map[string][]probeAnswer{}}
	client := &http.Client{Timeout: 3 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sleepUntil(ctx, sched.starts[0])
		for time.Now().Before(sched.end) && ctx.Err() == nil {
			for _, ep := range []string{"health", "ready"} {
				phase := sched.phaseAt(time.Now())
				s := status(ctx, client, base+"/"+ep)
				h.mu.Lock()
				h.answers[ep] = append(h.answers[ep], probeAnswer{phase: phase, status: s})
				h.mu.Unlock()
			}
			sleepUntil(ctx, time.Now().Add(200*time.Millisecond))
		}
	}()
	return func() *healthProbes {
		<-done
		return h
	}
}

// count counts the answers of ep in phase with status.
func (h *healthProbes) count(ep, phase string, status int) int {
	n := 0
	for _, a := range h.answers[ep] {
		if a.phase == phase && a.status == status {
			n++
		}
	}
	return n
}

// bad counts the answers of ep for which isBad holds.
func (h *healthProbes) bad(ep string, isBad func(int) bool) int {
	n := 0
	for _, a := range h.answers[ep] {
		if isBad(a.status) {
			n++
		}
	}
	return n
}

// last is the status of the last answer of ep.
func (h *healthProbes) last(ep string) int {
	a := h.answers[ep]
	if len(a) == 0 {
		return 0
	}
	return a[len(a)-1].status
}

// summary prints, per phase, how many answers of ep had each status.
func (h *healthProbes) summary(ep string) string {
	var phases []string
	counts := map[string]map[int]int{}
	for _, a := range h.answers[ep] {
		if counts[a.phase] == nil {
			counts[a.phase] = map[int]int{}
			phases = append(phases, a.phase)
		}
		counts[a.phase][a.status]++
	}
	parts := make([]string, 0, len(phases))
	for _, p := range phases {
		var s []string
		for _, code := range []int{200, 503, 0} {
			if n := counts[p][code]; n > 0 {
				s = append(s, fmt.Sprintf("%d×%d", n, code))
			}
		}
		for code, n := range counts[p] {
			if code != 200 && code != 503 && code != 0 {
				s = append(s, fmt.Sprintf("%d×%d", n, code))
			}
		}
		parts = append(parts, p+" "+strings.Join(s, " "))
	}
	return strings.Join(parts, ", ")
}
