package nginxconf

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Time bounds of a Server.
const (
	// DefaultReadyTimeout bounds Start's wait for the health URL when Options.ReadyTimeout is 0.
	DefaultReadyTimeout = 60 * time.Second
	// StopTimeout is how long nginx has to exit after SIGTERM before SIGKILL.
	StopTimeout  = 15 * time.Second
	checkTimeout = 30 * time.Second
)

// Options say how to run nginx.
type Options struct {
	Name   string // names the prefix directory (Name-*) and the messages, e.g. "edge"
	Bin    string // the nginx binary
	Config string // the configuration text (Edge, Balancer)
	// Health is a URL that answers 200 once nginx is up, e.g. http://<Status>/health.
	Health string
	// Log receives nginx's stdout and stderr; stderr.log in the prefix when empty.
	Log          string
	ReadyTimeout time.Duration // DefaultReadyTimeout when 0
}

// Server is nginx running one configuration in a prefix directory of its own.
type Server struct {
	Prefix string // the directory every relative path of the configuration is in
	Log    string // nginx's stdout and stderr
	cmd    *exec.Cmd
	done   chan struct{}
	err    error // how nginx ended; read only after done is closed
}

// Args are nginx's flags for the configuration file conf run in prefix, with global directives
// (-g, none when empty): everything nginx writes stays in the prefix.
func Args(prefix, conf, global string) []string {
	args := []string{"-p", prefix + "/", "-c", conf, "-e", filepath.Join(prefix, "logs", "error.log")}
	if global != "" {
		args = append(args, "-g", global)
	}
	return args
}

// newPrefix creates a prefix directory with logs/ in it and conf as nginx.conf. It is not under
// a private (0700) temp dir: started as root, nginx's workers run as an unprivileged user, which
// must reach the cache and temp directories the master creates for it in the prefix.
func newPrefix(name, conf string) (prefix, confPath string, err error) {
	if prefix, err = os.MkdirTemp("", name+"-"); err != nil {
		return "", "", fmt.Errorf("nginx prefix: %w", err)
	}
	confPath = filepath.Join(prefix, "nginx.conf")
	err = os.Chmod(prefix, 0o755)
	if err == nil {
		err = os.Mkdir(filepath.Join(prefix, "logs"), 0o755)
	}
	if err == nil {
		err = os.WriteFile(confPath, []byte(conf), 0o644)
	}
	if err != nil {
		os.RemoveAll(prefix)
		return "", "", fmt.Errorf("nginx prefix: %w", err)
	}
	return prefix, confPath, nil
}

// command prepares nginx with a clean environment (PATH and HOME only), in a process group of its
// own, so stopping it stops its workers too. When ctx ends the group gets SIGTERM, then SIGKILL
// after StopTimeout.
func command(ctx context.Context, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return signalGroup(cmd, syscall.SIGTERM) }
	cmd.WaitDelay = StopTimeout
	return cmd
}

// Check runs `nginx -t` on config in a temp prefix, which it removes.
func Check(ctx context.Context, bin, config string) error {
	prefix, confPath, err := newPrefix("nginx-check", config)
	if err != nil {
		return err
	}
	defer os.RemoveAll(prefix)
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if out, err := command(ctx, bin, append(Args(prefix, confPath, ""), "-t", "-q")...).CombinedOutput(); err != nil {
		return fmt.Errorf("nginx -t: %w\n%s", err, out)
	}
	return nil
}

// Start runs nginx with o.Config in a new prefix in the system's temp dir (`daemon off`, so it
// stays in the foreground) and waits until o.Health answers 200. Stop ends it, Remove deletes the
// prefix. When ctx ends, nginx is stopped.
func Start(ctx context.Context, o Options) (_ *Server, err error) {
	if o.Name == "" {
		o.Name = "nginx"
	}
	prefix, confPath, err := newPrefix(o.Name, o.Config)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(prefix)
		}
	}()
	if o.Log == "" {
		o.Log = filepath.Join(prefix, "stderr.log")
	}
	out, err := os.Create(o.Log)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", o.Name, err)
	}
	cmd := command(ctx, o.Bin, Args(prefix, confPath, "daemon off;")...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s (%s): %w", o.Name, o.Bin, err)
	}
	s := &Server{Prefix: prefix, Log: o.Log, cmd: cmd, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		out.Close()
		close(s.done)
	}()
	if err := s.waitUp(ctx, o); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// waitUp polls o.Health until it answers 200 while nginx runs.
func (s *Server) waitUp(ctx context.Context, o Options) error {
	limit := o.ReadyTimeout
	if limit == 0 {
		limit = DefaultReadyTimeout
	}
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if done, err := s.Exited(); done {
			return fmt.Errorf("%s exited during start-up (%v); last lines of %s:\n%s", o.Name, err, s.Log, s.Tail(20))
		}
		if resp, err := client.Get(o.Health); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not up at %s within %s; last lines of %s:\n%s", o.Name, o.Health, limit, s.Log, s.Tail(20))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s start-up: %w", o.Name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Path is the file name rel (e.g. EdgeAccessLog) of the configuration, in the prefix.
func (s *Server) Path(rel string) string { return filepath.Join(s.Prefix, rel) }

// Exited reports whether nginx has ended, and how.
func (s *Server) Exited() (bool, error) {
	select {
	case <-s.done:
		return true, s.err
	default:
		return false, nil
	}
}

// Stop ends nginx: SIGTERM to its group (a fast shutdown, which flushes buffered access logs),
// SIGKILL after StopTimeout. It may be called again.
func (s *Server) Stop() {
	if done, _ := s.Exited(); done {
		_ = signalGroup(s.cmd, syscall.SIGKILL) // a worker left behind
		return
	}
	_ = signalGroup(s.cmd, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(StopTimeout):
		_ = signalGroup(s.cmd, syscall.SIGKILL)
		<-s.done
	}
}

// Remove deletes the prefix, the logs in it included (not Log when it is elsewhere).
func (s *Server) Remove() error { return os.RemoveAll(s.Prefix) }

// Tail returns the last n lines of nginx's output.
func (s *Server) Tail(n int) string {
	raw, err := os.ReadFile(s.Log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
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
