package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The native configuration itself (nginx-edge.conf with its addresses substituted) is tested in
// app/internal/nginxconf.

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
