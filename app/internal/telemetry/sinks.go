package telemetry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Sink names, the sink label of the log pipeline's metrics.
const (
	SinkStdout = "stdout"
	SinkFile   = "file"
	SinkLoki   = "loki"
)

// Reasons a sink loses a line, the reason label of log_lines_dropped_total.
const (
	DropQueueFull        = "queue_full"
	DropWriteError       = "write_error"
	DropRejected         = "rejected"
	DropRateLimited      = "rate_limited"
	DropRetriesExhausted = "retries_exhausted"
	DropClosed           = "closed"
)

// line is one formatted log line, shared read-only by every sink.
type line struct {
	level string
	ts    time.Time
	text  []byte // with its trailing newline
}

// Output is the logger's io.Writer: it hands each formatted line to every sink's own bounded
// queue without blocking, and each sink's goroutine writes on its own, so a sink that blocks or
// fails (a stdout pipe nobody reads, a full disk, Loki down) never stops or slows the others or
// the caller. A full queue drops the line and counts it; a failing sink is said on stderr, rate
// limited. A sink with no queue (capacity 0) is written on the caller's goroutine instead: tests
// and one-shot commands that read the output at once.
type Output struct {
	metrics  *pipelineMetrics
	reporter *reporter
	flushFor time.Duration
	stop     context.Context // ends when Close gives up: sinks stop retrying
	cancel   context.CancelFunc

	mu     sync.RWMutex // guards sinks and closed against Write racing Add and Close
	sinks  []*sink
	closed bool
}

// sink is one destination with its queue (nil when written synchronously) and goroutine.
type sink struct {
	stats *sinkStats
	queue chan line
	done  chan struct{}
	mu    sync.Mutex // serialises a synchronous sink's writes
	write func(line) // a synchronous sink's write
	close func()     // after the last line, when set
}

func newOutput(m *pipelineMetrics, stderr io.Writer, reportEvery, flushFor time.Duration) *Output {
	if stderr == nil {
		stderr = os.Stderr
	}
	if reportEvery <= 0 {
		reportEvery = 10 * time.Second
	}
	if flushFor <= 0 {
		flushFor = 5 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Output{metrics: m, reporter: newReporter(stderr, reportEvery), flushFor: flushFor, stop: ctx, cancel: cancel}
}

// stats makes the counters of a sink about to be added.
func (o *Output) stats(name string) *sinkStats { return o.metrics.forSink(name, o.reporter) }

// addSink starts a sink: with capacity > 0, run drains its queue on a goroutine of its own until
// the queue is closed; with 0, write is called on the caller's goroutine for each line. closeFn,
// when set, runs once the sink has written its last line.
func (o *Output) addSink(st *sinkStats, capacity int, write func(line), run func(<-chan line), closeFn func()) {
	s := &sink{stats: st, done: make(chan struct{}), write: write, close: closeFn}
	if capacity > 0 {
		s.queue = make(chan line, capacity)
		go func() { defer close(s.done); run(s.queue) }()
	} else {
		close(s.done)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed && s.queue != nil {
		close(s.queue) // added after Close: it writes nothing
	}
	o.sinks = append(o.sinks, s)
}

// Write copies one formatted line and offers it to every sink. It never blocks on a queued sink
// and never fails: what a sink loses is counted there.
func (o *Output) Write(p []byte) (int, error) {
	o.offer(levelOf(p), p)
	return len(p), nil
}

// offer copies one formatted line of level (one of logrus's level names) and offers it to every
// sink.
func (o *Output) offer(level string, p []byte) {
	l := line{level: level, ts: time.Now(), text: append([]byte(nil), p...)}
	o.mu.RLock()
	defer o.mu.RUnlock()
	for _, s := range o.sinks {
		switch {
		case o.closed:
			s.stats.drop(DropClosed, 1, nil)
		case s.queue == nil:
			s.stats.accepted(l.level)
			s.mu.Lock()
			s.write(l)
			s.mu.Unlock()
		default:
			select {
			case s.queue <- l:
				s.stats.accepted(l.level)
			default:
				s.stats.drop(DropQueueFull, 1, errQueueFull)
			}
		}
	}
}

var errQueueFull = errors.New("queue full: the sink is blocked or slower than the lines arrive")

// Close stops accepting lines and waits, at most the flush bound (5 s by default), for every sink
// to write what it holds. A sink still busy then is abandoned: its queued lines are counted as
// closed, its retries stop, and the error (also said on stderr) names it.
func (o *Output) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), o.flushFor)
	defer cancel()
	return o.Shutdown(ctx)
}

// Shutdown is Close within ctx.
func (o *Output) Shutdown(ctx context.Context) error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	sinks := o.sinks
	for _, s := range sinks {
		if s.queue != nil {
			close(s.queue)
		}
	}
	o.mu.Unlock()
	var errs []error
	for _, s := range sinks {
		if s.finished(ctx) {
			continue
		}
		o.cancel() // a sink still retrying gives up
		n := 0
		for range s.queue { // the sink's goroutine may take some too: each line is counted once
			n++
		}
		s.stats.drop(DropClosed, n, nil)
		err := fmt.Errorf("log sink %s: flush at shutdown: %w (%d queued lines lost)", s.stats.name, ctx.Err(), n)
		o.reporter.say(s.stats.name, DropClosed, err, n)
		errs = append(errs, err)
	}
	o.cancel()
	o.reporter.close(ctx)
	return errors.Join(errs...)
}

// finished waits, until ctx ends, for the sink to write its last line, then closes it.
func (s *sink) finished(ctx context.Context) bool {
	select {
	case <-s.done: // first: with ctx ended too, a finished sink is not abandoned
	default:
		select {
		case <-s.done:
		case <-ctx.Done():
			return false
		}
	}
	if s.close != nil {
		s.mu.Lock()
		s.close()
		s.mu.Unlock()
	}
	return true
}

// Register exports the log pipeline's metrics on reg.
func (o *Output) Register(reg prometheus.Registerer) error {
	if err := o.metrics.register(reg); err != nil {
		return err
	}
	return reg.Register(queueCollector{o})
}

var levelKey = []byte(`"level":"`)

// levelOf finds the value of "level" in a JSON log line, as one of the constant level names.
func levelOf(p []byte) string {
	i := bytes.Index(p, levelKey)
	if i < 0 {
		return "unknown"
	}
	rest := p[i+len(levelKey):]
	for j, c := range rest {
		if c == '"' {
			switch string(rest[:j]) { // no allocation: the cases are constants
			case "trace":
				return "trace"
			case "debug":
				return "debug"
			case "info":
				return "info"
			case "warning":
				return "warning"
			case "error":
				return "error"
			case "fatal":
				return "fatal"
			case "panic":
				return "panic"
			}
			return "unknown"
		}
	}
	return "unknown"
}
