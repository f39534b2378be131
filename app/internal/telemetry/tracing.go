package telemetry

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// TracingOptions are the standard OTEL_* settings the service honours.
type TracingOptions struct {
	// Endpoint is OTEL_EXPORTER_OTLP_ENDPOINT; empty turns tracing off.
	Endpoint string
	// Protocol is OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf (default) or grpc.
	Protocol string
	// ServiceName is OTEL_SERVICE_NAME.
	ServiceName string
	// Sampler and SamplerArg are OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG.
	Sampler, SamplerArg string
	Version, Env        string
	// Spans, when set, counts the spans the provider ends (trace_spans_ended_total, spans.go).
	Spans *SpanCounter
}

// NewTracerProvider returns the provider spans come from, and its shutdown (which flushes).
// Without an endpoint tracing is off: a nil provider, no error. nil is the one way the service
// says "off": every seam given a nil provider adds no instrumentation at all (rather than no-op
// spans on every call).
func NewTracerProvider(ctx context.Context, opts TracingOptions) (trace.TracerProvider, func(context.Context) error, error) {
	if opts.Endpoint == "" {
		return nil, func(context.Context) error { return nil }, nil
	}
	sampler, err := Sampler(opts.Sampler, opts.SamplerArg)
	if err != nil {
		return nil, nil, err
	}
	var exp sdktrace.SpanExporter
	switch opts.Protocol {
	case "grpc":
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(opts.Endpoint))
	default:
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimRight(opts.Endpoint, "/")+"/v1/traces"))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("otlp trace exporter: %w", err)
	}
	tp := NewSDKProvider(sdktrace.NewBatchSpanProcessor(exp, sdktrace.WithBatchTimeout(2*time.Second)), sampler, opts)
	if opts.Spans != nil {
		tp.RegisterSpanProcessor(opts.Spans)
	}
	return tp, tp.Shutdown, nil
}

// NewSDKProvider returns an SDK provider with the service's resource and the ID generator that
// honours a HeadSampler's decisions; tests pass an in-memory span processor.
func NewSDKProvider(sp sdktrace.SpanProcessor, sampler sdktrace.Sampler, opts TracingOptions) *sdktrace.TracerProvider {
	name := opts.ServiceName
	if name == "" {
		name = AppName
	}
	res := resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(name), semconv.ServiceVersion(opts.Version), semconv.DeploymentEnvironment(opts.Env))
	return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sp), sdktrace.WithSampler(sampler), sdktrace.WithResource(res),
		sdktrace.WithIDGenerator(headIDs{}))
}

// Sampler builds a sampler from OTEL_TRACES_SAMPLER / _ARG values (default parentbased_always_on).
func Sampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := 1.0
	if arg != "" {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG %q is not a ratio in [0, 1]", arg)
		}
		ratio = r
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	default:
		return nil, fmt.Errorf("OTEL_TRACES_SAMPLER %q is not supported", name)
	}
}
