package lab

import (
	"fmt"
	"testing"
)

// recorder is a testing.TB that records how the test would have ended instead of ending it.
type recorder struct {
	testing.TB
	ended string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.ended = "fatal: " + fmt.Sprintf(format, args...)
}
func (r *recorder) Skipf(format string, args ...any) {
	r.ended = "skip: " + fmt.Sprintf(format, args...)
}

func TestMissing(t *testing.T) {
	tests := []struct {
		ci, want string
	}{
		{"", "skip: no tool (set CI to make this fail)"},
		{"true", "fatal: no tool (CI is set, so this fails)"},
	}
	for _, tt := range tests {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &recorder{TB: t}
			Missing(r, "no %s", "tool")
			if r.ended != tt.want {
				t.Fatalf("Missing ended the test with %q, want %q", r.ended, tt.want)
			}
		})
	}
}
