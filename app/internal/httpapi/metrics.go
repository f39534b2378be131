package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
)

// Metrics are the HTTP collectors. Route labels are gin's route templates, never raw paths;
// requests that match no route share the label "unmatched".
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

// NewMetrics creates the HTTP collectors and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "app_requests_total", Help: "HTTP requests by method, route template and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "app_request_latency_seconds", Help: "HTTP request latency by method and route template; exemplars carry trace_id.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "app_requests_in_flight", Help: "HTTP requests being served.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.inFlight)
	return m
}

// routeLabel is the route template of the request, bounded in cardinality.
func routeLabel(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}

// methodLabel is the request's method when it is one of HTTP's own, else "other": a client
// choosing arbitrary methods must not create a label value per method.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// middleware counts and times every request; a sampled request's latency carries its trace id as
// an exemplar, so a latency panel leads to the trace.
func (m *Metrics) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		m.inFlight.Inc()
		c.Next()
		m.inFlight.Dec()
		method, route := methodLabel(c.Request.Method), routeLabel(c)
		m.requests.WithLabelValues(method, route, statusLabel(c.Writer.Status())).Inc()
		obs := m.latency.WithLabelValues(method, route)
		elapsed := time.Since(start).Seconds()
		sc := trace.SpanContextFromContext(c.Request.Context())
		if ex, ok := obs.(prometheus.ExemplarObserver); ok && sc.IsSampled() {
			ex.ObserveWithExemplar(elapsed, prometheus.Labels{"trace_id": sc.TraceID().String()})
			return
		}
		obs.Observe(elapsed)
	}
}

// statusLabels are the label values of the statuses HTTP defines, made once.
var statusLabels = func() (out [600]string) {
	for code := 100; code < len(out); code++ {
		out[code] = strconv.Itoa(code)
	}
	return out
}()

// statusLabel is the status label value of code, without formatting it per request.
func statusLabel(code int) string {
	if code >= 100 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}
