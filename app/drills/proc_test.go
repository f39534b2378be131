package drills

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

// repoRoot is the repository root, relative to this package: processes run there, so the
// repository's scripts are found by their usual paths.
const repoRoot = "../.."

// stopTimeout is how long a process may take to exit after it was asked to before it is killed.
const stopTimeout = 15 * time.Second

// proc is a process a drill started, in a process group of its own (so its children stop with
// it), with its output in a file. It is stopped at cleanup, or when the drill's context ends.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // set when done is closed
	// stopSignal is what stop sends first (SIGTERM unless set before the cleanup runs).
	stopSignal syscall.Signal
}

// logDir is where process output goes: DRILLS_LOG_DIR/<test> when set (kept), else a temp dir.
func logDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("DRILLS_LOG_DIR"); dir != "" {
		dir = filepath.Join(dir, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// procSpec says how to run a process.
type procSpec struct {
	name string   // names the log file (dir/name.log) and the messages
	dir  string   // where the log file goes
	env  []string // the whole environment
	bin  string
	args []string
	// cred, when set, runs the process as another user (PostgreSQL refuses root).
	cred *syscall.Credential
	// wd is the working directory; the repository root when empty.
	wd string
}

// workDir is where the process runs.
func (s procSpec) workDir() string {
	if s.wd == "" {
		return repoRoot
	}
	return s.wd
}

// start runs spec in the repository root and registers its stop at cleanup.
func start(ctx context.Context, t *testing.T, spec procSpec) *proc {
	t.Helper()
	out, err := os.OpenFile(filepath.Join(spec.dir, spec.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, spec.bin, spec.args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = spec.workDir(), spec.env, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: spec.cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = stopTimeout
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start %s: %v", spec.name, err)
	}
	p := &proc{name: spec.name, cmd: cmd, log: out.Name(), done: make(chan struct{}), stopSignal: syscall.SIGTERM}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		if t.Failed() && !p.exited() {
			t.Logf("last lines of %s:\n%s", p.name, p.tail(15))
		}
		p.stop()
	})
	return p
}

// stop sends stopSignal to the process (SIGTERM: to its group), and SIGKILL to the group when it
// has not exited in time.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	if p.stopSignal == syscall.SIGTERM {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	} else {
		_ = syscall.Kill(p.cmd.Process.Pid, p.stopSignal)
	}
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// kill sends SIGKILL to the process group and waits for the process to end.
func (p *proc) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tail returns the last n lines of the process's output.
func (p *proc) tail(n int) string {
	raw, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// waitHTTP polls url until it answers 200, failing the test when p exits or limit passes.
func waitHTTP(t *testing.T, p *proc, url string, limit time.Duration) {
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
		if p.exited() {
			t.Fatalf("%s exited during start-up (%v):\n%s", p.name, p.err, p.tail(20))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready at %s within %s (%v):\n%s", p.name, url, limit, err, p.tail(20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runOnce runs a short command to completion within limit, failing the test on error; it returns
// the combined output. spec.name and spec.dir are not used.
func runOnce(ctx context.Context, t *testing.T, limit time.Duration, spec procSpec) string {
	t.Helper()
	out, err := runCmd(ctx, limit, spec)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(spec.bin), strings.Join(spec.args, " "), err, out)
	}
	return out
}

// runCmd runs a short command to completion within limit.
func runCmd(ctx context.Context, limit time.Duration, spec procSpec) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, spec.bin, spec.args...)
	cmd.Dir, cmd.Env = spec.workDir(), spec.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: spec.cred}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ports hands out free 127.0.0.1 ports, each once per test binary. They are below the ephemeral
// range, so outgoing connections (k6 makes many) cannot take one between choosing and listening.
var ports = struct {
	sync.Mutex
	taken map[int]bool
}{taken: map[int]bool{}}

// freeAddr returns a 127.0.0.1:port nothing listens on.
func freeAddr(t *testing.T) string {
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
		return fmt.Sprintf("127.0.0.1:%d", port)
	}
	t.Fatal("no free port")
	return ""
}

// baseEnv is the environment every process starts from: nothing of the caller's but PATH and
// HOME, so a developer's or CI's variables cannot change what the processes do.
func baseEnv(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extra...)
}

// missingTool skips the drill, or fails it when CI is set: CI must never pass by skipping.
func missingTool(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set, so this fails)", msg)
	}
	t.Skipf("%s (set CI to make this fail)", msg)
}

// sleepUntil waits until at, or until ctx ends.
func sleepUntil(ctx context.Context, at time.Time) {
	tm := time.NewTimer(time.Until(at))
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
	}
}
