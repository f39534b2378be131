package main

import (
	"fmt"
	"maps"
	"strings"
)

// cell is one scenario × preset run of the matrix.
type cell struct {
	Key     cellKey    `json:"key"`
	Repeat  int        `json:"repeat"`
	Seconds float64    `json:"seconds"` // how long its main load lasted
	K6      k6Summary  `json:"k6"`
	Service growth     `json:"service"`
	Edge    *edgeStats `json:"edge,omitempty"` // the edge column: its product reads by cache status
	Exit    int        `json:"exit"`           // k6's exit status: 0, or 99 when a threshold was crossed
	// Replicas is how many service processes served the cell (behind the balancer when > 1);
	// Service then adds up all of them.
	Replicas int    `json:"replicas,omitempty"`
	Err      string `json:"error,omitempty"` // why the cell has no figures
	// Warmup is the preset's warm-up before the cell, when it has one.
	Warmup *warmupRun `json:"warmup,omitempty"`
	// Redis is Redis's used_memory (INFO memory) with the namespace empty at the start of the
	// cell and after its load; nil when compare has no Redis client (-base-url).
	Redis *redisMemory `json:"redis_memory,omitempty"`
}

// warmupRun is how long a preset's warm-up took (switch, POST /api/v1/admin/cache/warmup on each
// replica, until none runs) and the database loads it made (cause warmup).
type warmupRun struct {
	Seconds float64 `json:"seconds"`
	DBLoads float64 `json:"db_loads"`
}

// redisMemory is used_memory in bytes before and after.
type redisMemory struct {
	Before float64 `json:"before"`
	After  float64 `json:"after"`
}

// figures are a cell's numbers as the report shows them.
type figures struct {
	P50, P95, P99, P999 *float64 // ms
	ErrorRate           float64
	DBLoadsPerS         float64
	// Shield is the share of product reads that cost no database load.
	Shield          *float64
	L1Hit, RedisHit *float64
	// EdgeHit is the share of product reads the edge answered from its cache (edge column only).
	EdgeHit      *float64
	LockTimeouts float64
	StaleReads   *float64
	ThresholdsOK bool

	// The costs table's figures. Loads on the request path are those reads paid for (readCauses),
	// the others the cache made in the background (backgroundCauses): both per second.
	PathLoadsPerS, BackgroundLoadsPerS float64
	// StaleAnswers are stale values served; StaleAgeP99 the p99 of how far past fresh-until (ms).
	StaleAnswers float64
	StaleAgeP99  *float64
	// WarmupS and WarmupLoads are the preset's warm-up before the cell (nil: none).
	WarmupS, WarmupLoads *float64
	// RedisMiB is used_memory after the cell; RedisGrowthMiB its growth from the empty namespace.
	RedisMiB, RedisGrowthMiB *float64
	Refills                  float64
}

// loads are the cell's database loads, without those its script's setup made on purpose (the
// avalanche warm-up).
func (c cell) loads() (total, read float64) {
	setup := c.K6.SetupDBLoads
	return max(0, c.Service.totalLoads()-setup), max(0, c.Service.readLoads()-setup)
}

// figures computes the report's numbers.
func (c cell) figures() figures {
	total, read := c.loads()
	f := figures{
		P50: c.K6.P50, P95: c.K6.P95, P99: c.K6.P99, P999: c.K6.P999,
		ErrorRate:    c.K6.FailedRate,
		L1Hit:        c.Service.L1.hitRatio(),
		EdgeHit:      c.Edge.hitRatio(),
		RedisHit:     c.Service.Redis.hitRatio(),
		LockTimeouts: c.Service.Locks["timeout"],
		StaleReads:   c.K6.StaleReads,
		ThresholdsOK: c.Err == "" && c.K6.ThresholdsOK && c.Exit == 0,
	}
	if c.Seconds > 0 {
		f.DBLoadsPerS = total / c.Seconds
		f.PathLoadsPerS = read / c.Seconds
		f.BackgroundLoadsPerS = c.Service.loadsOf(backgroundCauses) / c.Seconds
	}
	f.StaleAnswers, f.Refills = c.Service.staleAnswers(), c.Service.Refills
	if q := c.Service.StaleAge.quantile(0.99); q != nil {
		f.StaleAgeP99 = ptr(*q * 1000)
	}
	if c.Warmup != nil {
		f.WarmupS, f.WarmupLoads = ptr(c.Warmup.Seconds), ptr(c.Warmup.DBLoads)
	}
	if c.Redis != nil {
		f.RedisMiB, f.RedisGrowthMiB = ptr(c.Redis.After/mib), ptr((c.Redis.After-c.Redis.Before)/mib)
	}
	// Behind the edge the service sees only the reads the edge did not answer itself.
	reads := c.Service.ProductReads
	if c.Edge != nil {
		reads += c.Edge.answered()
	}
	if reads > 0 {
		s := max(0, 1-read/reads)
		f.Shield = &s
	}
	return f
}

// latencyOnly reports whether every threshold the cell crossed is a latency bound
// (http_req_duration), none of them an error rate or stale reads.
func (c cell) latencyOnly() bool {
	for _, t := range c.K6.Thresholds {
		if !t.OK && !strings.HasPrefix(t.Metric, "http_req_duration") {
			return false
		}
	}
	return true
}

// failedThresholds lists the thresholds the cell crossed.
func (c cell) failedThresholds() []string {
	var out []string
	for _, t := range c.K6.Thresholds {
		if !t.OK {
			out = append(out, t.Metric+" "+t.Expr)
		}
	}
	return out
}

const mib = 1 << 20

// causes are the cell's database loads by cause, without those its script's setup made on
// purpose (read misses: avalanche's warm reads, breakdown's first read).
func (c cell) causes() map[string]float64 {
	out := maps.Clone(c.Service.DBLoads)
	if out == nil {
		out = map[string]float64{}
	}
	if c.K6.SetupDBLoads > 0 {
		out["miss"] = max(0, out["miss"]-c.K6.SetupDBLoads)
	}
	return out
}

// hotKeyCauses are the loads of breakdown's hot key: reads' misses and lock timeouts, and the
// reloads made off the request path (a warm-up is not about the key, and runs before the cell).
var hotKeyCauses = []string{"miss", "lock_timeout", "bypass", "refresh", "early_refresh", "revalidate"}

// loadsPerExpiry is the breakdown scenario's figure: database loads of the hot key per expiry
// (or eviction). It comes from the service's counters (every replica's added up: k6 sees only the
// replica its /metrics request reached), without the load the script's setup made; without an
// expiry count, from k6's own figure.
func (c cell) loadsPerExpiry() *float64 {
	if c.K6.Expiries == nil || *c.K6.Expiries == 0 {
		return c.K6.DBLoadsPerExpiry
	}
	v := max(0, c.Service.loadsOf(hotKeyCauses)-c.K6.SetupDBLoads) / *c.K6.Expiries
	return &v
}

// avalancheRatio is the avalanche scenario's peak DB loads/s over its steady state, the run's
// mean: from k6's per-second windows of the service's loads within the load's duration (one
// instance only), or nil.
func (c cell) avalancheRatio() (peak, steady *float64) {
	var sum, top float64
	var n int
	for at, v := range c.K6.Windows.DBLoads {
		var s float64
		if _, err := fmt.Sscan(at, &s); err != nil || s >= c.Seconds {
			continue
		}
		sum, top, n = sum+v, max(top, v), n+1
	}
	if n == 0 || sum == 0 {
		return nil, nil
	}
	return ptr(top), ptr(sum / float64(n))
}
