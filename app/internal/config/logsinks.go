package config

import "time"

// LogSinks holds the log pipeline's bounds: each sink (stdout, the log file, Loki) has a queue
// of its own, and the Loki shipper's batching and retries.
type LogSinks struct {
	// StdoutQueue (LOG_STDOUT_QUEUE_LINES) and FileQueue (LOG_FILE_QUEUE_LINES) bound the lines
	// waiting for stdout and the log file; past it a line is dropped and counted.
	StdoutQueue, FileQueue int
	// LokiQueue (LOKI_QUEUE_LINES) bounds the lines waiting to be shipped to Loki.
	LokiQueue int
	// LokiBatchBytes (LOKI_BATCH_BYTES) and LokiBatchWait (LOKI_BATCH_WAIT) bound a batch: it is
	// sent when either is reached.
	LokiBatchBytes int
	LokiBatchWait  time.Duration
	// LokiMinBackoff and LokiMaxBackoff (LOKI_RETRY_MIN_BACKOFF, LOKI_RETRY_MAX_BACKOFF) bound the
	// wait between two attempts of a batch; LokiMaxRetryTime (LOKI_RETRY_MAX_TIME) bounds all
	// the attempts of one batch before its lines are dropped.
	LokiMinBackoff, LokiMaxBackoff, LokiMaxRetryTime time.Duration
	// LokiPushTimeout (LOKI_PUSH_TIMEOUT) bounds one push request.
	LokiPushTimeout time.Duration
}

func (r *reader) logSinks() LogSinks {
	s := LogSinks{
		StdoutQueue:      r.integer("LOG_STDOUT_QUEUE_LINES", 10_000, 1, 10_000_000),
		FileQueue:        r.integer("LOG_FILE_QUEUE_LINES", 10_000, 1, 10_000_000),
		LokiQueue:        r.integer("LOKI_QUEUE_LINES", 10_000, 1, 10_000_000),
		LokiBatchBytes:   r.integer("LOKI_BATCH_BYTES", 1<<20, 1<<10, 64<<20),
		LokiBatchWait:    r.duration("LOKI_BATCH_WAIT", time.Second, time.Millisecond),
		LokiMinBackoff:   r.duration("LOKI_RETRY_MIN_BACKOFF", 500*time.Millisecond, time.Millisecond),
		LokiMaxBackoff:   r.duration("LOKI_RETRY_MAX_BACKOFF", 5*time.Second, time.Millisecond),
		LokiMaxRetryTime: r.duration("LOKI_RETRY_MAX_TIME", 30*time.Second, time.Millisecond),
		LokiPushTimeout:  r.duration("LOKI_PUSH_TIMEOUT", 10*time.Second, time.Millisecond),
	}
	if s.LokiMaxBackoff < s.LokiMinBackoff {
		r.fail("LOKI_RETRY_MAX_BACKOFF", "must not be below LOKI_RETRY_MIN_BACKOFF (%s)", s.LokiMinBackoff)
	}
	return s
}
