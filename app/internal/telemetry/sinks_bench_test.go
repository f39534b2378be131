package telemetry

import (
	"io"
	"path/filepath"
	"testing"
)

// BenchmarkLogger is the cost of one request line on the caller's goroutine: written there
// (sync, as before the sinks had queues) or handed to the sinks' queues (queued, as serve does).
// The queued cases drop what their sinks cannot keep up with (counted, and reported per op).
func BenchmarkLogger(b *testing.B) {
	file := func(queue int) FileOptions {
		return FileOptions{Path: filepath.Join(b.TempDir(), "service.log"), MaxSizeMB: 100, QueueLines: queue}
	}
	cases := []struct {
		name string
		opts func() LogOptions
	}{
		{"stdout-sync", func() LogOptions { return LogOptions{} }},
		{"stdout-queued", func() LogOptions { return LogOptions{QueueLines: 10_000} }},
		{"stdout+file-sync", func() LogOptions { return LogOptions{File: file(0)} }},
		{"stdout+file-queued", func() LogOptions { return LogOptions{QueueLines: 10_000, File: file(10_000)} }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			opts := c.opts()
			opts.Level, opts.Env, opts.Stderr = "info", "bench", io.Discard
			log, out, err := NewLogger(io.Discard, opts)
			if err != nil {
				b.Fatal(err)
			}
			entry := log.WithFields(map[string]any{
				"method": "GET", "route": "/api/v1/products/:id", "status": 200, "latency": 0.42, "bytes": 512,
				"request_id": "0123456789abcdef", "client_ip": "10.0.0.1", "cache": "HIT",
			})
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				entry.Info("request")
			}
			b.StopTimer()
			_ = out.Close()
			lost := 0.0
			for _, sink := range []string{SinkStdout, SinkFile} {
				lost += dropped(out, sink, DropQueueFull)
			}
			b.ReportMetric(lost/float64(b.N), "dropped/op")
		})
	}
}
