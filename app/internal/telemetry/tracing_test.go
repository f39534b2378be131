package telemetry_test

import (
	"context"
	"testing"

	"github.com/product-service-lab/product-service/app/internal/telemetry"
)

// Tracing off is said one way: a nil provider, which every seam reads as "no instrumentation".
func TestTracingOffIsNil(t *testing.T) {
	tp, shutdown, err := telemetry.NewTracerProvider(context.Background(), telemetry.TracingOptions{})
	if err != nil || tp != nil {
		t.Fatalf("NewTracerProvider without an endpoint = %v, %v; want nil, nil", tp, err)
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown of tracing off: %v", err)
	}
}
