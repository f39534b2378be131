package telemetry_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/product-service-lab/product-service/app/internal/telemetry"
)

func TestSpanCounter(t *testing.T) {
	tests := []struct {
		name    string
		sampler sdktrace.Sampler
		want    float64
	}{
		{"sampled spans are counted", sdktrace.AlwaysSample(), 3},
		{"dropped spans are not", sdktrace.NeverSample(), 0},
		{"recorded but not sampled spans are not", recordOnly{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			tp := telemetry.NewSDKProvider(tracetest.NewSpanRecorder(), tt.sampler, telemetry.TracingOptions{})
			tp.RegisterSpanProcessor(telemetry.NewSpanCounter(reg))
			tracer := tp.Tracer("test")
			for range 3 {
				_, span := tracer.Start(context.Background(), "op")
				span.End()
			}
			// A span still open is not counted.
			_, open := tracer.Start(context.Background(), "open")
			defer open.End()
			if got := spansEnded(t, reg); got != tt.want {
				t.Errorf("trace_spans_ended_total = %v, want %v", got, tt.want)
			}
		})
	}
}

// spansEnded reads trace_spans_ended_total from reg.
func spansEnded(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "trace_spans_ended_total" && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("trace_spans_ended_total is not registered")
	return 0
}

// recordOnly records every span without sampling it.
type recordOnly struct{}

func (recordOnly) ShouldSample(sdktrace.SamplingParameters) sdktrace.SamplingResult {
	return sdktrace.SamplingResult{Decision: sdktrace.RecordOnly}
}

func (recordOnly) Description() string { return "RecordOnly" }
