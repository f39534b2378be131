package drills

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Source addresses of the overload drill's clients: every address of 127.0.0.0/8 is this machine,
// and the service tells clients apart by address (it has no API keys).
const (
	wellBehavedIP = "127.0.0.2"
	// abusiveIPs are 127.0.0.10 … 127.0.0.(10+abusiveIPs-1).
	abusiveIPs = 4
)

// overloadEnv is the protection the drill turns on: each client may spend 400 units a second (a
// single read costs 1, a batch of 100 ids 100), with the default bound on concurrent work.
var overloadEnv = []string{"HTTP_CLIENT_RATE=400", "HTTP_CLIENT_ITEM_COST=1"}

// TestDrillOverload floods the service with batch reads of 100 ids on 200 connections (from
// abusiveIPs addresses, each connection sending its next request as soon as the previous one is
// answered) while a well-behaved client reads single products at 200/s from its own address. With
// nothing limiting work the well-behaved client's p99 goes from milliseconds to seconds; with
// per-client rate limits charged by cost and the bound on concurrent work, the flood is refused
// cheaply (429/503) and the well-behaved client keeps its latency and gets no error. The goal is
// p99 during the flood ≤ 5× its value before, with 0 errors. The drill fails on any error of the
// well-behaved client and when less than half the flood is refused; it fails on a p99 past 10×
// (and 250 ms) and on the Redis breaker opening only when the machine is not oversubscribed (load
// average ≤ 2 × cores): on a machine busy with other work the service gets a fraction of a core
// whatever it is asked, and the latency measures the machine. The row reports the load average,
// the service's and the generators' CPU, and the service's own p99 beside the client's.
//
// The well-behaved client is the Go generator in both runs (it needs its own source address);
// `make drills` lengthens the phases (flood 15 s, else 8 s).
func TestDrillOverload(t *testing.T) {
	ctx := drillContext(t, 5*time.Minute)
	sh := loadShape()
	products, flood := 2000, 8*time.Second
	if useK6 {
		products, flood = 10000, 15*time.Second
	}
	const rate, conns, batch = 200, 200, 100
	st := newStack(ctx, t, stackOptions{products: products, env: overloadEnv})
	api := newAPIClient(st.svc().Base)

	// The warm-up fills the cache with the well-behaved client's ids, so "before" measures a warm service.
	sched := newSchedule(time.Second, []string{"warmup", "before", "during", "after"}, 2*time.Second, sh.phase, flood, sh.phase)
	load := startGoLoad(ctx, readLoadSpec{bases: []string{st.svc().Base}, rate: rate, sched: sched, products: products,
		client: fromAddress(wellBehavedIP, 20*time.Second, 200)})
	w := watch(ctx, 250*time.Millisecond, func(ctx context.Context) []float64 {
		state, _ := api.metricSum(ctx, "cache_redis_breaker_state", nil)
		return []float64{state}
	})

	// The well-behaved client alone reads /api/v1/products/:id: the service's own latency
	// histogram of that route, per phase, tells the service's share of its latency from the
	// share of the machine both generators run on.
	single := map[string]string{"method": "GET", "route": "/api/v1/products/:id"}
	sleepUntil(ctx, sched.start("before"))
	hBefore := latencyBuckets(ctx, t, api, single)
	sleepUntil(ctx, sched.start("during"))
	hDuring := latencyBuckets(ctx, t, api, single)
	cpuSvc0, _ := api.metricSum(ctx, "process_cpu_seconds_total", nil)
	cpuGen0 := ownCPU()
	floodCtx, cancel := context.WithDeadline(ctx, sched.start("after"))
	abuse := floodBatches(floodCtx, st.svc().Base, conns, batch, products)
	cancel()
	cpuGen := (ownCPU() - cpuGen0).Seconds() / flood.Seconds()
	cpuSvc1, _ := api.metricSum(ctx, "process_cpu_seconds_total", nil)
	cpuSvc := (cpuSvc1 - cpuSvc0) / flood.Seconds()
	hAfter := latencyBuckets(ctx, t, api, single)
	res := load.wait()
	ticks := w.end()

	rejected := map[string]float64{}
	for _, reason := range []string{"client_rate", "queue_full", "queue_timeout"} {
		rejected[reason], _ = api.metricSum(ctx, "app_overload_rejected_total", map[string]string{"reason": reason})
	}
	breakerOpened := false
	for _, tk := range ticks {
		if tk.values[0] == 2 {
			breakerOpened = true
		}
	}
	before, during, after := res.get("read", "before"), res.get("read", "during"), res.get("read", "after")
	sent := res.total("read", "") - res.get("read", "warmup").sent()
	failed := sent - (res.total("read", outOK) - res.get("read", "warmup").counts[outOK])
	ratio := float64(during.p99) / float64(max(before.p99, time.Microsecond))
	refused := abuse.count(http.StatusTooManyRequests) + abuse.count(http.StatusServiceUnavailable)
	share := float64(refused) / float64(max(abuse.total(), 1))
	addRow(t, reportRow{
		drill: fmt.Sprintf("Overload: %d connections flood batch reads (%d ids) from %d addresses for %s", conns, batch, abusiveIPs, flood),
		load:  fmt.Sprintf("go %d/s + flood", rate),
		sent:  sent, failed: fmt.Sprintf("%d (want 0)", failed),
		p99: [3]time.Duration{before.p99, during.p99, after.p99},
		figures: fmt.Sprintf("well-behaved p99 during = %.1f× before (goal ≤ 5×); flood: %d requests (%.0f/s), %.1f %% refused "+
			"(%d × 429, %d × 503, %d other, %d × 200: %.0f batches/s served); service counted client_rate %.0f, queue_full %.0f, "+
			"queue_timeout %.0f; Redis breaker opened: %v; the service's own p99 of the single reads "+
			"(histogram bucket bound) %s before, %s during; CPU during the flood: service %.2f cores, "+
			"generators (this test process) %.2f cores, load average %s",
			ratio, abuse.total(), float64(abuse.total())/flood.Seconds(), 100*share, abuse.count(http.StatusTooManyRequests),
			abuse.count(http.StatusServiceUnavailable), abuse.total()-refused-abuse.count(http.StatusOK), abuse.count(http.StatusOK),
			float64(abuse.count(http.StatusOK))/flood.Seconds(), rejected["client_rate"], rejected["queue_full"],
			rejected["queue_timeout"], breakerOpened, bucketP99(hBefore, hDuring), bucketP99(hDuring, hAfter),
			cpuSvc, cpuGen, loadAverage()),
	})
	if failed != 0 {
		t.Errorf("the well-behaved client got %d failures, want 0: %s", failed, res.describe("read"))
	}
	limit := max(10*before.p99, 250*time.Millisecond)
	judged, why := latencyJudged()
	switch {
	case !judged:
		t.Log(why)
	case during.p99 > limit:
		t.Errorf("the well-behaved client's p99 during the flood is %s (%s before), want ≤ %s (goal: ≤ 5× before)",
			ms(during.p99), ms(before.p99), ms(limit))
	}
	if share < 0.5 {
		t.Errorf("%.1f %% of the flood was refused, want most of it (the flood asks ~100× a client's budget)", 100*share)
	}
	if breakerOpened && judged {
		t.Error("the Redis breaker opened during the flood (the service starved its own Redis calls)")
	}
}

// fromAddress is an HTTP client whose connections leave from the source address ip.
func fromAddress(ip string, timeout time.Duration, conns int) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DialContext: d.DialContext, MaxConnsPerHost: conns, MaxIdleConnsPerHost: conns,
	}}
}

// floodResult counts the flood's answers by status (0: no answer).
type floodResult struct {
	mu       sync.Mutex
	byStatus map[int]int
}

func (r *floodResult) count(status int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byStatus[status]
}

func (r *floodResult) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.byStatus {
		n += c
	}
	return n
}

// floodBatches sends batch reads of size random ids on conns connections, spread over the
// abusive addresses, each sending its next request as soon as the last is answered, until ctx
// ends; it returns when every connection has stopped.
func floodBatches(ctx context.Context, base string, conns, size, products int) *floodResult {
	res := &floodResult{byStatus: map[int]int{}}
	clients := make([]*http.Client, abusiveIPs)
	for i := range clients {
		clients[i] = fromAddress("127.0.0."+strconv.Itoa(10+i), 10*time.Second, conns/abusiveIPs+1)
	}
	var wg sync.WaitGroup
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			client := clients[c%abusiveIPs]
			ids := make([]string, size)
			for ctx.Err() == nil {
				for i := range ids {
					ids[i] = strconv.Itoa(1 + rng.IntN(products))
				}
				code := status(ctx, client, base+"/api/v1/products?ids="+strings.Join(ids, ","))
				if ctx.Err() != nil {
					return // cut by the end of the flood: not an answer
				}
				res.mu.Lock()
				res.byStatus[code]++
				res.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, c := range clients {
		c.CloseIdleConnections()
	}
	return res
}

// latencyBuckets scrapes the cumulative counts of app_request_latency_seconds buckets of the
// series matching match, by upper bound.
func latencyBuckets(ctx context.Context, t *testing.T, api *apiClient, match map[string]string) map[float64]uint64 {
	t.Helper()
	families, err := api.scrape(ctx)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	out := map[float64]uint64{}
	i := slices.IndexFunc(families, func(f *dto.MetricFamily) bool { return f.GetName() == "app_request_latency_seconds" })
	if i < 0 {
		return out
	}
next:
	for _, m := range families[i].GetMetric() {
		for _, l := range m.GetLabel() {
			if v, ok := match[l.GetName()]; ok && v != l.GetValue() {
				continue next
			}
		}
		for _, b := range m.GetHistogram().GetBucket() {
			if !math.IsInf(b.GetUpperBound(), 1) { // the text format lists +Inf too: the sample count
				out[b.GetUpperBound()] += b.GetCumulativeCount()
			}
		}
		out[math.Inf(1)] += m.GetHistogram().GetSampleCount()
	}
	return out
}

// bucketP99 is the upper bound of the bucket holding the 99th percentile of the observations
// between two scrapes ("–" when none; "> 5s" past the last finite bound).
func bucketP99(from, to map[float64]uint64) string {
	bounds := slices.Sorted(maps.Keys(to))
	total := to[math.Inf(1)] - from[math.Inf(1)]
	if total == 0 {
		return "–"
	}
	for i, b := range bounds {
		if float64(to[b]-from[b]) >= 0.99*float64(total) {
			if math.IsInf(b, 1) {
				return fmt.Sprintf("> %gs", bounds[i-1])
			}
			return "≤ " + ms(time.Duration(b*float64(time.Second)))
		}
	}
	return "–"
}

// ownCPU is the CPU time this test process has used (user and system).
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAverage is the machine's 1-minute load average ("?" where /proc does not tell): on a
// machine shared with other work it says how much of the latency is the machine's.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(raw))[0]
}

// oversubscribed reports whether a load average is above twice the cores: more runnable work
// than the machine can run, so latencies measure the machine.
func oversubscribed(load string) bool {
	f, err := strconv.ParseFloat(load, 64)
	return err == nil && f > 2*float64(runtime.NumCPU())
}
