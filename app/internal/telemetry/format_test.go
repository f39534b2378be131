package telemetry

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"
)

// referenceFormat is what the service's lines were before jsonFormatter: sensitive fields masked
// (maskValue), app and env added unless set, then logrus's JSONFormatter (encoding/json).
func referenceFormat(env string, e *logrus.Entry) ([]byte, error) {
	data := make(logrus.Fields, len(e.Data)+2)
	for k, v := range e.Data {
		if isSensitive(k) {
			data[k] = Masked
		} else {
			data[k] = maskValue(v)
		}
	}
	for k, v := range map[string]any{"app": AppName, "env": env} {
		if _, set := data[k]; !set {
			data[k] = v
		}
	}
	ref := *e
	ref.Data = data
	ref.Buffer = nil
	f := &logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano, FieldMap: logrus.FieldMap{logrus.FieldKeyTime: "ts"}}
	return f.Format(&ref)
}

// entry is an entry at a fixed time with fields data.
func entry(msg string, data logrus.Fields) *logrus.Entry {
	e := logrus.NewEntry(logrus.New())
	e.Time = time.Date(2026, 12, 3, 17, 4, 5, 123456789, time.FixedZone("x", 3600))
	e.Level, e.Message, e.Data = logrus.WarnLevel, msg, data
	return e
}

// TestJSONFormatterMatchesEncodingJSON checks, byte for byte, that jsonFormatter writes what
// logrus's JSONFormatter (encoding/json) wrote for the same entry behind the masking: escaping,
// numbers, errors, nested values, clashes with the formatter's own keys, masking.
func TestJSONFormatterMatchesEncodingJSON(t *testing.T) {
	type card struct {
		Number string `json:"credit_card"`
		Expiry string `json:"expiry"`
	}
	tests := []struct {
		name string
		msg  string
		data logrus.Fields
	}{
		{"request line", "request", logrus.Fields{
			"request_id": "abc-1", "method": "GET", "route": "/api/v1/products/:id", "path": "/api/v1/products/7",
			"status": 200, "latency": 0.125, "bytes": 512, "client_ip": "192.0.2.1", "user_agent": "wrk/4.2",
			"cache": "HIT-L1", "preset": "two-level", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7",
		}},
		{"no fields", "", nil},
		{"escaping", "quote \" backslash \\ <html> & \x00 \x1f \n\t\r \u2028\u2029 é 日本", logrus.Fields{
			"s": "<script>&amp;\"'\\\b\f\x7f", "bad_utf8": "a\xffb\xc3", "emoji": "🙂", "key \"quoted\" <k>": "v",
			"é": "é", "\xff": "invalid key",
		}},
		{"numbers", "n", logrus.Fields{
			"zero": 0.0, "neg_zero": math.Copysign(0, -1), "small": 1e-7, "edge_small": 1e-6, "big": 1e21, "edge_big": 999999999999999999999.0,
			"third": 1.0 / 3, "neg": -2.5, "int": -42, "int64": int64(math.MaxInt64), "int32": int32(-7), "uint64": uint64(math.MaxUint64),
			"uint8": uint8(8), "float32": float32(0.1), "duration": 1500 * time.Millisecond, "bool": true, "nil": nil,
		}},
		{"errors", "e", logrus.Fields{"error": errors.New("boom <x>"), "wrapped": errors.Join(errors.New("a"), errors.New("b"))}},
		{"nested and masked", "m", logrus.Fields{
			"password": "p1", "Admin-Token": 7, "apiKey": map[string]any{"x": 1}, "user": "alice",
			"nested":  map[string]any{"db": map[string]any{"Password": "p2", "host": "db"}, "list": []any{map[string]any{"token": "t3"}, 1.5}},
			"headers": map[string]string{"Cookie": "c=1", "Accept": "json"},
			"payment": card{Number: "4111", Expiry: "12/30"}, "fields": logrus.Fields{"secret": "s", "ok": "y"},
			"at": time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), "ids": []int64{1, 2}, "raw": []byte("bytes"),
		}},
		{"clashes", "c", logrus.Fields{
			"ts": "mine", "msg": "mine", "level": 3, "logrus_error": "mine", "fields.ts": "loses", "fields.msg2": "stays",
			"time": "kept", "app": "other-app", "env": "other-env", "fields.": "x", "fields.level": "loses too",
		}},
		{"app only", "a", logrus.Fields{"app": "other-app"}},
	}
	f := Formatter("test")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := referenceFormat("test", entry(tt.msg, tt.data))
			if err != nil {
				t.Fatal(err)
			}
			e := entry(tt.msg, tt.data)
			e.Buffer = &bytes.Buffer{}
			e.Buffer.WriteString("left by the previous line")
			e.Buffer.Reset()
			got, err := f.Format(e)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("line differs from encoding/json's (-want +got):\n%s", diff)
			}
		})
	}
}

// TestJSONFormatterUnsupported refuses what encoding/json refuses (NaN), as logrus's formatter
// did, and leaves the buffer as it was.
func TestJSONFormatterUnsupported(t *testing.T) {
	for _, v := range []any{math.NaN(), math.Inf(1), map[string]any{"x": math.Inf(-1)}, func() {}} {
		e := entry("bad", logrus.Fields{"ok": "y", "v": v})
		e.Buffer = &bytes.Buffer{}
		if _, err := Formatter("test").Format(e); err == nil {
			t.Errorf("Format(%v) succeeded; want an error", v)
		}
		if e.Buffer.Len() != 0 {
			t.Errorf("Format(%v) left %q in the buffer", v, e.Buffer)
		}
	}
}

// FuzzJSONFormatter checks jsonFormatter against encoding/json (through logrus's formatter) for
// fuzzed field names, strings, numbers and a nested value.
func FuzzJSONFormatter(f *testing.F) {
	for _, s := range []struct {
		key, value string
		n          float64
	}{
		{"user", "alice", 1}, {"password", "x", 0}, {"ts", "<&>", 1e-7}, {"fields.msg", "\xff", 1e21},
		{"k\u2028", "\u2028\x00", -0.5}, {"", "", 123456789.125},
	} {
		f.Add(s.key, s.value, s.n)
	}
	formatter := Formatter("fuzz")
	f.Fuzz(func(t *testing.T, key, value string, n float64) {
		if math.IsNaN(n) || math.IsInf(n, 0) {
			n = 0
		}
		data := logrus.Fields{key: value, "n": n, "nested": map[string]any{key: value, "n": n}, "msg": value}
		want, err := referenceFormat("fuzz", entry(value, data))
		if err != nil {
			t.Fatal(err)
		}
		got, err := formatter.Format(entry(value, data))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, got) {
			t.Fatalf("line differs from encoding/json's:\nwant %s\ngot  %s", want, got)
		}
	})
}

// BenchmarkFormatter formats one access-log line with jsonFormatter, and with the chain it
// replaced (masking, constant fields, logrus's JSONFormatter) for comparison.
func BenchmarkFormatter(b *testing.B) {
	data := logrus.Fields{
		"request_id": "abc-1", "method": "GET", "route": "/api/v1/products/:id", "path": "/api/v1/products/7",
		"status": 200, "latency": 0.125, "bytes": 512, "client_ip": "192.0.2.1", "user_agent": "wrk/4.2",
		"cache": "HIT-L1", "preset": "two-level",
	}
	for _, c := range []struct {
		name   string
		format func(*logrus.Entry) ([]byte, error)
	}{
		{"json", Formatter("bench").Format},
		{"reference", func(e *logrus.Entry) ([]byte, error) { return referenceFormat("bench", e) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := entry("request", data)
			e.Buffer = &bytes.Buffer{}
			b.ReportAllocs()
			for b.Loop() {
				e.Buffer.Reset()
				if _, err := c.format(e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
