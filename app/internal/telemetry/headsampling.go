package telemetry

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync/atomic"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// HeadSampler takes a request's sampling decision before its server span is started, so that an
// unsampled request (nine in ten at a ratio of 10 %) costs none of the server span's work: the
// span, its attributes, otelgin's metric attributes. It makes the decision the provider's sampler
// will make: the same sampler, asked about the same parent and the same trace id, which the
// provider of NewSDKProvider then takes (headIDs). An unsampled request still gets a trace
// context, as the SDK would give it: the incoming trace id (a new one without traceparent), a new
// span id, the parent's flags without "sampled", the sampler's tracestate and the baggage. Its
// X-Trace-ID, log lines and child spans (not recorded) are as before.
//
// It asks the sampler without a span name or attributes: every sampler of Sampler decides from
// the parent and the trace id only.
type HeadSampler struct {
	sampler sdktrace.Sampler
	prop    propagation.TextMapPropagator
}

// NewHeadSampler returns the head sampler of a provider that samples with s (from Sampler).
func NewHeadSampler(s sdktrace.Sampler) *HeadSampler {
	return &HeadSampler{sampler: s, prop: Propagator()}
}

// Sample extracts the trace context of a request's headers into ctx and decides whether the
// request is sampled. Sampled, ctx names the trace id its server span must take (when it has no
// parent); unsampled, ctx carries the request's span context, not recorded.
func (h *HeadSampler) Sample(ctx context.Context, header http.Header) (context.Context, bool) {
	ctx = h.prop.Extract(ctx, headerCarrier(header))
	psc := trace.SpanContextFromContext(ctx)
	tid := psc.TraceID()
	if !psc.TraceID().IsValid() {
		tid = newTraceID()
	}
	res := h.sampler.ShouldSample(sdktrace.SamplingParameters{ParentContext: ctx, TraceID: tid, Kind: trace.SpanKindServer})
	if res.Decision != sdktrace.Drop {
		if !psc.TraceID().IsValid() {
			ctx = context.WithValue(ctx, presetKey{}, &presetTraceID{id: tid})
		}
		return ctx, true
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: newSpanID(), TraceFlags: psc.TraceFlags() &^ trace.FlagsSampled, TraceState: res.Tracestate,
	})
	return trace.ContextWithSpanContext(ctx, sc), false
}

// headerCarrier reads the W3C headers by their canonical names: http.Header.Get would
// canonicalize (and allocate) "traceparent", "tracestate" and "baggage" on every request.
type headerCarrier http.Header

// Get returns the first value of key.
func (h headerCarrier) Get(key string) string {
	switch key {
	case "traceparent":
		key = "Traceparent"
	case "tracestate":
		key = "Tracestate"
	case "baggage":
		key = "Baggage"
	default:
		return http.Header(h).Get(key)
	}
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set sets key to value.
func (h headerCarrier) Set(key, value string) { http.Header(h).Set(key, value) }

// Keys lists the header names.
func (h headerCarrier) Keys() []string { return propagation.HeaderCarrier(h).Keys() }

// presetKey is the context key of the trace id HeadSampler chose for a sampled request.
type presetKey struct{}

// presetTraceID is a trace id chosen ahead, taken by the first root span started under it.
type presetTraceID struct {
	id    trace.TraceID
	taken atomic.Bool
}

// headIDs is the providers' ID generator: random ids (math/rand/v2's per-thread generator,
// without the SDK default's lock), but the first root span under a HeadSampler's decision takes
// the trace id the decision was made for. A later root span in the same context (none in the
// service) gets a new one.
type headIDs struct{}

// NewIDs returns a root span's ids.
func (headIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if p, ok := ctx.Value(presetKey{}).(*presetTraceID); ok && p.taken.CompareAndSwap(false, true) {
		return p.id, newSpanID()
	}
	return newTraceID(), newSpanID()
}

// NewSpanID returns a child span's id.
func (headIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return newSpanID() }

// newTraceID returns a random, valid (non-zero) trace id.
func newTraceID() (id trace.TraceID) {
	for !id.IsValid() {
		hi, lo := rand.Uint64(), rand.Uint64()
		for i := range 8 {
			id[i], id[8+i] = byte(hi>>(56-8*i)), byte(lo>>(56-8*i))
		}
	}
	return id
}

// newSpanID returns a random, valid (non-zero) span id.
func newSpanID() (id trace.SpanID) {
	for !id.IsValid() {
		v := rand.Uint64()
		for i := range 8 {
			id[i] = byte(v >> (56 - 8*i))
		}
	}
	return id
}

// Propagator carries W3C tracecontext and baggage across HTTP hops: the one propagator of the
// service (the router's otelgin middleware and the head sampler both extract with it).
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}
