package httpapi

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// saneRequestID is the pattern saneID checks without a regexp.
var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// TestSaneID checks saneID against the regexp it replaces on the edges of the accepted set.
func TestSaneID(t *testing.T) {
	for _, id := range []string{
		"", "a", "A-z_0.9:", strings.Repeat("x", 128), strings.Repeat("x", 129), "sp ace", "slash/", "é", "\x00",
		"tab\t", "new\nline", "a+b", "[", "`", "{", "@", "~", "\xff", "4bf92f35-77b3-4da6-a3ce-929d0e0e4736",
	} {
		if got, want := saneID(id), saneRequestID.MatchString(id); got != want {
			t.Errorf("saneID(%q) = %v, the regexp says %v", id, got, want)
		}
	}
}

// FuzzSaneID holds saneID equal to the regexp `^[A-Za-z0-9._:-]{1,128}$` for any input.
func FuzzSaneID(f *testing.F) {
	for _, s := range []string{"", "abc", "a b", strings.Repeat("9", 128), strings.Repeat("9", 129), "x\n", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := saneID(id), saneRequestID.MatchString(id); got != want {
			t.Fatalf("saneID(%q) = %v, the regexp says %v", id, got, want)
		}
	})
}

// TestNewRequestID checks that generated ids are version 4 UUIDs that an incoming request may
// carry back, and that they do not repeat.
func TestNewRequestID(t *testing.T) {
	const n = 100_000
	seen := make(map[string]bool, n)
	for range n {
		id := newRequestID()
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || u.String() != id {
			t.Fatalf("newRequestID() = %q: not a canonical version 4 UUID (%v)", id, err)
		}
		if !saneID(id) {
			t.Fatalf("newRequestID() = %q is not a sane request id", id)
		}
		if seen[id] {
			t.Fatalf("newRequestID() repeated %q", id)
		}
		seen[id] = true
	}
}
