package telemetry

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// syncBuffer is a bytes.Buffer that a sink's goroutine and the test may share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// reports are the stderr lines that name sink.
func (b *syncBuffer) reports(t *testing.T, sink string) []report {
	t.Helper()
	var out []report
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var r report
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("stderr line %q is not JSON: %v", l, err)
		}
		if r.Sink == sink {
			out = append(out, r)
		}
	}
	return out
}

// pipeline is a logger with the three sinks: stdout to w, the file in opts, Loki at lokiURL.
func pipeline(t *testing.T, w io.Writer, opts LogOptions, loki LokiOptions) (*logrus.Logger, *Output, *syncBuffer) {
	t.Helper()
	stderr := &syncBuffer{}
	opts.Level, opts.Env, opts.Stderr, opts.ReportEvery = "info", "test", stderr, time.Hour
	log, out, err := NewLogger(w, opts)
	if err != nil {
		t.Fatal(err)
	}
	if loki.URL != "" {
		loki.Labels = map[string]string{"app": AppName, "env": "test"}
		out.AddLoki(loki)
	}
	return log, out, stderr
}

// fileLines reads the JSON lines of the file at path; every line must be JSON.
func fileLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: line %q is not JSON", path, sc.Bytes())
		}
		lines = append(lines, m)
	}
	return lines
}

func countLines(s string) int { return strings.Count(s, "\n") }

func counter(out *Output, sink string) (accepted, bytes float64) {
	for _, l := range logLevels {
		accepted += testutil.ToFloat64(out.metrics.lines.WithLabelValues(sink, l))
	}
	return accepted, testutil.ToFloat64(out.metrics.bytes.WithLabelValues(sink))
}

// A stdout pipe nobody reads blocks the stdout sink: every write into the logger still returns,
// the file and Loki keep every line, stdout's losses are counted (queue_full) and said, and
// shutdown abandons the blocked sink instead of hanging, counting what it held as closed.
func TestStdoutBlockedOthersKeepEveryLine(t *testing.T) {
	const lines, stdoutQueue = 2000, 8 // about 500 kB: far more than a pipe holds
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	fillPipe(t, w)
	loki := &fakeLoki{}
	srv := httptest.NewServer(loki)
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "service.log")
	log, out, stderr := pipeline(t, w, LogOptions{QueueLines: stdoutQueue, File: FileOptions{Path: path, MaxSizeMB: 100, QueueLines: lines}},
		LokiOptions{URL: srv.URL, QueueLines: lines, BatchWait: time.Millisecond})

	returned := make(chan struct{})
	go func() {
		for i := range lines {
			log.WithField("i", i).Info(strings.Repeat("x", 200))
		}
		close(returned)
	}()
	lab.WaitClosed(t, "every write into the logger to return while stdout is blocked", returned)
	lab.WaitFor(t, "the file to hold every line", func() bool { return len(fileLines(t, path)) == lines })
	lab.WaitFor(t, "Loki to receive every line", func() bool { n, _ := loki.lines(); return n == lines })

	full := dropped(out, SinkStdout, DropQueueFull)
	if full == 0 {
		t.Error("stdout was blocked, yet no line was dropped as queue_full")
	}
	if accepted, _ := counter(out, SinkStdout); accepted+full != lines {
		t.Errorf("stdout accepted %v and dropped %v lines, want %d in all", accepted, full, lines)
	}
	if reps := stderr.reports(t, SinkStdout); len(reps) != 1 || reps[0].Reason != DropQueueFull {
		t.Errorf("stderr said %+v about stdout, want one queue_full line", reps)
	}

	// Shutdown waits for the file and Loki, then gives up on stdout.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for _, s := range out.sinks[1:] {
			<-s.done
		}
		cancel()
	}()
	err = out.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "log sink stdout") {
		t.Errorf("Shutdown with stdout blocked = %v, want an error naming stdout", err)
	}
	// The sink holds a batch in its blocked write (at least one line; lines that kept arriving
	// while it gathered the batch join it, up to batchBytes), the queue the next ones: those are
	// counted as closed.
	closed := dropped(out, SinkStdout, DropClosed)
	accepted, _ := counter(out, SinkStdout)
	if inWrite := accepted - closed; closed > stdoutQueue || inWrite < 1 || inWrite*200 > batchBytes {
		t.Errorf("stdout accepted %v lines and counted %v as closed: want at most %d closed and 1 to %d lines of 200 bytes in the blocked write",
			accepted, closed, stdoutQueue, batchBytes/200)
	}
	for _, sink := range []string{SinkFile, SinkLoki} {
		if accepted, _ := counter(out, sink); accepted != lines {
			t.Errorf("%s accepted %v lines, want %d", sink, accepted, lines)
		}
	}
	_ = r.Close() // the blocked write fails (EPIPE): the sink's goroutine ends
	lab.WaitClosed(t, "the stdout sink to end once its pipe broke", out.sinks[0].done)
}

// fillPipe writes exactly what the pipe holds: the next write blocks until someone reads.
func fillPipe(t *testing.T, w *os.File) {
	t.Helper()
	size, err := unix.FcntlInt(w.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
}

// The file is deleted, moved or truncated under the sink: the lines after it continue in a file
// at the same path, whole (no hole of zeros where the old end was).
func TestFileSinkRecoversTheFile(t *testing.T) {
	tests := []struct {
		name string
		do   func(path string) error
	}{
		{"deleted", os.Remove},
		{"moved", func(path string) error { return os.Rename(path, path+".moved") }},
		{"truncated", func(path string) error { return os.Truncate(path, 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "service.log")
			// The path is checked before every line here; the default is once a second.
			log, out, _ := pipeline(t, io.Discard, LogOptions{File: FileOptions{Path: path, MaxSizeMB: 10, QueueLines: 100, CheckEvery: time.Nanosecond}}, LokiOptions{})
			defer out.Close()
			for range 5 {
				log.Info("before")
			}
			lab.WaitFor(t, "5 lines in the file", func() bool { return len(fileLines(t, path)) == 5 })
			if err := tt.do(path); err != nil {
				t.Fatal(err)
			}
			for range 5 {
				log.Info("after")
			}
			lab.WaitFor(t, "the 5 lines after it in a file at the path", func() bool { return len(fileLines(t, path)) == 5 })
			for _, l := range fileLines(t, path) {
				if l["msg"] != "after" {
					t.Errorf("line %v in the file at the path, want only the lines written after", l)
				}
			}
			if n := dropped(out, SinkFile, DropWriteError); n != 0 {
				t.Errorf("%v lines lost", n)
			}
		})
	}
}

// On a real, small filesystem (tmpfs) filled up, the file sink loses lines (write_error, said on
// stderr) while stdout and Loki keep every one; once space is freed, the file takes lines again.
func TestFileSinkDiskFull(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", dir).CombinedOutput(); err != nil {
		lab.Missing(t, "cannot mount a small tmpfs (root needed): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	loki := &fakeLoki{}
	srv := httptest.NewServer(loki)
	defer srv.Close()
	stdout := &syncBuffer{}
	path := filepath.Join(dir, "service.log")
	log, out, stderr := pipeline(t, stdout, LogOptions{QueueLines: 1000, File: FileOptions{Path: path, MaxSizeMB: 10, QueueLines: 1000}},
		LokiOptions{URL: srv.URL, QueueLines: 1000, BatchWait: time.Millisecond})
	defer out.Close()
	filler := filepath.Join(dir, "filler")
	fill(t, filler)

	const lost = 50
	for i := range lost {
		log.WithField("i", i).Info("disk full")
	}
	lab.WaitFor(t, "every line to the full disk counted as write_error", func() bool {
		return dropped(out, SinkFile, DropWriteError) == lost
	})
	lab.WaitFor(t, "stdout to get every line", func() bool { return countLines(stdout.String()) == lost })
	lab.WaitFor(t, "Loki to get every line", func() bool { n, _ := loki.lines(); return n == lost })
	reps := stderr.reports(t, SinkFile)
	if len(reps) != 1 || reps[0].Reason != DropWriteError || !strings.Contains(reps[0].Error, "no space left on device") {
		t.Errorf("stderr said %+v about the file, want one write_error line naming ENOSPC", reps)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		log.Info("space again")
	}
	lab.WaitFor(t, "the file to take lines again", func() bool { return len(fileLines(t, path)) == 10 })
	if n := dropped(out, SinkFile, DropWriteError); n != lost {
		t.Errorf("write errors %v after space was freed, want still %d", n, lost)
	}
}

// fill writes path until the filesystem is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			return
		}
	}
}

// Loki refusing or gone: the lines it loses are counted under the reason, each failed attempt
// under its own, and the failure is said once on stderr (rate limited), while stdout keeps every
// line.
func TestLokiFailuresCountedAndSaid(t *testing.T) {
	tests := []struct {
		name       string
		status     int // 0: Loki is down
		pushReason string
		dropReason string
	}{
		{"refused", http.StatusBadRequest, "status_4xx", DropRejected},
		{"rate limited", http.StatusTooManyRequests, "status_429", DropRateLimited},
		{"failing", http.StatusServiceUnavailable, "status_5xx", DropRetriesExhausted},
		{"down", 0, "network", DropRetriesExhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "no", tt.status)
			}))
			defer srv.Close()
			if tt.status == 0 {
				srv.Close()
			}
			const lines = 5
			stdout := &syncBuffer{}
			// One line a batch, retried for a few milliseconds.
			log, out, stderr := pipeline(t, stdout, LogOptions{}, LokiOptions{
				URL: srv.URL, BatchBytes: 1, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, MaxRetryTime: 20 * time.Millisecond,
			})
			for range lines {
				log.Info("hello")
			}
			if err := out.Shutdown(lab.Context(t)); err != nil {
				t.Fatal(err)
			}
			if got := dropped(out, SinkLoki, tt.dropReason); got != lines {
				t.Errorf("dropped{loki,%s} = %v, want %d", tt.dropReason, got, lines)
			}
			if got := testutil.ToFloat64(out.metrics.pushErrors.WithLabelValues(tt.pushReason)); got < lines {
				t.Errorf("push errors{%s} = %v, want at least %d", tt.pushReason, got, lines)
			}
			if tt.dropReason == DropRejected {
				if got := testutil.ToFloat64(out.metrics.pushErrors.WithLabelValues(tt.pushReason)); got != lines {
					t.Errorf("a refused batch was retried: %v attempts for %d batches", got, lines)
				}
			}
			reps := stderr.reports(t, SinkLoki)
			if len(reps) != 1 || reps[0].Reason != tt.dropReason || reps[0].LinesLost != 1 {
				t.Errorf("stderr said %+v, want once %s with 1 line lost", reps, tt.dropReason)
			}
			if countLines(stdout.String()) != lines {
				t.Errorf("stdout got %d lines, want %d", countLines(stdout.String()), lines)
			}
		})
	}
}

// Every metric of the pipeline is exported with its label values present from the start, and a
// shutdown whose time is already up still closes the sinks that are done (synchronous ones are).
func TestPipelineMetricsAndShutdown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "service.log")
	log, out, _ := pipeline(t, io.Discard, LogOptions{File: FileOptions{Path: path, MaxSizeMB: 1}}, LokiOptions{})
	reg := prometheus.NewRegistry()
	if err := out.Register(reg); err != nil {
		t.Fatal(err)
	}
	log.Warn("one")
	for name, want := range map[string]int{
		"log_lines_total": 2 * len(logLevels), "log_bytes_total": 2, "log_lines_dropped_total": 2 * len(dropReasons),
		"log_sink_queue_lines": 2, "log_sink_queue_capacity": 2, "log_shipper_sent_total": 1,
	} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != want {
			t.Errorf("%s: %d series (%v), want %d", name, n, err, want)
		}
	}
	if accepted, bytes := counter(out, SinkFile); accepted != 1 || bytes == 0 {
		t.Errorf("file sink: accepted %v lines, wrote %v bytes; want 1 line", accepted, bytes)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := out.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown of synchronous sinks after the time was up: %v", err)
	}
	log.Info("after")
	if got := dropped(out, SinkFile, DropClosed); got != 1 {
		t.Errorf("a line after shutdown: closed = %v, want 1", got)
	}
}

// gatedWriter holds its first Write until release is closed and records each write's lines.
type gatedWriter struct {
	entered, release chan struct{}
	mu               sync.Mutex
	writes           []int // lines per write
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	first := len(g.writes) == 0
	g.writes = append(g.writes, bytes.Count(p, []byte("\n")))
	g.mu.Unlock()
	if first {
		close(g.entered)
		<-g.release
	}
	return len(p), nil
}

// Lines that wait in stdout's queue while a write is in progress leave together, in one write.
func TestStdoutWritesWaitingLinesTogether(t *testing.T) {
	g := &gatedWriter{entered: make(chan struct{}), release: make(chan struct{})}
	log, out, _ := pipeline(t, g, LogOptions{QueueLines: 100}, LokiOptions{})
	log.Info("first")
	lab.WaitClosed(t, "the first write to start", g.entered)
	for i := range 9 {
		log.WithField("i", i).Info("waiting")
	}
	close(g.release)
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if diff := cmp.Diff([]int{1, 9}, g.writes); diff != "" {
		t.Errorf("lines per write (-want +got):\n%s", diff)
	}
}
