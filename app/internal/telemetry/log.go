// Package telemetry sets up what the service reports about itself: JSON logs (masked, with trace
// ids, to stdout and optionally a rotated file and Loki), build and Redis pool metrics, and
// OpenTelemetry tracing. It imports nothing of the service's own.
package telemetry

import (
	"io"
	"os"
	"time"

	"github.com/sirupsen/logrus"
)

// AppName labels every log line, metric and trace of the service.
const AppName = "product-service"

// LogOptions configure the logger.
type LogOptions struct {
	Level string
	Env   string
	// QueueLines bounds stdout's queue; 0 writes stdout on the caller's goroutine (tests and
	// tools that read the output at once).
	QueueLines int
	// File, when set, also writes lines to this file, rotated by size and age.
	File FileOptions
	// Stderr receives the rate-limited lines that say a sink is losing lines (os.Stderr when
	// nil), at most one per sink per ReportEvery (10 s when 0).
	Stderr      io.Writer
	ReportEvery time.Duration
	// FlushTimeout bounds Close's wait for the sinks to write what they hold (5 s when 0).
	FlushTimeout time.Duration
}

// FileOptions configure the optional log file.
type FileOptions struct {
	Path       string
	MaxSizeMB  int
	MaxAgeDays int
	MaxBackups int
	Compress   bool
	// QueueLines bounds the file's queue; 0 writes it on the caller's goroutine.
	QueueLines int
	// CheckEvery is how often, at most, the sink checks that the path still names the file it
	// writes (deleted, moved, truncated); 1 s when 0.
	CheckEvery time.Duration
}

// NewLogger returns a JSON logger writing to w (stdout) and to the log file, when configured,
// each a sink of the returned Output (AddLoki adds Loki), with app and env on every line,
// sensitive fields masked, and trace ids added from the entry's context. Close the Output last:
// it flushes every sink, within a bound.
func NewLogger(w io.Writer, opts LogOptions) (*logrus.Logger, *Output, error) {
	lvl, err := logrus.ParseLevel(opts.Level)
	if err != nil {
		return nil, nil, err
	}
	l := logrus.New()
	l.SetLevel(lvl)
	l.SetFormatter(Formatter(opts.Env))
	l.AddHook(traceHook{})
	out := newOutput(newPipelineMetrics(), opts.Stderr, opts.ReportEvery, opts.FlushTimeout)
	stdout := streamSink{w: w, stats: out.stats(SinkStdout)}
	out.addSink(stdout.stats, opts.QueueLines, stdout.write, stdout.run, nil)
	if opts.File.Path != "" {
		f := newFileSink(opts.File, out.stats(SinkFile))
		out.addSink(f.stats, opts.File.QueueLines, f.write, drain(f.write), f.close)
	}
	l.SetOutput(out)
	l.ExitFunc = func(code int) { // Fatal: the line that says why reaches the sinks first
		_ = out.Close()
		os.Exit(code)
	}
	return l, out, nil
}

// Formatter is the JSON formatter of every line: stable field names, secrets masked, app and env
// set (see jsonFormatter).
func Formatter(env string) logrus.Formatter {
	return jsonFormatter{env: env}
}
