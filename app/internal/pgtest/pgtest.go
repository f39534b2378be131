// Package pgtest runs private PostgreSQL clusters for tests that must not touch the machine's
// shared server: clusters killed on purpose (the drills) and streaming replicas (the read/write
// split). Each cluster is initdb'd in a temp directory, listens on a free 127.0.0.1 port, runs as
// the user postgres when the test runs as root (PostgreSQL refuses root), and is stopped and
// removed at the test's cleanup. Without the server binaries the test skips, or fails when CI
// is set.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// Options say how to run a cluster.
type Options struct {
	// LogDir receives the server's output (postgres.log, or <Name>.log); a temp dir when empty.
	LogDir string
	// Name names the log file and the messages; "postgres" when empty.
	Name string
	// Database, when set, is created once the cluster accepts connections.
	Database string
	// Settings are more server settings, name=value, each passed as -c.
	Settings []string
}

// Cluster is one running (or stopped) PostgreSQL cluster.
type Cluster struct {
	// Port is where the server listens on 127.0.0.1.
	Port int
	ctx  context.Context
	t    testing.TB
	opts Options
	bin  string // the directory of initdb, postgres, pg_ctl and pg_basebackup
	dir  string // owns the data directory and the socket
	cred *syscall.Credential
	proc *lab.Proc
	// standby is true for a replica made by Replica.
	standby bool
}

// Start creates a cluster (initdb), starts it and creates opts.Database in it. It allows
// replication connections from 127.0.0.1, so Replica can copy it.
func Start(ctx context.Context, t testing.TB, opts Options) *Cluster {
	t.Helper()
	c := newCluster(ctx, t, opts)
	c.run(time.Minute, "initdb", "-D", c.Data(), "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--no-sync", "--no-instructions")
	// initdb's pg_hba.conf trusts local replication connections over TCP as well.
	c.Start()
	if opts.Database != "" {
		conn := c.Connect("postgres")
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{opts.Database}.Sanitize()); err != nil {
			t.Fatalf("create database %s: %v", opts.Database, err)
		}
	}
	return c
}

// Replica makes a streaming replica of c: pg_basebackup of the running cluster with -R (the
// standby.signal and primary_conninfo), then a server of its own on another port. It returns
// once the replica accepts connections.
func (c *Cluster) Replica(name string) *Cluster {
	c.t.Helper()
	r := newCluster(c.ctx, c.t, Options{LogDir: c.opts.LogDir, Name: name})
	r.standby = true
	r.run(2*time.Minute, "pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(c.Port), "-U", "postgres",
		"-D", r.Data(), "-R", "-X", "stream", "-c", "fast", "--no-sync")
	r.Start()
	return r
}

func newCluster(ctx context.Context, t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.LogDir == "" {
		opts.LogDir = t.TempDir()
	}
	if opts.Name == "" {
		opts.Name = "postgres"
	}
	c := &Cluster{ctx: ctx, t: t, opts: opts, bin: BinDir(t), cred: Credential(t)}
	dir, err := os.MkdirTemp("", "pgtest-")
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
	c.Port = lab.MustFreePort(t)
	return c
}

// Data is the cluster's data directory.
func (c *Cluster) Data() string { return filepath.Join(c.dir, "data") }

// URL is the connection URL of database db.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// spec is how to run one of the cluster's binaries, as the cluster's user, in its directory, its
// output appended to LogDir/<name>.log.
func (c *Cluster) spec(name, tool string, args ...string) lab.Spec {
	return lab.Spec{Name: name, Log: filepath.Join(c.opts.LogDir, name+".log"), Append: true, Env: lab.CleanEnv(),
		Bin: filepath.Join(c.bin, tool), Args: args, Dir: c.dir, Cred: c.cred, StopTimeout: 15 * time.Second}
}

// run runs a short command to completion within limit, failing the test on error.
func (c *Cluster) run(limit time.Duration, tool string, args ...string) {
	c.t.Helper()
	lab.MustRun(c.ctx, c.t, limit, c.spec(tool, tool, args...))
}

// Start runs the server and waits until it accepts connections (again, after Kill). fsync is
// off: a killed server loses nothing the OS has, and tests run faster.
func (c *Cluster) Start() {
	c.t.Helper()
	args := []string{"-D", c.Data(), "-p", strconv.Itoa(c.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + c.dir,
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200",
		"-c", "log_min_messages=warning"}
	for _, kv := range c.opts.Settings {
		args = append(args, "-c", kv)
	}
	spec := c.spec(c.opts.Name, "postgres", args...)
	// Smart shutdown (SIGTERM) would wait for the clients' connections: stop at once.
	spec.StopSignal = syscall.SIGQUIT
	c.proc = lab.MustStart(c.ctx, c.t, spec)
	lab.WaitFor(c.t, c.opts.Name+" to accept connections", func() bool {
		if c.proc.Exited() {
			c.t.Fatalf("%s exited during start-up (%v):\n%s", c.opts.Name, c.proc.Err(), c.proc.Tail(20))
		}
		conn, err := pgx.Connect(c.ctx, c.URL("postgres"))
		if err != nil {
			time.Sleep(50 * time.Millisecond) // a connection per try: not every 5 ms
			return false
		}
		conn.Close(c.ctx)
		return true
	})
}

// Kill stops the server the way a crash would: `pg_ctl stop -m immediate` (every backend is
// killed, no checkpoint; the next Start recovers from the WAL).
func (c *Cluster) Kill() {
	c.t.Helper()
	c.run(30*time.Second, "pg_ctl", "stop", "-D", c.Data(), "-m", "immediate", "-w")
	lab.WaitClosed(c.t, c.opts.Name+" to exit after pg_ctl stop -m immediate", c.proc.Done())
}

// Connect opens a connection to database db, failing the test when it cannot.
func (c *Cluster) Connect(db string) *pgx.Conn {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL(db))
	if err != nil {
		c.t.Fatalf("connect to %s on %s: %v", db, c.opts.Name, err)
	}
	return conn
}

// Exec runs one statement in database db, failing the test on error.
func (c *Cluster) Exec(db, sql string, args ...any) {
	c.t.Helper()
	conn := c.Connect(db)
	defer conn.Close(c.ctx)
	if _, err := conn.Exec(c.ctx, sql, args...); err != nil {
		c.t.Fatalf("%s on %s: %v", sql, c.opts.Name, err)
	}
}

// PauseReplay stops a replica applying the primary's WAL (pg_wal_replay_pause): from then on it
// serves the data of that moment, as a replica lagging behind would. ResumeReplay undoes it.
func (c *Cluster) PauseReplay() { c.replay("pg_wal_replay_pause") }

// ResumeReplay lets a paused replica catch up again.
func (c *Cluster) ResumeReplay() { c.replay("pg_wal_replay_resume") }

func (c *Cluster) replay(fn string) {
	c.t.Helper()
	if !c.standby {
		c.t.Fatalf("%s: %s on a cluster that is not a replica", c.opts.Name, fn)
	}
	c.Exec("postgres", "SELECT "+fn+"()")
}

// WaitCaughtUp waits until the replica r has replayed everything primary had written when it was
// called, failing the test after limit.
func (c *Cluster) WaitCaughtUp(r *Cluster, limit time.Duration) {
	c.t.Helper()
	conn := c.Connect("postgres")
	var lsn string
	err := conn.QueryRow(c.ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn)
	conn.Close(c.ctx)
	if err != nil {
		c.t.Fatalf("current WAL position of %s: %v", c.opts.Name, err)
	}
	rc := r.Connect("postgres")
	defer rc.Close(c.ctx)
	deadline := time.Now().Add(limit)
	for {
		var done bool
		if err := rc.QueryRow(c.ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn).Scan(&done); err != nil {
			c.t.Fatalf("replay position of %s: %v", r.opts.Name, err)
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s did not replay up to %s within %s", r.opts.Name, lsn, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BinDir finds the PostgreSQL server binaries: PG_BIN, else the newest /usr/lib/postgresql/*/bin.
func BinDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("PG_BIN")
	if dir == "" {
		found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		slices.SortFunc(found, func(a, b string) int { return major(a) - major(b) })
		if len(found) > 0 {
			dir = found[len(found)-1]
		}
	}
	for _, tool := range []string{"initdb", "postgres", "pg_ctl", "pg_basebackup"} {
		if st, err := os.Stat(filepath.Join(dir, tool)); dir == "" || err != nil || st.Mode()&0o111 == 0 {
			lab.Missing(t, "PostgreSQL server binaries not found (PG_BIN=%q, /usr/lib/postgresql/*/bin): %s is missing", dir, tool)
		}
	}
	return dir
}

// major reads the major version from /usr/lib/postgresql/<major>/bin.
func major(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Credential returns whom PostgreSQL runs as: nil (the current user), or the user postgres when
// that is root.
func Credential(t testing.TB) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		lab.Missing(t, "running as root, and PostgreSQL refuses root: no user postgres to run it as (%v)", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}
