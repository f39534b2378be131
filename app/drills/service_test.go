package drills

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// adminToken is the services' ADMIN_TOKEN.
const adminToken = "drill-admin-token"

// repoRoot is the repository root, relative to this package: processes run there, so the
// repository's scripts are found by their usual paths.
const repoRoot = "../.."

// stopTimeout is how long a process may take to exit after it was asked to before it is killed.
const stopTimeout = 15 * time.Second

// service is one running product-service (app/internal/lab), which start runs again.
type service struct {
	*lab.Replica
	ctx context.Context
	t   *testing.T
}

// start runs the process again, on the same address, and waits until it is ready.
func (s *service) start() {
	s.t.Helper()
	lab.MustRestart(s.ctx, s.t, s.Replica)
}

// stackOptions shape a drill's stack.
type stackOptions struct {
	// products seeded (ids 1..products).
	products int
	// replicas of the service sharing the database and Redis (1 when 0).
	replicas int
	// env is added to every replica's environment, after the defaults (so it overrides them).
	env []string
	// redisVia, when set, is given the drill's Redis address and returns the one the services
	// use instead (a fault proxy in front of it).
	redisVia func(addr string) string
}

// stack is a drill's own PostgreSQL, Redis and services.
type stack struct {
	ctx      context.Context
	t        *testing.T
	logs     string
	pg       *pgCluster
	redis    *redisServer
	services []*service
	products int
	dbURL    string
}

// newStack starts PostgreSQL and Redis, migrates and seeds with the binary's own commands, and
// starts the replicas. Everything stops at cleanup.
func newStack(ctx context.Context, t *testing.T, opts stackOptions) *stack {
	t.Helper()
	began := time.Now()
	logs := lab.LogDir(t, "DRILLS_LOG_DIR")
	bin := lab.MustServiceBinary(t)
	st := &stack{ctx: ctx, t: t, logs: logs, products: opts.products}
	st.pg = startPostgres(ctx, t, logs)
	st.redis = startRedis(ctx, t, logs)
	st.dbURL = st.pg.URL(pgDatabase)
	svc := &lab.Service{Bin: bin, LogDir: logs, Dir: repoRoot, StopTimeout: stopTimeout}
	if err := svc.Prepare(ctx, st.dbURL, opts.products); err != nil {
		t.Fatal(err)
	}
	redisAddr := st.redis.addr
	if opts.redisVia != nil {
		redisAddr = opts.redisVia(redisAddr)
	}
	svc.Env = []string{
		"DATABASE_URL=" + st.dbURL, "REDIS_ADDR=" + redisAddr, "ADMIN_TOKEN=" + adminToken, "APP_ENV=test",
		"LOG_LEVEL=warn", "CACHE_PRESET=protected", "CACHE_NAMESPACE=drill", "SHUTDOWN_TIMEOUT=10s",
		"DB_SIMULATED_LATENCY=0",
		// 250 ms instead of the default 50 ms: the drills share two cores with their load
		// generator, PostgreSQL and Redis, and a starved Redis reply must not pass for a dead Redis.
		// What they test is the service with Redis or PostgreSQL gone, not the timeout's tuning.
		"REDIS_TIMEOUT=250ms",
	}
	svc.Env = append(svc.Env, opts.env...)
	for i := range max(opts.replicas, 1) {
		name := "service"
		if opts.replicas > 1 {
			name += "-" + strconv.Itoa(i+1)
		}
		st.services = append(st.services, &service{Replica: lab.MustStartService(ctx, t, svc, name, ""), ctx: ctx, t: t})
	}
	t.Logf("stack ready in %s: postgres 127.0.0.1:%d, redis %s, service %s, %d products",
		time.Since(began).Round(time.Millisecond), st.pg.Port, st.redis.addr, st.services[0].Addr, opts.products)
	return st
}

// svc is the first (or only) replica.
func (st *stack) svc() *service { return st.services[0] }

// drillContext bounds a drill: when it ends, every process still running is killed. Call it
// first, so its cancel runs after every other cleanup.
// The service binary is built first, so the build's time does not count.
func drillContext(t *testing.T, limit time.Duration) context.Context {
	lab.MustServiceBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	return ctx
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
