package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNativeEdgeConfig: the native edge runs compose's nginx-edge.conf with its three addresses
// substituted and every other word unchanged.
func TestNativeEdgeConfig(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", edgeConfigPath))
	if err != nil {
		t.Fatal(err)
	}
	a := edgeAddresses{listen: "127.0.0.1:18080", status: "127.0.0.1:18081", upstream: "127.0.0.1:19000"}
	got, err := nativeEdgeConfig(string(raw), a)
	if err != nil {
		t.Fatal(err)
	}
	before, after := strings.Fields(string(raw)), strings.Fields(got)
	if len(before) != len(after) {
		t.Fatalf("the native config has %d words, compose's %d", len(after), len(before))
	}
	var changed [][2]string
	for i := range before {
		if before[i] != after[i] {
			changed = append(changed, [2]string{before[i], after[i]})
		}
	}
	want := [][2]string{{"nginx:8080;", "127.0.0.1:19000;"}, {"8080;", "127.0.0.1:18080;"}, {"8081;", "127.0.0.1:18081;"}}
	if d := cmp.Diff(want, changed); d != "" {
		t.Errorf("words changed (-want +got):\n%s", d)
	}

	// A config whose addresses moved is refused rather than run half-substituted.
	if _, err := nativeEdgeConfig(strings.Replace(string(raw), "listen 8081;", "listen 9999;", 1), a); err == nil {
		t.Error("a config without `listen 8081;` was accepted")
	}
}

func TestReadEdgeLog(t *testing.T) {
	lines := []string{
		`{"method":"GET","uri":"/api/v1/products/7","status":200,"cache_status":"MISS"}`,
		`{"method":"GET","uri":"/api/v1/products/7","status":200,"cache_status":"HIT"}`,
		`{"method":"HEAD","uri":"/api/v1/products/7?x=1","status":200,"cache_status":"HIT"}`,
		`{"method":"GET","uri":"/api/v1/products/8","status":200,"cache_status":"STALE"}`,
		`{"method":"GET","uri":"/api/v1/products/8","status":200,"cache_status":"REVALIDATED"}`,
		`{"method":"GET","uri":"/api/v1/products/9","status":200,"cache_status":"BYPASS"}`,
		`{"method":"PUT","uri":"/api/v1/products/9","status":200,"cache_status":""}`,
		`{"method":"GET","uri":"/api/v1/admin/cache","status":200,"cache_status":""}`,
		`{"method":"GET","uri":"/api/v1/products/9/inventory","status":200,"cache_status":""}`,
	}
	path := filepath.Join(t.TempDir(), "edge-access.log")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := readEdgeLog(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &edgeStats{Reads: 6, ByStatus: map[string]float64{"MISS": 1, "HIT": 2, "STALE": 1, "REVALIDATED": 1, "BYPASS": 1}}
	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
	if got := s.answered(); got != 3 {
		t.Errorf("answered = %g, want 3 (HIT, HIT, STALE)", got)
	}
	if got := *s.hitRatio(); got != 4.0/6 {
		t.Errorf("hit ratio = %g, want 4/6", got)
	}

	if err := os.WriteFile(path, []byte("not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readEdgeLog(path); err == nil {
		t.Error("a line that is not JSON was accepted")
	}
}
