package profiling_test

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/profiling"
)

// upload is one push the fake ingester received: the query (name, spyName, units…) and the
// parsed pprof profile.
type upload struct {
	name    string
	profile *profile.Profile
}

// ingester stands in for Pyroscope's push endpoint (POST /ingest, multipart with a "profile"
// part), the one route the SDK calls. It keeps what it received.
type ingester struct {
	t       *testing.T
	mu      sync.Mutex
	uploads []upload
}

func newIngester(t *testing.T) (*ingester, string) {
	in := &ingester{t: t}
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	return in, srv.URL
}

func (in *ingester) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/ingest" {
		in.t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		in.t.Errorf("content type %q: %v", r.Header.Get("Content-Type"), err)
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			in.t.Errorf("multipart: %v", err)
			return
		}
		if part.FormName() != "profile" {
			continue
		}
		p, err := profile.Parse(part)
		if err != nil {
			in.t.Errorf("profile of %s: %v", r.URL.Query().Get("name"), err)
			return
		}
		in.mu.Lock()
		in.uploads = append(in.uploads, upload{name: r.URL.Query().Get("name"), profile: p})
		in.mu.Unlock()
	}
}

// received returns the uploads so far.
func (in *ingester) received() []upload {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.uploads)
}

func TestIdleWithoutURL(t *testing.T) {
	p, err := profiling.Start(profiling.Options{AppName: "product-service"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Enabled() {
		t.Error("Enabled() with no URL")
	}
	tp := noop.NewTracerProvider()
	if got := p.Trace(tp); got != trace.TracerProvider(tp) {
		t.Errorf("Trace wrapped the provider of an idle profiler: %T", got)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func TestStartRejectsABadTag(t *testing.T) {
	_, err := profiling.Start(profiling.Options{URL: "http://127.0.0.1:1", AppName: "product-service",
		Tags: map[string]string{"not a label": "x"}})
	if err == nil || !strings.Contains(err.Error(), "pyroscope") {
		t.Fatalf("Start with tag %q: err = %v, want a wrapped pyroscope error", "not a label", err)
	}
}

// TestSpansLabelProfiles: a span started through the wrapped provider puts its span id in the
// goroutine's pprof labels and marks itself as having a profile, so Grafana can go from the span
// to the samples taken while it ran.
func TestSpansLabelProfiles(t *testing.T) {
	_, url := newIngester(t)
	p := start(t, url, time.Minute)
	rec := tracetest.NewSpanRecorder()
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })

	ctx, span := p.Trace(sdk).Tracer("test").Start(context.Background(), "GET /api/v1/products/:id")
	_, child := p.Trace(sdk).Tracer("test").Start(ctx, "cache.lookup")
	child.End()
	span.End()

	spanID := span.SpanContext().SpanID().String()
	if got, _ := pprof.Label(ctx, "span_id"); got != spanID {
		t.Errorf("pprof label span_id = %q, want the span's id %s", got, spanID)
	}
	if got, _ := pprof.Label(ctx, "span_name"); got != "GET /api/v1/products/:id" {
		t.Errorf("pprof label span_name = %q, want the root span's name", got)
	}
	ended := rec.Ended()
	if len(ended) != 2 {
		t.Fatalf("recorded %d spans, want 2", len(ended))
	}
	for _, s := range ended {
		var profiled bool
		for _, a := range s.Attributes() {
			profiled = profiled || (a.Key == "pyroscope.profile.id" && a.Value.AsString() == spanID)
		}
		// Only the local root carries the id: its children's samples are in its profile.
		if want := s.Name() != "cache.lookup"; profiled != want {
			t.Errorf("span %s: pyroscope.profile.id set = %v, want %v", s.Name(), profiled, want)
		}
	}
}

// TestPushesLabelledProfiles runs the SDK against a fake ingester: Stop flushes CPU, heap and
// goroutine profiles, named after the application with its tags, and the CPU samples taken inside
// a span carry its span id.
func TestPushesLabelledProfiles(t *testing.T) {
	in, url := newIngester(t)
	p := start(t, url, time.Minute)
	sdk := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })

	ctx, span := p.Trace(sdk).Tracer("test").Start(context.Background(), "busy")
	spanID := span.SpanContext().SpanID().String()
	burn(ctx, 500*time.Millisecond)
	span.End()
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}

	kinds := map[string]bool{}
	var labelled int64
	for _, u := range in.received() {
		if !strings.HasPrefix(u.name, "product-service{") || !strings.Contains(u.name, "env=test") ||
			!strings.Contains(u.name, "version=v1.2.3") {
			t.Errorf("upload named %q, want product-service{…env=test…version=v1.2.3…}", u.name)
		}
		for _, st := range u.profile.SampleType {
			kinds[st.Type] = true
		}
		if u.profile.SampleType[len(u.profile.SampleType)-1].Type != "cpu" {
			continue
		}
		for _, s := range u.profile.Sample {
			if slices.Contains(s.Label["span_id"], spanID) {
				labelled += s.Value[len(s.Value)-1]
			}
		}
	}
	for _, want := range []string{"cpu", "alloc_objects", "alloc_space", "inuse_objects", "inuse_space", "goroutine"} {
		if !kinds[want] {
			t.Errorf("no %s profile pushed; sample types seen: %v", want, kinds)
		}
	}
	if labelled == 0 {
		t.Errorf("no CPU sample labelled span_id=%s after 500ms of work inside the span", spanID)
	}
	t.Logf("%d uploads; CPU time labelled with the span: %s", len(in.received()), time.Duration(labelled))
}

// TestStopHonoursItsDeadline: a server that never answers cannot hold shutdown beyond the
// caller's context. The context ends once the flush's upload is stuck at the server; a Stop that
// ignored it would never return, and the test would fail at its deadline saying so.
func TestStopHonoursItsDeadline(t *testing.T) {
	arrived, blocked := make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		once.Do(func() { close(arrived) })
		<-blocked
	}))
	t.Cleanup(srv.Close)
	p := start(t, srv.URL, time.Minute)
	t.Cleanup(func() { close(blocked) }) // first: lets the session end
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stopped atomic.Pointer[error]
	go func() {
		err := p.Stop(ctx)
		stopped.Store(&err)
	}()
	lab.WaitClosed(t, "the flush to reach the server", arrived)
	if stopped.Load() != nil {
		t.Fatal("Stop returned while its upload was still waiting for the server")
	}
	cancel()
	lab.WaitFor(t, "Stop to return once its context ended", func() bool { return stopped.Load() != nil })
	if err := *stopped.Load(); !errors.Is(err, context.Canceled) {
		t.Errorf("Stop = %v, want the context's error while the server never answered", err)
	}
}

// start begins a session against url with a quiet logger.
func start(t *testing.T, url string, rate time.Duration) *profiling.Profiler {
	t.Helper()
	log, _ := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	p, err := profiling.Start(profiling.Options{URL: url, AppName: "product-service", UploadRate: rate,
		Tags: map[string]string{"env": "test", "version": "v1.2.3"}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	// One CPU profile at a time per process: each test ends its session.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Stop(ctx)
	})
	return p
}

// burn keeps a CPU busy for d with ctx's pprof labels on the goroutine.
func burn(ctx context.Context, d time.Duration) {
	pprof.Do(ctx, pprof.Labels(), func(context.Context) {
		x := 0
		for end := time.Now().Add(d); time.Now().Before(end); {
			for i := range 10_000 {
				x ^= i * i
			}
		}
		_ = x
	})
}
