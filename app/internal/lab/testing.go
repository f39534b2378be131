package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Missing skips the test for want of a tool or a server, or fails it when CI is set: CI must
// never pass by skipping.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set, so this fails)", msg)
		return
	}
	t.Skipf("%s (set CI to make this fail)", msg)
}

// Tool returns the absolute path of the executable named by the variable env, else def: a path,
// or a name looked up on the PATH (`make e2e` passes the tools `make tools` built in variables).
// Not found, the test is Missing it; a path that is not an executable file fails it.
func Tool(t testing.TB, env, def string) string {
	t.Helper()
	path := os.Getenv(env)
	switch {
	case path != "":
	case def == "":
		Missing(t, "%s is not set: run this through make (make tools builds the tools)", env)
		return ""
	case !strings.Contains(def, "/"):
		found, err := exec.LookPath(def)
		if err != nil {
			Missing(t, "%s is not on the PATH and %s is not set", def, env)
			return ""
		}
		path = found
	default:
		path = def
	}
	if st, err := os.Stat(path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		t.Fatalf("%s=%s is not an executable file (%v): run `make tools`", env, path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// LogDir is where a test's processes write their output: $env/<test name> when the variable env
// is set (kept after the run), else a temporary directory.
func LogDir(t testing.TB, env string) string {
	t.Helper()
	dir := os.Getenv(env)
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// MustStart starts spec (its log in a temporary directory when spec.Log is empty) and stops it
// when ctx ends or at the test's cleanup, logging the last lines of its output first when the test
// failed.
func MustStart(ctx context.Context, t testing.TB, spec Spec) *Proc {
	t.Helper()
	if spec.Log == "" {
		spec.Log = filepath.Join(t.TempDir(), spec.Name+".log")
	}
	p, err := Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	stopLater(ctx, t, p)
	return p
}

// stopLater stops p when ctx ends or at the test's cleanup, after logging its last lines when the
// test failed.
func stopLater(ctx context.Context, t testing.TB, p *Proc) {
	p.StopOn(ctx)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of %s:\n%s", p.Name, p.Tail(15))
		}
		_ = p.Stop()
	})
}

// MustRun runs spec to its end within limit (Output) and returns its output, failing the test on
// error.
func MustRun(ctx context.Context, t testing.TB, limit time.Duration, spec Spec) string {
	t.Helper()
	out, err := Output(ctx, spec, limit)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// MustWaitHTTP waits until url answers 2xx (WaitHTTP), failing the test when p exits or limit
// passes.
func MustWaitHTTP(t testing.TB, p *Proc, url string, limit time.Duration) {
	t.Helper()
	if err := WaitHTTP(Context(t), p, url, limit); err != nil {
		t.Fatal(err)
	}
}

// MustFreePort is FreePort, failing the test on error.
func MustFreePort(t testing.TB) int {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// MustFreeAddr is FreeAddr, failing the test on error.
func MustFreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// MustServiceBinary is ServiceBinary, failing the test on error. Call RemoveServiceBinary from
// TestMain.
func MustServiceBinary(t testing.TB) string {
	t.Helper()
	bin, err := ServiceBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// MustStartService starts the replica name of s on addr (a free one when empty) and waits until
// it is ready (Service.Start), failing the test on error. The replica stops when ctx ends or at the
// test's cleanup.
func MustStartService(ctx context.Context, t testing.TB, s *Service, name, addr string) *Replica {
	t.Helper()
	r, err := s.Start(ctx, name, addr)
	if err != nil {
		t.Fatal(err)
	}
	stopLater(ctx, t, r.Proc)
	return r
}

// MustRestart runs the stopped replica r again on its address (Replica.Restart), failing the test
// on error; the new process stops when ctx ends or at the test's cleanup.
func MustRestart(ctx context.Context, t testing.TB, r *Replica) {
	t.Helper()
	if err := r.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	stopLater(ctx, t, r.Proc)
}

// WaitFor polls cond until it holds. It has no bound of its own: a loaded machine may make the
// wait long, never make it fail. It fails the test shortly before the test binary's deadline
// (go test -timeout), so a condition that never holds is reported with what was awaited rather
// than as a timeout panic; without a deadline it waits for ever.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	until, bounded := Deadline(t)
	for !cond() {
		if bounded && time.Now().After(until) {
			t.Fatalf("still waiting for %s at the test's deadline", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitClosed waits, as WaitFor does, until ch is closed.
func WaitClosed(t testing.TB, what string, ch <-chan struct{}) {
	t.Helper()
	WaitFor(t, what, func() bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	})
}

// Deadline is when a wait with no bound of its own (WaitFor, Context) gives up: a little before
// the test binary's deadline, leaving time for the failure and the cleanups to be reported. It
// reports false when the test binary has no deadline (go test -timeout 0).
func Deadline(t testing.TB) (time.Time, bool) {
	d, ok := t.(interface{ Deadline() (time.Time, bool) })
	if !ok {
		return time.Time{}, false
	}
	deadline, bounded := d.Deadline()
	if !bounded {
		return time.Time{}, false
	}
	return deadline.Add(-min(30*time.Second, time.Until(deadline)/10)), true
}

// Context is t.Context() ending at Deadline: for a call that takes a context and must not wait
// past the test binary's deadline, without a bound of its own.
func Context(t testing.TB) context.Context {
	ctx := t.Context()
	if until, bounded := Deadline(t); bounded {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, until)
		t.Cleanup(cancel)
	}
	return ctx
}

// MustGather is g.Gather(), failing the test on error: the families to sum with MetricSum.
func MustGather(t testing.TB, g prometheus.Gatherer) []*dto.MetricFamily {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return families
}
