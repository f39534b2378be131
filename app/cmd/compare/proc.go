package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// stopTimeout is how long a process group has after SIGTERM before SIGKILL.
const stopTimeout = 15 * time.Second

// command prepares name with a clean environment (PATH, HOME and env only), in a process group of
// its own, so stopping it stops whatever it started. When ctx ends the group gets SIGTERM, then
// SIGKILL after stopTimeout.
func command(ctx context.Context, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return signalGroup(cmd, syscall.SIGTERM) }
	cmd.WaitDelay = stopTimeout
	return cmd
}

// signalGroup sends sig to cmd's process group.
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// server is a long-running process started by start.
type server struct {
	cmd  *exec.Cmd
	done chan error
	log  string
}

// start runs cmd in the background, its output in the file logPath.
func start(cmd *exec.Cmd, logPath string) (*server, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	s := &server{cmd: cmd, done: make(chan error, 1), log: logPath}
	go func() {
		s.done <- cmd.Wait()
		f.Close()
	}()
	return s, nil
}

// exited reports whether the process has ended, and how.
func (s *server) exited() (bool, error) {
	select {
	case err := <-s.done:
		s.done <- err
		return true, err
	default:
		return false, nil
	}
}

// stop sends SIGTERM to the group, waits up to stopTimeout, then SIGKILL. It may be called
// again: the exit stays recorded for exited.
func (s *server) stop() {
	if done, _ := s.exited(); done {
		_ = signalGroup(s.cmd, syscall.SIGKILL) // anything it left behind
		return
	}
	_ = signalGroup(s.cmd, syscall.SIGTERM)
	var err error
	select {
	case err = <-s.done:
	case <-time.After(stopTimeout):
		_ = signalGroup(s.cmd, syscall.SIGKILL)
		err = <-s.done
	}
	s.done <- err
}
