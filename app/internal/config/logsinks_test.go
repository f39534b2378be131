package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/product-service-lab/product-service/app/internal/config"
)

// defaultLogSinks are the log pipeline's bounds of an empty environment.
var defaultLogSinks = config.LogSinks{
	StdoutQueue: 10_000, FileQueue: 10_000, LokiQueue: 10_000, LokiBatchBytes: 1 << 20, LokiBatchWait: time.Second,
	LokiMinBackoff: 500 * time.Millisecond, LokiMaxBackoff: 5 * time.Second, LokiMaxRetryTime: 30 * time.Second,
	LokiPushTimeout: 10 * time.Second,
}

func TestLoadLogSinks(t *testing.T) {
	cfg, err := config.Load(env(map[string]string{
		"LOG_STDOUT_QUEUE_LINES": "100", "LOG_FILE_QUEUE_LINES": "200", "LOKI_QUEUE_LINES": "300",
		"LOKI_BATCH_BYTES": "65536", "LOKI_BATCH_WAIT": "250ms", "LOKI_RETRY_MIN_BACKOFF": "100ms",
		"LOKI_RETRY_MAX_BACKOFF": "2s", "LOKI_RETRY_MAX_TIME": "1m", "LOKI_PUSH_TIMEOUT": "3s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := config.LogSinks{
		StdoutQueue: 100, FileQueue: 200, LokiQueue: 300, LokiBatchBytes: 65536, LokiBatchWait: 250 * time.Millisecond,
		LokiMinBackoff: 100 * time.Millisecond, LokiMaxBackoff: 2 * time.Second, LokiMaxRetryTime: time.Minute,
		LokiPushTimeout: 3 * time.Second,
	}
	if diff := cmp.Diff(want, cfg.LogSinks); diff != "" {
		t.Errorf("log sinks (-want +got):\n%s", diff)
	}
}

func TestLoadLogSinksRejectsBadValues(t *testing.T) {
	tests := []struct {
		env  map[string]string
		name string // the variable the error must name
	}{
		{map[string]string{"LOG_STDOUT_QUEUE_LINES": "0"}, "LOG_STDOUT_QUEUE_LINES"},
		{map[string]string{"LOG_FILE_QUEUE_LINES": "many"}, "LOG_FILE_QUEUE_LINES"},
		{map[string]string{"LOKI_QUEUE_LINES": "-5"}, "LOKI_QUEUE_LINES"},
		{map[string]string{"LOKI_BATCH_BYTES": "10"}, "LOKI_BATCH_BYTES"},
		{map[string]string{"LOKI_BATCH_WAIT": "1"}, "LOKI_BATCH_WAIT"},
		{map[string]string{"LOKI_RETRY_MAX_TIME": "soon"}, "LOKI_RETRY_MAX_TIME"},
		{map[string]string{"LOKI_PUSH_TIMEOUT": "0s"}, "LOKI_PUSH_TIMEOUT"},
		{map[string]string{"LOKI_RETRY_MIN_BACKOFF": "10s", "LOKI_RETRY_MAX_BACKOFF": "1s"}, "LOKI_RETRY_MAX_BACKOFF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.name) {
				t.Errorf("Load(%v) = %v, want an error naming %s", tt.env, err, tt.name)
			}
		})
	}
}
