// Package profiling pushes continuous profiles of the process (CPU, allocations, heap in use,
// goroutines) to Pyroscope with its Go SDK, and links them to traces: spans started through
// Trace's provider label the CPU samples taken while they run with their span id, so Grafana opens
// a slow trace's own flame graph.
package profiling

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	otelpyroscope "github.com/grafana/otel-profiling-go"
	"github.com/grafana/pyroscope-go"
	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/trace"
)

// profileTypes are the profiles pushed: CPU, allocations and heap in use (objects and bytes), and
// goroutines.
var profileTypes = []pyroscope.ProfileType{
	pyroscope.ProfileCPU,
	pyroscope.ProfileAllocObjects, pyroscope.ProfileAllocSpace,
	pyroscope.ProfileInuseObjects, pyroscope.ProfileInuseSpace,
	pyroscope.ProfileGoroutines,
}

// Options says where profiles go and how they are named.
type Options struct {
	// URL is the Pyroscope server's base URL (PYROSCOPE_URL); empty turns profiling off.
	URL string
	// AppName is the application (Pyroscope's service_name label); use the traces' service.name
	// so a span finds its profiles.
	AppName string
	// Tags label every profile, e.g. env and version.
	Tags map[string]string
	// UploadRate is how often profiles are pushed (PYROSCOPE_UPLOAD_RATE).
	UploadRate time.Duration
	// Log receives the SDK's messages: upload failures at warn, the rest at debug.
	Log logrus.FieldLogger
}

// Profiler is a running profiling session, or an idle one when Options.URL was empty.
type Profiler struct {
	p        *pyroscope.Profiler
	stopOnce sync.Once
	stopped  chan struct{} // closed once the last upload is done
}

// Start begins pushing profiles to opts.URL. With an empty URL it returns an idle Profiler, so
// the caller needs no special case.
func Start(opts Options) (*Profiler, error) {
	if opts.URL == "" {
		return &Profiler{}, nil
	}
	log := opts.Log
	if log == nil {
		log = logrus.New()
	}
	p, err := pyroscope.Start(pyroscope.Config{
		ApplicationName: opts.AppName,
		Tags:            maps.Clone(opts.Tags), // the SDK edits the map
		ServerAddress:   opts.URL,
		UploadRate:      opts.UploadRate,
		Logger:          sdkLog{log},
		ProfileTypes:    profileTypes,
	})
	if err != nil {
		return nil, fmt.Errorf("start pyroscope profiler for %s: %w", opts.AppName, err)
	}
	return &Profiler{p: p, stopped: make(chan struct{})}, nil
}

// Enabled reports whether profiles are being pushed.
func (p *Profiler) Enabled() bool { return p.p != nil }

// Trace wraps tp so that a span's pprof labels carry its span id (span_id, and the local root
// span's name as span_name): the CPU samples taken during a request are then found from its trace
// (Tempo's "profiles for this span"). An idle Profiler returns tp unchanged.
func (p *Profiler) Trace(tp trace.TracerProvider) trace.TracerProvider {
	if !p.Enabled() || tp == nil {
		return tp
	}
	return otelpyroscope.NewTracerProvider(tp)
}

// Stop uploads what has been collected since the last upload and ends the session, waiting for
// it at most until ctx ends. Calling it again waits for the same stop. An idle Profiler has
// nothing to do.
func (p *Profiler) Stop(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	p.stopOnce.Do(func() {
		go func() {
			p.p.Flush(true)
			_ = p.p.Stop() // always nil: the SDK reports upload failures through its logger
			close(p.stopped)
		}()
	})
	select {
	case <-p.stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush profiles: %w", ctx.Err())
	}
}

// sdkLog sends the SDK's printf-style messages through logrus with a constant message.
type sdkLog struct{ log logrus.FieldLogger }

// Errorf logs a failure (an upload refused or unreachable) at warn: profiles are lost, requests
// are not.
func (l sdkLog) Errorf(format string, args ...any) {
	l.log.WithField("detail", fmt.Sprintf(format, args...)).Warn("pyroscope client trouble")
}

// Infof logs the SDK's start-up chatter at debug.
func (l sdkLog) Infof(format string, args ...any) {
	l.log.WithField("detail", fmt.Sprintf(format, args...)).Debug("pyroscope client")
}

// Debugf logs at debug.
func (l sdkLog) Debugf(format string, args ...any) {
	l.log.WithField("detail", fmt.Sprintf(format, args...)).Debug("pyroscope client")
}
