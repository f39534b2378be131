package profiling_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// module prefixes the functions of this repository in a profile.
const module = "github.com/product-service-lab/product-service/"

// TestServiceProfiles runs the real binary against a fresh database under a little read load,
// twice: Go allows one CPU profile at a time, and with PYROSCOPE_URL set the SDK holds it.
//   - with PPROF_ADDR: a 2 s CPU profile from /debug/pprof/profile, as `make profile` captures it,
//     parses and has samples and this module's functions;
//   - with PYROSCOPE_URL (a fake ingester) and traces on (a sink): after SIGTERM the pushed CPU
//     profiles carry the requests' span ids, which is what links a trace to its flame graph.
func TestServiceProfiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service")
	}
	db := testdb.New(t)
	redisAddr := testdb.RedisAddr(t)
	base := lab.Service{Bin: lab.MustServiceBinary(t), LogDir: t.TempDir(), Env: []string{"DATABASE_URL=" + db.URL,
		"REDIS_ADDR=" + redisAddr, "APP_ENV=test", "LOG_LEVEL=warn", "CACHE_PRESET=none",
		fmt.Sprintf("CACHE_NAMESPACE=profiling-%d", os.Getpid())}}
	if err := base.Prepare(lab.Context(t), db.URL, 200); err != nil {
		t.Fatal(err)
	}
	// with is the service with more variables.
	with := func(env ...string) *lab.Service {
		s := base
		s.Env = append(slices.Clone(base.Env), env...)
		return &s
	}

	t.Run("pprof CPU profile", func(t *testing.T) {
		pprofAddr := lab.MustFreeAddr(t)
		svc := lab.MustStartService(lab.Context(t), t, with("PPROF_ADDR="+pprofAddr), "pprof", "")
		ctx, stopLoad := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() { load(ctx, svc.Base, w) })
		}
		resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/profile?seconds=2")
		stopLoad()
		wg.Wait()
		if err != nil {
			t.Fatalf("capture CPU profile: %v", err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("capture CPU profile: status %d, %v: %s", resp.StatusCode, err, raw)
		}
		p, err := profile.Parse(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("parse the captured profile: %v", err)
		}
		if len(p.Sample) == 0 {
			t.Fatal("the captured CPU profile has no samples")
		}
		top := topFunctions(p, module)
		if len(top) == 0 {
			t.Fatalf("no function of %s in the captured profile", module)
		}
		t.Logf("captured %d samples over %s; this module's top functions (cumulative samples): %s",
			len(p.Sample), time.Duration(p.DurationNanos), strings.Join(top[:min(5, len(top))], ", "))
		stop(t, svc)
	})

	t.Run("pushed profiles carry span ids", func(t *testing.T) {
		in, ingestURL := newIngester(t)
		spans := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // OTLP/HTTP: accept and drop
		}))
		t.Cleanup(spans.Close)
		svc := lab.MustStartService(lab.Context(t), t, with("PYROSCOPE_URL="+ingestURL, "PYROSCOPE_UPLOAD_RATE=1s",
			"OTEL_EXPORTER_OTLP_ENDPOINT="+spans.URL), "pyroscope", "")
		ctx, stopLoad := context.WithTimeout(context.Background(), 2*time.Second)
		defer stopLoad()
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() { load(ctx, svc.Base, w) })
		}
		wg.Wait()
		stop(t, svc) // flushes the last profiles

		var cpu, labelled int
		for _, u := range in.received() {
			if u.profile.SampleType[len(u.profile.SampleType)-1].Type != "cpu" {
				continue
			}
			if !strings.HasPrefix(u.name, "product-service{") || !strings.Contains(u.name, "env=test") {
				t.Errorf("CPU profile pushed as %q, want product-service{…env=test…}", u.name)
			}
			cpu++
			for _, s := range u.profile.Sample {
				if len(s.Label["span_id"]) > 0 {
					labelled++
				}
			}
		}
		if cpu == 0 {
			t.Fatalf("the service pushed no CPU profile to PYROSCOPE_URL\n%s", svc.Tail(50))
		}
		if labelled == 0 {
			t.Error("no pushed CPU sample carries a span_id label: traces would not lead to profiles")
		}
		t.Logf("pushed: %d CPU profiles, %d samples labelled with a span id", cpu, labelled)
	})
}

// stop sends SIGTERM and expects a clean exit.
func stop(t *testing.T, svc *lab.Replica) {
	t.Helper()
	if err := svc.Stop(); err != nil || svc.Err() != nil {
		t.Fatalf("serve did not exit cleanly on SIGTERM: %v, %v\n%s", err, svc.Err(), svc.Tail(50))
	}
}

// load reads products 1..200 in a loop until ctx ends.
func load(ctx context.Context, base string, worker int) {
	client := &http.Client{Timeout: 5 * time.Second}
	for i := worker; ctx.Err() == nil; i++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/v1/products/%d", base, i%200+1), nil)
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// topFunctions lists the functions whose name starts with prefix, by cumulative samples (a
// function counted once per sample however often it recurs).
func topFunctions(p *profile.Profile, prefix string) []string {
	cum := map[string]int64{}
	for _, s := range p.Sample {
		seen := map[string]bool{}
		for _, loc := range s.Location {
			for _, line := range loc.Line {
				if name := line.Function.Name; strings.HasPrefix(name, prefix) && !seen[name] {
					seen[name] = true
					cum[name] += s.Value[0]
				}
			}
		}
	}
	names := slices.Collect(maps.Keys(cum))
	sort.Slice(names, func(i, j int) bool { return cum[names[i]] > cum[names[j]] })
	for i, n := range names {
		names[i] = fmt.Sprintf("%s (%d)", strings.TrimPrefix(n, prefix), cum[n])
	}
	return names
}

func TestMain(m *testing.M) {
	code := m.Run()
	lab.RemoveServiceBinary()
	os.Exit(code)
}
