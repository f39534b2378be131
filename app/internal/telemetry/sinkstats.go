package telemetry

import (
	"context"
	"encoding/json"
	"io"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// logLevels are the level label's values: logrus's levels as the JSON formatter writes them.
var logLevels = []string{"trace", "debug", "info", "warning", "error", "fatal", "panic", "unknown"}

// dropReasons are the reason label's values of log_lines_dropped_total.
var dropReasons = []string{DropQueueFull, DropWriteError, DropRejected, DropRateLimited, DropRetriesExhausted, DropClosed}

// pipelineMetrics are the log pipeline's counters (docs/telemetry.md lists them).
type pipelineMetrics struct {
	lines      *prometheus.CounterVec
	bytes      *prometheus.CounterVec
	dropped    *prometheus.CounterVec
	pushErrors *prometheus.CounterVec
	sent       prometheus.Counter
	queueLines *prometheus.Desc
	queueCap   *prometheus.Desc
}

func newPipelineMetrics() *pipelineMetrics {
	return &pipelineMetrics{
		lines: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "log_lines_total", Help: "Log lines a sink accepted into its queue.",
		}, []string{"sink", "level"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "log_bytes_total", Help: "Bytes of log lines a sink wrote or sent successfully.",
		}, []string{"sink"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "log_lines_dropped_total", Help: "Log lines a sink lost, by reason.",
		}, []string{"sink", "reason"}),
		pushErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "log_shipper_push_errors_total", Help: "Failed push attempts to Loki (each may be retried), by reason.",
		}, []string{"reason"}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "log_shipper_sent_total", Help: "Log lines Loki accepted.",
		}),
		queueLines: prometheus.NewDesc("log_sink_queue_lines", "Log lines waiting in a sink's queue.", []string{"sink"}, nil),
		queueCap:   prometheus.NewDesc("log_sink_queue_capacity", "The bound of a sink's queue (0: written synchronously).", []string{"sink"}, nil),
	}
}

func (m *pipelineMetrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.lines, m.bytes, m.dropped, m.pushErrors, m.sent} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// queueCollector reports each sink's queue depth and bound at scrape time.
type queueCollector struct{ o *Output }

// Describe sends the two descriptors.
func (c queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.o.metrics.queueLines
	ch <- c.o.metrics.queueCap
}

// Collect reads every sink's queue.
func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	c.o.mu.RLock()
	defer c.o.mu.RUnlock()
	for _, s := range c.o.sinks {
		ch <- prometheus.MustNewConstMetric(c.o.metrics.queueLines, prometheus.GaugeValue, float64(len(s.queue)), s.stats.name)
		ch <- prometheus.MustNewConstMetric(c.o.metrics.queueCap, prometheus.GaugeValue, float64(cap(s.queue)), s.stats.name)
	}
}

// forSink makes the counters of one sink, every label value present from the start.
func (m *pipelineMetrics) forSink(name string, r *reporter) *sinkStats {
	s := &sinkStats{
		name: name, reporter: r, bytes: m.bytes.WithLabelValues(name),
		lines: map[string]prometheus.Counter{}, dropped: map[string]prometheus.Counter{},
		sometimes:  &rate.Sometimes{Interval: r.every},
		pushErrors: m.pushErrors, sent: m.sent,
	}
	for _, l := range logLevels {
		s.lines[l] = m.lines.WithLabelValues(name, l)
	}
	for _, reason := range dropReasons {
		s.dropped[reason] = m.dropped.WithLabelValues(name, reason)
	}
	return s
}

// sinkStats counts what one sink accepts, writes and loses, and says its failures on stderr.
type sinkStats struct {
	name      string
	lines     map[string]prometheus.Counter // read-only once made
	bytes     prometheus.Counter
	dropped   map[string]prometheus.Counter // read-only once made
	lost      atomic.Int64                  // lines lost since the last report
	sometimes *rate.Sometimes
	reporter  *reporter

	pushErrors *prometheus.CounterVec // Loki only
	sent       prometheus.Counter     // Loki only
}

func (s *sinkStats) accepted(level string) {
	c, ok := s.lines[level]
	if !ok {
		c = s.lines["unknown"]
	}
	c.Inc()
}

func (s *sinkStats) wrote(n int) { s.bytes.Add(float64(n)) }

// drop counts n lost lines; with err, the failure is said on stderr, at most once per interval,
// with the lines lost since the last time.
func (s *sinkStats) drop(reason string, n int, err error) {
	if n <= 0 {
		return
	}
	s.dropped[reason].Add(float64(n))
	s.lost.Add(int64(n))
	if err != nil {
		s.sometimes.Do(func() { s.reporter.say(s.name, reason, err, int(s.lost.Swap(0))) })
	}
}

// reporter writes failure lines on stderr from a goroutine of its own: stderr blocking (it is
// often the same pipe as stdout) never blocks a sink or a request.
type reporter struct {
	w     io.Writer
	every time.Duration
	ch    chan report
	quit  chan struct{}
	done  chan struct{}
}

// report is one stderr line, JSON like the log's own lines.
type report struct {
	TS        string `json:"ts"`
	Level     string `json:"level"`
	Msg       string `json:"msg"`
	App       string `json:"app"`
	Sink      string `json:"sink"`
	Reason    string `json:"reason"`
	Error     string `json:"error"`
	LinesLost int    `json:"lines_lost"`
}

func newReporter(w io.Writer, every time.Duration) *reporter {
	r := &reporter{w: w, every: every, ch: make(chan report, 16), quit: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r
}

// say queues a report; when the reporter is behind, it is skipped (the counters still have it).
func (r *reporter) say(sink, reason string, err error, lost int) {
	rep := report{
		TS: time.Now().UTC().Format(time.RFC3339Nano), Level: "error", Msg: "log sink losing lines", App: AppName,
		Sink: sink, Reason: reason, Error: err.Error(), LinesLost: lost,
	}
	select {
	case r.ch <- rep:
	default:
	}
}

func (r *reporter) run() {
	defer close(r.done)
	for {
		select {
		case rep := <-r.ch:
			r.write(rep)
		case <-r.quit:
			for {
				select {
				case rep := <-r.ch:
					r.write(rep)
				default:
					return
				}
			}
		}
	}
}

func (r *reporter) write(rep report) {
	b, _ := json.Marshal(rep)
	_, _ = r.w.Write(append(b, '\n'))
}

// close writes what is queued, waiting at most until ctx ends (stderr may be blocked).
func (r *reporter) close(ctx context.Context) {
	close(r.quit)
	select {
	case <-r.done:
	case <-ctx.Done():
	}
}
