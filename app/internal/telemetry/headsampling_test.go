package telemetry

import (
	"context"
	"net/http"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestHeadSamplerAgreesWithProvider checks, decision by decision at a ratio of one half, that the
// server span started under a HeadSampler's decision is recorded exactly when the decision says
// so, with the trace id the decision was made for, and that an unsampled request's context holds
// a span context that is valid and not sampled.
func TestHeadSamplerAgreesWithProvider(t *testing.T) {
	sampler := sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.5))
	tp := NewSDKProvider(tracetest.NewSpanRecorder(), sampler, TracingOptions{})
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	head, tracer := NewHeadSampler(sampler), tp.Tracer("test")
	counts := map[bool]int{}
	for range 400 {
		ctx, sampled := head.Sample(context.Background(), http.Header{})
		counts[sampled]++
		if !sampled {
			if sc := trace.SpanContextFromContext(ctx); !sc.IsValid() || sc.IsSampled() {
				t.Fatalf("unsampled decision's span context %+v: want valid, not sampled", sc)
			}
			continue
		}
		preset := ctx.Value(presetKey{}).(*presetTraceID).id
		_, span := tracer.Start(ctx, "server", trace.WithSpanKind(trace.SpanKindServer))
		span.End()
		if !span.SpanContext().IsSampled() || span.SpanContext().TraceID() != preset {
			t.Fatalf("sampled decision for %s: span %s sampled %v", preset, span.SpanContext().TraceID(), span.SpanContext().IsSampled())
		}
	}
	if counts[true] == 0 || counts[false] == 0 {
		t.Errorf("decisions %v: want both at one half", counts)
	}
}
