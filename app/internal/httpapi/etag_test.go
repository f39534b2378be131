package httpapi

import (
	"testing"
)

func TestNoneMatch(t *testing.T) {
	etag := ETag(42, 3)
	tests := []struct {
		header string
		want   bool
	}{
		{"", false},
		{`"42-3"`, true},
		{`W/"42-3"`, true},
		{`"42-2", "42-3"`, true},
		{`*`, true},
		{`"42-2"`, false},
		{`"4-23"`, false},
		{`42-3`, false}, // unquoted: malformed, never matches
	}
	for _, tt := range tests {
		if got := noneMatch(tt.header, etag); got != tt.want {
			t.Errorf("noneMatch(%q, %s) = %v, want %v", tt.header, etag, got, tt.want)
		}
	}
}

func TestIfMatchVersion(t *testing.T) {
	tests := []struct {
		header      string
		wantVersion int64
		wantMatched bool
		wantErr     bool
	}{
		{"", 0, true, false},
		{"*", 0, true, false},
		{`"42-3"`, 3, true, false},
		{` "42-3" `, 3, true, false},
		{`"7-3", "42-5"`, 5, true, false},
		{`W/"42-3"`, 0, false, false}, // weak tags never match If-Match
		{`"43-3"`, 0, false, false},   // another product's tag
		{`"42-0"`, 0, false, false},
		{`"42-x"`, 0, false, false},
		{`"42-3", "42-4"`, 0, false, true},
		{`42-3`, 0, false, true},
		{`"42-3`, 0, false, true},
		{`"42-3" "42-4"`, 0, false, true},
	}
	for _, tt := range tests {
		v, matched, err := ifMatchVersion(tt.header, 42)
		if v != tt.wantVersion || matched != tt.wantMatched || (err != nil) != tt.wantErr {
			t.Errorf("ifMatchVersion(%q) = %d, %v, %v; want %d, %v, error %v",
				tt.header, v, matched, err, tt.wantVersion, tt.wantMatched, tt.wantErr)
		}
	}
}

func FuzzIfMatch(f *testing.F) {
	for _, s := range []string{`"42-3"`, `*`, `W/"42-3"`, `"42-3", "42-4"`, `"`, `,`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		v, matched, err := ifMatchVersion(header, 42)
		if err != nil && matched {
			t.Fatalf("ifMatchVersion(%q) both matched and failed", header)
		}
		if v < 0 || (v > 0 && !matched) {
			t.Fatalf("ifMatchVersion(%q) = %d, %v", header, v, matched)
		}
		_ = noneMatch(header, ETag(42, 3))
	})
}
