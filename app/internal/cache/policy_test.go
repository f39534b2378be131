package cache

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPresetsAreValidAndNamed(t *testing.T) {
	for _, name := range PresetNames() {
		p, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("preset %s is invalid: %v", name, err)
		}
		if p.name() != name {
			t.Errorf("preset %s is named %q", name, p.name())
		}
	}
	full, _ := Preset("full")
	if full.Layers != LayersTwoLevel || full.Breakdown != BreakdownLock || !full.Bloom || full.NullTTL == 0 ||
		full.TTLJitter == 0 || !full.PubSub || !full.Warmup || !full.Refresh {
		t.Errorf("full preset lacks a protection: %+v", full)
	}
	naive, _ := Preset("naive")
	if naive.Layers != LayersRedis || naive.Breakdown != BreakdownOff || naive.Bloom || naive.NullTTL != 0 || naive.TTLJitter != 0 {
		t.Errorf("naive preset has a protection: %+v", naive)
	}
}

func TestApply(t *testing.T) {
	protected, _ := Preset("protected")
	twoLevel, _ := Preset("two-level")
	tests := []struct {
		name    string
		base    Policy
		patch   string
		want    func() Policy
		wantErr string
	}{
		{"preset replaces every switch", protected, `{"preset":"two-level"}`, func() Policy { return twoLevel }, ""},
		{"a switch on top of the current policy", protected, `{"ttl":"1m"}`, func() Policy {
			p := protected
			p.TTL, p.Preset = Duration(time.Minute), "custom"
			return p
		}, ""},
		{"preset then switches", twoLevel, `{"preset":"protected","serializer":"msgpack"}`, func() Policy {
			p := protected
			p.Serializer, p.Preset = SerializerMsgpack, "custom"
			return p
		}, ""},
		{"back to a preset's values is that preset", func() Policy { p := protected; p.TTL = Duration(time.Minute); p.Preset = "custom"; return p }(),
			`{"ttl":"5m"}`, func() Policy { return protected }, ""},
		{"unknown field", protected, `{"tll":"1m"}`, nil, "unknown field"},
		{"unknown preset", protected, `{"preset":"turbo"}`, nil, "unknown preset"},
		{"bad duration", protected, `{"ttl":"soon"}`, nil, "not a duration"},
		{"jitter out of range", protected, `{"ttl_jitter":1.5}`, nil, "ttl_jitter"},
		{"lock without redis", protected, `{"layers":"local"}`, nil, "breakdown lock"},
		{"bad layers", protected, `{"layers":"disk"}`, nil, "layers"},
		{"not an object", protected, `[1]`, nil, "JSON object"},
		{"null", protected, `null`, nil, "JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Apply(tt.base, []byte(tt.patch))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Apply(%s) error = %v, want one mentioning %q", tt.patch, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want(), got); diff != "" {
				t.Errorf("Apply(%s) (-want +got):\n%s", tt.patch, diff)
			}
		})
	}
}

func TestJitterSpread(t *testing.T) {
	const ttl = 100 * time.Second
	lo, hi := ttl, time.Duration(0)
	for range 10_000 {
		d := jitter(ttl, 0.1)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 90*time.Second || hi > 110*time.Second {
		t.Errorf("jitter 0.1 gave [%s, %s], outside [90s, 110s]", lo, hi)
	}
	if hi-lo < 15*time.Second {
		t.Errorf("jitter 0.1 spread only over [%s, %s]", lo, hi)
	}
	if d := jitter(ttl, 0); d != ttl {
		t.Errorf("jitter 0 changed the TTL to %s", d)
	}
}
