package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/maypok86/otter/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// OverloadOptions configure overload protection. A zero MaxInFlight turns the bound on concurrent
// work off; a zero ClientRate turns the per-client rate limits off.
type OverloadOptions struct {
	// MaxInFlight bounds the API requests served at once.
	MaxInFlight int
	// MaxQueued bounds the requests waiting for one of the MaxInFlight slots; past it a request is
	// refused at once (503).
	MaxQueued int
	// QueueTimeout is the longest a request waits for a slot before it is refused (503).
	QueueTimeout time.Duration
	// ClientRate is the cost a client may spend per second (a token bucket per client).
	ClientRate float64
	// ClientBurst is the size of a client's bucket: the cost it may spend at once.
	ClientBurst int
	// ItemCost is the cost of each product a request asks for: each id of a batch (?ids=), each
	// row of a page (?limit=). Any request costs at least 1.
	ItemCost float64
	// MaxClients bounds the clients whose buckets are kept; the least valuable are evicted first
	// (an evicted client starts again with a full bucket).
	MaxClients int
	// Now is the clock of the rate limits (time.Now when nil); tests inject theirs.
	Now func() time.Time
}

// Problem type slugs of the requests overload protection refuses.
const (
	// ProblemRateLimited (429) says the client spent its budget; Retry-After says when it has
	// enough again for the same request.
	ProblemRateLimited = "rate-limited"
	// ProblemOverloaded (503) says the service has more work in hand than it accepts; retry later.
	ProblemOverloaded = "overloaded"
)

// shedKey holds, on the gin context, why overload protection refused the request (for the access log).
const shedKey = "overload_shed"

// Reasons a request is refused, as the rejection metric labels them.
const (
	reasonClientRate   = "client_rate"
	reasonQueueFull    = "queue_full"
	reasonQueueTimeout = "queue_timeout"
	// reasonClientClosed: the client went away while its request waited for a slot.
	reasonClientClosed = "client_closed"
)

// Overload guards the API from more work than the service can do: a token bucket per client,
// charged by the cost of each request, and a bound on the requests served at once with a short,
// bounded queue in front of it. It refuses what it cannot take, quickly, with 429 or 503
// problems and Retry-After, so the requests it accepts keep their latency.
type Overload struct {
	opts    OverloadOptions
	slots   *semaphore.Weighted
	queued  atomic.Int64
	clients *otter.Cache[string, *rate.Limiter]
	metrics overloadMetrics
}

// overloadMetrics are the collectors of overload protection.
type overloadMetrics struct {
	rejected  *prometheus.CounterVec
	inFlight  prometheus.Gauge
	queued    prometheus.Gauge
	limit     prometheus.Gauge
	queueWait prometheus.Histogram
}

// NewOverload checks opts and registers the collectors on reg.
func NewOverload(opts OverloadOptions, reg prometheus.Registerer) (*Overload, error) {
	switch {
	case opts.MaxInFlight < 0 || opts.MaxQueued < 0 || opts.QueueTimeout < 0:
		return nil, errors.New("overload: MaxInFlight, MaxQueued and QueueTimeout must not be negative")
	case opts.ClientRate < 0 || math.IsNaN(opts.ClientRate) || math.IsInf(opts.ClientRate, 0):
		return nil, fmt.Errorf("overload: ClientRate %v must be a finite number ≥ 0", opts.ClientRate)
	case opts.ClientRate > 0 && (opts.ClientBurst < 1 || opts.MaxClients < 1):
		return nil, errors.New("overload: ClientBurst and MaxClients must be at least 1 with a ClientRate")
	case opts.ItemCost < 0 || math.IsNaN(opts.ItemCost) || math.IsInf(opts.ItemCost, 0):
		return nil, fmt.Errorf("overload: ItemCost %v must be a finite number ≥ 0", opts.ItemCost)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	o := &Overload{opts: opts}
	if opts.MaxInFlight > 0 {
		o.slots = semaphore.NewWeighted(int64(opts.MaxInFlight))
	}
	if opts.ClientRate > 0 {
		// A bucket idle for longer than it takes to refill is worth no more than a new one.
		idle := time.Duration(float64(opts.ClientBurst) / opts.ClientRate * float64(time.Second))
		c, err := otter.New(&otter.Options[string, *rate.Limiter]{
			MaximumSize:      opts.MaxClients,
			ExpiryCalculator: otter.ExpiryAccessing[string, *rate.Limiter](max(idle, time.Minute)),
		})
		if err != nil {
			return nil, fmt.Errorf("overload: client buckets: %w", err)
		}
		o.clients = c
	}
	o.metrics = overloadMetrics{
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "app_overload_rejected_total",
			Help: "API requests refused by overload protection, by reason (client_rate: 429; queue_full, queue_timeout: 503; client_closed: the client left while queued) and route template.",
		}, []string{"reason", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "app_overload_in_flight", Help: "API requests holding one of the concurrency slots.",
		}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "app_overload_queued", Help: "API requests waiting for a concurrency slot.",
		}),
		limit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "app_overload_limit", Help: "Concurrency slots (HTTP_MAX_IN_FLIGHT; 0: unbounded).",
		}),
		queueWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "app_overload_queue_wait_seconds", Help: "Time API requests waited for a concurrency slot (0 for those that got one at once), admitted or not.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
	}
	o.metrics.limit.Set(float64(opts.MaxInFlight))
	clients := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "app_overload_clients", Help: "Clients whose rate-limit buckets are kept.",
	}, func() float64 {
		if o.clients == nil {
			return 0
		}
		return float64(o.clients.EstimatedSize())
	})
	m := o.metrics
	if err := registerAll(reg, m.rejected, m.inFlight, m.queued, m.limit, m.queueWait, clients); err != nil {
		return nil, fmt.Errorf("overload: register metrics: %w", err)
	}
	return o, nil
}

// registerAll registers every collector, stopping at the first error.
func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// middleware charges the client the request's cost, then holds a concurrency slot while the
// request is served. A refusal writes its problem and stops the chain.
func (o *Overload) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		if o.clients != nil {
			if wait, ok := o.charge(c); !ok {
				o.metrics.rejected.WithLabelValues(reasonClientRate, routeLabel(c)).Inc()
				c.Set(shedKey, reasonClientRate)
				c.Header("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
				writeProblem(c, newProblem(http.StatusTooManyRequests, ProblemRateLimited,
					"this client has spent its request budget; retry after Retry-After seconds (a batch costs one unit per id)"))
				return
			}
		}
		if o.slots == nil {
			c.Next()
			return
		}
		if reason := o.acquire(c.Request.Context()); reason != "" {
			o.metrics.rejected.WithLabelValues(reason, routeLabel(c)).Inc()
			c.Set(shedKey, reason)
			if reason == reasonClientClosed {
				writeProblem(c, problemFor(c.Request.Context().Err()))
				return
			}
			writeProblem(c, newProblem(http.StatusServiceUnavailable, ProblemOverloaded,
				"the service has more requests in hand than it accepts; retry later"))
			return
		}
		o.metrics.inFlight.Inc()
		defer func() {
			o.metrics.inFlight.Dec()
			o.slots.Release(1)
		}()
		c.Next()
	}
}

// acquire takes a concurrency slot, waiting in the queue when there is room and for at most
// QueueTimeout; it returns the reason of a refusal, or "" with the slot held.
func (o *Overload) acquire(ctx context.Context) string {
	if o.slots.TryAcquire(1) {
		o.metrics.queueWait.Observe(0) // the wait's p99 is over every request, most of which do not wait
		return ""
	}
	if o.queued.Add(1) > int64(o.opts.MaxQueued) {
		o.queued.Add(-1)
		return reasonQueueFull
	}
	o.metrics.queued.Inc()
	start := time.Now()
	wait, cancel := context.WithTimeout(ctx, o.opts.QueueTimeout)
	err := o.slots.Acquire(wait, 1)
	cancel()
	o.metrics.queueWait.Observe(time.Since(start).Seconds())
	o.metrics.queued.Dec()
	o.queued.Add(-1)
	switch {
	case err == nil:
		return ""
	case errors.Is(ctx.Err(), context.Canceled):
		return reasonClientClosed
	}
	return reasonQueueTimeout
}

// charge takes the request's cost from its client's bucket. When the bucket holds too little it
// takes nothing and returns how long until it holds enough.
func (o *Overload) charge(c *gin.Context) (time.Duration, bool) {
	lim, _ := o.clients.ComputeIfAbsent(clientKey(c), func() (*rate.Limiter, bool) {
		return rate.NewLimiter(rate.Limit(o.opts.ClientRate), o.opts.ClientBurst), false
	})
	// A request costing more than a whole bucket would never pass: it waits for a full one.
	cost := min(o.cost(c), o.opts.ClientBurst)
	now := o.opts.Now()
	if lim.AllowN(now, cost) {
		return 0, true
	}
	missing := float64(cost) - lim.TokensAt(now)
	return time.Duration(missing / o.opts.ClientRate * float64(time.Second)), false
}

// clientKey names the client a request is charged to: its address (behind trusted proxies, the
// one they forwarded). The service has no per-client API keys; the admin token is one shared
// secret and its routes are not limited.
func clientKey(c *gin.Context) string { return c.ClientIP() }

// cost is what a request costs its client: ItemCost for each product it asks for (each id of a
// batch, each row of a page), at least 1.
func (o *Overload) cost(c *gin.Context) int {
	if c.Request.Method != http.MethodGet || c.FullPath() != "/api/v1/products" {
		return 1
	}
	q := c.Request.URL.Query()
	items := catalog.DefaultPageSize
	if q.Has("ids") {
		// Counted as ParseIDs counts, before parsing: a list too long is refused with 400 later,
		// and costs a whole batch now.
		items = min(strings.Count(q.Get("ids"), ",")+1, catalog.MaxBatch)
	} else if n, err := ParseLimit(q.Get("limit")); err == nil {
		items = n
	}
	return max(1, int(math.Ceil(float64(items)*o.opts.ItemCost)))
}

// retryAfterSeconds rounds a wait up to whole seconds, at least 1, as Retry-After needs.
func retryAfterSeconds(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}
