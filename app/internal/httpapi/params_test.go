package httpapi

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseID(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"1", 1, false},
		{"42", 42, false},
		{"007", 7, false},
		{"9223372036854775807", 9223372036854775807, false},
		{"", 0, true},
		{"abc", 0, true},
		{"-1", 0, true},
		{"0", 0, true},
		{"+1", 0, true},
		{"1.5", 0, true},
		{"1e3", 0, true},
		{" 1", 0, true},
		{"99999999999999999999", 0, true},
		{"9223372036854775808", 0, true},
		{"０", 0, true}, // full-width digit
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseID(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseID(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseIDs(t *testing.T) {
	hundred := strings.TrimSuffix(strings.Repeat("1,", 100), ",")
	tests := []struct {
		in      string
		want    []int64
		wantErr bool
	}{
		{"1,2,3", []int64{1, 2, 3}, false},
		{"3,1,2", []int64{3, 1, 2}, false},
		{" 5 , 6 ", []int64{5, 6}, false},
		{"2,2,1,2", []int64{2, 1}, false},
		{hundred, []int64{1}, false},
		{hundred + ",1", nil, true},
		{"", nil, true},
		{",", nil, true},
		{"1,,2", nil, true},
		{"1,x", nil, true},
		{"1,-2", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseIDs(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseIDs(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseIDs(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseLimit(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"", 20, false}, {"1", 1, false}, {"100", 100, false},
		{"0", 0, true}, {"101", 0, true}, {"-5", 0, true}, {"ten", 0, true}, {"2.5", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseLimit(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseLimit(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, id := range []int64{1, 45, 100000, 9223372036854775807} {
		got, err := DecodeCursor(EncodeCursor(id))
		if err != nil || got != id {
			t.Errorf("DecodeCursor(EncodeCursor(%d)) = %d, %v", id, got, err)
		}
	}
	for _, bad := range []string{"45", "djE6", "djE6LTE", "!!!", strings.Repeat("a", 100), "djI6NDU"} {
		if _, err := DecodeCursor(bad); err == nil {
			t.Errorf("DecodeCursor(%q) accepted a cursor the service never issues", bad)
		}
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "abc", "1.5", "99999999999999999999", "9223372036854775807", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			return
		}
		if id <= 0 {
			t.Fatalf("ParseID(%q) = %d, want a positive id", s, id)
		}
		if want, _ := strconv.ParseInt(s, 10, 64); want != id {
			t.Fatalf("ParseID(%q) = %d, strconv says %d", s, id, want)
		}
	})
}

func FuzzParseIDs(f *testing.F) {
	for _, s := range []string{"1,2,3", "3,3", ",", "1,,2", " 7 ", "1,-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := ParseIDs(s)
		if err != nil {
			return
		}
		if len(ids) == 0 || len(ids) > 100 {
			t.Fatalf("ParseIDs(%q) returned %d ids", s, len(ids))
		}
		seen := map[int64]bool{}
		for _, id := range ids {
			if id <= 0 || seen[id] {
				t.Fatalf("ParseIDs(%q) = %v: non-positive or duplicate id", s, ids)
			}
			seen[id] = true
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(EncodeCursor(45))
	f.Add("")
	f.Add("djE6LTE")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := DecodeCursor(s)
		if err != nil {
			return
		}
		if s != "" && (id <= 0 || EncodeCursor(id) != s) {
			t.Fatalf("DecodeCursor(%q) = %d, which does not encode back", s, id)
		}
	})
}

func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"", "1", "20", "100", "0", "101", "-1", "1e2", " 5", "+5", "05", "９"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseLimit(s)
		if err != nil {
			return
		}
		if n < 1 || n > 100 {
			t.Fatalf("ParseLimit(%q) = %d, outside 1..100", s, n)
		}
		if want, _ := strconv.Atoi(s); s != "" && want != n {
			t.Fatalf("ParseLimit(%q) = %d, strconv says %d", s, n, want)
		}
	})
}
