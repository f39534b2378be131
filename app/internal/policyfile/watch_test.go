package policyfile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/product-service-lab/product-service/app/internal/cache"
	"github.com/product-service-lab/product-service/app/internal/lab"
)

// holder is a Target that keeps the policy as the cache does (cache.Apply on the policy in force)
// and counts SetPolicy calls; the real cache is exercised in integration_test.go.
type holder struct {
	mu   sync.Mutex
	p    cache.Policy
	sets int
}

func (h *holder) Policy() cache.Policy {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.p
}

func (h *holder) SetPolicy(_ context.Context, patch []byte) (cache.Policy, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	next, err := cache.Apply(h.p, patch)
	if err != nil {
		return cache.Policy{}, err
	}
	h.p = next
	h.sets++
	return next, nil
}

func (h *holder) setCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sets
}

// fileLayout is a way the file lives on disk and gets changed.
type fileLayout interface {
	// path is CONFIG_FILE.
	path() string
	// write puts content in place, as this layout's writer does.
	write(t *testing.T, content string)
}

// inPlace rewrites the file in place (truncate, write), as `echo > file` does.
type inPlace struct{ dir string }

func (l inPlace) path() string { return filepath.Join(l.dir, "cache-policy.yaml") }
func (l inPlace) write(t *testing.T, content string) {
	t.Helper()
	if err := os.WriteFile(l.path(), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// renameReplace writes a temporary file and renames it over the file, as editors and atomic
// writers do.
type renameReplace struct{ dir string }

func (l renameReplace) path() string { return filepath.Join(l.dir, "cache-policy.yaml") }
func (l renameReplace) write(t *testing.T, content string) {
	t.Helper()
	tmp := filepath.Join(l.dir, ".cache-policy.yaml.swp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, l.path()); err != nil {
		t.Fatal(err)
	}
}

// configMap lays the file out as the kubelet's atomic writer does for a ConfigMap volume:
// cache-policy.yaml -> ..data/cache-policy.yaml, ..data -> ..<timestamp>/; an update writes a new
// timestamped directory, points ..data_tmp at it, renames it over ..data and removes the old one.
type configMap struct {
	dir string
	n   *int
}

func (l configMap) path() string { return filepath.Join(l.dir, "cache-policy.yaml") }
func (l configMap) write(t *testing.T, content string) {
	t.Helper()
	*l.n++
	ts := filepath.Join(l.dir, "..2026_01_01_00_00_0"+string(rune('0'+*l.n)))
	if err := os.Mkdir(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ts, "cache-policy.yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(l.dir, dataLink)
	old, _ := os.Readlink(link)
	if err := os.Symlink(filepath.Base(ts), link+"_tmp"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(link+"_tmp", link); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(l.path()); os.IsNotExist(err) {
		if err := os.Symlink(filepath.Join(dataLink, "cache-policy.yaml"), l.path()); err != nil {
			t.Fatal(err)
		}
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(l.dir, old)); err != nil {
			t.Fatal(err)
		}
	}
}

func layouts(t *testing.T) map[string]fileLayout {
	n := 0
	return map[string]fileLayout{
		"write in place": inPlace{t.TempDir()},
		"rename replace": renameReplace{t.TempDir()},
		"configmap":      configMap{t.TempDir(), &n},
	}
}

// started is a watch over a file of one layout.
type started struct {
	target  *holder
	metrics *Metrics
	stop    func()
}

func (s started) count(result string) float64 { return s.metrics.count(result) }

// count returns config_reloads_total{result}.
func (m *Metrics) count(result string) float64 {
	return testutil.ToFloat64(m.reloads.WithLabelValues(result))
}

func start(t *testing.T, l fileLayout, initial string) started {
	t.Helper()
	l.write(t, initial)
	target := &holder{p: mustPreset(t, "protected")}
	m := NewMetrics(prometheus.NewRegistry())
	stop, err := Watch(context.Background(), Options{Path: l.path(), Base: target.Policy(), Target: target,
		Metrics: m, Settle: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return started{target: target, metrics: m, stop: stop}
}

func TestWatchAppliesChanges(t *testing.T) {
	for name, l := range layouts(t) {
		t.Run(name, func(t *testing.T) {
			s := start(t, l, "preset: naive\n")
			if got := s.target.Policy().Preset; got != "naive" {
				t.Fatalf("policy after start = %s, want naive (applied at start)", got)
			}
			l.write(t, "preset: two-level\nlocal_ttl: 5s\n")
			want := mustPreset(t, "two-level")
			want.LocalTTL, want.Preset = cache.Duration(5*time.Second), "custom"
			lab.WaitFor(t, "the change applied", func() bool { return s.target.Policy() == want })

			// Removing a key returns it to its start-up value: the file is the policy.
			l.write(t, "preset: two-level\n")
			// The policy is stored before the reload is counted: wait for both.
			lab.WaitFor(t, "the second change applied and counted", func() bool {
				return s.target.Policy().Preset == "two-level" && s.count(resultApplied) >= 3
			})
			if got := s.count(resultApplied); got != 3 {
				t.Errorf("config_reloads_total{result=applied} = %v, want 3 (start + two changes)", got)
			}
			if got := testutil.ToFloat64(s.metrics.successful); got != 1 {
				t.Errorf("config_last_reload_successful = %v, want 1", got)
			}
		})
	}
}

func TestWatchRefusesInvalidFile(t *testing.T) {
	for name, l := range layouts(t) {
		t.Run(name, func(t *testing.T) {
			s := start(t, l, "preset: naive\n")
			for i, bad := range []string{"ttl: 60\n", "preset: fastest\n", "- not\n- an object\n"} {
				l.write(t, bad)
				lab.WaitFor(t, "the refusal counted", func() bool { return s.count(resultInvalid) == float64(i+1) })
				if got := s.target.Policy().Preset; got != "naive" {
					t.Fatalf("after %q the policy is %s, want naive (kept)", bad, got)
				}
				if got := testutil.ToFloat64(s.metrics.successful); got != 0 {
					t.Errorf("config_last_reload_successful = %v, want 0", got)
				}
			}
			// Fixing the file applies it.
			l.write(t, "preset: full\n")
			lab.WaitFor(t, "the fixed file applied", func() bool { return s.target.Policy().Preset == "full" })
		})
	}
}

func TestWatchSkipsUnchangedPolicy(t *testing.T) {
	for name, l := range layouts(t) {
		t.Run(name, func(t *testing.T) {
			s := start(t, l, "preset: naive\nttl: 1m\n")
			sets := s.target.setCount()
			// A change through the admin API lasts until the file's policy changes.
			if _, err := s.target.SetPolicy(context.Background(), []byte(`{"ttl":"3m"}`)); err != nil {
				t.Fatal(err)
			}
			// Same policy, other text: a comment and JSON instead of YAML.
			l.write(t, "# rewritten\n{\"ttl\": \"1m\", \"preset\": \"naive\"}\n")
			lab.WaitFor(t, "the unchanged reload counted", func() bool { return s.count(resultUnchanged) == 1 })
			if got := s.target.setCount(); got != sets+1 {
				t.Errorf("SetPolicy calls = %d, want %d (only the admin change)", got, sets+1)
			}
			if got := s.target.Policy().TTL; got != cache.Duration(3*time.Minute) {
				t.Errorf("ttl = %s, want 3m (the admin change, kept)", got)
			}
			last := testutil.ToFloat64(s.metrics.lastSuccess)
			if last < float64(time.Now().Add(-time.Minute).Unix()) {
				t.Errorf("config_last_reload_success_timestamp_seconds = %v, want about now", last)
			}
		})
	}
}

func TestWatchStartErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string // "" means no file
		wantErr string
	}{
		{"missing file", "", "no such file"},
		{"invalid file", "ttl: soon\n", "duration"},
		{"empty file", "\n", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if tt.content != "" {
				if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			target := &holder{p: mustPreset(t, "protected")}
			m := NewMetrics(prometheus.NewRegistry())
			stop, err := Watch(context.Background(), Options{Path: path, Base: target.Policy(), Target: target, Metrics: m})
			if err == nil {
				stop()
				t.Fatal("Watch succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), "CONFIG_FILE "+path) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %q, want it to name CONFIG_FILE %s and contain %q", err, path, tt.wantErr)
			}
			if target.setCount() != 0 {
				t.Error("the policy was changed by a refused file")
			}
		})
	}
}

// TestWatchStopsWithContext: the watch ends when the context ends, and stop returns after that.
func TestWatchStopsWithContext(t *testing.T) {
	l := inPlace{t.TempDir()}
	l.write(t, "{}")
	target := &holder{p: mustPreset(t, "protected")}
	ctx, cancel := context.WithCancel(context.Background())
	stop, err := Watch(ctx, Options{Path: l.path(), Base: target.Policy(), Target: target,
		Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	lab.WaitClosed(t, "stop to return once the context ended", stopped)
	if diff := cmp.Diff(mustPreset(t, "protected"), target.Policy()); diff != "" {
		t.Errorf("{} changed the policy (-want +got):\n%s", diff)
	}
}
