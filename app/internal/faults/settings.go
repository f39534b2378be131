package faults

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/product-service-lab/product-service/app/internal/jsontime"
)

// MaxLatency bounds an injected latency, so a typo cannot stall the service for an hour.
const MaxLatency = 30 * time.Second

// Settings is one immutable set of faults. The zero value injects nothing.
type Settings struct {
	// DBLatency is added before every database statement.
	DBLatency Duration `json:"db_latency"`
	// DBErrorRate is the share of database statements failed with ErrInjected, in [0, 1].
	DBErrorRate float64 `json:"db_error_rate"`
	// RedisLatency is added before every Redis command or pipeline.
	RedisLatency Duration `json:"redis_latency"`
	// RedisErrorRate is the share of Redis commands and pipelines failed with ErrInjected, in [0, 1].
	RedisErrorRate float64 `json:"redis_error_rate"`
	// HTTPErrorRate is the share of HTTP requests answered with an injected 500, in [0, 1].
	HTTPErrorRate float64 `json:"http_error_rate"`
}

// active reports whether any fault is switched on.
func (s Settings) active() bool { return s != Settings{} }

// validate refuses rates outside [0, 1] and latencies outside [0, MaxLatency].
func (s Settings) validate() error {
	for _, l := range []struct {
		name string
		d    Duration
	}{{"db_latency", s.DBLatency}, {"redis_latency", s.RedisLatency}} {
		if l.d < 0 || time.Duration(l.d) > MaxLatency {
			return fmt.Errorf("%s %s is outside [0s, %s]", l.name, l.d, MaxLatency)
		}
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"db_error_rate", s.DBErrorRate}, {"redis_error_rate", s.RedisErrorRate}, {"http_error_rate", s.HTTPErrorRate}} {
		if !(r.v >= 0 && r.v <= 1) { // also refuses NaN
			return fmt.Errorf("%s %v is outside [0, 1]", r.name, r.v)
		}
	}
	return nil
}

// apply returns base changed by patch, a JSON object of Settings fields: fields present replace
// base's values, the others keep theirs. Unknown fields, nulls and invalid values are refused.
func apply(base Settings, patch []byte) (Settings, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(patch, &fields); err != nil || fields == nil {
		return Settings{}, errors.New("faults must be a JSON object")
	}
	for name, raw := range fields {
		if string(raw) == "null" {
			return Settings{}, fmt.Errorf("%s: null is not a value (0 switches a fault off)", name)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(patch))
	dec.DisallowUnknownFields()
	next := base
	if err := dec.Decode(&next); err != nil {
		return Settings{}, fmt.Errorf("faults: %w", err)
	}
	if err := next.validate(); err != nil {
		return Settings{}, fmt.Errorf("faults: %w", err)
	}
	return next, nil
}

// Duration is a latency setting, written in JSON as Go duration text such as "1200ms".
type Duration = jsontime.Duration
