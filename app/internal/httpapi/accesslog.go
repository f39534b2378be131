package httpapi

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/product-service-lab/product-service/app/internal/telemetry"
)

// AccessLogOptions are the access log's volume controls.
type AccessLogOptions struct {
	// Exclude are route templates whose success lines are not logged (LOG_ACCESS_EXCLUDE: the
	// probes and /metrics by default); their 4xx, 5xx and slow lines still are.
	Exclude []string
	// SampleEvery returns N: one success line in N is kept per route, each kept one weighing N.
	// Nil, or N below 2, keeps every line.
	SampleEvery func() int
}

// Access-log decisions, the values of log_access_lines_total's decision label.
const (
	decisionKept       = "kept"
	decisionSampledOut = "sampled_out"
	decisionExcluded   = "excluded"
)

// AccessLog decides which request lines are written and counts its decisions per route template.
// A nil *AccessLog keeps every line and counts nothing.
type AccessLog struct {
	exclude     map[string]bool
	sampleEvery func() int
	lines       *prometheus.CounterVec
	// routes holds a *routeLines per route template (plus "unmatched"): as bounded as the router.
	routes sync.Map
}

// routeLines are one route's sampling counter and its decision counters.
type routeLines struct {
	seen                       atomic.Uint64
	kept, sampledOut, excluded prometheus.Counter
}

// NewAccessLog returns the access log's controls, registering log_access_lines_total on reg.
func NewAccessLog(reg prometheus.Registerer, opts AccessLogOptions) *AccessLog {
	a := &AccessLog{
		exclude:     make(map[string]bool, len(opts.Exclude)),
		sampleEvery: opts.SampleEvery,
		lines: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "log_access_lines_total",
			Help: "Access-log decisions by route template: kept (written), sampled_out (a success line not kept by 1-in-N sampling), excluded (a probe or scrape route's success line).",
		}, []string{"route", "decision"}),
	}
	for _, r := range opts.Exclude {
		a.exclude[r] = true
	}
	if a.sampleEvery == nil {
		a.sampleEvery = func() int { return 1 }
	}
	reg.MustRegister(a.lines)
	return a
}

// decide says whether the line of a request to route is written and its weight (the requests it
// stands for). Only ordinary lines (a success, neither slow nor shed) are excluded or sampled: the
// first of every N per route is kept.
func (a *AccessLog) decide(route string, ordinary bool) (keep bool, weight int) {
	if a == nil {
		return true, 1
	}
	rl := a.route(route)
	switch {
	case !ordinary:
		rl.kept.Inc()
		return true, 1
	case a.exclude[route]:
		rl.excluded.Inc()
		return false, 0
	}
	n := max(a.sampleEvery(), 1)
	if (rl.seen.Add(1)-1)%uint64(n) != 0 {
		rl.sampledOut.Inc()
		return false, 0
	}
	rl.kept.Inc()
	return true, n
}

// route returns the counters of route, creating them at its first request.
func (a *AccessLog) route(route string) *routeLines {
	if rl, ok := a.routes.Load(route); ok {
		return rl.(*routeLines)
	}
	rl := &routeLines{
		kept:       a.lines.WithLabelValues(route, decisionKept),
		sampledOut: a.lines.WithLabelValues(route, decisionSampledOut),
		excluded:   a.lines.WithLabelValues(route, decisionExcluded),
	}
	actual, _ := a.routes.LoadOrStore(route, rl)
	return actual.(*routeLines)
}

// accessLog writes one JSON line per request: 5xx at error, 4xx and slow requests at warn, but a
// request refused by overload protection at info, with its reason in "shed". A 503
// of /ready is a warning too: "not ready yet" is the probe's answer while the service starts (or
// a dependency is away), not a fault of the request. Of the other lines (successes at info), the
// AccessLog a leaves out its excluded routes' and keeps one in N per route; every written line carries its weight in
// "sample_rate" (1 for lines kept unconditionally). preset returns the cache preset in force
// (empty when there is no cache). Headers are never logged.
func accessLog(log *logrus.Logger, slow time.Duration, preset func() string, a *AccessLog) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		elapsed := time.Since(start)
		status := c.Writer.Status()
		route := routeLabel(c)
		level := logrus.InfoLevel
		shed := c.GetString(shedKey)
		switch {
		case shed != "":
			// Refused by overload protection: counted by app_overload_rejected_total; a warning
			// per refusal would make a flood cost more to log than to refuse.
		case status >= 500 && !(route == readyRoute && status == http.StatusServiceUnavailable):
			level = logrus.ErrorLevel
		case status >= 400 || elapsed > slow:
			level = logrus.WarnLevel
		}
		if !log.IsLevelEnabled(level) {
			return
		}
		keep, weight := a.decide(route, shed == "" && level == logrus.InfoLevel)
		if !keep {
			return
		}
		line := telemetry.RequestLine{
			RequestID:  requestID(c),
			Method:     c.Request.Method,
			Route:      route,
			Path:       c.Request.URL.Path,
			Status:     status,
			Latency:    float64(elapsed.Microseconds()) / 1000,
			Bytes:      max(c.Writer.Size(), 0),
			ClientIP:   c.ClientIP(),
			UserAgent:  c.Request.UserAgent(),
			SampleRate: weight,
			Cache:      firstHeader(c.Writer.Header(), xCacheKey),
			Preset:     preset(),
			Shed:       shed,
		}
		if u := firstHeader(c.Request.Header, userIDKey); saneID(u) {
			line.UserID = u
		}
		if err := c.Errors.Last(); err != nil {
			line.Error = err.Err.Error()
		}
		telemetry.LogRequest(c.Request.Context(), log, level, &line)
	}
}
