package drills

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// Outcomes of a read, as loadtest/drills/read.js names them.
const (
	outOK     = "ok"     // 2xx or 304
	outC4xx   = "c4xx"   // another 4xx
	outC5xx   = "c5xx"   // a 5xx that is not the documented 503 problem
	outS503   = "s503"   // 503 problem+json: the service says it cannot serve this now
	outNetErr = "neterr" // no HTTP answer (refused, reset, timed out)
)

var outcomes = []string{outOK, outC4xx, outC5xx, outS503, outNetErr}

// schedule splits a drill into phases by wall-clock time: phase i runs from starts[i] until
// starts[i+1] (the last until end). k6 and the Go load generator both take the phase of a request
// from the moment it is sent, so both agree with the drill's own clock.
type schedule struct {
	names  []string
	starts []time.Time
	end    time.Time
}

// newSchedule starts the first phase lead from now; lengths are the phases' lengths in order.
func newSchedule(lead time.Duration, names []string, lengths ...time.Duration) schedule {
	s := schedule{names: names}
	at := time.Now().Add(lead)
	for _, l := range lengths {
		s.starts = append(s.starts, at)
		at = at.Add(l)
	}
	s.end = at
	return s
}

// start is when phase name begins.
func (s schedule) start(name string) time.Time { return s.starts[slices.Index(s.names, name)] }

// phaseAt is the phase a request sent at t belongs to.
func (s schedule) phaseAt(t time.Time) string {
	name := s.names[0]
	for i, at := range s.starts {
		if !t.Before(at) {
			name = s.names[i]
		}
	}
	return name
}

// k6Phases is the PHASES value of read.js.
func (s schedule) k6Phases() string {
	parts := make([]string, len(s.names))
	for i, n := range s.names {
		parts[i] = n + "@" + strconv.FormatInt(s.starts[i].UnixMilli(), 10)
	}
	return strings.Join(parts, ",")
}

// bucket is what one class of reads got in one phase.
type bucket struct {
	counts map[string]int
	p99    time.Duration
	lat    []time.Duration // Go generator only
}

// sent counts the requests of the bucket.
func (b *bucket) sent() int {
	n := 0
	for _, c := range b.counts {
		n += c
	}
	return n
}

// loadResult holds the buckets of a run by class, then phase.
type loadResult struct {
	tool    string // "k6" or "go"
	rate    int
	buckets map[string]map[string]*bucket
}

// get returns the bucket of class and phase (empty when nothing was sent).
func (r *loadResult) get(class, phase string) *bucket {
	if b := r.buckets[class][phase]; b != nil {
		return b
	}
	return &bucket{counts: map[string]int{}}
}

// add returns the bucket of class and phase, creating it when missing.
func (r *loadResult) add(class, phase string) *bucket {
	if r.buckets[class] == nil {
		r.buckets[class] = map[string]*bucket{}
	}
	b := r.buckets[class][phase]
	if b == nil {
		b = &bucket{counts: map[string]int{}}
		r.buckets[class][phase] = b
	}
	return b
}

// total sums a class over every phase; every class when class is empty.
func (r *loadResult) total(class string, outcome string) int {
	n := 0
	for c, byPhase := range r.buckets {
		if class != "" && c != class {
			continue
		}
		for _, b := range byPhase {
			if outcome == "" {
				n += b.sent()
			} else {
				n += b.counts[outcome]
			}
		}
	}
	return n
}

// describe prints the counts of a class by phase (every class when class is empty).
func (r *loadResult) describe(class string) string {
	var parts []string
	for c, byPhase := range r.buckets {
		if class != "" && c != class {
			continue
		}
		for phase, b := range byPhase {
			parts = append(parts, fmt.Sprintf("%s/%s %v", c, phase, b.counts))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// readLoadSpec describes the read load of a drill.
type readLoadSpec struct {
	bases    []string // service base URLs, rotated over
	rate     int      // reads per second
	sched    schedule
	products int // class "read": Zipf over 1..products
	// cachedIDs > 0 splits the reads into "cached" (uniform over 1..cachedIDs) and "uncached"
	// (each id once, from uncachedFrom up), uncachedShare of them uncached.
	cachedIDs     int
	uncachedFrom  int
	uncachedCount int
	uncachedShare float64
	// client, when set, sends the Go generator's reads (e.g. from its own source address).
	client *http.Client
}

// readLoad is a read load running in the background.
type readLoad struct {
	wait func() *loadResult
}

// useK6 reports whether the drills run with k6 (build tag drills) or the Go generator.
var useK6 = false

// latencyJudged says whether a drill may assert a latency bound, and if not, why: only under
// `make drills` (k6, the drill alone on the machine) and when the machine is not oversubscribed.
// Under `make test` the drills run beside every other package's tests, with a race-instrumented
// generator: a latency there measures the machine, so it is reported, never asserted.
func latencyJudged() (bool, string) {
	switch load := loadAverage(); {
	case !useK6:
		return false, "latency reported, not judged: make test runs the drills beside other tests (make drills judges it)"
	case oversubscribed(load):
		return false, fmt.Sprintf("latency not judged: load average %s on %d cores (the bound needs a machine the drill has to itself)", load, runtime.NumCPU())
	}
	return true, ""
}

// startReadLoad runs the read load with k6 under `make drills`, else with the Go generator.
func startReadLoad(ctx context.Context, t *testing.T, logs string, spec readLoadSpec) *readLoad {
	t.Helper()
	if useK6 {
		return startK6(ctx, t, logs, spec)
	}
	return startGoLoad(ctx, spec)
}

// defaultK6 is the k6 `make tools` builds, used when K6_BIN is unset.
var defaultK6 = filepath.Join(os.Getenv("HOME"), ".cache/product-service-lab/tools/k6-v1.8.1/k6")

// startK6 runs loadtest/drills/read.js and parses its summary when waited for.
func startK6(ctx context.Context, t *testing.T, logs string, spec readLoadSpec) *readLoad {
	t.Helper()
	summary := filepath.Join(logs, "k6-summary.json")
	if !filepath.IsAbs(summary) {
		abs, err := filepath.Abs(summary)
		if err != nil {
			t.Fatal(err)
		}
		summary = abs
	}
	dur := time.Until(spec.sched.end).Round(time.Second)
	env := []string{
		"BASE_URLS=" + strings.Join(spec.bases, ","), "RATE=" + strconv.Itoa(spec.rate),
		"DURATION=" + dur.String(), "PHASES=" + spec.sched.k6Phases(), "PRODUCTS=" + strconv.Itoa(spec.products),
		"SUMMARY_FILE=" + summary,
	}
	if spec.cachedIDs > 0 {
		env = append(env, "CACHED_IDS="+strconv.Itoa(spec.cachedIDs), "UNCACHED_FROM="+strconv.Itoa(spec.uncachedFrom),
			"UNCACHED_COUNT="+strconv.Itoa(spec.uncachedCount),
			"UNCACHED_SHARE="+strconv.FormatFloat(spec.uncachedShare, 'f', -1, 64))
	}
	p := lab.MustStart(ctx, t, lab.K6{Bin: lab.Tool(t, "K6_BIN", defaultK6), Script: "loadtest/drills/read.js", Env: env,
		Dir: repoRoot, Log: filepath.Join(logs, "k6.log")}.Spec())
	return &readLoad{wait: func() *loadResult {
		t.Helper()
		select {
		case <-p.Done():
		case <-ctx.Done():
			t.Fatal("drill timed out waiting for k6")
		}
		if p.Err() != nil {
			t.Fatalf("k6: %v\n%s", p.Err(), p.Tail(30))
		}
		res, err := parseK6Summary(summary, spec.rate)
		if err != nil {
			t.Fatalf("k6 summary: %v", err)
		}
		return res
	}}
}

// parseK6Summary reads the metrics read.js wrote: drill_<class>_<phase>_<outcome> counters and
// drill_<class>_<phase>_ms trends.
func parseK6Summary(path string, rate int) (*loadResult, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var metrics map[string]struct {
		Values map[string]float64 `json:"values"`
	}
	if err := json.Unmarshal(raw, &metrics); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	res := &loadResult{tool: "k6", rate: rate, buckets: map[string]map[string]*bucket{}}
	for name, m := range metrics {
		rest, ok := strings.CutPrefix(name, "drill_")
		if !ok {
			continue
		}
		parts := strings.Split(rest, "_")
		if len(parts) != 3 {
			continue
		}
		class, phase, what := parts[0], parts[1], parts[2]
		b := res.add(class, phase)
		if what == "ms" {
			b.p99 = time.Duration(m.Values["p(99)"] * float64(time.Millisecond))
		} else {
			b.counts[what] = int(m.Values["count"])
		}
	}
	return res, nil
}

// startGoLoad is the small open-loop generator of `make test`: requests sent at a constant rate,
// each in its own goroutine, so a slow answer never delays the next request.
func startGoLoad(ctx context.Context, spec readLoadSpec) *readLoad {
	res := &loadResult{tool: "go", rate: spec.rate, buckets: map[string]map[string]*bucket{}}
	var mu sync.Mutex
	record := func(class, phase, outcome string, lat time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		b := res.add(class, phase)
		b.counts[outcome]++
		b.lat = append(b.lat, lat)
	}
	client := spec.client
	if client == nil {
		client = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(max(spec.products, 2)-1))
	var wg sync.WaitGroup
	done := make(chan struct{})
	go func() {
		defer close(done)
		sleepUntil(ctx, spec.sched.starts[0])
		interval := time.Second / time.Duration(spec.rate)
		next := time.Now()
		for i := 0; ; i++ {
			if !next.Before(spec.sched.end) || ctx.Err() != nil {
				break
			}
			sleepUntil(ctx, next)
			next = next.Add(interval)
			class, id := "read", int(zipf.Uint64())+1
			if spec.cachedIDs > 0 {
				if rng.Float64() < spec.uncachedShare {
					class, id = "uncached", spec.uncachedFrom+i%spec.uncachedCount
				} else {
					class, id = "cached", 1+rng.IntN(spec.cachedIDs)
				}
			}
			url := fmt.Sprintf("%s/api/v1/products/%d", spec.bases[i%len(spec.bases)], id)
			wg.Add(1)
			go func() {
				defer wg.Done()
				sent := time.Now()
				phase := spec.sched.phaseAt(sent)
				outcome := doGet(ctx, client, url)
				record(class, phase, outcome, time.Since(sent))
			}()
		}
		wg.Wait()
	}()
	return &readLoad{wait: func() *loadResult {
		<-done
		for _, byPhase := range res.buckets {
			for _, b := range byPhase {
				b.p99 = percentile(b.lat, 0.99)
			}
		}
		return res
	}}
}

// doGet sends one GET and classifies the answer as read.js does.
func doGet(ctx context.Context, client *http.Client, url string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return outNetErr
	}
	resp, err := client.Do(req)
	if err != nil {
		return outNetErr
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return classify(resp)
}

// classify names the outcome of an answer.
func classify(resp *http.Response) string {
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300, s == http.StatusNotModified:
		return outOK
	case s == http.StatusServiceUnavailable && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json"):
		return outS503
	case s >= 500:
		return outC5xx
	default:
		return outC4xx
	}
}

// percentile returns the q-quantile of ds (nearest rank); 0 for none.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*q+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
