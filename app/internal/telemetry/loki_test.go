package telemetry

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// fakeLoki records pushes; failFirst makes the first n pushes answer 500.
type fakeLoki struct {
	mu        sync.Mutex
	streams   []pushStream
	pushes    atomic.Int64
	failFirst int64
}

func (f *fakeLoki) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/loki/api/v1/push" || r.Header.Get("Content-Encoding") != "gzip" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if f.pushes.Add(1) <= f.failFirst {
		http.Error(w, "try later", http.StatusInternalServerError)
		return
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req pushRequest
	if err := json.NewDecoder(zr).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.streams = append(f.streams, req.Streams...)
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeLoki) lines() (n int, labels []map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.streams {
		n += len(s.Values)
		labels = append(labels, s.Stream)
	}
	return n, labels
}

// newShipperLogger is a logger whose only queued sink is Loki at url (stdout is discarded).
func newShipperLogger(t *testing.T, url string, opts LokiOptions, stderr io.Writer) (*logrus.Logger, *Output, *prometheus.Registry) {
	t.Helper()
	opts.URL = url
	if opts.Labels == nil {
		opts.Labels = map[string]string{"app": AppName, "env": "test"}
	}
	log, out, err := NewLogger(io.Discard, LogOptions{Level: "info", Env: "test", Stderr: stderr, ReportEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := out.Register(reg); err != nil {
		t.Fatal(err)
	}
	out.AddLoki(opts)
	return log, out, reg
}

// dropped is log_lines_dropped_total{sink,reason}.
func dropped(out *Output, sink, reason string) float64 {
	return testutil.ToFloat64(out.metrics.dropped.WithLabelValues(sink, reason))
}

func TestLokiShipperBatchesByLevelAndFlushesOnClose(t *testing.T) {
	loki := &fakeLoki{failFirst: 1} // the first push fails: the batch is retried
	srv := httptest.NewServer(loki)
	defer srv.Close()
	log, ship, reg := newShipperLogger(t, srv.URL, LokiOptions{BatchWait: 50 * time.Millisecond, MinBackoff: time.Millisecond}, io.Discard)
	for i := range 100 {
		log.WithField("i", i).WithField("password", "hunter2").Info("hello")
	}
	log.Warn("careful")
	log.Error("broken")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ship.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	log.Info("after close") // must not panic; counted as dropped
	if got := dropped(ship, SinkLoki, DropClosed); got != 1 {
		t.Errorf("a line written after Close: dropped = %v, want 1", got)
	}
	n, labels := loki.lines()
	if n != 102 {
		t.Fatalf("Loki received %d lines, want 102", n)
	}
	for _, l := range labels {
		if len(l) != 3 || l["app"] != AppName || l["env"] != "test" || l["level"] == "" {
			t.Errorf("stream labels %v: want exactly app, env, level", l)
		}
	}
	loki.mu.Lock()
	for _, s := range loki.streams {
		for _, v := range s.Values {
			if !json.Valid([]byte(v[1])) || strings.Contains(v[1], "hunter2") {
				t.Errorf("line %q: want masked JSON", v[1])
			}
		}
	}
	loki.mu.Unlock()
	if got := testutil.ToFloat64(ship.metrics.sent); got != 102 {
		t.Errorf("log_shipper_sent_total = %v", got)
	}
	if got := testutil.ToFloat64(ship.metrics.pushErrors.WithLabelValues("status_5xx")); got != 1 {
		t.Errorf("log_shipper_push_errors_total{reason=status_5xx} = %v, want 1", got)
	}
	if n, _ := testutil.GatherAndCount(reg, "log_lines_dropped_total"); n != 2*len(dropReasons) {
		t.Errorf("log_lines_dropped_total has %d series, want every reason of stdout and loki", n)
	}
}

// TestLokiShipperNeverBlocksAndCountsDrops: with Loki stuck (it takes a push and never answers
// until the test releases it), the shipper's sender holds one batch and its queue fills; every
// later line is dropped and counted at once instead of waiting. Counts, not timings, prove it: a
// Write that blocked would never return, and the test would fail at its deadline saying so.
func TestLokiShipperNeverBlocksAndCountsDrops(t *testing.T) {
	const queue, flood = 10, 5000
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		once.Do(func() { close(arrived) })
		<-release
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	released := sync.OnceFunc(func() { close(release) })
	defer released() // before srv.Close: a stuck handler would hold it
	// Retries outlast the test, so the stuck batch is neither dropped nor resent meanwhile.
	log, ship, _ := newShipperLogger(t, srv.URL, LokiOptions{QueueLines: queue, BatchWait: time.Millisecond, MaxRetryTime: time.Hour}, io.Discard)

	log.Info("first")
	<-arrived // the sender is inside its push, stuck: nothing leaves the queue from here on

	var returned atomic.Int64
	go func() {
		for range flood {
			log.Info("flood")
			returned.Add(1)
		}
	}()
	lab.WaitFor(t, "5,000 writes to return while Loki is stuck (a Write blocks)", func() bool { return returned.Load() == flood })
	if dropped := dropped(ship, SinkLoki, DropQueueFull); dropped != flood-queue {
		t.Errorf("dropped %v lines while Loki was stuck, want %d: all but the queue's %d", dropped, flood-queue, queue)
	}

	released()
	if err := ship.Shutdown(lab.Context(t)); err != nil {
		t.Fatal(err)
	}
	if sent := testutil.ToFloat64(ship.metrics.sent); sent != 1+queue {
		t.Errorf("sent %v lines once Loki answered, want %d: the stuck one and the queued ones", sent, 1+queue)
	}
}
