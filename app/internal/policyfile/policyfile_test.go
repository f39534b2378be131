package policyfile

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/product-service-lab/product-service/app/internal/cache"
)

func mustPreset(t *testing.T, name string) cache.Policy {
	t.Helper()
	p, err := cache.Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{"json", `{"preset":"naive","ttl":"1m"}`, `{"preset":"naive","ttl":"1m"}`, ""},
		{"yaml with comments", "# the policy\npreset: naive\nttl: 1m\nbloom: true\n", `{"bloom":true,"preset":"naive","ttl":"1m"}`, ""},
		{"empty object", "{}", `{}`, ""},
		{"empty file", " \n", "", "empty"},
		{"list", "- preset: naive\n", "", "one object"},
		{"scalar", "naive\n", "", "one object"},
		{"null", "null\n", "", "one object"},
		{"duplicate key", "ttl: 1m\nttl: 2m\n", "", "parse"},
		{"not yaml", "ttl: [1m\n", "", "parse"},
		{"too large", "ttl: 1m\n" + strings.Repeat("#", MaxBytes), "", "larger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	// The start-up policy: CACHE_PRESET=protected with CACHE_POLICY={"ttl":"2m"}.
	base := mustPreset(t, "protected")
	base.TTL = cache.Duration(2 * time.Minute)
	base.Preset = "custom"
	twoLevel := mustPreset(t, "two-level")
	twoLevelShort := twoLevel
	twoLevelShort.LocalTTL, twoLevelShort.Preset = cache.Duration(5*time.Second), "custom"
	tests := []struct {
		name    string
		in      string
		want    cache.Policy
		wantErr string
	}{
		{"empty object is the start-up policy", "{}", base, ""},
		{"a preset replaces every switch", "preset: two-level\n", twoLevel, ""},
		{"switches apply on top of the preset", "preset: two-level\nlocal_ttl: 5s\n", twoLevelShort, ""},
		{"switches alone apply on the start-up policy", "ttl: 5m\n", mustPreset(t, "protected"), ""},
		{"unknown key", "ttl_seconds: 5\n", cache.Policy{}, "unknown field"},
		{"bare number duration", "ttl: 60\n", cache.Policy{}, "duration"},
		{"out of range", "ttl: 10ms\n", cache.Policy{}, "ttl"},
		{"unknown preset", "preset: fastest\n", cache.Policy{}, "unknown preset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(base, []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Resolve error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Resolve (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFullPatch: the patch sets the policy whatever the policy in force, "custom" included.
func TestFullPatch(t *testing.T) {
	want := mustPreset(t, "full")
	want.TTL, want.Serializer, want.Preset = cache.Duration(time.Minute), cache.SerializerMsgpack, "custom"
	patch, err := fullPatch(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range cache.PresetNames() {
		got, err := cache.Apply(mustPreset(t, from), patch)
		if err != nil {
			t.Fatalf("from %s: %v", from, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("from %s (-want +got):\n%s", from, diff)
		}
	}
}
