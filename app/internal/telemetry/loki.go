package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// LokiOptions configure shipping to Loki.
type LokiOptions struct {
	// URL is Loki's base URL (http://loki:3100); lines go to its push API.
	URL string
	// Labels are the stream labels besides level (app and env).
	Labels map[string]string
	// QueueSize bounds the lines waiting to be sent; past it lines are dropped and counted.
	QueueSize int
	// BatchWait and BatchBytes bound a batch: it is sent when either is reached.
	BatchWait  time.Duration
	BatchBytes int
	// MaxRetryTime bounds the retries of one batch (exponential backoff) before it is dropped.
	MaxRetryTime time.Duration
}

// LokiShipper sends every log line written to it to Loki, asynchronously: a request never waits
// for Loki. It is an io.Writer placed beside stdout, so each line is formatted (and masked) once.
// Lines wait in a bounded queue, leave in batches (one stream per level), and a failed push is
// retried with exponential backoff (cenkalti/backoff). When the queue is full the line is dropped
// and counted.
//
// The Loki client libraries were tried first: grafana/loki-client-go pulls an old
// prometheus/prometheus whose dependencies do not resolve next to this module's, and Loki's OTLP
// endpoint cannot make a log attribute (level) a stream label. The push API is small and stable.
type LokiShipper struct {
	opts   LokiOptions
	client *http.Client
	queue  chan line
	done   chan struct{}
	mu     sync.RWMutex // guards closed against Write racing Close
	closed bool

	dropped prometheus.Counter
	sent    prometheus.Counter
	failed  prometheus.Counter
}

type line struct {
	level string
	ts    time.Time
	text  string
}

// NewLokiShipper starts a shipper; Close flushes it. Its counters are registered on reg.
func NewLokiShipper(opts LokiOptions, reg prometheus.Registerer) *LokiShipper {
	if opts.QueueSize <= 0 {
		opts.QueueSize = 10_000
	}
	if opts.BatchWait <= 0 {
		opts.BatchWait = time.Second
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = 1 << 20
	}
	if opts.MaxRetryTime <= 0 {
		opts.MaxRetryTime = 30 * time.Second
	}
	s := &LokiShipper{
		opts: opts, client: &http.Client{Timeout: 10 * time.Second},
		queue: make(chan line, opts.QueueSize), done: make(chan struct{}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "log_shipper_dropped_total", Help: "Log lines dropped: the queue to Loki was full, or a batch failed all retries.",
		}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "log_shipper_sent_total", Help: "Log lines Loki accepted.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "log_shipper_push_failures_total", Help: "Push requests to Loki that failed (each is retried).",
		}),
	}
	reg.MustRegister(s.dropped, s.sent, s.failed)
	go s.run()
	return s
}

// Write queues one formatted JSON line, or drops it when the queue is full. It never blocks.
// The level (a stream label) is read from the line's "level" field.
func (s *LokiShipper) Write(p []byte) (int, error) {
	l := line{level: levelOf(p), ts: time.Now(), text: string(bytes.TrimRight(p, "\n"))}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.dropped.Inc() // written after Close: nobody will send it
		return len(p), nil
	}
	select {
	case s.queue <- l:
	default:
		s.dropped.Inc()
	}
	return len(p), nil
}

// levelOf finds the value of "level" in a JSON log line.
func levelOf(p []byte) string {
	const key = `"level":"`
	i := bytes.Index(p, []byte(key))
	if i < 0 {
		return "unknown"
	}
	rest := p[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "unknown"
	}
	return string(rest[:j])
}

// Close stops accepting lines and sends what is queued, within ctx.
func (s *LokiShipper) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.queue)
	}
	s.mu.Unlock()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("loki shipper flush: %w", ctx.Err())
	}
}

// run batches queued lines and pushes them until the queue is closed and drained.
func (s *LokiShipper) run() {
	defer close(s.done)
	var batch []line
	size := 0
	timer := time.NewTimer(s.opts.BatchWait)
	defer timer.Stop()
	flush := func() {
		if len(batch) > 0 {
			s.push(batch)
			batch, size = nil, 0
		}
		timer.Reset(s.opts.BatchWait)
	}
	for {
		select {
		case l, ok := <-s.queue:
			if !ok {
				flush()
				return
			}
			batch = append(batch, l)
			size += len(l.text)
			if size >= s.opts.BatchBytes {
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}

// pushRequest is the body of Loki's JSON push API.
type pushRequest struct {
	Streams []pushStream `json:"streams"`
}

type pushStream struct {
	Stream map[string]string `json:"stream"`
	Values [][2]string       `json:"values"`
}

// push sends one batch, one stream per level, retrying with backoff.
func (s *LokiShipper) push(batch []line) {
	streams := map[string]*pushStream{}
	var order []string
	for _, l := range batch {
		st, ok := streams[l.level]
		if !ok {
			labels := map[string]string{"level": l.level}
			for k, v := range s.opts.Labels {
				labels[k] = v
			}
			st = &pushStream{Stream: labels}
			streams[l.level] = st
			order = append(order, l.level)
		}
		st.Values = append(st.Values, [2]string{strconv.FormatInt(l.ts.UnixNano(), 10), l.text})
	}
	req := pushRequest{}
	for _, lvl := range order {
		req.Streams = append(req.Streams, *streams[lvl])
	}
	var body bytes.Buffer
	// BestSpeed: a local Loki gains little from denser batches, and the service pays the CPU.
	gz, _ := gzip.NewWriterLevel(&body, gzip.BestSpeed)
	if err := json.NewEncoder(gz).Encode(req); err != nil || gz.Close() != nil {
		s.dropped.Add(float64(len(batch)))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.MaxRetryTime)
	defer cancel()
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		return struct{}{}, s.send(ctx, body.Bytes())
	}, backoff.WithBackOff(backoff.NewExponentialBackOff()), backoff.WithMaxElapsedTime(s.opts.MaxRetryTime))
	if err != nil {
		s.dropped.Add(float64(len(batch)))
		return
	}
	s.sent.Add(float64(len(batch)))
}

// send makes one push request; a 4xx other than 429 is permanent (retrying cannot help).
func (s *LokiShipper) send(ctx context.Context, gzipped []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.URL+"/loki/api/v1/push", bytes.NewReader(gzipped))
	if err != nil {
		return backoff.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := s.client.Do(req)
	if err != nil {
		s.failed.Inc()
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	s.failed.Inc()
	err = fmt.Errorf("loki push: %s: %s", resp.Status, bytes.TrimSpace(msg))
	if resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusTooManyRequests {
		return backoff.Permanent(err)
	}
	return err
}
