package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// LokiOptions configure shipping to Loki.
type LokiOptions struct {
	// URL is Loki's base URL (http://loki:3100); lines go to its push API.
	URL string
	// Labels are the stream labels besides level (app and env).
	Labels map[string]string
	// QueueLines bounds the lines waiting to be sent; past it lines are dropped and counted.
	QueueLines int
	// BatchWait and BatchBytes bound a batch: it is sent when either is reached.
	BatchWait  time.Duration
	BatchBytes int
	// MinBackoff and MaxBackoff bound the wait between two attempts of a batch (exponential,
	// jittered); MaxRetryTime bounds all the attempts of one batch before it is dropped.
	MinBackoff, MaxBackoff, MaxRetryTime time.Duration
	// PushTimeout bounds one push request.
	PushTimeout time.Duration
}

// withDefaults fills what is unset.
func (o LokiOptions) withDefaults() LokiOptions {
	set := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	if o.QueueLines <= 0 {
		o.QueueLines = 10_000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 1 << 20
	}
	set(&o.BatchWait, time.Second)
	set(&o.MinBackoff, 500*time.Millisecond)
	set(&o.MaxBackoff, 5*time.Second)
	set(&o.MaxRetryTime, 30*time.Second)
	set(&o.PushTimeout, 10*time.Second)
	return o
}

// AddLoki adds Loki as a sink: lines wait in its bounded queue, leave in batches (one stream per
// level), and a failed push is retried with exponential backoff (cenkalti/backoff), honouring a
// 429's Retry-After. What Loki refuses (4xx other than 429) is not retried. Every failed attempt
// is counted by reason, every lost line by why it was lost, and failures are said on stderr.
//
// The Loki client libraries were tried first: grafana/loki-client-go pulls an old
// prometheus/prometheus whose dependencies do not resolve next to this module's, and Loki's OTLP
// endpoint cannot make a log attribute (level) a stream label. The push API is small and stable.
func (o *Output) AddLoki(opts LokiOptions) {
	opts = opts.withDefaults()
	s := &lokiSink{opts: opts, client: &http.Client{Timeout: opts.PushTimeout}, stats: o.stats(SinkLoki), stop: o.stop}
	for _, reason := range pushErrorReasons {
		s.stats.pushErrors.WithLabelValues(reason) // present from the start, at 0
	}
	o.addSink(s.stats, opts.QueueLines, nil, s.run, nil)
}

// lokiSink batches and pushes lines to Loki.
type lokiSink struct {
	opts   LokiOptions
	client *http.Client
	stats  *sinkStats
	stop   context.Context // ends when shutdown gives up waiting: retries stop
}

// run batches queued lines and pushes them until the queue is closed and drained.
func (s *lokiSink) run(queue <-chan line) {
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
		case l, ok := <-queue:
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
func (s *lokiSink) push(batch []line) {
	streams := map[string]*pushStream{}
	var order []string
	size := 0
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
		text := string(bytes.TrimRight(l.text, "\n"))
		size += len(text)
		st.Values = append(st.Values, [2]string{strconv.FormatInt(l.ts.UnixNano(), 10), text})
	}
	req := pushRequest{}
	for _, lvl := range order {
		req.Streams = append(req.Streams, *streams[lvl])
	}
	var body bytes.Buffer
	// BestSpeed: a local Loki gains little from denser batches, and the service pays the CPU.
	gz, _ := gzip.NewWriterLevel(&body, gzip.BestSpeed)
	if err := json.NewEncoder(gz).Encode(req); err != nil || gz.Close() != nil {
		s.stats.drop(DropRejected, len(batch), fmt.Errorf("encode push: %w", err))
		return
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = s.opts.MinBackoff, s.opts.MaxBackoff
	_, err := backoff.Retry(s.stop, func() (struct{}, error) {
		return struct{}{}, s.send(body.Bytes())
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(s.opts.MaxRetryTime))
	if err != nil {
		s.stats.drop(dropReason(err), len(batch), err)
		return
	}
	s.stats.sent.Add(float64(len(batch)))
	s.stats.wrote(size)
}

// pushErrorReasons are the reason label's values of log_shipper_push_errors_total.
var pushErrorReasons = []string{"network", "timeout", "status_4xx", "status_429", "status_5xx"}

// pushError is a failed push attempt and its reason (log_shipper_push_errors_total).
type pushError struct {
	reason string
	err    error
}

func (e *pushError) Error() string { return e.err.Error() }
func (e *pushError) Unwrap() error { return e.err }

// dropReason says why a batch was lost from the error that ended its retries.
func dropReason(err error) string {
	var pe *pushError
	if errors.As(err, &pe) {
		switch pe.reason {
		case "status_4xx":
			return DropRejected
		case "status_429":
			return DropRateLimited
		}
	}
	return DropRetriesExhausted
}

// send makes one push request; a 4xx other than 429 is permanent (retrying cannot help).
func (s *lokiSink) send(gzipped []byte) error {
	ctx, cancel := context.WithTimeout(s.stop, s.opts.PushTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.URL+"/loki/api/v1/push", bytes.NewReader(gzipped))
	if err != nil {
		return backoff.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := s.client.Do(req)
	if err != nil {
		reason := "network"
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			reason = "timeout"
		}
		return s.failed(reason, fmt.Errorf("loki push: %w", err))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = fmt.Errorf("loki push: %s: %s", resp.Status, bytes.TrimSpace(msg))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		err = s.failed("status_429", err)
		if secs, convErr := strconv.Atoi(resp.Header.Get("Retry-After")); convErr == nil && secs > 0 {
			return errors.Join(err, backoff.RetryAfter(secs))
		}
		return err
	case resp.StatusCode/100 == 4:
		return backoff.Permanent(s.failed("status_4xx", err))
	default:
		return s.failed("status_5xx", err)
	}
}

// failed counts a failed attempt.
func (s *lokiSink) failed(reason string, err error) error {
	s.stats.pushErrors.WithLabelValues(reason).Inc()
	return &pushError{reason: reason, err: err}
}
