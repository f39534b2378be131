package telemetry

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"
)

// reservedKey reports whether logrus or the formatter owns a key of that name, so a field of
// that name is renamed or overridden rather than written as given.
func reservedKey(k string) bool {
	switch k {
	case "ts", "time", "msg", "level", "app", "env", "func", "file", logrus.FieldKeyLogrusError:
		return true
	}
	return strings.HasPrefix(k, "fields.")
}

// jsonName is a field name as encoding/json writes it: each byte that is not UTF-8 becomes U+FFFD.
func jsonName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			r = utf8.RuneError
		}
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

// FuzzMaskingFormatter writes an entry whose field names and values are fuzzed — flat, nested in
// an object and in a list — and checks that the line is one valid JSON object in which every
// sensitive field, at any depth, is masked and every other string field is written as given.
func FuzzMaskingFormatter(f *testing.F) {
	for _, s := range [][4]string{
		{"password", "hunter2", "nested", "api_key"},
		{"user", "alice", "Credit-Card", "number"},
		{"X-Auth-Token", "t0k", "headers", "Cookie"},
		{"msg", "clash", "level", "secret"},
		{"", "", "", ""},
		{"pass\u00a0word", "\xff\xfe", "a.p.i.k.e.y", "AUTHORIZATION"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	formatter := Formatter("fuzz")
	f.Fuzz(func(t *testing.T, key, value, outer, inner string) {
		if jsonName(key) == jsonName(outer) {
			outer += "_outer"
		}
		e := logrus.NewEntry(logrus.New())
		e.Time, e.Level, e.Message = time.Unix(0, 0), logrus.InfoLevel, "fuzz"
		e.Data = logrus.Fields{
			key:   value,
			outer: map[string]any{inner: value, "list": []any{map[string]any{inner: value}}},
		}
		out, err := formatter.Format(e)
		if err != nil {
			t.Fatalf("Format: %v", err)
		}
		var line map[string]any
		if err := json.Unmarshal(out, &line); err != nil {
			t.Fatalf("line %q is not one JSON object: %v", out, err)
		}
		// want is what a field of this name and value must be written as.
		want := func(name string) any {
			if isSensitive(name) {
				return Masked
			}
			if !utf8.ValidString(value) {
				return nil // JSON replaces invalid UTF-8; any string will do
			}
			return value
		}
		check := func(where, name string, got any) {
			if w := want(name); (w != nil && got != w) || (w == nil && got == Masked && !isSensitive(name)) {
				t.Fatalf("%s %q = %#v, want %#v; line %s", where, name, got, w, out)
			}
		}
		if !reservedKey(jsonName(key)) {
			check("field", key, line[jsonName(key)])
		}
		if reservedKey(jsonName(outer)) {
			return
		}
		if isSensitive(outer) {
			if line[jsonName(outer)] != Masked {
				t.Fatalf("field %q = %#v, want %q; line %s", outer, line[outer], Masked, out)
			}
			return
		}
		nested, ok := line[jsonName(outer)].(map[string]any)
		if !ok {
			t.Fatalf("field %q = %#v, want an object; line %s", outer, line[outer], out)
		}
		if jsonName(inner) != "list" {
			check("nested field", inner, nested[jsonName(inner)])
			list, _ := nested["list"].([]any)
			if len(list) != 1 {
				t.Fatalf("nested list = %#v; line %s", nested["list"], out)
			}
			check("field in a list", inner, list[0].(map[string]any)[jsonName(inner)])
		}
	})
}

// FuzzSampler parses OTEL_TRACES_SAMPLER and _ARG: any pair gives a sampler or an error, never a
// panic, and a ratio outside [0, 1] (or NaN) is refused.
func FuzzSampler(f *testing.F) {
	for _, s := range [][2]string{
		{"", ""}, {"always_on", ""}, {"traceidratio", "0.1"}, {"parentbased_traceidratio", "1"},
		{"traceidratio", "NaN"}, {"traceidratio", "-0"}, {"traceidratio", "1e-400"}, {"jaeger_remote", ""}, {"always_off", "x"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, arg string) {
		s, err := Sampler(name, arg)
		if (s == nil) == (err == nil) {
			t.Fatalf("Sampler(%q, %q) = %v, %v: want exactly one of a sampler and an error", name, arg, s, err)
		}
		if err == nil && s.Description() == "" {
			t.Fatalf("Sampler(%q, %q) has no description", name, arg)
		}
	})
}
