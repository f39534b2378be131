package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/product-service-lab/product-service/app/internal/cache"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, o options)
	}{
		{
			name: "defaults: the whole matrix once, full mode",
			check: func(t *testing.T, o options) {
				if d := cmp.Diff(scenarioNames(false), o.scenarios); d != "" {
					t.Errorf("scenarios (-want +got):\n%s", d)
				}
				if d := cmp.Diff(cache.PresetNames(), o.presets); d != "" {
					t.Errorf("presets (-want +got):\n%s", d)
				}
				if o.quick || o.repeat != 1 || o.rate != 500 || o.dbName != "products_compare" || o.products != 100000 {
					t.Errorf("unexpected defaults: %+v", o)
				}
			},
		},
		{
			name: "QUICK=1 and the environment's tools",
			env:  map[string]string{"QUICK": "1", "K6": "/opt/k6", "REDIS_ADDR": "127.0.0.1:6380"},
			check: func(t *testing.T, o options) {
				if !o.quick || o.k6 != "/opt/k6" || o.redisAddr != "127.0.0.1:6380" {
					t.Errorf("environment not used: %+v", o)
				}
			},
		},
		{
			name: "a flag wins over the environment",
			args: []string{"-k6", "/usr/bin/k6"}, env: map[string]string{"K6": "/opt/k6"},
			check: func(t *testing.T, o options) {
				if o.k6 != "/usr/bin/k6" {
					t.Errorf("k6 = %s", o.k6)
				}
			},
		},
		{
			name: "a subset",
			args: []string{"-scenarios", "breakdown, penetration", "-presets", "naive,protected"},
			check: func(t *testing.T, o options) {
				if d := cmp.Diff([]string{"breakdown", "penetration"}, o.scenarios); d != "" {
					t.Error(d)
				}
			},
		},
		{
			name: "the edge column after the presets, on by default",
			args: []string{"-presets", "none,protected"},
			check: func(t *testing.T, o options) {
				if d := cmp.Diff([]string{"none", "protected", edgeColumn}, o.columns()); d != "" {
					t.Errorf("columns (-want +got):\n%s", d)
				}
				if d := cmp.Diff([]string{"none", "protected"}, o.presets); d != "" {
					t.Errorf("presets changed by columns() (-want +got):\n%s", d)
				}
				if o.edgePreset != "protected" || !strings.HasSuffix(o.nginx, "/nginx") {
					t.Errorf("edge defaults: preset %q, nginx %q", o.edgePreset, o.nginx)
				}
			},
		},
		{
			name: "EDGE=0 drops the edge column",
			env:  map[string]string{"EDGE": "0", "NGINX": "/opt/nginx"},
			check: func(t *testing.T, o options) {
				if o.edge || slices.Contains(o.columns(), edgeColumn) || o.nginx != "/opt/nginx" {
					t.Errorf("edge %v, columns %v, nginx %s", o.edge, o.columns(), o.nginx)
				}
			},
		},
		{name: "unknown edge preset", args: []string{"-edge-preset", "lru"}, wantErr: `-edge-preset: unknown preset "lru"`},
		{name: "unknown scenario", args: []string{"-scenarios", "read,burst"}, wantErr: `unknown scenario "burst"`},
		{name: "unknown preset", args: []string{"-presets", "lru"}, wantErr: `unknown preset "lru"`},
		{name: "repeat bounds", args: []string{"-repeat", "0"}, wantErr: "-repeat must be 1..5"},
		{name: "too few products", args: []string{"-products", "500"}, wantErr: "-products must be at least 10000"},
		{name: "base URL needs a token", args: []string{"-base-url", "http://127.0.0.1:8080"}, wantErr: "-base-url needs -admin-token"},
		{name: "stray argument", args: []string{"read"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			o, err := parseOptions(tt.args, lookup)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
}

func TestRedact(t *testing.T) {
	if r := redact("postgres://postgres:secret@127.0.0.1:5432/products_compare?sslmode=disable"); strings.Contains(r, "secret") {
		t.Errorf("redact kept the password: %s", r)
	}
}

// -seconds lengthens only the steady loads, and only in full mode; the rates' denominator follows.
func TestSecondsLengthensSteadyLoads(t *testing.T) {
	read, _ := findScenario("read")
	avalanche, _ := findScenario("avalanche")
	tests := []struct {
		name     string
		o        options
		s        scenario
		duration string
		seconds  float64
	}{
		{"read, full, -seconds 60", options{seconds: 60}, read, "60s", 60},
		{"read, full", options{}, read, read.full["DURATION"], read.fullS},
		{"read, quick, -seconds 60", options{quick: true, seconds: 60}, read, read.quick["DURATION"], read.quickS},
		{"avalanche, full, -seconds 60", options{seconds: 60}, avalanche, avalanche.full["DURATION"], avalanche.fullS},
	}
	for _, tt := range tests {
		if got := tt.o.envOf(tt.s)["DURATION"]; got != tt.duration {
			t.Errorf("%s: DURATION %s, want %s", tt.name, got, tt.duration)
		}
		if got := tt.o.secondsOf(tt.s); got != tt.seconds {
			t.Errorf("%s: seconds %v, want %v", tt.name, got, tt.seconds)
		}
	}
	if read.full["DURATION"] != "20s" {
		t.Errorf("envOf changed the scenario table: read DURATION %s", read.full["DURATION"])
	}
}
