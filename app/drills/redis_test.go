package drills

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/product-service-lab/product-service/app/internal/proctest"
)

// redisServer is a redis-server of one drill, on a free port, without persistence: a restart
// after a kill starts empty, as a replaced cache node does.
type redisServer struct {
	ctx  context.Context
	t    *testing.T
	bin  string
	addr string
	dir  string
	logs string
	proc *proc
}

// startRedis starts a redis-server and waits until it answers.
func startRedis(ctx context.Context, t *testing.T, logs string) *redisServer {
	t.Helper()
	bin := os.Getenv("REDIS_SERVER")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("redis-server"); err != nil {
			missingTool(t, "redis-server is not on the PATH and REDIS_SERVER is not set")
		}
	}
	r := &redisServer{ctx: ctx, t: t, bin: bin, addr: freeAddr(t), dir: t.TempDir(), logs: logs}
	r.start()
	return r
}

// start runs the server on r.addr and waits until it answers PING.
func (r *redisServer) start() {
	r.t.Helper()
	host, port, _ := strings.Cut(r.addr, ":")
	r.proc = start(r.ctx, r.t, procSpec{
		name: "redis", dir: r.logs, env: baseEnv(), bin: r.bin, wd: r.dir,
		args: []string{"--bind", host, "--port", port, "--save", "", "--appendonly", "no", "--dir", r.dir,
			"--protected-mode", "no", "--loglevel", "warning"},
	})
	proctest.WaitFor(r.t, "redis-server to answer PING at "+r.addr, func() bool {
		if r.proc.Exited() {
			r.t.Fatalf("redis-server exited during start-up (%v):\n%s", r.proc.Err, r.proc.Tail(20))
		}
		return redisPing(r.addr) == nil
	})
}

// kill ends the server with SIGKILL, as a crashed or lost node.
func (r *redisServer) kill() { r.proc.Kill() }

// redisPing sends PING and expects PONG.
func redisPing(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 16)
	n, err := conn.Read(buf)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(string(buf[:n]), "+PONG") {
		return &net.OpError{Op: "ping", Err: os.ErrInvalid}
	}
	return nil
}
