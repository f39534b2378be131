// Package faults injects faults on demand: latency and errors before database statements and
// Redis commands, and injected 500s on HTTP requests. With it a user produces slow requests,
// errors, alerts and error traces at will, and switches them off again. The faults in force
// are exported as the faults_active{kind} gauge and logged on every change.
package faults

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// ErrInjected is wrapped by every error this package injects.
var ErrInjected = errors.New("injected fault")

// Injector holds the faults in force and applies them at the database, Redis and HTTP seams.
// Its methods are safe for concurrent use; each injection point reads one Settings snapshot.
type Injector struct {
	current atomic.Pointer[Settings]
	// mu serialises changes, so the gauge and the log follow the stored settings in order.
	mu     sync.Mutex
	active *prometheus.GaugeVec
	log    logrus.FieldLogger
	// wait sleeps a latency fault (waitOrDone; tests wrap it to see what was asked).
	wait func(ctx context.Context, d Duration) error
}

// New returns an Injector with no faults, registering faults_active{kind} on reg.
func New(reg prometheus.Registerer, log logrus.FieldLogger) *Injector {
	i := &Injector{
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "faults_active",
			Help: "Injected faults in force by kind: seconds for db_latency and redis_latency, the share of calls failed for *_error_rate; 0 is off.",
		}, []string{"kind"}),
		log:  log,
		wait: waitOrDone,
	}
	reg.MustRegister(i.active)
	i.store(Settings{})
	return i
}

// Settings returns the faults in force.
func (i *Injector) Settings() Settings { return *i.current.Load() }

// Set applies patch, a JSON object of Settings fields: the fields present replace the values in
// force, the others keep theirs. Every error means the patch was refused (bad JSON, an unknown
// field, a value out of range) and nothing changed. It returns the settings now in force.
func (i *Injector) Set(patch []byte) (Settings, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	next, err := apply(i.Settings(), patch)
	if err != nil {
		return i.Settings(), err
	}
	i.store(next)
	if next.active() {
		i.log.WithFields(fields(next)).Warn("faults changed")
	} else {
		i.log.Info("faults cleared")
	}
	return next, nil
}

// Clear switches every fault off.
func (i *Injector) Clear() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.store(Settings{})
	i.log.Info("faults cleared")
}

// store makes s the settings in force and the gauge's values.
func (i *Injector) store(s Settings) {
	i.current.Store(&s)
	i.active.WithLabelValues("db_latency").Set(time.Duration(s.DBLatency).Seconds())
	i.active.WithLabelValues("db_error_rate").Set(s.DBErrorRate)
	i.active.WithLabelValues("redis_latency").Set(time.Duration(s.RedisLatency).Seconds())
	i.active.WithLabelValues("redis_error_rate").Set(s.RedisErrorRate)
	i.active.WithLabelValues("http_error_rate").Set(s.HTTPErrorRate)
}

// fields are the log fields describing s.
func fields(s Settings) logrus.Fields {
	return logrus.Fields{
		"db_latency":       s.DBLatency.String(),
		"db_error_rate":    s.DBErrorRate,
		"redis_latency":    s.RedisLatency.String(),
		"redis_error_rate": s.RedisErrorRate,
		"http_error_rate":  s.HTTPErrorRate,
	}
}

// hit reports, with probability rate, that a call should fail. Rate 0 never hits, 1 always does.
func hit(rate float64) bool { return rate > 0 && rand.Float64() < rate }

// waitOrDone waits d, or returns ctx's error as soon as ctx is done.
func waitOrDone(ctx context.Context, d Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(d))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
