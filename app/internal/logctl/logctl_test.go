package logctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/product-service-lab/product-service/app/internal/logctl"
)

// Clock is a fake clock: Now is set by the test, timers fire when Advance passes them.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
}

type timer struct {
	at      time.Time
	f       func()
	stopped bool
}

// NewClock returns a clock at a fixed instant.
func NewClock() *Clock { return &Clock{now: time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f at Now()+d.
func (c *Clock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	tm := &timer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, tm)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !tm.stopped
		tm.stopped = true
		return was
	}
}

// Pending counts the timers not fired nor stopped.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, tm := range c.timers {
		if !tm.stopped {
			n++
		}
	}
	return n
}

// Advance moves the clock by d and runs the timers due, outside the clock's lock.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	for _, tm := range c.timers {
		if !tm.stopped && !tm.at.After(c.now) {
			tm.stopped = true
			due = append(due, tm.f)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

// bus is an in-memory peer transport: what one member broadcasts, the others receive at once.
type bus struct {
	mu      sync.Mutex
	members []*member
	down    bool
}

type member struct {
	bus       *bus
	listeners map[string]func([]byte)
}

func (b *bus) join() *member {
	m := &member{bus: b, listeners: map[string]func([]byte){}}
	b.members = append(b.members, m)
	return m
}

func (m *member) Broadcast(_ context.Context, topic string, payload []byte) error {
	m.bus.mu.Lock()
	if m.bus.down {
		m.bus.mu.Unlock()
		return errors.New("bus down")
	}
	others := []*member{}
	for _, o := range m.bus.members {
		if o != m {
			others = append(others, o)
		}
	}
	m.bus.mu.Unlock()
	for _, o := range others {
		if f := o.listeners[topic]; f != nil {
			f(payload)
		}
	}
	return nil
}

func (m *member) Listen(topic string, f func([]byte)) { m.listeners[topic] = f }

// replica is one Control with its logger, registry, log output and clock.
type replica struct {
	c     *logctl.Control
	log   *logrus.Logger
	out   *bytes.Buffer
	reg   *prometheus.Registry
	clock *Clock
}

func newReplica(t *testing.T, peers logctl.Peers, clock *Clock) *replica {
	t.Helper()
	r := &replica{log: logrus.New(), out: &bytes.Buffer{}, reg: prometheus.NewRegistry(), clock: clock}
	r.log.SetOutput(r.out)
	r.log.SetFormatter(&logrus.JSONFormatter{})
	var err error
	r.c, err = logctl.New(logctl.Options{
		Logger: r.log, Startup: logctl.Settings{Level: logrus.InfoLevel, SampleEvery: 1}, DebugMax: 15 * time.Minute,
		Peers: peers, Registerer: r.reg, Now: clock.Now, AfterFunc: clock.AfterFunc,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// changes returns log_settings_changes_total by source, the sources counted only.
func (r *replica) changes(t *testing.T) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, s := range []string{"admin", "peer", "expiry"} {
		if v := sample(t, r.reg, "log_settings_changes_total", "source", s); v > 0 {
			out[s] = v
		}
	}
	return out
}

// sample returns the value of the sample of family name whose label is value ("" matches a
// family without labels).
func sample(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
			if label == "" {
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

// gauges returns the levels log_level shows at 1 and log_access_sample_every.
func (r *replica) gauges(t *testing.T) (string, float64) {
	t.Helper()
	level := ""
	for _, l := range logrus.AllLevels {
		if sample(t, r.reg, "log_level", "level", l.String()) == 1 {
			level += l.String()
		}
	}
	return level, sample(t, r.reg, "log_access_sample_every", "", "")
}

func ptr[T any](v T) *T { return &v }

func TestSetValidates(t *testing.T) {
	tests := []struct {
		name  string
		ch    logctl.Change
		field string // the refused field; "" means accepted
	}{
		{"nothing to change", logctl.Change{}, "level"},
		{"unknown level", logctl.Change{Level: ptr("verbose")}, "level"},
		{"fatal would silence errors", logctl.Change{Level: ptr("fatal")}, "level"},
		{"panic too", logctl.Change{Level: ptr("panic")}, "level"},
		{"debug without a bound", logctl.Change{Level: ptr("debug")}, "for"},
		{"trace without a bound", logctl.Change{Level: ptr("trace")}, "for"},
		{"debug past LOG_DEBUG_MAX", logctl.Change{Level: ptr("debug"), For: ptr("16m")}, "for"},
		{"bound not a duration", logctl.Change{Level: ptr("debug"), For: ptr("ten minutes")}, "for"},
		{"bound zero", logctl.Change{Level: ptr("warn"), For: ptr("0s")}, "for"},
		{"bound negative", logctl.Change{Level: ptr("debug"), For: ptr("-1m")}, "for"},
		{"sample_every 0", logctl.Change{SampleEvery: ptr(0)}, "sample_every"},
		{"sample_every too large", logctl.Change{SampleEvery: ptr(logctl.MaxSampleEvery + 1)}, "sample_every"},
		{"debug at the bound", logctl.Change{Level: ptr("debug"), For: ptr("15m")}, ""},
		{"trace within the bound", logctl.Change{Level: ptr("TRACE"), For: ptr("1m")}, ""},
		{"warn without a bound", logctl.Change{Level: ptr("warn")}, ""},
		{"sampling alone, no bound", logctl.Change{SampleEvery: ptr(2)}, ""},
		{"warning spelled out", logctl.Change{Level: ptr("warning")}, ""},
		{"error for an hour", logctl.Change{Level: ptr("error"), For: ptr("1h")}, ""},
		{"sampling alone", logctl.Change{SampleEvery: ptr(10)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReplica(t, nil, NewClock())
			before := r.c.State()
			_, err := r.c.Set(context.Background(), tt.ch)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var invalid *logctl.InvalidError
			if !errors.As(err, &invalid) || !errors.Is(err, logctl.ErrInvalid) || invalid.Field != tt.field {
				t.Fatalf("error %v, want an InvalidError on %q", err, tt.field)
			}
			if diff := cmp.Diff(before, r.c.State()); diff != "" {
				t.Errorf("a refused change changed the state (-before +after):\n%s", diff)
			}
			if n := r.changes(t); len(n) != 0 {
				t.Errorf("a refused change was counted: %v", n)
			}
		})
	}
}

// A bounded debug window: the whole logger is at debug, the sampling as asked, then both return to
// the start-up settings when the clock passes the bound — and not a moment before.
func TestBoundedChangeExpires(t *testing.T) {
	clock := NewClock()
	r := newReplica(t, nil, clock)
	start := clock.Now()
	st, err := r.c.Set(context.Background(), logctl.Change{Level: ptr("debug"), SampleEvery: ptr(5), For: ptr("10m")})
	if err != nil {
		t.Fatal(err)
	}
	until := start.Add(10 * time.Minute)
	want := logctl.State{Level: "debug", SampleEvery: 5, Until: &until, Source: "admin",
		Startup: logctl.StateSettings{Level: "info", SampleEvery: 1}, DebugMax: "15m0s", PeersNotified: ptr(true)}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("state after the change (-want +got):\n%s", diff)
	}
	if r.log.GetLevel() != logrus.DebugLevel || r.c.SampleEvery() != 5 {
		t.Errorf("logger at %s, sampling %d: want debug, 5", r.log.GetLevel(), r.c.SampleEvery())
	}
	if level, every := r.gauges(t); level != "debug" || every != 5 {
		t.Errorf("log_level at %q, log_access_sample_every %v: want debug, 5", level, every)
	}

	clock.Advance(10*time.Minute - time.Nanosecond)
	if got := r.c.State(); got.Level != "debug" {
		t.Fatalf("level %s a nanosecond before the bound, want debug", got.Level)
	}
	clock.Advance(time.Nanosecond)
	if r.log.GetLevel() != logrus.InfoLevel || r.c.SampleEvery() != 1 {
		t.Errorf("after the bound: logger at %s, sampling %d; want info, 1", r.log.GetLevel(), r.c.SampleEvery())
	}
	want = logctl.State{Level: "info", SampleEvery: 1, Source: "expiry",
		Startup: logctl.StateSettings{Level: "info", SampleEvery: 1}, DebugMax: "15m0s"}
	if diff := cmp.Diff(want, r.c.State()); diff != "" {
		t.Errorf("state after the bound (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]float64{"admin": 1, "expiry": 1}, r.changes(t)); diff != "" {
		t.Errorf("log_settings_changes_total (-want +got):\n%s", diff)
	}
	if level, every := r.gauges(t); level != "info" || every != 1 {
		t.Errorf("log_level at %q, log_access_sample_every %v: want info, 1", level, every)
	}
	if clock.Pending() != 0 {
		t.Errorf("%d timers left pending", clock.Pending())
	}
}

// A change without "for" keeps the end in force; one with "for" replaces it; a reset removes it.
func TestLaterChangeAndTheExpiry(t *testing.T) {
	clock := NewClock()
	r := newReplica(t, nil, clock)
	ctx := context.Background()
	set := func(ch logctl.Change) logctl.State {
		t.Helper()
		st, err := r.c.Set(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	first := set(logctl.Change{Level: ptr("debug"), For: ptr("5m")})
	if st := set(logctl.Change{SampleEvery: ptr(3)}); st.Level != "debug" || st.Until == nil || !st.Until.Equal(*first.Until) {
		t.Errorf("sampling changed during a debug window: %+v, want debug until %s", st, first.Until)
	}
	clock.Advance(5 * time.Minute)
	if st := r.c.State(); st.Level != "info" || st.SampleEvery != 1 || st.Source != "expiry" {
		t.Errorf("at the end of the window: %+v, want the start-up settings", st)
	}

	set(logctl.Change{Level: ptr("debug"), For: ptr("5m")})
	set(logctl.Change{Level: ptr("warn"), For: ptr("1h")})
	clock.Advance(5 * time.Minute)
	if st := r.c.State(); st.Level != "warning" || st.Source != "admin" {
		t.Errorf("state %+v: want warning still (the debug window's timer must not undo it)", st)
	}
	clock.Advance(55 * time.Minute)
	if st := r.c.State(); st.Level != "info" || st.Source != "expiry" {
		t.Errorf("state %+v after the hour: want info by expiry", st)
	}

	set(logctl.Change{Level: ptr("trace"), For: ptr("1m")})
	st := r.c.Reset(ctx)
	if st.Level != "info" || st.Until != nil || clock.Pending() != 0 {
		t.Errorf("after reset: %+v, %d timers pending; want info, none", st, clock.Pending())
	}
	clock.Advance(time.Hour)
	if diff := cmp.Diff(map[string]float64{"admin": 6, "expiry": 2}, r.changes(t)); diff != "" {
		t.Errorf("log_settings_changes_total (-want +got):\n%s", diff)
	}
}

// Every change writes one audit line with the old and new settings, the source and the bound,
// even when it turns the level down to error (written before) or up from error (after).
func TestChangesAreAudited(t *testing.T) {
	clock := NewClock()
	b := &bus{}
	a, other := newReplica(t, b.join(), clock), newReplica(t, b.join(), clock)
	ctx := context.Background()
	steps := []logctl.Change{
		{Level: ptr("error")},
		{Level: ptr("debug"), SampleEvery: ptr(4), For: ptr("1m")},
	}
	for _, ch := range steps {
		if _, err := a.c.Set(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Minute)
	type audit struct {
		Level, Source, PreviousLevel, NewLevel string
		PreviousSample, Sample                 int
		Until                                  string
	}
	read := func(out *bytes.Buffer) []audit {
		var got []audit
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var l struct {
				Msg            string `json:"msg"`
				Level          string `json:"level"`
				Source         string `json:"source"`
				PreviousLevel  string `json:"previous_log_level"`
				NewLevel       string `json:"log_level"`
				PreviousSample int    `json:"previous_sample_every"`
				Sample         int    `json:"sample_every"`
				Until          string `json:"until"`
			}
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			if l.Msg == "log settings changed" {
				got = append(got, audit{l.Level, l.Source, l.PreviousLevel, l.NewLevel, l.PreviousSample, l.Sample, l.Until})
			}
		}
		return got
	}
	until := clock.Now().UTC().Format(time.RFC3339)
	for name, tt := range map[string]struct {
		out    *bytes.Buffer
		source string
	}{"the admin's replica": {a.out, "admin"}, "the other replica": {other.out, "peer"}} {
		want := []audit{
			{"warning", tt.source, "info", "error", 1, 1, ""},
			{"warning", tt.source, "error", "debug", 1, 4, until},
			{"warning", "expiry", "debug", "info", 4, 1, ""},
		}
		if diff := cmp.Diff(want, read(tt.out)); diff != "" {
			t.Errorf("%s: audit lines (-want +got):\n%s", name, diff)
		}
	}
}

// Two replicas on one transport: a change on one is in force on the other with the same absolute
// expiry, both return at the bound, and a reset reaches both.
func TestChangeReachesPeers(t *testing.T) {
	clockA, clockB := NewClock(), NewClock()
	b := &bus{}
	a, other := newReplica(t, b.join(), clockA), newReplica(t, b.join(), clockB)
	ctx := context.Background()
	st, err := a.c.Set(ctx, logctl.Change{Level: ptr("trace"), SampleEvery: ptr(8), For: ptr("2m")})
	if err != nil {
		t.Fatal(err)
	}
	got := other.c.State()
	if got.Level != "trace" || got.SampleEvery != 8 || got.Source != "peer" || got.Until == nil || !got.Until.Equal(*st.Until) {
		t.Fatalf("the other replica: %+v, want trace, 8, from peer, until %s", got, st.Until)
	}
	if other.log.GetLevel() != logrus.TraceLevel || other.c.SampleEvery() != 8 {
		t.Errorf("the other replica's logger at %s, sampling %d", other.log.GetLevel(), other.c.SampleEvery())
	}
	clockA.Advance(2 * time.Minute)
	clockB.Advance(2 * time.Minute)
	for name, r := range map[string]*replica{"a": a, "other": other} {
		if r.log.GetLevel() != logrus.InfoLevel || r.c.SampleEvery() != 1 || r.c.State().Source != "expiry" {
			t.Errorf("%s after the bound: %s, %d, %s", name, r.log.GetLevel(), r.c.SampleEvery(), r.c.State().Source)
		}
	}
	if diff := cmp.Diff(map[string]float64{"peer": 1, "expiry": 1}, other.changes(t)); diff != "" {
		t.Errorf("the other replica's log_settings_changes_total (-want +got):\n%s", diff)
	}

	if _, err := a.c.Set(ctx, logctl.Change{Level: ptr("error")}); err != nil {
		t.Fatal(err)
	}
	a.c.Reset(ctx)
	if st := other.c.State(); st.Level != "info" || st.Source != "peer" {
		t.Errorf("the other replica after a reset: %+v", st)
	}

	// A transport that does not take the change: this replica applies it and says so.
	b.down = true
	st, err = a.c.Set(ctx, logctl.Change{SampleEvery: ptr(3)})
	if err != nil || *st.PeersNotified || st.SampleEvery != 3 || other.c.SampleEvery() != 1 {
		t.Errorf("with the transport down: %+v %v, other at %d", st, err, other.c.SampleEvery())
	}
}

// A message another replica sends is checked like an admin change: debug or trace with no
// expiry, a bad level or sampling, a message already over, or one that is not JSON are ignored.
func TestBadPeerMessagesIgnored(t *testing.T) {
	clock := NewClock()
	var listener func([]byte)
	peers := listenerOnly(func(f func([]byte)) { listener = f })
	r := newReplica(t, peers, clock)
	past := clock.Now().Add(-time.Second).UnixNano()
	for _, payload := range []string{
		`{"level":"debug","sample_every":1}`,
		`{"level":"fatal","sample_every":1}`,
		`{"level":"info","sample_every":0}`,
		`{"level":"trace","sample_every":1,"until_unix_nano":` + itoa(past) + `}`,
		`not json`,
	} {
		listener([]byte(payload))
	}
	if diff := cmp.Diff(map[string]float64{}, r.changes(t)); diff != "" {
		t.Errorf("bad messages applied (-want +got):\n%s", diff)
	}
	if r.log.GetLevel() != logrus.InfoLevel {
		t.Errorf("level %s", r.log.GetLevel())
	}
}

type listenerOnly func(f func([]byte))

func (l listenerOnly) Broadcast(context.Context, string, []byte) error { return nil }
func (l listenerOnly) Listen(_ string, f func([]byte))                 { l(f) }

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestNewRejectsBadOptions(t *testing.T) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	ok := logctl.Settings{Level: logrus.InfoLevel, SampleEvery: 1}
	for name, opts := range map[string]logctl.Options{
		"no logger":      {Startup: ok, DebugMax: time.Minute},
		"no debug bound": {Logger: log, Startup: ok},
		"sampling 0":     {Logger: log, Startup: logctl.Settings{Level: logrus.InfoLevel}, DebugMax: time.Minute},
		"panic level":    {Logger: log, Startup: logctl.Settings{Level: logrus.PanicLevel, SampleEvery: 1}, DebugMax: time.Minute},
	} {
		if _, err := logctl.New(opts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
