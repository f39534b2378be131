// Package proctest runs the processes of the end-to-end suite and the failure drills: real
// binaries (the service, PostgreSQL, Redis, Loki, k6…), each in a process group of its own (so its
// children stop with it) with its output in a file, stopped at the test's cleanup or killed when
// the test's context ends. It also hands out free local ports and a clean environment, and waits
// for a condition with no bound but the test binary's deadline (WaitFor, Context).
package proctest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DefaultStopTimeout is how long a process may take to exit after it was asked to before it is
// killed, when Spec.StopTimeout is zero.
const DefaultStopTimeout = 10 * time.Second

// Spec says how to run a process.
type Spec struct {
	Name    string   // names the log file (LogDir/Name.log) and the messages
	LogDir  string   // where the log file goes; output is appended, so a restart keeps the first run's lines
	Env     []string // the whole environment (see BaseEnv)
	Bin     string
	Args    []string
	WorkDir string // where the process runs
	// Cred, when set, runs the process as another user (PostgreSQL refuses root).
	Cred *syscall.Credential
	// StopTimeout bounds Stop before SIGKILL (DefaultStopTimeout when zero).
	StopTimeout time.Duration
}

// Proc is a running (or ended) process.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	Log  string // the log file
	// Err is how the process ended; read it only after Done is closed.
	Err error
	// StopSignal is what Stop sends first: SIGTERM (the default) goes to the whole group, any
	// other signal to the process alone (e.g. SIGQUIT, PostgreSQL's immediate shutdown).
	StopSignal  syscall.Signal
	done        chan struct{}
	stopTimeout time.Duration
}

// Start runs spec and registers its stop at cleanup; when the test failed, the last lines of the
// process's output are logged first.
func Start(ctx context.Context, t testing.TB, spec Spec) *Proc {
	t.Helper()
	out, err := os.OpenFile(filepath.Join(spec.LogDir, spec.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proc{Name: spec.Name, Log: out.Name(), StopSignal: syscall.SIGTERM, done: make(chan struct{}),
		stopTimeout: spec.StopTimeout}
	if p.stopTimeout == 0 {
		p.stopTimeout = DefaultStopTimeout
	}
	cmd := exec.CommandContext(ctx, spec.Bin, spec.Args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = spec.WorkDir, spec.Env, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: spec.Cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = p.stopTimeout
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start %s: %v", spec.Name, err)
	}
	p.Cmd = cmd
	go func() {
		p.Err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of %s:\n%s", p.Name, p.Tail(15))
		}
		p.Stop()
	})
	return p
}

// Done is closed when the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends StopSignal, and SIGKILL to the group when the process has not exited in time.
func (p *Proc) Stop() {
	if p.Exited() {
		return
	}
	if p.StopSignal == syscall.SIGTERM {
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGTERM)
	} else {
		_ = syscall.Kill(p.Cmd.Process.Pid, p.StopSignal)
	}
	select {
	case <-p.done:
	case <-time.After(p.stopTimeout):
		p.Kill()
	}
}

// Kill sends SIGKILL to the process group, as a crash would, and waits for the process to end.
func (p *Proc) Kill() {
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Tail returns the last n lines of the process's output.
func (p *Proc) Tail(n int) string {
	raw, err := os.ReadFile(p.Log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// WaitHTTP polls url until it answers 200, failing the test when p exits or limit passes.
func WaitHTTP(t testing.TB, p *Proc, url string, limit time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(limit)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = errors.New(resp.Status)
		}
		if p.Exited() {
			t.Fatalf("%s exited during start-up (%v):\n%s", p.Name, p.Err, p.Tail(20))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready at %s within %s (%v):\n%s", p.Name, url, limit, err, p.Tail(20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Run runs a short command to completion within limit and returns its combined output.
// spec.Name, spec.LogDir and spec.StopTimeout are not used.
func Run(ctx context.Context, limit time.Duration, spec Spec) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, spec.Bin, spec.Args...)
	cmd.Dir, cmd.Env = spec.WorkDir, spec.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: spec.Cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w", filepath.Base(spec.Bin), strings.Join(spec.Args, " "), err)
	}
	return string(out), nil
}

// ports remembers the ports handed out, so none is handed out twice in one test binary.
var ports = struct {
	sync.Mutex
	taken map[int]bool
}{taken: map[int]bool{}}

// FreePort returns a 127.0.0.1 port nothing listens on, never the same twice. Ports are taken
// below the ephemeral range, so outgoing connections (k6 makes many) cannot take one between
// choosing and listening.
func FreePort(t testing.TB) int {
	t.Helper()
	ports.Lock()
	defer ports.Unlock()
	for range 200 {
		port := 20000 + rand.IntN(12000)
		if ports.taken[port] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		l.Close()
		ports.taken[port] = true
		return port
	}
	t.Fatal("no free port")
	return 0
}

// FreeAddr returns 127.0.0.1:port for a FreePort.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", FreePort(t))
}

// BaseEnv is the environment every process starts from: nothing of the caller's but PATH and
// HOME, so a developer's or CI's variables cannot change what the processes do.
func BaseEnv(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extra...)
}

// Tool returns the absolute path of the executable named by the variable env (def when it is
// unset), as `make e2e` passes the tools `make tools` built. Unset with no default, the test
// skips, or fails when CI is set; a path that is not an executable file fails it.
func Tool(t testing.TB, env, def string) string {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		path = def
	}
	if path == "" {
		msg := env + " is not set: run this through `make e2e` (make tools builds the tools)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI is set, so this fails)")
		}
		t.Skip(msg)
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

// serviceBin is the product-service binary, built once per test binary.
var serviceBin struct {
	once sync.Once
	dir  string
	path string
	out  string
	err  error
}

// ServiceBinary builds ./app/cmd/product-service as users build it (static, -trimpath), once per
// test binary, into a temporary directory that RemoveServiceBinary deletes (call it from
// TestMain). Every package builds it with the same flags, so after the first build the others
// only link: the Go build cache holds the compiled packages. The build is bounded by no test's
// context: on a busy machine the first one takes minutes.
func ServiceBinary(t testing.TB) string {
	t.Helper()
	serviceBin.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			serviceBin.err = err
			return
		}
		if serviceBin.dir, serviceBin.err = os.MkdirTemp("", "product-service-bin-"); serviceBin.err != nil {
			return
		}
		serviceBin.path = filepath.Join(serviceBin.dir, "product-service")
		goTool := os.Getenv("GO")
		if goTool == "" {
			goTool = "go"
		}
		serviceBin.out, serviceBin.err = Run(context.Background(), time.Hour, Spec{
			Env: append(os.Environ(), "CGO_ENABLED=0"), Bin: goTool, WorkDir: root,
			Args: []string{"build", "-trimpath", "-o", serviceBin.path, "./app/cmd/product-service"},
		})
	})
	if serviceBin.err != nil {
		t.Fatalf("go build ./app/cmd/product-service: %v\n%s", serviceBin.err, serviceBin.out)
	}
	return serviceBin.path
}

// RemoveServiceBinary deletes what ServiceBinary built.
func RemoveServiceBinary() {
	if serviceBin.dir != "" {
		_ = os.RemoveAll(serviceBin.dir)
	}
}

// moduleRoot is the directory of the go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root: no go.mod above the working directory")
		}
		dir = parent
	}
}
