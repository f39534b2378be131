package drills

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgDatabase is the database the drills create in their cluster.
const pgDatabase = "products"

// pgCluster is a PostgreSQL cluster of one drill: initdb in a temp dir, the postgres server on a
// free port, run as the user postgres when the drill runs as root.
type pgCluster struct {
	ctx  context.Context
	t    *testing.T
	bin  string // the directory of initdb, postgres and pg_ctl
	dir  string // owns the data directory and the socket
	port int
	cred *syscall.Credential
	logs string
	proc *proc
}

// pgBinDir finds the PostgreSQL server binaries: PG_BIN, else the newest /usr/lib/postgresql/*/bin.
func pgBinDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PG_BIN")
	if dir == "" {
		found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		slices.SortFunc(found, func(a, b string) int { return pgMajor(a) - pgMajor(b) })
		if len(found) > 0 {
			dir = found[len(found)-1]
		}
	}
	for _, tool := range []string{"initdb", "postgres", "pg_ctl"} {
		if st, err := os.Stat(filepath.Join(dir, tool)); dir == "" || err != nil || st.Mode()&0o111 == 0 {
			missingTool(t, "PostgreSQL server binaries not found (PG_BIN=%q, /usr/lib/postgresql/*/bin): %s is missing", dir, tool)
		}
	}
	return dir
}

// pgMajor reads the major version from /usr/lib/postgresql/<major>/bin.
func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// pgCredential returns whom PostgreSQL runs as: the current user, or postgres when that is root.
func pgCredential(t *testing.T) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		missingTool(t, "running as root, and PostgreSQL refuses root: no user postgres to run it as (%v)", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// startPostgres creates a cluster, starts it and creates the database pgDatabase in it. The
// cluster is stopped and its directory removed at cleanup.
func startPostgres(ctx context.Context, t *testing.T, logs string) *pgCluster {
	t.Helper()
	c := &pgCluster{ctx: ctx, t: t, bin: pgBinDir(t), cred: pgCredential(t), logs: logs}
	dir, err := os.MkdirTemp("", "drill-pg-")
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the server starts, so it runs after the server stopped.
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if c.cred != nil {
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	c.dir = dir
	_, port, _ := strings.Cut(freeAddr(t), ":")
	c.port, _ = strconv.Atoi(port)
	runOnce(ctx, t, time.Minute, c.spec("initdb", "-D", c.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--no-sync", "--no-instructions"))
	c.start()
	conn := c.connect("postgres")
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgDatabase); err != nil {
		t.Fatalf("create database: %v", err)
	}
	return c
}

func (c *pgCluster) data() string { return filepath.Join(c.dir, "data") }

// spec runs one of the cluster's binaries as the cluster's user, in its directory.
func (c *pgCluster) spec(tool string, args ...string) procSpec {
	return procSpec{name: tool, dir: c.logs, env: baseEnv(), bin: filepath.Join(c.bin, tool), args: args, cred: c.cred, wd: c.dir}
}

// start runs the server and waits until it accepts connections. fsync is off: a killed server
// loses nothing the OS has (a process kill is what the drills do), and the drills run faster.
func (c *pgCluster) start() {
	c.t.Helper()
	spec := c.spec("postgres", "-D", c.data(), "-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+c.dir,
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200",
		"-c", "log_min_messages=warning")
	c.proc = start(c.ctx, c.t, spec)
	// Smart shutdown (SIGTERM) would wait for the service's connections: stop at once.
	c.proc.StopSignal = syscall.SIGQUIT
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(c.ctx, c.url("postgres"))
		if err == nil {
			conn.Close(c.ctx)
			return
		}
		if c.proc.Exited() {
			c.t.Fatalf("postgres exited during start-up (%v):\n%s", c.proc.Err, c.proc.Tail(20))
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("postgres not accepting connections within 30 s: %v\n%s", err, c.proc.Tail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill stops the server the way a crash would: `pg_ctl stop -m immediate` (every backend is
// killed, no checkpoint; the next start recovers from the WAL).
func (c *pgCluster) kill() {
	c.t.Helper()
	runOnce(c.ctx, c.t, 30*time.Second, c.spec("pg_ctl", "stop", "-D", c.data(), "-m", "immediate", "-w"))
	select {
	case <-c.proc.Done():
	case <-time.After(10 * time.Second):
		c.t.Fatal("postgres still running 10 s after pg_ctl stop -m immediate")
	}
}

// url is the connection URL of database db.
func (c *pgCluster) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// connect opens a connection to database db, failing the test when it cannot.
func (c *pgCluster) connect(db string) *pgx.Conn {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.url(db))
	if err != nil {
		c.t.Fatalf("connect to %s: %v", db, err)
	}
	return conn
}
