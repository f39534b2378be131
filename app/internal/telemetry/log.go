// Package telemetry sets up what the service reports about itself: structured JSON logs today,
// metrics and traces as they are added. It imports nothing of the service's own.
package telemetry

import (
	"fmt"
	"io"
	"time"

	"github.com/sirupsen/logrus"
)

// AppName labels every log line and, later, every metric and trace of the service.
const AppName = "product-service"

// NewLogger returns a JSON logger writing to w at the given level, with the app and env fields
// on every line.
func NewLogger(w io.Writer, level, env string) (*logrus.Entry, error) {
	lvl, err := logrus.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	l := logrus.New()
	l.SetOutput(w)
	l.SetLevel(lvl)
	l.SetFormatter(&logrus.JSONFormatter{
		TimestampFormat: time.RFC3339Nano,
		FieldMap:        logrus.FieldMap{logrus.FieldKeyTime: "ts"},
	})
	return l.WithFields(logrus.Fields{"app": AppName, "env": env}), nil
}
