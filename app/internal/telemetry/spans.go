package telemetry

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// SpanCounter is a span processor that counts the sampled spans the SDK ended
// (trace_spans_ended_total): spans/s, the tracing side of what observability costs, beside
// log_bytes_total for logs. It exports nothing and keeps nothing.
type SpanCounter struct {
	ended prometheus.Counter
}

var _ sdktrace.SpanProcessor = (*SpanCounter)(nil)

// NewSpanCounter registers trace_spans_ended_total with reg and returns its processor; register
// it with the tracer provider beside the exporting one.
func NewSpanCounter(reg prometheus.Registerer) *SpanCounter {
	c := &SpanCounter{ended: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "trace_spans_ended_total",
		Help: "Sampled spans the tracing SDK ended (each is exported to the OTLP endpoint).",
	})}
	reg.MustRegister(c.ended)
	return c
}

// OnStart does nothing: a span is counted when it ends.
func (c *SpanCounter) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd counts s when it is sampled (a recording-only span is never exported).
func (c *SpanCounter) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanContext().IsSampled() {
		c.ended.Inc()
	}
}

// Shutdown does nothing: there is nothing to flush.
func (c *SpanCounter) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing: there is nothing to flush.
func (c *SpanCounter) ForceFlush(context.Context) error { return nil }
