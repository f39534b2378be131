//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// slowReads is how many reads fail slowly on purpose: the mission's LogQL must find each.
const slowReads = 4

// script is the run's sequence of events, played while k6 loads the replicas. Each event makes a
// rare metric, log line or alert condition exist; queryEvents (queries_test.go) names, for the
// expressions that need one, the event below that produces their data.
//
// The run has three phases. While the load is mostly hot (50 s, so several rule evaluations
// record high hit ratios), the events that cost few cache misses; then the ones that miss a lot
// (reset, Redis failing, a cold sweep), so hit ratios fall below their run average; and a
// finale, so that one-minute windows at the end hold writes, lock waits and failures.
type script struct {
	*driver
	gate *lokiGate
	// hot are the products k6 reads most (cached from the start).
	hot []int64
	// hotUntil ends the hot phase.
	hotUntil time.Time
	// slowIDs are the request ids of the slow 500s, for the mission's LogQL.
	slowIDs []string
}

// play runs the events in order.
func (s *script) play() {
	s.hotPhase()
	time.Sleep(time.Until(s.hotUntil))
	s.coldPhase()
	s.finale()
}

// hotPhase plays the events that cost few cache misses.
func (s *script) hotPhase() {
	a, b := s.replicas[0], s.replicas[1]
	s.step("warm-up on demand", func() { s.admin(a, http.MethodPost, "/api/v1/admin/cache/warmup", "") })
	s.step("slow 500s on every replica: db_latency 1200ms and db_error_rate 1 while uncached products are read", func() {
		s.failSlowly(ids(eventFirst+50, eventFirst+50+slowReads-1))
	})
	slowDone := time.Now()
	s.step("writes with If-Match on replica-a to hot products: Redis and L1 invalidations, pub/sub to replica-b", func() {
		for _, id := range s.hot[:5] {
			s.update(a, id, fmt.Sprintf("E2E product %d", id))
		}
	})
	s.step("replica-b stalls 400 ms (SIGSTOP) while replica-a writes: L1 invalidation lag over 100 ms", func() {
		done := make(chan error)
		go func() { done <- b.pause(400 * time.Millisecond) }()
		time.Sleep(50 * time.Millisecond)
		for _, id := range s.hot[5:8] {
			s.update(a, id, fmt.Sprintf("E2E product %d (lagging)", id))
		}
		if err := <-done; err != nil {
			s.t.Fatalf("pause replica-b: %v", err)
		}
	})
	s.step("breakdown: a product evicted, then read 4 times at once on each replica: one lock holder, waiters, singleflight", func() {
		for _, id := range ids(eventFirst, eventFirst+2) {
			s.evict(id)
			s.expectOK(s.concurrently(id, 4))
		}
	})
	s.step("lock timeouts: lock_wait 20 ms (below the 120 ms load), then a read on each replica at once", func() {
		s.policy(a, `{"lock_wait":"20ms"}`)
		for _, id := range ids(eventFirst+10, eventFirst+19) {
			s.evict(id)
			s.expectOK(s.concurrently(id, 1))
		}
		s.policy(a, `{"lock_wait":"1s"}`)
	})
	// Seconds after the slow 500s, so their lines have left replica-b (it ships every second);
	// early enough that the lines it queues meanwhile reach Loki before the checks.
	time.Sleep(time.Until(slowDone.Add(3 * time.Second)))
	s.step("Loki refuses replica-b's pushes for 33 s: a batch exhausts its 30 s of retries and is dropped", func() {
		s.gate.refuse(33 * time.Second)
	})
	s.step("policy change: preset two-level", func() { s.policy(a, `{"preset":"two-level"}`) })
	s.step("a product deleted, then read: Bloom false positive, cached not-found (null hits in L1 and Redis)", func() {
		id := int64(eventFirst + 40)
		for slices.Contains(s.hot, id) { // k6 reads the hot ones
			id++
		}
		s.remove(a, id)
		for range 3 {
			for _, r := range s.replicas {
				if got := s.read(r, id, nil); got.status != http.StatusNotFound {
					s.t.Fatalf("deleted product %d on %s: %d", id, r.Name, got.status)
				}
			}
		}
	})
}

// failSlowly reads the ids, spread over the replicas, under database faults that make them fail
// after more than a second.
func (s *script) failSlowly(slow []int64) {
	for _, id := range slow {
		s.evict(id)
	}
	s.faults(`{"db_latency":"1200ms","db_error_rate":1}`, s.replicas...)
	got := make(chan answer, len(slow))
	for i, id := range slow {
		reqID := fmt.Sprintf("e2e-slow-%d", id)
		s.slowIDs = append(s.slowIDs, reqID)
		r := s.replicas[i%len(s.replicas)]
		go func() { got <- s.read(r, id, map[string]string{"X-Request-ID": reqID}) }()
	}
	for range slow {
		if r := <-got; r.status != http.StatusInternalServerError || r.elapsed < time.Second {
			s.t.Errorf("read under db faults: %d after %s, want 500 after over 1 s: %s", r.status, r.elapsed, r.body)
		}
	}
	s.faults("", s.replicas...)
}

// coldPhase plays the events that miss the cache a lot.
func (s *script) coldPhase() {
	a := s.replicas[0]
	s.step("cache reset (new key generation)", func() { s.admin(a, http.MethodPost, "/api/v1/admin/cache/reset", "") })
	s.step("redis_error_rate 1 on every replica for 8 s of uncached reads: Redis errors, breaker opens; then redis_latency 80ms", func() {
		s.faults(`{"redis_error_rate":1}`, s.replicas...)
		until := time.Now().Add(8 * time.Second)
		next := int64(eventFirst + 100)
		for time.Now().Before(until) && next < products {
			byStatus, _ := s.readAll(ids(next, min(next+47, products)), 6)
			if byStatus[http.StatusOK] == 0 {
				s.t.Errorf("reads with Redis failing: %v (a cache failure must not fail a read)", byStatus)
			}
			next += 48
		}
		s.faults(`{"redis_error_rate":0,"redis_latency":"80ms"}`, s.replicas...)
		s.readAll(ids(1, 40), 4)
		s.faults("", s.replicas...)
	})
	s.step("cold sweep: every product of a range read once (L1 evictions; hit ratio and DB shield drop; slow reads)", func() {
		byStatus, byCache := s.readAll(ids(sweepFirst, sweepLast), 16)
		if byStatus[http.StatusOK] != sweepLast-sweepFirst+1 {
			s.t.Errorf("cold sweep: %v", byStatus)
		}
		s.t.Logf("  cold sweep answers: %v", byCache)
	})
}

// finale plays events whose traces one-minute windows must still hold at the end. It starts with
// the tail preset, whose stale answers are evaluated over the run.
func (s *script) finale() {
	a := s.replicas[0]
	s.step("preset tail with ttl 2s: a whole-catalogue warm-up in the background; load_rate 1, then every hot product read three times past its 2 s freshness (stale answers, revalidations mostly skipped); one written (refill); then two-level again", func() {
		s.tail(a)
	})
	s.step("writes", func() {
		for _, id := range s.hot[8:11] {
			s.update(a, id, fmt.Sprintf("E2E product %d", id))
		}
	})
	s.step("breakdown", func() {
		for _, id := range ids(eventFirst+60, eventFirst+61) {
			s.evict(id)
			s.expectOK(s.concurrently(id, 4))
		}
	})
	s.step("a client floods 100-id batch reads from an address of its own (X-Forwarded-For 203.0.113.7), 60 at once: past its burst of 4000, 429 rate-limited", func() {
		s.flood(a)
	})
	s.step("policy change: preset full", func() { s.policy(a, `{"preset":"full"}`) })
	// Category pages: product API requests (the availability objective counts them) that are
	// not cached reads, so the failures leave the cache ratios of the cold phase as they are.
	s.step("http_error_rate 0.3 on every replica for 10 s: k6 reads and category pages fail (k6 failures, 5xx lines, availability budget burn)", func() {
		s.faults(`{"http_error_rate":0.3}`, s.replicas...)
		var failed atomic.Int64
		var wg sync.WaitGroup
		for until := time.Now().Add(10 * time.Second); time.Now().Before(until); time.Sleep(250 * time.Millisecond) {
			for _, r := range s.replicas {
				wg.Go(func() {
					if s.do(r, http.MethodGet, "/api/v1/products?category_id=1&limit=5", "", nil).status == http.StatusInternalServerError {
						failed.Add(1)
					}
				})
			}
		}
		wg.Wait()
		s.faults("", s.replicas...)
		if failed.Load() == 0 {
			s.t.Error("http_error_rate 0.3 failed no request")
		}
	})
}

// step runs one event and logs it with its time.
func (s *script) step(what string, fn func()) {
	s.t.Helper()
	begin := time.Now()
	fn()
	s.t.Logf("event %s (+%s): %s", begin.Format("15:04:05.000"), time.Since(begin).Round(time.Millisecond), what)
}

// expectOK fails unless every read counted by concurrently answered 200.
func (s *script) expectOK(byStatus map[int]int, detail map[string]int) {
	s.t.Helper()
	if len(byStatus) != 1 || byStatus[http.StatusOK] == 0 {
		s.t.Errorf("concurrent reads: %v, want every status 200", detail)
	}
}

// tail switches to the tail preset with a ttl short enough that values go stale during the step,
// waits for the warm-up the switch starts (on the replica that took the change), lowers load_rate
// to 1/s so that most revalidations are skipped, reads every hot product three times over the
// replicas once their freshness has run out (answered stale), refills one by a write, and returns
// to two-level, the policy of the cold phase.
func (s *script) tail(a *replica) {
	s.policy(a, `{"preset":"tail","ttl":"2s"}`)
	s.waitWarmup(60 * time.Second)
	s.policy(a, `{"load_rate":1}`)
	time.Sleep(2500 * time.Millisecond) // past ttl 2s plus its ±10 % jitter
	// Three reads of each: every stale one tries a revalidation, which load_rate mostly skips
	// (the alert's expression wants over 0.1 skips/s over 5 minutes).
	reads := slices.Concat(s.hot, s.hot, s.hot)
	byStatus, byCache := s.readAll(reads, 4)
	s.t.Logf("  reads past freshness: %v", byCache)
	if byStatus[http.StatusOK] != len(reads) {
		s.t.Errorf("tail: reads of hot products: %v", byStatus)
	}
	if byCache["STALE"] == 0 {
		s.t.Errorf("tail: no read of a hot product past its 2 s freshness was answered stale: %v", byCache)
	}
	s.update(a, s.hot[11], fmt.Sprintf("E2E product %d (refilled)", s.hot[11]))
	s.policy(a, `{"preset":"two-level"}`)
}

// waitWarmup waits for the whole-catalogue warm-up a policy change starts in the background: until
// a replica reports one of scope "all" that loaded products, and none runs any more.
func (s *script) waitWarmup(limit time.Duration) {
	s.t.Helper()
	type warmup struct {
		Running   bool   `json:"running"`
		Scope     string `json:"scope"`
		Loaded    int64  `json:"loaded"`
		Target    int64  `json:"target"`
		Bytes     int64  `json:"bytes"`
		ElapsedMS int64  `json:"elapsed_ms"`
	}
	deadline := time.Now().Add(limit)
	for {
		running, done := false, false
		seen := map[string]warmup{}
		for _, r := range s.replicas {
			var body struct {
				Status struct {
					Warmup warmup `json:"warmup"`
				} `json:"status"`
			}
			if err := json.Unmarshal(s.admin(r, http.MethodGet, "/api/v1/admin/cache", "").body, &body); err != nil {
				s.t.Fatal(err)
			}
			w := body.Status.Warmup
			seen[r.Name] = w
			running = running || w.Running
			done = done || (w.Scope == "all" && !w.Running && w.Loaded > 0)
		}
		if done && !running {
			s.t.Logf("  warm-up done: %+v", seen)
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no whole-catalogue warm-up done within %s: %+v", limit, seen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// flood sends 60 batch reads of 100 ids at once to r from one client address: they cost 6000, the
// client's bucket holds 4000 (HTTP_CLIENT_RATE 2000), so about a third are refused 429. The ids
// are past the catalogue (answered in `missing`), so no product another part of the run reads
// gets cached by it.
func (s *script) flood(r *replica) {
	s.t.Helper()
	q := make([]string, 0, 100)
	for _, id := range ids(products+1, products+100) {
		q = append(q, strconv.FormatInt(id, 10))
	}
	path := "/api/v1/products?ids=" + strings.Join(q, ",")
	statuses := make(chan int, 60)
	var wg sync.WaitGroup
	for range 60 {
		wg.Go(func() {
			statuses <- s.do(r, http.MethodGet, path, "", map[string]string{"X-Forwarded-For": "203.0.113.7"}).status
		})
	}
	wg.Wait()
	close(statuses)
	by := map[int]int{}
	for st := range statuses {
		by[st]++
	}
	if by[http.StatusTooManyRequests] == 0 || by[http.StatusOK] == 0 {
		s.t.Errorf("flood of 60 batch reads from one client: %v, want some 200 and some 429", by)
	}
}
