package stacktest_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/jackc/pgx/v5"

	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/pgtest"
)

// TestComposeReplicaWiring: the replica runs the repository's entry point against the primary,
// whose client authentication (the repository's pg_hba.conf) lets it replicate, and the service
// reads from it only when DATABASE_REPLICA_URLS says so.
func TestComposeReplicaWiring(t *testing.T) {
	p := loadAll(t)
	primary := service(t, p, "postgres")
	if !slices.Contains(primary.Command, "hba_file=/etc/postgresql/pg_hba.conf") {
		t.Errorf("postgres command %q does not load the mounted pg_hba.conf", primary.Command)
	}
	if !mounts(primary, "observability/postgres-hba.conf", "/etc/postgresql/pg_hba.conf") {
		t.Errorf("postgres does not mount observability/postgres-hba.conf at /etc/postgresql/pg_hba.conf")
	}
	replica := service(t, p, "postgres-replica")
	if replica.Image != primary.Image {
		t.Errorf("replica image %s, primary %s: streaming replication needs the same major version", replica.Image, primary.Image)
	}
	if !mounts(replica, "observability/postgres-replica.sh", "/usr/local/bin/postgres-replica.sh") ||
		!slices.Contains(replica.Entrypoint, "/usr/local/bin/postgres-replica.sh") {
		t.Errorf("replica entry point %q does not run the mounted observability/postgres-replica.sh", replica.Entrypoint)
	}
	if replica.User != "postgres" {
		t.Errorf("replica runs as %q; PostgreSQL refuses root", replica.User)
	}
	env := replica.Environment
	if v := env["PRIMARY_HOST"]; v == nil || *v != "postgres" {
		t.Errorf("replica PRIMARY_HOST = %v, want postgres", v)
	}
	if v, pw := env["REPLICATION_PASSWORD"], primary.Environment["POSTGRES_PASSWORD"]; v == nil || pw == nil || *v != *pw {
		t.Errorf("replica REPLICATION_PASSWORD differs from the primary's POSTGRES_PASSWORD")
	}

	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{"DATABASE_REPLICA_URLS": "postgres://postgres:postgres@postgres-replica:5432/products"},
			"postgres://postgres:postgres@postgres-replica:5432/products"},
	} {
		got := service(t, loadCompose(t, tt.env, replicaProfile), "product-service").Environment["DATABASE_REPLICA_URLS"]
		if got == nil || *got != tt.want {
			t.Errorf("with %v product-service gets DATABASE_REPLICA_URLS %v, want %q", tt.env, got, tt.want)
		}
	}
}

// mounts reports whether s bind-mounts the repository file src at target.
func mounts(s types.ServiceConfig, src, target string) bool {
	return slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
		return strings.HasSuffix(v.Source, "/"+src) && v.Target == target
	})
}

// TestReplicaEntrypointNatively runs observability/postgres-replica.sh, the replica's entry point,
// against a private primary started with observability/postgres-hba.conf: it copies the primary,
// streams from it as a hot standby, and on a restart starts from its own data instead of copying
// again.
func TestReplicaEntrypointNatively(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	hba, err := filepath.Abs(filepath.Join(repoRoot, "observability", "postgres-hba.conf"))
	if err != nil {
		t.Fatal(err)
	}
	primary := pgtest.Start(ctx, t, pgtest.Options{Name: "primary", Database: "products",
		Settings: []string{"hba_file=" + hba, "wal_keep_size=64MB"}})
	primary.Exec("products", "CREATE TABLE marks (n int)")
	primary.Exec("products", "INSERT INTO marks VALUES (1)")

	// Not t.TempDir: its parent is root's alone, and the replica runs as postgres.
	dir, err := os.MkdirTemp("", "replica-entrypoint-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	cred := pgtest.Credential(t)
	for _, d := range []string{dir, data} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if cred != nil {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	script, err := filepath.Abs(filepath.Join(repoRoot, "observability", "postgres-replica.sh"))
	if err != nil {
		t.Fatal(err)
	}
	port := lab.MustFreePort(t)
	logs := t.TempDir()
	run := func() *lab.Proc {
		return lab.MustStart(ctx, t, lab.Spec{Name: "replica", Log: filepath.Join(logs, "replica.log"), Append: true, Bin: "/bin/sh",
			Args: []string{script, "-p", strconv.Itoa(port), "-c", "listen_addresses=127.0.0.1",
				"-c", "unix_socket_directories=" + dir, "-c", "fsync=off",
				// A hot standby needs at least the primary's max_connections (pgtest sets 200).
				"-c", "max_connections=200"},
			Env: lab.CleanEnv("PATH="+pgtest.BinDir(t)+":/usr/bin:/bin", "PGDATA="+data,
				"PRIMARY_HOST=127.0.0.1", "PRIMARY_PORT="+strconv.Itoa(primary.Port), "REPLICATION_USER=postgres"),
			Dir: dir, Cred: cred, StopSignal: syscall.SIGQUIT}) // SIGQUIT: PostgreSQL's immediate shutdown
	}
	url := "postgres://postgres@127.0.0.1:" + strconv.Itoa(port) + "/products?sslmode=disable"

	replica := run()
	waitMarks(ctx, t, replica, url, 1)
	primary.Exec("products", "INSERT INTO marks VALUES (2)")
	waitMarks(ctx, t, replica, url, 2)
	replica.Stop()

	// A restart starts from its own data: no second copy.
	replica = run()
	primary.Exec("products", "INSERT INTO marks VALUES (3)")
	waitMarks(ctx, t, replica, url, 3)
	if out := replica.Tail(100); strings.Count(out, "copying the primary") != 1 {
		t.Errorf("the primary was copied %d times over two starts, want once:\n%s", strings.Count(out, "copying the primary"), out)
	}
}

// waitMarks waits until the replica at url is a hot standby holding n rows of marks.
func waitMarks(ctx context.Context, t *testing.T, p *lab.Proc, url string, n int) {
	t.Helper()
	var last string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the replica's last answer when waiting for %d rows: %s\n%s", n, last, p.Tail(30))
		}
	})
	lab.WaitFor(t, "the replica to hold the marks as a hot standby", func() bool {
		if p.Exited() {
			t.Fatalf("the replica exited (%v):\n%s", p.Err(), p.Tail(30))
		}
		conn, err := pgx.Connect(ctx, url)
		if err == nil {
			var standby bool
			var rows int
			err = conn.QueryRow(ctx, "SELECT pg_is_in_recovery(), (SELECT count(*) FROM marks)").Scan(&standby, &rows)
			conn.Close(ctx)
			if err == nil && standby && rows == n {
				return true
			}
			last = "standby " + strconv.FormatBool(standby) + ", rows " + strconv.Itoa(rows)
		}
		if err != nil {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond) // a connection per try: not every 5 ms
		return false
	})
}
