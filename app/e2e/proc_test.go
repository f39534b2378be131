//go:build e2e

package e2e

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
// repository's config files are found by their usual paths.
const repoRoot = "../.."

// stopTimeout is how long a process may take to exit after SIGTERM before it is killed.
const stopTimeout = 10 * time.Second

// proc is a process the test started, in a process group of its own (so its children stop with
// it), with its output in a file. It is stopped at cleanup, or when the test's context ends.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // set when done is closed
}

// logDir is where process output goes: E2E_LOG_DIR when set (kept), else a temp dir.
func logDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("E2E_LOG_DIR"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// start runs bin with args in the repository root with exactly env, writing its output to
// dir/name.log.
func start(ctx context.Context, t *testing.T, dir, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	out, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = repoRoot, env, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = stopTimeout
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: out.Name(), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of %s:\n%s", name, p.tail(15))
		}
		p.stop()
	})
	return p
}

// stop sends SIGTERM to the process group, and SIGKILL when it has not exited in time.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
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

// waitReady polls url until it answers 200, failing the test when p exits or limit passes.
func waitReady(t *testing.T, p *proc, url string, limit time.Duration) {
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
		time.Sleep(200 * time.Millisecond)
	}
}

// runOnce runs a short command to completion within limit, failing the test on error.
func runOnce(ctx context.Context, t *testing.T, limit time.Duration, env []string, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = repoRoot, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ports hands out free 127.0.0.1 ports, each once. They are below the ephemeral range, so
// outgoing connections (k6 makes many) cannot take one between choosing and listening.
type ports struct {
	mu    sync.Mutex
	taken map[int]bool
}

// next returns a port nothing listens on.
func (p *ports) next(t *testing.T) int {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.taken == nil {
		p.taken = map[int]bool{}
	}
	for range 200 {
		port := 20000 + rand.IntN(12000)
		if p.taken[port] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		l.Close()
		p.taken[port] = true
		return port
	}
	t.Fatal("no free port")
	return 0
}

// addr returns a free 127.0.0.1:port.
func (p *ports) addr(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", p.next(t))
}

// baseEnv is the environment every process starts from: nothing of the caller's but PATH and
// HOME, so a developer's or CI's variables cannot change what the processes do.
func baseEnv(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extra...)
}

// tool returns the path of a tool binary named by an environment variable, failing the test
// when it is unset (and no default is given) or not executable.
func tool(t *testing.T, env, def string) string {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		path = def
	}
	if path == "" {
		t.Fatalf("%s is not set: run this through `make e2e` (make tools builds the tools)", env)
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
