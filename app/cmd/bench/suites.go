package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Names of the targets, as the goals refer to them.
const (
	ceilingRedis = "redis-get (ceiling)"
	ceilingMap   = "map (ceiling)"
	peerName     = "peer: gin+GORM+go-redis/cache"
	svcProtected = "service protected, Redis hit"
	svcWarn      = "service protected, LOG_LEVEL=warn"
	svcTwoLevel  = "service two-level, L1 hit"
	svcNone      = "service none, uncached"
	baselineSQL  = "sql baseline (net/http+pgx)"
	telOff       = "all off (LOG_LEVEL=warn)"
	telAccess    = "access log at info"
	telSampled   = "access log at info, 1 in 10 kept"
	telLoki      = "+ Loki shipping"
	telTraces10  = "+ traces 10 %"
	telTraces100 = "+ traces 100 %"
	telProfiling = "+ profiling (traces 10 %)"
)

// plan is a suite: its targets, which reference each target's ratios are taken against, and the
// goals it reports on.
type plan struct {
	targets []target
	refs    map[string][]string // target → references, in the order printed
	goals   []goal
	stop    func() // stops what the suite started beside its targets
}

// planSuite builds the targets of suite; the telemetry suite starts Loki, Jaeger and the
// profile sink first.
func (b *bench) planSuite(ctx context.Context, suite string, stdout io.Writer) (*plan, error) {
	n := 0
	ns := func() string { n++; return b.runID + "-" + strconv.Itoa(n) }
	switch suite {
	case suiteHits:
		targets := []target{
			b.baselineTarget(ceilingRedis, "redis-get", false, "-redis-prefix", ns()),
			b.baselineTarget(ceilingMap, "map", false),
			b.baselineTarget(peerName, "peer", true, "-redis-prefix", ns()),
			b.serviceTarget(svcProtected, "protected", ns()),
			b.serviceTarget(svcWarn, "protected", ns(), "LOG_LEVEL=warn"),
			b.serviceTarget(svcTwoLevel, "two-level", ns()),
		}
		refs := map[string][]string{
			peerName:     {ceilingRedis},
			svcProtected: {ceilingRedis, peerName},
			svcWarn:      {ceilingRedis, peerName},
			svcTwoLevel:  {ceilingMap},
		}
		targets = b.withBefore(targets, ns)
		for _, t := range targets {
			if t.before {
				refs[t.name] = refs[strings.TrimSuffix(t.name, " (before)")]
			}
		}
		return &plan{targets: targets, refs: refs, goals: hitGoals, stop: func() {}}, nil
	case suiteUncached:
		targets := b.withBefore([]target{
			b.baselineTarget(baselineSQL, "sql", false),
			b.serviceTarget(svcNone, "none", ns()),
		}, ns)
		refs := map[string][]string{}
		for _, t := range targets[1:] {
			refs[t.name] = []string{baselineSQL}
		}
		return &plan{targets: targets, refs: refs, stop: func() {}}, nil
	case suiteTelemetry:
		side, err := b.startTelemetry(ctx, filepath.Join(b.o.results, "bench-telemetry"), stdout)
		if err != nil {
			return nil, err
		}
		loki := "LOKI_URL=" + side.lokiURL
		otlp := "OTEL_EXPORTER_OTLP_ENDPOINT=" + side.otlpURL
		ratio10 := []string{otlp, "OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG=0.1"}
		targets := []target{
			b.serviceTarget(telOff, "two-level", ns(), "LOG_LEVEL=warn"),
			b.serviceTarget(telAccess, "two-level", ns()),
			b.serviceTarget(telSampled, "two-level", ns(), "LOG_SAMPLE_EVERY=10"),
			b.serviceTarget(telLoki, "two-level", ns(), loki),
			b.serviceTarget(telTraces10, "two-level", ns(), append([]string{loki}, ratio10...)...),
			b.serviceTarget(telTraces100, "two-level", ns(), loki, otlp, "OTEL_TRACES_SAMPLER=always_on"),
			b.serviceTarget(telProfiling, "two-level", ns(), append([]string{loki,
				"PYROSCOPE_URL=" + side.sinkURL, "PYROSCOPE_UPLOAD_RATE=" + uploadRate(b.o.duration)}, ratio10...)...),
		}
		targets = b.withBefore(targets, ns)
		refs := map[string][]string{}
		for _, t := range targets {
			switch {
			case t.name == telOff:
			case t.before:
				refs[t.name] = []string{telOff + " (before)"}
			default:
				refs[t.name] = []string{telOff}
			}
		}
		return &plan{targets: targets, refs: refs, goals: telemetryGoals, stop: side.stop}, nil
	}
	return nil, fmt.Errorf("unknown suite %q", suite)
}

// uploadRate makes profiles go out a few times in each run (Pyroscope's default is 15 s).
func uploadRate(run time.Duration) string {
	s := max(1, int(run.Seconds()/3))
	return strconv.Itoa(s) + "s"
}

// hitGoals are issue 14's: a Redis hit at 0.8× the go-redis GET ceiling and 1.2× the peer, an L1
// hit at 0.8× the map ceiling with a p99 within 1.5× its, with the defaults (access log at info).
var hitGoals = []goal{
	{Target: svcProtected, Ref: ceilingRedis, Metric: metricRPS, Bound: 0.8},
	{Target: svcProtected, Ref: ceilingRedis, Metric: metricCPU, Bound: 1 / 0.8},
	{Target: svcProtected, Ref: peerName, Metric: metricRPS, Bound: 1.2},
	{Target: svcProtected, Ref: peerName, Metric: metricCPU, Bound: 1 / 1.2},
	{Target: svcTwoLevel, Ref: ceilingMap, Metric: metricRPS, Bound: 0.8},
	{Target: svcTwoLevel, Ref: ceilingMap, Metric: metricCPU, Bound: 1 / 0.8},
	{Target: svcTwoLevel, Ref: ceilingMap, Metric: metricP99, Bound: 1.5},
}

// telemetryGoals: each telemetry set-up at most 15 % more CPU per request than all-off, 30 % with
// every request traced.
var telemetryGoals = []goal{
	{Target: telAccess, Ref: telOff, Metric: metricCPU, Bound: 1.15},
	{Target: telSampled, Ref: telOff, Metric: metricCPU, Bound: 1.15},
	{Target: telLoki, Ref: telOff, Metric: metricCPU, Bound: 1.15},
	{Target: telTraces10, Ref: telOff, Metric: metricCPU, Bound: 1.15},
	{Target: telTraces100, Ref: telOff, Metric: metricCPU, Bound: 1.30},
	{Target: telProfiling, Ref: telOff, Metric: metricCPU, Bound: 1.15},
}
