package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Time bounds of the service's steps.
const (
	// DefaultReadyTimeout bounds a replica's wait for /ready when Service.ReadyTimeout is zero.
	DefaultReadyTimeout = 60 * time.Second
	migrateTimeout      = 2 * time.Minute
	seedTimeout         = 20 * time.Minute
)

// serviceBin is the product-service binary, built once per process.
var serviceBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// ServiceBinary builds ./app/cmd/product-service of the module around the working directory as
// users build it (static, -trimpath; with $GO when set), once per process, into a temporary
// directory that RemoveServiceBinary deletes. Every package builds it with the same flags, so
// after the first build the others only link. The build is bounded by no caller's context: on a
// busy machine the first one takes minutes.
func ServiceBinary() (string, error) {
	serviceBin.once.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			serviceBin.err = err
			return
		}
		if serviceBin.dir, serviceBin.err = os.MkdirTemp("", "product-service-bin-"); serviceBin.err != nil {
			return
		}
		serviceBin.path = filepath.Join(serviceBin.dir, "product-service")
		serviceBin.err = Build(context.Background(), os.Getenv("GO"), root, "./app/cmd/product-service", serviceBin.path)
	})
	return serviceBin.path, serviceBin.err
}

// RemoveServiceBinary deletes what ServiceBinary built (call it from TestMain, or at a command's
// end).
func RemoveServiceBinary() {
	if serviceBin.dir != "" {
		_ = os.RemoveAll(serviceBin.dir)
	}
}

// Service is the product-service as a process under test: its binary and what every replica
// shares. Replicas sharing Env (database, Redis, CACHE_NAMESPACE, ADMIN_TOKEN) are one service,
// scaled out.
type Service struct {
	Bin string // ServiceBinary's, usually
	// Env is added to CleanEnv for every replica (DATABASE_URL, REDIS_ADDR, CACHE_NAMESPACE…);
	// Start adds HTTP_ADDR.
	Env []string
	// LogDir receives each replica's output in <name>.log, appended (a restart keeps the first
	// run's lines); empty discards it.
	LogDir string
	Dir    string // working directory (the repository root, for its config files)
	// ReadyTimeout bounds the wait for /ready (DefaultReadyTimeout when zero).
	ReadyTimeout time.Duration
	// StopTimeout bounds a replica's Stop before SIGKILL (DefaultStopTimeout when zero).
	StopTimeout time.Duration
}

// Prepare migrates and seeds (both idempotent) the database at databaseURL with the binary's own
// commands, with products products.
func (s *Service) Prepare(ctx context.Context, databaseURL string, products int) error {
	env := CleanEnv("DATABASE_URL="+databaseURL, "LOG_LEVEL=warn")
	steps := []struct {
		limit time.Duration
		args  []string
	}{
		{migrateTimeout, []string{"migrate"}},
		{seedTimeout, []string{"seed", "--products", strconv.Itoa(products)}},
	}
	for _, step := range steps {
		spec := Spec{Name: "product-service " + step.args[0], Bin: s.Bin, Args: step.args, Env: env, Dir: s.Dir}
		if out, err := Output(ctx, spec, step.limit); err != nil {
			return fmt.Errorf("prepare the database: %w\n%s", err, out)
		}
	}
	return nil
}

// Replica is one running `product-service serve`.
type Replica struct {
	*Proc
	Addr string // host:port
	Base string // http://host:port
	name string
	svc  *Service
}

// Start runs `serve` as the replica name on addr (a free one when empty) and waits until /ready
// answers; a replica that does not get ready is stopped.
func (s *Service) Start(ctx context.Context, name, addr string) (*Replica, error) {
	if addr == "" {
		var err error
		if addr, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	r := &Replica{Addr: addr, Base: "http://" + addr, name: name, svc: s}
	if err := r.Restart(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// StartReplicas starts n replicas on free ports, named "service" when n is 1, else "service-1"…,
// and stops them all when one fails.
func (s *Service) StartReplicas(ctx context.Context, n int) ([]*Replica, error) {
	var rs []*Replica
	for i := range n {
		name := "service"
		if n > 1 {
			name += "-" + strconv.Itoa(i+1)
		}
		r, err := s.Start(ctx, name, "")
		if err != nil {
			for _, r := range rs {
				_ = r.Stop()
			}
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// Restart runs the replica's process again, on the same address, once the previous one has
// ended, and waits until it is ready.
func (r *Replica) Restart(ctx context.Context) error {
	s := r.svc
	spec := Spec{Name: r.name, Bin: s.Bin, Args: []string{"serve"}, Env: CleanEnv(slices.Concat(s.Env, []string{"HTTP_ADDR=" + r.Addr})...),
		Dir: s.Dir, Append: true, StopTimeout: s.StopTimeout}
	if s.LogDir != "" {
		spec.Log = filepath.Join(s.LogDir, r.name+".log")
	}
	p, err := Start(spec)
	if err != nil {
		return err
	}
	r.Proc = p
	limit := s.ReadyTimeout
	if limit == 0 {
		limit = DefaultReadyTimeout
	}
	if err := WaitHTTP(ctx, p, r.Base+"/ready", limit); err != nil {
		_ = p.Stop()
		return err
	}
	return nil
}

// DeleteKeys unlinks the keys matching pattern (e.g. "<namespace>:*") but keep, in batches, and
// returns how many it deleted: a run's cleanup of the shared Redis (never FLUSHDB: others use it).
func DeleteKeys(ctx context.Context, rdb redis.UniversalClient, pattern, keep string) (int, error) {
	var n int
	var err error
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	batch := make([]string, 0, 500)
	flush := func() {
		if len(batch) > 0 && err == nil {
			if err = rdb.Unlink(ctx, batch...).Err(); err == nil {
				n += len(batch)
			}
		}
		batch = batch[:0]
	}
	for iter.Next(ctx) {
		if iter.Val() == keep {
			continue
		}
		if batch = append(batch, iter.Val()); len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
	if err = errors.Join(err, iter.Err()); err != nil {
		return n, fmt.Errorf("delete keys %s: %w", pattern, err)
	}
	return n, nil
}
