package cache

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the cache's Prometheus collectors. Their names are a contract: dashboards, alerts
// and k6 thresholds depend on them (see the README).
type Metrics struct {
	requests        *prometheus.CounterVec
	dbLoads         *prometheus.CounterVec
	locks           *prometheus.CounterVec
	lockWait        prometheus.Histogram
	sfShared        prometheus.Counter
	bloomRejects    prometheus.Counter
	bloomFalsePos   prometheus.Counter
	invalidations   *prometheus.CounterVec
	invalidationLag prometheus.Histogram
	l1Evictions     prometheus.Counter
	payloadBytes    *prometheus.HistogramVec
	codecSeconds    *prometheus.HistogramVec
	policyInfo      *prometheus.GaugeVec
	policyChanges   prometheus.Counter
	breakerState    prometheus.Gauge
	rescues         prometheus.Counter
	staleAge        prometheus.Histogram
	skipped         *prometheus.CounterVec
	fenceRejects    prometheus.Counter
	refills         prometheus.Counter
	warmLoaded      prometheus.Gauge
	warmTarget      prometheus.Gauge
	warmRunning     prometheus.Gauge
	warmDuration    prometheus.Gauge
	redisErrors     *prometheus.CounterVec
	budgetExhausted *prometheus.CounterVec
	budgetSkipped   *prometheus.CounterVec
	outbox          *outboxMetrics
	reg             prometheus.Registerer
}

// NewMetrics creates the cache collectors and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cache_requests_total", Help: "Cache lookups by layer (l1, redis) and result (hit, miss, null_hit, stale, error).",
		}, []string{"layer", "result"}),
		dbLoads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cache_db_loads_total", Help: "Keys loaded from the database by the cache, by cause (miss, lock_timeout, redis_budget, bypass on the request path; warmup, refresh, early_refresh, revalidate off it).",
		}, []string{"cause"}),
		locks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cache_lock_total", Help: "Breakdown lock attempts by result (acquired, waited, timeout).",
		}, []string{"result"}),
		lockWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cache_lock_wait_seconds", Help: "Time spent waiting for another holder's value.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 13),
		}),
		sfShared: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cache_singleflight_shared_total", Help: "Requests that shared another request's database load in this instance.",
		}),
		bloomRejects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cache_bloom_rejects_total", Help: "Reads rejected by the Bloom filter (the id certainly does not exist).",
		}),
		bloomFalsePos: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cache_bloom_false_positives_total", Help: "Ids the Bloom filter let through that the database did not have.",
		}),
		invalidations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cache_invalidations_total", Help: "Keys invalidated after writes, by layer (redis, l1).",
		}, []string{"layer"}),
		invalidationLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cache_l1_invalidation_lag_seconds", Help: "Time from a write's invalidation message to its L1 eviction on another instance.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		l1Evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cache_l1_evictions_total", Help: "L1 entries evicted to stay within the size bound.",
		}),
		payloadBytes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cache_payload_bytes", Help: "Size of values written to Redis, by serializer.",
			Buckets: prometheus.ExponentialBuckets(64, 2, 10),
		}, []string{"serializer"}),
		codecSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cache_codec_seconds", Help: "Time to encode or decode one cached value, by serializer and op.",
			Buckets: prometheus.ExponentialBuckets(0.000_001, 2, 14),
		}, []string{"serializer", "op"}),
		policyInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cache_policy_info", Help: "The cache policy in force (value 1).",
		}, []string{"preset", "layers", "breakdown", "jitter", "null", "bloom", "warmup", "refresh", "serializer"}),
		policyChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cache_policy_changes_total", Help: "Cache policy changes since start.",
		}),
		breakerState: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cache_redis_breaker_state", Help: "Redis circuit breaker: 0 closed, 1 half-open, 2 open.",
		}),
		rescues: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cache_redis_rescues_total", Help: "Reads served from Redis past the breaker after Redis was skipped and the database failed too.",
		}),
		staleAge: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cache_stale_age_seconds", Help: "How long past its TTL a stale answer was (soft expiry).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cache_background_loads_skipped_total", Help: "Background reloads the policy's load_rate bound skipped, by cause (refresh, early_refresh, revalidate).",
		}, []string{"cause"}),
		fenceRejects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cache_fence_rejects_total", Help: "Stores of a product refused by the version fence: a newer version had been written.",
		}),
		refills: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cache_refills_total", Help: "Products stored in Redis by their writer after the commit (refill).",
		}),
		warmLoaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cache_warmup_products", Help: "Products loaded by the warm-up running or last run.",
		}),
		warmTarget: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cache_warmup_target_products", Help: "Products the warm-up running or last run aims at.",
		}),
		warmRunning: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cache_warmup_running", Help: "1 while a warm-up runs.",
		}),
		warmDuration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cache_warmup_duration_seconds", Help: "How long the last finished warm-up took.",
		}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cache_redis_errors_total", Help: "Failed Redis calls by op (get, mget, lock, unlock, set, del, publish, background) and kind (timeout, connection, oom, readonly, loading, injected, other); only timeout, connection and injected count against the circuit breaker.",
		}, []string{"op", "kind"}),
		budgetExhausted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cache_redis_budget_exhausted_total", Help: "Reads whose Redis budget (REDIS_TIMEOUT for all their Redis calls together) ran out, by the op that spent the last of it; they went on to the database.",
		}, []string{"op"}),
		budgetSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cache_redis_budget_skipped_total", Help: "Redis calls a read did not make because its Redis budget was spent, by op; its fills and lock releases go to the background instead.",
		}, []string{"op"}),
	}
	m.reg = reg
	m.outbox = newOutboxMetrics(reg)
	reg.MustRegister(m.requests, m.dbLoads, m.locks, m.lockWait, m.sfShared, m.bloomRejects, m.bloomFalsePos,
		m.invalidations, m.invalidationLag, m.l1Evictions, m.payloadBytes, m.codecSeconds, m.policyInfo,
		m.policyChanges, m.breakerState, m.rescues, m.staleAge, m.skipped, m.fenceRejects, m.refills,
		m.warmLoaded, m.warmTarget, m.warmRunning, m.warmDuration, m.redisErrors, m.budgetExhausted, m.budgetSkipped)
	// Every series exists from the start, so rates and ratios are defined before the first event.
	for _, layer := range []string{"l1", "redis"} {
		for _, result := range []string{"hit", "miss", "null_hit", "stale", "error"} {
			m.requests.WithLabelValues(layer, result)
		}
		m.invalidations.WithLabelValues(layer)
	}
	for _, op := range redisOps {
		for _, kind := range errorKinds {
			m.redisErrors.WithLabelValues(op, kind)
		}
		m.budgetExhausted.WithLabelValues(op)
		m.budgetSkipped.WithLabelValues(op)
	}
	for _, cause := range []string{"miss", "refresh", "warmup", "lock_timeout", "redis_budget", "bypass", "early_refresh", "revalidate"} {
		m.dbLoads.WithLabelValues(cause)
	}
	for _, cause := range []string{"refresh", "early_refresh", "revalidate"} {
		m.skipped.WithLabelValues(cause)
	}
	for _, result := range []string{"acquired", "waited", "timeout"} {
		m.locks.WithLabelValues(result)
	}
	return m
}

// setPolicy makes p the one policy the info metric shows.
func (m *Metrics) setPolicy(p *Policy) {
	m.policyInfo.Reset()
	m.policyInfo.WithLabelValues(p.Preset, string(p.Layers), string(p.Breakdown),
		strconv.FormatFloat(p.TTLJitter, 'f', -1, 64), p.NullTTL.String(), strconv.FormatBool(p.Bloom),
		strconv.FormatBool(p.Warmup), strconv.FormatBool(p.Refresh), string(p.Serializer)).Set(1)
}

// warmup shows the warm-up's progress.
func (m *Metrics) warmup(w *warmState) {
	m.warmLoaded.Set(float64(w.loaded.Load()))
	m.warmTarget.Set(float64(w.target.Load()))
	running := 0.0
	if w.running.Load() {
		running = 1
	} else {
		m.warmDuration.Set(time.Duration(w.elapsed.Load()).Seconds())
	}
	m.warmRunning.Set(running)
}

// watchL1 exports the size of the L1 cache.
func (m *Metrics) watchL1(size func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cache_l1_entries", Help: "Entries in the in-process L1 cache.",
	}, func() float64 { return float64(size()) }))
}
