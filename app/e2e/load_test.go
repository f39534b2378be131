//go:build e2e

package e2e

import (
	"context"
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// k6Run is k6 running observability/e2e/load.js in the background, writing its metrics to
// Prometheus (experimental-prometheus-rw) as the load-test dashboard expects them.
type k6Run struct {
	proc *lab.Proc
	api  string
}

// startK6 starts the load against bases (base URLs, spread by VU and iteration). It runs until
// stop (or at most maxDuration).
func startK6(ctx context.Context, t *testing.T, logs string, a addrs, bases []string, hot []int64, maxDuration time.Duration) *k6Run {
	t.Helper()
	var hotIDs []string
	for _, id := range hot {
		hotIDs = append(hotIDs, strconv.FormatInt(id, 10))
	}
	k6 := lab.K6{Bin: lab.Tool(t, "K6_BIN", ""), Script: "observability/e2e/load.js", Dir: repoRoot,
		Log: filepath.Join(logs, "k6.log"),
		Env: []string{
			"K6_PROMETHEUS_RW_SERVER_URL=http://" + a.prometheus + "/api/v1/write",
			"K6_PROMETHEUS_RW_TREND_STATS=p(95),p(99),avg,max",
			"K6_PROMETHEUS_RW_PUSH_INTERVAL=5s",
		},
		Args: []string{"--address", a.k6API, "-o", "experimental-prometheus-rw", "--tag", "testid=e2e",
			"-e", "BASE_URLS=" + strings.Join(bases, ","), "-e", "DURATION=" + maxDuration.String(),
			"-e", "HOT_IDS=" + strings.Join(hotIDs, ","), "-e", "COLD_MAX=" + strconv.Itoa(coldMax), "-e", "RATE=20"},
	}
	p := lab.MustStart(ctx, t, k6.Spec())
	return &k6Run{proc: p, api: "http://" + a.k6API}
}

// stop ends the test run through k6's REST API, which lets k6 flush its last samples to
// Prometheus, and waits for k6 to exit.
func (k *k6Run) stop(t *testing.T) {
	t.Helper()
	if !k.proc.Exited() {
		body := `{"data":{"type":"status","id":"default","attributes":{"stopped":true}}}`
		req, _ := http.NewRequest(http.MethodPatch, k.api+"/v1/status", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if resp, err := client.Do(req); err != nil {
			t.Errorf("stop k6: %v", err)
		} else {
			resp.Body.Close()
		}
	}
	select {
	case <-k.proc.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("k6 did not stop:\n%s", k.proc.Tail(20))
	}
	// 103: stopped through the REST API, as asked.
	var exit *exec.ExitError
	if k.proc.Err() != nil && !(errors.As(k.proc.Err(), &exit) && exit.ExitCode() == 103) {
		t.Fatalf("k6: %v\n%s", k.proc.Err(), k.proc.Tail(30))
	}
}
