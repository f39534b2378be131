package faults_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/product-service-lab/product-service/app/internal/faults"
)

// newInjector returns an injector on its own registry, and the hook recording its logs.
func newInjector(t *testing.T) (*faults.Injector, *prometheus.Registry, *test.Hook) {
	t.Helper()
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	reg := prometheus.NewRegistry()
	return faults.New(reg, log), reg, hook
}

// set applies patch and fails the test if it is refused.
func set(t *testing.T, inj *faults.Injector, patch string) {
	t.Helper()
	if _, err := inj.Set([]byte(patch)); err != nil {
		t.Fatalf("Set(%s): %v", patch, err)
	}
}

func ms(n int) faults.Duration { return faults.Duration(time.Duration(n) * time.Millisecond) }

func TestSet(t *testing.T) {
	start := faults.Settings{DBLatency: ms(100), DBErrorRate: 0.1, RedisLatency: ms(200), RedisErrorRate: 0.2, HTTPErrorRate: 0.3}
	const startJSON = `{"db_latency":"100ms","db_error_rate":0.1,"redis_latency":"200ms","redis_error_rate":0.2,"http_error_rate":0.3}`
	tests := []struct {
		name    string
		patch   string
		want    faults.Settings
		wantErr string
	}{
		{name: "empty patch keeps everything", patch: `{}`, want: start},
		{name: "one field replaces only itself", patch: `{"db_latency":"1200ms"}`,
			want: faults.Settings{DBLatency: ms(1200), DBErrorRate: 0.1, RedisLatency: ms(200), RedisErrorRate: 0.2, HTTPErrorRate: 0.3}},
		{name: "every field", patch: `{"db_latency":"1s","db_error_rate":1,"redis_latency":"30s","redis_error_rate":0,"http_error_rate":0.5}`,
			want: faults.Settings{DBLatency: ms(1000), DBErrorRate: 1, RedisLatency: faults.Duration(30 * time.Second), HTTPErrorRate: 0.5}},
		{name: "zero switches a fault off", patch: `{"http_error_rate":0,"redis_latency":"0s"}`,
			want: faults.Settings{DBLatency: ms(100), DBErrorRate: 0.1, RedisErrorRate: 0.2}},
		{name: "latency above 30s", patch: `{"db_latency":"31s"}`, wantErr: "outside"},
		{name: "negative latency", patch: `{"redis_latency":"-1ms"}`, wantErr: "outside"},
		{name: "rate above 1", patch: `{"db_error_rate":1.5}`, wantErr: "outside"},
		{name: "negative rate", patch: `{"http_error_rate":-0.1}`, wantErr: "outside"},
		{name: "unknown field", patch: `{"db_latency":"1s","cpu_burn":1}`, wantErr: "unknown field"},
		{name: "null value", patch: `{"db_error_rate":null}`, wantErr: "null"},
		{name: "duration as number", patch: `{"db_latency":5}`, wantErr: "duration"},
		{name: "duration text", patch: `{"db_latency":"fast"}`, wantErr: "duration"},
		{name: "rate as string", patch: `{"db_error_rate":"0.5"}`, wantErr: "db_error_rate"},
		{name: "not an object", patch: `[1]`, wantErr: "JSON object"},
		{name: "null", patch: `null`, wantErr: "JSON object"},
		{name: "empty", patch: ``, wantErr: "JSON object"},
		{name: "trailing data", patch: `{} {}`, wantErr: "JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inj, _, _ := newInjector(t)
			set(t, inj, startJSON)
			got, err := inj.Set([]byte(tt.patch))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Set(%s) error = %v, want one containing %q", tt.patch, err, tt.wantErr)
				}
				tt.want = start // a refused patch changes nothing
			} else if err != nil {
				t.Fatalf("Set(%s): %v", tt.patch, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Set returned (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, inj.Settings()); diff != "" {
				t.Errorf("Settings() after Set (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClear(t *testing.T) {
	inj, _, _ := newInjector(t)
	if diff := cmp.Diff(faults.Settings{}, inj.Settings()); diff != "" {
		t.Fatalf("a new injector has faults (-want +got):\n%s", diff)
	}
	set(t, inj, `{"db_latency":"1s","db_error_rate":1,"redis_latency":"1s","redis_error_rate":1,"http_error_rate":1}`)
	inj.Clear()
	if diff := cmp.Diff(faults.Settings{}, inj.Settings()); diff != "" {
		t.Errorf("Settings() after Clear (-want +got):\n%s", diff)
	}
}

func TestSettingsJSON(t *testing.T) {
	s := faults.Settings{DBLatency: ms(1200), DBErrorRate: 0.25, RedisLatency: faults.Duration(2 * time.Second), HTTPErrorRate: 1}
	const want = `{"db_latency":"1.2s","db_error_rate":0.25,"redis_latency":"2s","redis_error_rate":0,"http_error_rate":1}`
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("Marshal (-want +got):\n%s", diff)
	}
	var back faults.Settings
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestMetric(t *testing.T) {
	tests := []struct {
		name    string
		patches []string // applied in order; "clear" calls Clear
		want    map[string]float64
	}{
		{name: "every series exists from the start", want: map[string]float64{}},
		{name: "latencies in seconds, rates as shares",
			patches: []string{`{"db_latency":"1200ms","db_error_rate":0.5,"redis_latency":"250ms","redis_error_rate":0.1,"http_error_rate":1}`},
			want:    map[string]float64{"db_latency": 1.2, "db_error_rate": 0.5, "redis_latency": 0.25, "redis_error_rate": 0.1, "http_error_rate": 1}},
		{name: "a patch moves only its series",
			patches: []string{`{"db_latency":"1s","http_error_rate":0.2}`, `{"http_error_rate":0}`},
			want:    map[string]float64{"db_latency": 1}},
		{name: "a refused patch moves nothing",
			patches: []string{`{"redis_error_rate":0.3}`, `{"redis_error_rate":2}`},
			want:    map[string]float64{"redis_error_rate": 0.3}},
		{name: "clear sets all to 0",
			patches: []string{`{"db_latency":"1s","db_error_rate":1,"redis_latency":"1s","redis_error_rate":1,"http_error_rate":1}`, "clear"},
			want:    map[string]float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inj, reg, _ := newInjector(t)
			for _, p := range tt.patches {
				if p == "clear" {
					inj.Clear()
					continue
				}
				_, _ = inj.Set([]byte(p))
			}
			var exp strings.Builder
			exp.WriteString("# HELP faults_active Injected faults in force by kind: seconds for db_latency and redis_latency, the share of calls failed for *_error_rate; 0 is off.\n# TYPE faults_active gauge\n")
			for _, kind := range []string{"db_error_rate", "db_latency", "http_error_rate", "redis_error_rate", "redis_latency"} {
				exp.WriteString(`faults_active{kind="` + kind + `"} ` + strconv.FormatFloat(tt.want[kind], 'g', -1, 64) + "\n")
			}
			if err := testutil.GatherAndCompare(reg, strings.NewReader(exp.String()), "faults_active"); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestLog(t *testing.T) {
	type entry struct {
		Level   logrus.Level
		Message string
		Data    logrus.Fields
	}
	tests := []struct {
		name   string
		change func(*faults.Injector)
		want   []entry
	}{
		{name: "a change is logged at warn with the settings in force",
			change: func(i *faults.Injector) { _, _ = i.Set([]byte(`{"db_latency":"1200ms","http_error_rate":0.5}`)) },
			want: []entry{{logrus.WarnLevel, "faults changed", logrus.Fields{
				"db_latency": "1.2s", "db_error_rate": 0.0, "redis_latency": "0s", "redis_error_rate": 0.0, "http_error_rate": 0.5,
			}}}},
		{name: "clear is logged at info",
			change: func(i *faults.Injector) { i.Clear() },
			want:   []entry{{logrus.InfoLevel, "faults cleared", logrus.Fields{}}}},
		{name: "a patch switching everything off is a clear",
			change: func(i *faults.Injector) { _, _ = i.Set([]byte(`{"db_latency":"0s"}`)) },
			want:   []entry{{logrus.InfoLevel, "faults cleared", logrus.Fields{}}}},
		{name: "a refused patch is not logged",
			change: func(i *faults.Injector) { _, _ = i.Set([]byte(`{"db_latency":"1h"}`)) },
			want:   nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inj, _, hook := newInjector(t)
			tt.change(inj)
			var got []entry
			for _, e := range hook.AllEntries() {
				got = append(got, entry{e.Level, e.Message, e.Data})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("log entries (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConcurrentUse runs changes against readers, for the race detector.
func TestConcurrentUse(t *testing.T) {
	inj, _, _ := newInjector(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for n := range 200 {
				if (w+n)%2 == 0 {
					_, _ = inj.Set([]byte(`{"db_error_rate":0.5,"http_error_rate":0.1}`))
				} else {
					inj.Clear()
				}
			}
		})
		wg.Go(func() {
			for range 200 {
				if s := inj.Settings(); s.DBErrorRate != 0 && s.HTTPErrorRate == 0 {
					t.Errorf("torn snapshot: %+v", s)
					return
				}
			}
		})
	}
	wg.Wait()
}
