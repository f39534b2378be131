package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DefaultStopTimeout is how long Stop waits after the stop signal before it kills the group, when
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
	// Log receives stdout and stderr, created or truncated (appended to with Append, so a
	// restarted process keeps its first run's lines); empty discards them.
	Log    string
	Append bool
	// Cred, when set, runs the process as another user (PostgreSQL refuses root).
	Cred *syscall.Credential
	// StopSignal is what Stop sends first: SIGTERM (when zero) goes to the whole group, any other
	// signal to the process alone (e.g. SIGQUIT, PostgreSQL's immediate shutdown).
	StopSignal syscall.Signal
	// StopTimeout bounds Stop before SIGKILL (DefaultStopTimeout when zero).
	StopTimeout time.Duration
}

// Proc is a started process, the leader of its process group. The group is signalled only while
// the leader has not been seen to exit; a group whose leader is reaped is not signalled again, so
// a reused pid is never hit (a process that leaves the group, or a child outliving the leader, is
// the program's own business).
type Proc struct {
	Name string
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	sig  syscall.Signal
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
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: spec.Cred}
	var logFile *os.File
	if spec.Log != "" {
		flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
		if spec.Append {
			flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
		}
		f, err := os.OpenFile(spec.Log, flags, 0o644)
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
	p := &Proc{Name: spec.Name, Log: spec.Log, cmd: cmd, done: make(chan struct{}), sig: spec.StopSignal, stop: spec.StopTimeout}
	if p.stop == 0 {
		p.stop = DefaultStopTimeout
	}
	if p.sig == 0 {
		p.sig = syscall.SIGTERM
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

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the process ended (nil for exit status 0), or nil while it runs.
func (p *Proc) Err() error {
	if p.Exited() {
		return p.err
	}
	return nil
}

// State is the ended process's state (CPU time used: UserTime, SystemTime), or nil while it runs.
func (p *Proc) State() *os.ProcessState {
	if p.Exited() {
		return p.cmd.ProcessState
	}
	return nil
}

// Signal sends sig to the process alone (SIGSTOP and SIGCONT pause and resume it), while it runs.
func (p *Proc) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return os.ErrProcessDone
	}
	if err := syscall.Kill(p.Pid(), sig); err != nil {
		return fmt.Errorf("signal %s: %w", p.Name, err)
	}
	return nil
}

// Stop sends the stop signal (Spec.StopSignal), waits up to the stop timeout for the process to
// exit, then kills the group. It returns once the process has exited; an error only when it had
// to be killed. Stopping an ended process does nothing.
func (p *Proc) Stop() error {
	if p.Exited() {
		return nil
	}
	if p.sig == syscall.SIGTERM {
		_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
	} else {
		_ = syscall.Kill(p.Pid(), p.sig)
	}
	t := time.NewTimer(p.stop)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	}
	if err := p.Kill(); err != nil {
		return err
	}
	return fmt.Errorf("%s did not exit within %s of %s: killed", p.Name, p.stop, p.sig)
}

// Kill sends SIGKILL to the process group, as a crash would, and waits for the process to end.
func (p *Proc) Kill() error {
	if p.Exited() {
		return nil
	}
	err := syscall.Kill(-p.Pid(), syscall.SIGKILL)
	<-p.done
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s: %w", p.Name, err)
	}
	return nil
}

// StopOn stops the process (Stop) when ctx ends before it does: a bound on everything a run
// started.
func (p *Proc) StopOn(ctx context.Context) {
	go func() {
		select {
		case <-ctx.Done():
			_ = p.Stop()
		case <-p.done:
		}
	}()
}

// Tail returns the last n lines of the process's log ("" without one).
func (p *Proc) Tail(n int) string { return tail(p.Log, n) }

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
			return fmt.Errorf("%s: %w%s", spec.Name, err, lines(tail(spec.Log, tailLines)))
		}
		return nil
	case <-ctx.Done():
		_ = p.Stop()
		return fmt.Errorf("%s: %w", spec.Name, ctx.Err())
	case <-t.C:
		_ = p.Stop()
		return fmt.Errorf("%s did not finish within %s%s", spec.Name, limit, lines(tail(spec.Log, tailLines)))
	}
}

// Output runs spec (its Log and Append unused) to its end, as Run does, and returns its combined
// output.
func Output(ctx context.Context, spec Spec, limit time.Duration) (string, error) {
	f, err := os.CreateTemp("", "lab-output-")
	if err != nil {
		return "", fmt.Errorf("%s: %w", spec.Name, err)
	}
	defer os.Remove(f.Name())
	_ = f.Close()
	spec.Log, spec.Append = f.Name(), false
	if spec.Name == "" {
		spec.Name = strings.TrimSpace(filepath.Base(spec.Bin) + " " + strings.Join(spec.Args, " "))
	}
	err = Run(ctx, spec, limit)
	out, _ := os.ReadFile(f.Name())
	return string(out), err
}

// tailLines is how many lines of a log an error quotes.
const tailLines = 20

// tail returns the last n lines of the file at path, or "" when there is none.
func tail(path string, n int) string {
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(ls[max(0, len(ls)-n):], "\n")
}

// lines puts s on lines of its own after an error message ("" stays "").
func lines(s string) string {
	if s == "" {
		return ""
	}
	return "\n" + s
}
