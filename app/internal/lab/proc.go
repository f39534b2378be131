package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// DefaultStopTimeout is how long Stop waits after SIGTERM before it kills the group, when
// Spec.StopTimeout is zero.
const DefaultStopTimeout = 10 * time.Second

// Spec says how to run a process.
type Spec struct {
	Name string   // names the process in errors
	Bin  string   // the program
	Args []string // its arguments
	// Env is the whole environment (see CleanEnv); nil gives the process an empty one.
	Env []string
	Dir string // working directory; empty: the harness's
	// Log receives stdout and stderr, created or truncated; empty discards them.
	Log string
	// StopTimeout bounds Stop before SIGKILL (DefaultStopTimeout when zero).
	StopTimeout time.Duration
}

// Proc is a started process, the leader of its process group. Stop signals the group only while
// the leader has not been seen to exit; a group whose leader is reaped is not signalled again, so
// a reused pid is never hit (a process that leaves the group, or a child outliving the leader, is
// the program's own business).
type Proc struct {
	Name string
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	stop time.Duration
}

// Start runs spec in a process group of its own, with SIGKILL as its parent-death signal: when
// the harness dies, the kernel kills it. (Go delivers that signal when the OS thread that started
// the process exits; Go's runtime keeps its threads, so in practice that is the harness's exit.)
func Start(spec Spec) (*Proc, error) {
	cmd := exec.Command(spec.Bin, spec.Args...)
	cmd.Env = spec.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Dir = spec.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var logFile *os.File
	if spec.Log != "" {
		f, err := os.Create(spec.Log)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", spec.Name, err)
		}
		logFile = f
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		if logFile != nil {
			_ = logFile.Close()
		}
		return nil, fmt.Errorf("start %s (%s): %w", spec.Name, spec.Bin, err)
	}
	p := &Proc{Name: spec.Name, Log: spec.Log, cmd: cmd, done: make(chan struct{}), stop: spec.StopTimeout}
	if p.stop == 0 {
		p.stop = DefaultStopTimeout
	}
	go func() {
		p.err = cmd.Wait()
		if logFile != nil {
			_ = logFile.Close()
		}
		close(p.done)
	}()
	return p, nil
}

// Pid is the process's id (and its group's).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is how the process ended (nil for exit status 0), or nil while it runs.
func (p *Proc) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// State is the ended process's state (CPU time used: UserTime, SystemTime), or nil while it runs.
func (p *Proc) State() *os.ProcessState {
	select {
	case <-p.done:
		return p.cmd.ProcessState
	default:
		return nil
	}
}

// Stop sends SIGTERM to the process group, waits up to the stop timeout for the process to exit,
// then kills the group. It returns once the process has exited; an error only when it had to be
// killed. Stopping an ended process does nothing.
func (p *Proc) Stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
	t := time.NewTimer(p.stop)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	}
	err := syscall.Kill(-p.Pid(), syscall.SIGKILL)
	<-p.done
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s: %w", p.Name, err)
	}
	return fmt.Errorf("%s did not exit within %s of SIGTERM: killed", p.Name, p.stop)
}

// Run runs spec to its end and returns its error, with the last lines of its log when it fails.
// When ctx ends or limit passes first, the process is stopped and Run fails.
func Run(ctx context.Context, spec Spec, limit time.Duration) error {
	p, err := Start(spec)
	if err != nil {
		return err
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-p.Done():
		if err := p.Err(); err != nil {
			return fmt.Errorf("%s: %w%s", spec.Name, err, tail(spec.Log))
		}
		return nil
	case <-ctx.Done():
		_ = p.Stop()
		return fmt.Errorf("%s: %w", spec.Name, ctx.Err())
	case <-t.C:
		_ = p.Stop()
		return fmt.Errorf("%s did not finish within %s%s", spec.Name, limit, tail(spec.Log))
	}
}

// tailLines is how many lines of a log an error quotes.
const tailLines = 10

// tail returns the last lines of the file at path, on lines of their own, or "" when there is
// none.
func tail(path string) string {
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return "\n" + strings.Join(lines[max(0, len(lines)-tailLines):], "\n")
}
