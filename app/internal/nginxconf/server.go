package nginxconf

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/product-service-lab/product-service/app/internal/lab"
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
	proc   *lab.Proc
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

// Check runs `nginx -t` on config in a temp prefix, which it removes.
func Check(ctx context.Context, bin, config string) error {
	prefix, confPath, err := newPrefix("nginx-check", config)
	if err != nil {
		return err
	}
	defer os.RemoveAll(prefix)
	spec := lab.Spec{Name: "nginx -t", Bin: bin, Args: append(Args(prefix, confPath, ""), "-t", "-q"), Env: lab.CleanEnv()}
	if out, err := lab.Output(ctx, spec, checkTimeout); err != nil {
		return fmt.Errorf("%w\n%s", err, out)
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
	proc, err := lab.Start(lab.Spec{Name: o.Name, Bin: o.Bin, Args: Args(prefix, confPath, "daemon off;"),
		Env: lab.CleanEnv(), Log: o.Log, StopTimeout: StopTimeout})
	if err != nil {
		return nil, err
	}
	proc.StopOn(ctx)
	s := &Server{Prefix: prefix, Log: o.Log, proc: proc}
	limit := o.ReadyTimeout
	if limit == 0 {
		limit = DefaultReadyTimeout
	}
	if err := lab.WaitHTTP(ctx, proc, o.Health, limit); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Path is the file name rel (e.g. EdgeAccessLog) of the configuration, in the prefix.
func (s *Server) Path(rel string) string { return filepath.Join(s.Prefix, rel) }

// Exited reports whether nginx has ended, and how.
func (s *Server) Exited() (bool, error) { return s.proc.Exited(), s.proc.Err() }

// Stop ends nginx: SIGTERM to its group (a fast shutdown, which flushes buffered access logs),
// SIGKILL after StopTimeout (lab.Proc.Stop). It may be called again.
func (s *Server) Stop() { _ = s.proc.Stop() }

// Remove deletes the prefix, the logs in it included (not Log when it is elsewhere).
func (s *Server) Remove() error { return os.RemoveAll(s.Prefix) }

// Tail returns the last n lines of nginx's output.
func (s *Server) Tail(n int) string { return s.proc.Tail(n) }
