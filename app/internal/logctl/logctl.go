// Package logctl holds the service's run-time log settings: the level of the shared logger and
// the access log's 1-in-N sampling of success lines. A change can be bounded in time (debug and
// trace always are, by LOG_DEBUG_MAX), is applied on every replica through a peer transport with
// the same absolute expiry, is audited by a log line and metrics, and is undone by itself when its
// time is up.
package logctl

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// Settings are what can change at run time.
type Settings struct {
	// Level is the level of the whole logger (GORM's and go-redis's adapters log through it).
	Level logrus.Level
	// SampleEvery is N: the access log keeps one success line in N per route.
	SampleEvery int
}

// MaxSampleEvery bounds SampleEvery (LOG_SAMPLE_EVERY and the admin API).
const MaxSampleEvery = 1_000_000

// Sources of a change, the values of log_settings_changes_total's source label.
const (
	SourceStartup = "startup" // the settings of the environment (State.Source only)
	SourceAdmin   = "admin"   // this replica's admin API
	SourcePeer    = "peer"    // another replica's admin API, through the peer transport
	SourceExpiry  = "expiry"  // the bounded window of a change ended
)

// Peers carry a change to the other replicas. The cache's pub/sub implements it.
type Peers interface {
	// Broadcast sends payload to the listener of topic on every other replica.
	Broadcast(ctx context.Context, topic string, payload []byte) error
	// Listen has f receive what the other replicas Broadcast on topic.
	Listen(topic string, f func(payload []byte))
}

// Topic names the messages of this package on the peer transport.
const Topic = "logging"

// Options configure a Control.
type Options struct {
	// Logger is the shared logger whose level is set.
	Logger *logrus.Logger
	// Startup are the settings of the environment, in force at start and after a reset or expiry.
	Startup Settings
	// DebugMax (LOG_DEBUG_MAX) is the longest debug or trace may be set for.
	DebugMax time.Duration
	// Peers, when set, carry changes to the other replicas and theirs to this one.
	Peers Peers
	// Registerer receives the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Now and AfterFunc are the clock; tests inject theirs. Zero means time.Now and time.AfterFunc.
	Now       func() time.Time
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
}

// Control applies run-time log settings. Its methods are safe for concurrent use.
type Control struct {
	log       *logrus.Logger
	startup   Settings
	debugMax  time.Duration
	peers     Peers
	m         *metrics
	now       func() time.Time
	afterFunc func(time.Duration, func()) func() bool

	// sampleEvery is read on every request, without the lock.
	sampleEvery atomic.Int64

	mu     sync.Mutex
	cur    Settings
	until  time.Time // zero: no expiry
	source string
	stop   func() bool // the pending expiry's timer
}

// New returns a Control with the start-up settings in force (and applied to the logger), listening
// to the other replicas' changes when Peers is set.
func New(opts Options) (*Control, error) {
	if opts.Logger == nil {
		return nil, errors.New("logctl: Options.Logger is required")
	}
	if err := validSettings(opts.Startup); err != nil {
		return nil, fmt.Errorf("logctl start-up settings: %w", err)
	}
	if opts.DebugMax <= 0 {
		return nil, errors.New("logctl: Options.DebugMax must be positive")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AfterFunc == nil {
		opts.AfterFunc = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	c := &Control{
		log: opts.Logger, startup: opts.Startup, debugMax: opts.DebugMax, peers: opts.Peers,
		m: newMetrics(opts.Registerer), now: opts.Now, afterFunc: opts.AfterFunc,
		cur: opts.Startup, source: SourceStartup,
	}
	c.log.SetLevel(opts.Startup.Level)
	c.sampleEvery.Store(int64(opts.Startup.SampleEvery))
	c.m.set(opts.Startup)
	if c.peers != nil {
		c.peers.Listen(Topic, c.receive)
	}
	return c, nil
}

// SampleEvery returns the N of the access log's sampling in force.
func (c *Control) SampleEvery() int { return int(c.sampleEvery.Load()) }

// State returns the settings in force. A change whose time is up is undone first, should its timer
// not have fired yet.
func (c *Control) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireIfDue(c.until)
	return c.state()
}

// Set applies a change on this replica and sends it to the others. A refused change is an error
// wrapping ErrInvalid (an *InvalidError), and changes nothing.
func (c *Control) Set(ctx context.Context, ch Change) (State, error) {
	c.mu.Lock()
	c.expireIfDue(c.until)
	next, until, err := ch.resolve(c.cur, c.until, c.now(), c.debugMax)
	if err != nil {
		c.mu.Unlock()
		return State{}, err
	}
	c.apply(next, until, SourceAdmin)
	st := c.state()
	c.mu.Unlock()
	notified := c.broadcast(ctx, message{Level: next.Level.String(), SampleEvery: next.SampleEvery, Until: unixNano(until)})
	st.PeersNotified = &notified
	return st, nil
}

// Reset returns this replica, and the others, to their start-up settings.
func (c *Control) Reset(ctx context.Context) State {
	c.mu.Lock()
	c.apply(c.startup, time.Time{}, SourceAdmin)
	st := c.state()
	c.mu.Unlock()
	notified := c.broadcast(ctx, message{Reset: true})
	st.PeersNotified = &notified
	return st
}

// apply puts next in force until until (zero: no expiry) and audits the change; c.mu is held.
func (c *Control) apply(next Settings, until time.Time, source string) {
	prev, prevUntil := c.cur, c.until
	c.cur, c.until, c.source = next, until, source
	// The audit line is written while the more verbose of the two levels is in force, so that
	// turning the level down is said before it takes effect and turning it up after.
	if next.Level > prev.Level {
		c.log.SetLevel(next.Level)
	}
	c.log.WithFields(logrus.Fields{
		"source": source, "previous_log_level": prev.Level.String(), "log_level": next.Level.String(),
		"previous_sample_every": prev.SampleEvery, "sample_every": next.SampleEvery,
		"previous_until": formatUntil(prevUntil), "until": formatUntil(until),
	}).Warn("log settings changed")
	c.log.SetLevel(next.Level)
	c.sampleEvery.Store(int64(next.SampleEvery))
	c.m.set(next)
	c.m.changes.WithLabelValues(source).Inc()
	if c.stop != nil {
		c.stop()
		c.stop = nil
	}
	if !until.IsZero() {
		c.stop = c.afterFunc(until.Sub(c.now()), func() { c.expire(until) })
	}
}

// expire undoes the change that was to last until until, unless another change replaced it.
func (c *Control) expire(until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.until.Equal(until) {
		return
	}
	if now := c.now(); now.Before(until) {
		// Early (the clock moved back): wait for the rest.
		c.stop = c.afterFunc(until.Sub(now), func() { c.expire(until) })
		return
	}
	c.expireIfDue(until)
}

// expireIfDue returns to the start-up settings when the change that was to last until until is
// over; c.mu is held.
func (c *Control) expireIfDue(until time.Time) {
	if until.IsZero() || !c.until.Equal(until) || c.now().Before(until) {
		return
	}
	c.apply(c.startup, time.Time{}, SourceExpiry)
}

// broadcast sends m to the other replicas and reports whether the transport took it; with no
// peers there is nobody to tell.
func (c *Control) broadcast(ctx context.Context, m message) bool {
	if c.peers == nil {
		return true
	}
	if err := c.peers.Broadcast(ctx, Topic, m.encode()); err != nil {
		c.log.WithError(err).Warn("log settings not sent to the other replicas; they keep theirs")
		return false
	}
	return true
}

// receive applies another replica's change.
func (c *Control) receive(payload []byte) {
	m, err := decode(payload)
	if err != nil {
		c.log.WithError(err).Warn("log settings from another replica ignored")
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.Reset {
		c.apply(c.startup, time.Time{}, SourcePeer)
		return
	}
	next, until := m.settings()
	if !until.IsZero() && !c.now().Before(until) {
		return // over before it arrived
	}
	c.apply(next, until, SourcePeer)
}

func formatUntil(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
