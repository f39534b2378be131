// Package telemetry sets up what the service reports about itself: JSON logs (masked, with trace
// ids, to stdout and optionally a rotated file and Loki), build and Redis pool metrics, and
// OpenTelemetry tracing. It imports nothing of the service's own.
package telemetry

import (
	"io"

	"github.com/sirupsen/logrus"
	"gopkg.in/natefinch/lumberjack.v2"
)

// AppName labels every log line, metric and trace of the service.
const AppName = "product-service"

// LogOptions configure the logger.
type LogOptions struct {
	Level string
	Env   string
	// File, when set, also writes lines to this file, rotated by size and age.
	File FileOptions
}

// FileOptions configure the optional log file.
type FileOptions struct {
	Path       string
	MaxSizeMB  int
	MaxAgeDays int
	MaxBackups int
	Compress   bool
}

// NewLogger returns a JSON logger writing to w (and to the log file, when configured), with app
// and env on every line, sensitive fields masked, and trace ids added from the entry's context.
// The returned io.Closer closes the log file.
func NewLogger(w io.Writer, opts LogOptions) (*logrus.Logger, io.Closer, error) {
	lvl, err := logrus.ParseLevel(opts.Level)
	if err != nil {
		return nil, nil, err
	}
	l := logrus.New()
	l.SetLevel(lvl)
	l.SetFormatter(Formatter(opts.Env))
	l.AddHook(traceHook{})
	var closer io.Closer = nopCloser{}
	if opts.File.Path != "" {
		f := &lumberjack.Logger{
			Filename: opts.File.Path, MaxSize: opts.File.MaxSizeMB, MaxAge: opts.File.MaxAgeDays,
			MaxBackups: opts.File.MaxBackups, Compress: opts.File.Compress,
		}
		w = io.MultiWriter(w, f)
		closer = f
	}
	l.SetOutput(w)
	return l, closer, nil
}

// Formatter is the JSON formatter of every line: stable field names, secrets masked, app and env
// set (see jsonFormatter).
func Formatter(env string) logrus.Formatter {
	return jsonFormatter{env: env}
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
