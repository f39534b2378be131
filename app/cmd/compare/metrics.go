package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// followed are the counter families a cell's growth is computed from.
var followed = []string{
	"cache_db_loads_total", "cache_requests_total", "cache_lock_total", "cache_bloom_rejects_total", "app_requests_total",
	"cache_background_loads_skipped_total", "cache_fence_rejects_total", "cache_refills_total",
}

// The followed histograms.
const (
	// lagHistogram is how long other replicas took to drop an L1 entry after a write's
	// invalidation message: the scale-out run's figure.
	lagHistogram = "cache_l1_invalidation_lag_seconds"
	// staleAgeHistogram is how long past its fresh-until a stale answer was (soft expiry).
	staleAgeHistogram = "cache_stale_age_seconds"
)

var histograms = []string{lagHistogram, staleAgeHistogram}

// series is one counter: its family, labels and value.
type series struct {
	name   string
	labels map[string]string
	value  float64
}

// key identifies a series: its name and its labels in order.
func (s series) key() string {
	names := make([]string, 0, len(s.labels))
	for n := range s.labels {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(s.name)
	for _, n := range names {
		fmt.Fprintf(&b, ",%s=%q", n, s.labels[n])
	}
	return b.String()
}

// snapshot is the followed counters at one moment, by key.
type snapshot map[string]series

// snapshotOf keeps the followed counters and histograms of a scrape.
func snapshotOf(scraped []*dto.MetricFamily) snapshot {
	families := make(map[string]*dto.MetricFamily, len(scraped))
	for _, f := range scraped {
		families[f.GetName()] = f
	}
	snap := snapshot{}
	for _, name := range histograms {
		f, ok := families[name]
		if !ok || f.GetType() != dto.MetricType_HISTOGRAM {
			continue
		}
		// Each label set's buckets stay a series of their own (diff adds them up by bound).
		for _, m := range f.GetMetric() {
			labels := func(extra ...string) map[string]string {
				l := map[string]string{}
				for _, p := range m.GetLabel() {
					l[p.GetName()] = p.GetValue()
				}
				for i := 0; i+1 < len(extra); i += 2 {
					l[extra[i]] = extra[i+1]
				}
				return l
			}
			h := m.GetHistogram()
			for _, b := range h.GetBucket() {
				s := series{name: name + "_bucket", labels: labels("le", fmt.Sprint(b.GetUpperBound())), value: float64(b.GetCumulativeCount())}
				snap[s.key()] = s
			}
			s := series{name: name + "_count", labels: labels(), value: float64(h.GetSampleCount())}
			snap[s.key()] = s
		}
	}
	for _, name := range followed {
		f, ok := families[name]
		if !ok {
			continue
		}
		for _, m := range f.GetMetric() {
			s := series{name: name, labels: map[string]string{}, value: counterValue(f.GetType(), m)}
			for _, l := range m.GetLabel() {
				s.labels[l.GetName()] = l.GetValue()
			}
			snap[s.key()] = s
		}
	}
	return snap
}

func counterValue(t dto.MetricType, m *dto.Metric) float64 {
	if t == dto.MetricType_COUNTER {
		return m.GetCounter().GetValue()
	}
	return m.GetUntyped().GetValue()
}

// scrape reads the service's /metrics.
func scrape(ctx context.Context, client *http.Client, base string) (snapshot, error) {
	families, err := lab.Scrape(ctx, client, base+"/metrics")
	if err != nil {
		return nil, err
	}
	return snapshotOf(families), nil
}

// scrapeAll reads every replica's /metrics and adds them up: the cluster's counters.
func scrapeAll(ctx context.Context, client *http.Client, bases []string) (snapshot, error) {
	total := snapshot{}
	for _, base := range bases {
		snap, err := scrape(ctx, client, base)
		if err != nil {
			return nil, err
		}
		for k, s := range snap {
			if t, ok := total[k]; ok {
				s.value += t.value
			}
			total[k] = s
		}
	}
	return total, nil
}

// lookups counts one cache layer's lookups by result.
type lookups struct {
	Hit, NullHit, Miss, Error float64
	// Stale are answers of a value past its fresh-until (soft expiry) while one reload runs.
	Stale float64 `json:",omitempty"`
}

// total is every lookup of the layer.
func (l lookups) total() float64 { return l.Hit + l.NullHit + l.Stale + l.Miss + l.Error }

// hitRatio is the share of lookups answered by the layer (a cached "not found" and a stale
// value included), or nil without lookups.
func (l lookups) hitRatio() *float64 {
	if l.total() == 0 {
		return nil
	}
	r := (l.Hit + l.NullHit + l.Stale) / l.total()
	return &r
}

// growth is what the service counted between two snapshots.
type growth struct {
	DBLoads      map[string]float64 `json:"db_loads"` // by cause
	L1           lookups            `json:"l1"`
	Redis        lookups            `json:"redis"`
	Locks        map[string]float64 `json:"locks"` // by result
	BloomRejects float64            `json:"bloom_rejects"`
	// ProductReads are GETs of a product or its inventory: the reads the cache is there for.
	ProductReads float64 `json:"product_reads"`
	// Lag is the L1 invalidation lag observed by the replicas that did not make the write.
	Lag histogram `json:"l1_invalidation_lag"`
	// StaleAge is how long past fresh-until the stale answers were.
	StaleAge histogram `json:"stale_age"`
	// Skipped are the background loads the load_rate bound skipped, by cause.
	Skipped map[string]float64 `json:"background_loads_skipped,omitempty"`
	// FenceRejects are stores refused because a newer version had been written; Refills the
	// values writers stored after their commit.
	FenceRejects float64 `json:"fence_rejects"`
	Refills      float64 `json:"refills"`
}

// histogram is the growth of a histogram, every label set added up: cumulative counts by upper
// bound (seconds, as the le label writes it: "0.005", "+Inf").
type histogram struct {
	Count   float64            `json:"count"`
	Buckets map[string]float64 `json:"buckets,omitempty"`
}

// add counts a bucket's growth d (or, with le "", the sample count's).
func (h *histogram) add(le string, d float64) {
	if le == "" {
		h.Count += d
		return
	}
	if h.Buckets == nil {
		h.Buckets = map[string]float64{}
	}
	h.Buckets[le] += d
}

// quantile estimates the q-quantile in seconds as Prometheus's histogram_quantile does (linear
// within the bucket), or nil without samples. Past the last finite bound it answers that bound.
func (l histogram) quantile(q float64) *float64 {
	if l.Count == 0 || len(l.Buckets) == 0 {
		return nil
	}
	counts := make(map[float64]float64, len(l.Buckets))
	bounds := make([]float64, 0, len(l.Buckets))
	for le, n := range l.Buckets {
		b, err := strconv.ParseFloat(le, 64)
		if err != nil {
			continue
		}
		counts[b] = n
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	rank := q * l.Count
	lower, below := 0.0, 0.0
	for _, b := range bounds {
		n := counts[b]
		if n >= rank {
			if math.IsInf(b, 1) {
				return &lower
			}
			v := b
			if n > below {
				v = lower + (b-lower)*(rank-below)/(n-below)
			}
			return &v
		}
		if !math.IsInf(b, 1) {
			lower = b
		}
		below = n
	}
	return &lower
}

// readCauses are the load causes a read pays for, on the request path (the recording rules' DB
// shield ratio); backgroundCauses are the loads the cache makes off it.
var (
	readCauses       = []string{"miss", "lock_timeout", "bypass"}
	backgroundCauses = []string{"refresh", "early_refresh", "revalidate", "warmup"}
)

// productRoutes are the cacheable read routes.
var productRoutes = []string{"/api/v1/products/:id", "/api/v1/products/:id/inventory"}

// diff returns how much each followed counter grew from before to after; a counter that went
// down was reset (a restarted process) and counts from zero.
func diff(before, after snapshot) growth {
	g := growth{DBLoads: map[string]float64{}, Locks: map[string]float64{}}
	for k, a := range after {
		d := a.value - before[k].value
		if d < 0 {
			d = a.value
		}
		switch a.name {
		case lagHistogram + "_bucket", lagHistogram + "_count":
			g.Lag.add(a.labels["le"], d)
		case staleAgeHistogram + "_bucket", staleAgeHistogram + "_count":
			g.StaleAge.add(a.labels["le"], d)
		case "cache_background_loads_skipped_total":
			if g.Skipped == nil {
				g.Skipped = map[string]float64{}
			}
			g.Skipped[a.labels["cause"]] += d
		case "cache_fence_rejects_total":
			g.FenceRejects += d
		case "cache_refills_total":
			g.Refills += d
		case "cache_db_loads_total":
			g.DBLoads[a.labels["cause"]] += d
		case "cache_lock_total":
			g.Locks[a.labels["result"]] += d
		case "cache_bloom_rejects_total":
			g.BloomRejects += d
		case "cache_requests_total":
			l := &g.Redis
			if a.labels["layer"] == "l1" {
				l = &g.L1
			}
			switch a.labels["result"] {
			case "hit":
				l.Hit += d
			case "null_hit":
				l.NullHit += d
			case "stale":
				l.Stale += d
			case "miss":
				l.Miss += d
			case "error":
				l.Error += d
			}
		case "app_requests_total":
			if a.labels["method"] == http.MethodGet && slices.Contains(productRoutes, a.labels["route"]) {
				g.ProductReads += d
			}
		}
	}
	return g
}

// totalLoads is every database load of the cache, any cause.
func (g growth) totalLoads() float64 {
	var t float64
	for _, v := range g.DBLoads {
		t += v
	}
	return t
}

// readLoads are the loads reads paid for.
func (g growth) readLoads() float64 { return g.loadsOf(readCauses) }

// loadsOf adds up the loads of the causes.
func (g growth) loadsOf(causes []string) float64 {
	var t float64
	for _, c := range causes {
		t += g.DBLoads[c]
	}
	return t
}

// staleAnswers are the stale values served, by either layer.
func (g growth) staleAnswers() float64 { return g.L1.Stale + g.Redis.Stale }
