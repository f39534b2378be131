package main

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
}

// figures are a cell's numbers as the report shows them.
type figures struct {
	P50, P95, P99 *float64 // ms
	ErrorRate     float64
	DBLoadsPerS   float64
	// Shield is the share of product reads that cost no database load.
	Shield          *float64
	L1Hit, RedisHit *float64
	// EdgeHit is the share of product reads the edge answered from its cache (edge column only).
	EdgeHit      *float64
	LockTimeouts float64
	StaleReads   *float64
	ThresholdsOK bool
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
		P50: c.K6.P50, P95: c.K6.P95, P99: c.K6.P99,
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

// loadsPerEviction is the breakdown scenario's figure: database loads of the hot key per
// eviction. With several replicas k6 sees only the replica its /metrics request reached, so the
// loads come from every replica's counters (reads' misses and lock timeouts) instead.
func (c cell) loadsPerEviction() *float64 {
	if c.Replicas <= 1 || c.K6.Evictions == nil || *c.K6.Evictions == 0 {
		return c.K6.DBLoadsPerEviction
	}
	v := (c.Service.DBLoads["miss"] + c.Service.DBLoads["lock_timeout"]) / *c.K6.Evictions
	return &v
}
