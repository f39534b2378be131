package logctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
)

// Change is a request to change the settings (the body of PUT /api/v1/admin/logging). A field
// left out keeps its value in force.
type Change struct {
	// Level is trace, debug, info, warn (or warning) or error.
	Level *string `json:"level,omitempty"`
	// SampleEvery is N, 1..MaxSampleEvery; 1 keeps every success line.
	SampleEvery *int `json:"sample_every,omitempty"`
	// For bounds the change (a Go duration such as "10m"); when it is over, every setting returns
	// to its start-up value. Left out, the end in force (if any) is kept. Required, and at most
	// DebugMax, to set debug or trace when no end is in force.
	For *string `json:"for,omitempty"`
}

// State is the settings in force (the body of every answer of /api/v1/admin/logging).
type State struct {
	Level       string `json:"level"`
	SampleEvery int    `json:"sample_every"`
	// Until is when the settings return to Startup by themselves; nil means never.
	Until *time.Time `json:"until,omitempty"`
	// Source is who set them: startup, admin, peer or expiry.
	Source  string        `json:"source"`
	Startup StateSettings `json:"startup"`
	// DebugMax is the longest debug or trace may be set for.
	DebugMax string `json:"debug_max"`
	// PeersNotified, in the answer of a change, says whether the other replicas were sent it.
	PeersNotified *bool `json:"peers_notified,omitempty"`
}

// StateSettings are settings as the admin API shows them.
type StateSettings struct {
	Level       string `json:"level"`
	SampleEvery int    `json:"sample_every"`
}

// state describes what is in force; c.mu is held.
func (c *Control) state() State {
	st := State{
		Level: c.cur.Level.String(), SampleEvery: c.cur.SampleEvery, Source: c.source,
		Startup:  StateSettings{Level: c.startup.Level.String(), SampleEvery: c.startup.SampleEvery},
		DebugMax: c.debugMax.String(),
	}
	if !c.until.IsZero() {
		u := c.until.UTC()
		st.Until = &u
	}
	return st
}

// ErrInvalid is wrapped by every refused change.
var ErrInvalid = errors.New("invalid log settings")

// InvalidError names the field of a refused change and why it was refused.
type InvalidError struct {
	Field, Reason string
}

// Error describes the refusal.
func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes every refusal an ErrInvalid.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) *InvalidError {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// verbose are the levels that must be bounded in time.
func verbose(l logrus.Level) bool { return l >= logrus.DebugLevel }

// ParseLevel reads a level the admin API and LOG_LEVEL accept: trace, debug, info, warn
// (warning) or error. Fatal and panic would silence the service's own errors.
func ParseLevel(s string) (logrus.Level, error) {
	l, err := logrus.ParseLevel(s)
	if err != nil || l < logrus.ErrorLevel {
		return 0, invalid("level", "%q is not one of trace, debug, info, warn, error", s)
	}
	return l, nil
}

// validSettings checks settings from any source.
func validSettings(s Settings) error {
	if s.Level < logrus.ErrorLevel || s.Level > logrus.TraceLevel {
		return invalid("level", "%q is not one of trace, debug, info, warn, error", s.Level.String())
	}
	if s.SampleEvery < 1 || s.SampleEvery > MaxSampleEvery {
		return invalid("sample_every", "%d is outside 1..%d", s.SampleEvery, MaxSampleEvery)
	}
	return nil
}

// resolve applies ch to cur (in force until until, zero: no end) at now: the settings it asks for
// and when they end. Without For the end in force is kept, so a change never unbinds debug.
func (ch Change) resolve(cur Settings, until, now time.Time, debugMax time.Duration) (Settings, time.Time, error) {
	next := cur
	if ch.Level == nil && ch.SampleEvery == nil {
		return Settings{}, time.Time{}, invalid("level", "name a level or sample_every (or both)")
	}
	if ch.Level != nil {
		l, err := ParseLevel(*ch.Level)
		if err != nil {
			return Settings{}, time.Time{}, err
		}
		next.Level = l
	}
	if ch.SampleEvery != nil {
		next.SampleEvery = *ch.SampleEvery
	}
	if err := validSettings(next); err != nil {
		return Settings{}, time.Time{}, err
	}
	if ch.For == nil {
		if verbose(next.Level) && until.IsZero() {
			return Settings{}, time.Time{}, invalid("for", "level %s needs a bound: \"for\" up to %s", next.Level, debugMax)
		}
		return next, until, nil
	}
	d, err := time.ParseDuration(*ch.For)
	switch {
	case err != nil || d <= 0:
		return Settings{}, time.Time{}, invalid("for", "%q is not a positive duration such as 10m", *ch.For)
	case verbose(next.Level) && d > debugMax:
		return Settings{}, time.Time{}, invalid("for", "%s is longer than LOG_DEBUG_MAX (%s) for level %s", d, debugMax, next.Level)
	}
	return next, now.Add(d), nil
}

// message is a change on the peer transport: the settings with their absolute expiry, so every
// replica ends the change at the same moment; or a reset to each replica's own start-up settings.
type message struct {
	Reset       bool   `json:"reset,omitempty"`
	Level       string `json:"level,omitempty"`
	SampleEvery int    `json:"sample_every,omitempty"`
	// Until is the expiry in Unix nanoseconds; 0 means none.
	Until int64 `json:"until_unix_nano,omitempty"`
}

func (m message) encode() []byte {
	b, _ := json.Marshal(m) // a struct of strings and numbers always encodes
	return b
}

// decode reads and checks a message from another replica: valid settings, and debug or trace
// only with an expiry.
func decode(payload []byte) (message, error) {
	var m message
	if err := json.Unmarshal(payload, &m); err != nil {
		return message{}, fmt.Errorf("decode log settings message: %w", err)
	}
	if m.Reset {
		return m, nil
	}
	if _, err := ParseLevel(m.Level); err != nil {
		return message{}, err
	}
	s, until := m.settings()
	if err := validSettings(s); err != nil {
		return message{}, err
	}
	if verbose(s.Level) && until.IsZero() {
		return message{}, invalid("until", "level %s without an expiry", s.Level)
	}
	return m, nil
}

// settings are the message's settings and expiry (zero: none); the level is checked by decode.
func (m message) settings() (Settings, time.Time) {
	l, _ := logrus.ParseLevel(m.Level)
	var until time.Time
	if m.Until != 0 {
		until = time.Unix(0, m.Until)
	}
	return Settings{Level: l, SampleEvery: m.SampleEvery}, until
}
