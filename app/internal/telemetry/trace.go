package telemetry

import (
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/trace"
)

// traceHook adds trace_id and span_id to every entry logged with a context that carries a span.
type traceHook struct{}

// Levels returns every level.
func (traceHook) Levels() []logrus.Level { return logrus.AllLevels }

// Fire adds the ids of the entry's span, if any.
func (traceHook) Fire(e *logrus.Entry) error {
	if e.Context == nil {
		return nil
	}
	sc := trace.SpanContextFromContext(e.Context)
	if !sc.IsValid() {
		return nil
	}
	e.Data["trace_id"] = sc.TraceID().String()
	e.Data["span_id"] = sc.SpanID().String()
	return nil
}
