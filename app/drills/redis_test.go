package drills

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/product-service-lab/product-service/app/internal/lab"
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
	proc *lab.Proc
}

// startRedis starts a redis-server and waits until it answers.
func startRedis(ctx context.Context, t *testing.T, logs string) *redisServer {
	t.Helper()
	bin := lab.Tool(t, "REDIS_SERVER", "redis-server")
	r := &redisServer{ctx: ctx, t: t, bin: bin, addr: lab.MustFreeAddr(t), dir: t.TempDir(), logs: logs}
	r.start()
	return r
}

// start runs the server on r.addr and waits until it answers PING.
func (r *redisServer) start() {
	r.t.Helper()
	host, port, _ := strings.Cut(r.addr, ":")
	r.proc = lab.MustStart(r.ctx, r.t, lab.Spec{
		Name: "redis", Log: filepath.Join(r.logs, "redis.log"), Append: true, Env: lab.CleanEnv(), Bin: r.bin, Dir: r.dir,
		StopTimeout: stopTimeout, Args: []string{"--bind", host, "--port", port, "--save", "", "--appendonly", "no", "--dir", r.dir,
			"--protected-mode", "no", "--loglevel", "warning"},
	})
	lab.WaitFor(r.t, "redis-server to answer PING at "+r.addr, func() bool {
		if r.proc.Exited() {
			r.t.Fatalf("redis-server exited during start-up (%v):\n%s", r.proc.Err(), r.proc.Tail(20))
		}
		return redisPing(r.addr) == nil
	})
}

// kill ends the server with SIGKILL, as a crashed or lost node.
func (r *redisServer) kill() { _ = r.proc.Kill() }

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
