package pgstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"github.com/product-service-lab/product-service/app/internal/catalog"
	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
	"github.com/product-service-lab/product-service/app/internal/seed"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// faulty is a store over a fresh seeded database of its own, with a separate admin connection to
// that database that terminates the store's backends or holds row locks.
type faulty struct {
	store *pgstore.Store
	db    *gorm.DB
	reg   *prometheus.Registry
	admin *pgx.Conn
}

// newFaulty opens the store's pool with OpenWithoutIdlePing: no connection is pinged because it
// was idle, so every backend the test terminates is still in the pool, believed alive, when the
// store reads next, however slow the machine. opts.Metrics is set by newFaulty.
func newFaulty(t *testing.T, opts pgstore.Options, pool pgstore.Pool) *faulty {
	t.Helper()
	ctx := context.Background()
	tdb := testdb.New(t)
	seedDB, err := tdb.Gorm.DB()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Run(ctx, seedDB, seed.Options{Products: 20, BatchSize: 20, Generator: gen}, nil); err != nil {
		t.Fatalf("seed: %v", err)
	}
	_ = seedDB.Close() // only the store's pool and the admin connection stay on the database
	db, err := pgstore.OpenWithoutIdlePing(ctx, tdb.URL, pool)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sqlDB.Close() })
	admin, err := pgx.Connect(ctx, tdb.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close(context.Background()) })
	f := &faulty{db: db, reg: prometheus.NewRegistry(), admin: admin}
	opts.Metrics = pgstore.NewMetrics(f.reg)
	f.store = pgstore.New(db, opts)
	return f
}

// terminateBackends ends every backend of the store's database but the admin connection's own
// (pg_terminate_backend, SQLSTATE 57P01 on the client's next statement) and waits until they are
// gone. It returns how many it ended.
func (f *faulty) terminateBackends(t *testing.T) int {
	t.Helper()
	ctx := context.Background()
	var n int
	err := f.admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n)
	if err != nil {
		t.Fatalf("terminate backends: %v", err)
	}
	// pg_terminate_backend signals; the backend then writes its FATAL message and exits.
	for {
		var left int
		if err := f.admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fillPool puts n live connections in the store's pool, each reused just now, as under load (pgx
// pings a connection on its first reuse: its last use is unknown). A dead connection met on the
// way (one a previous termination left there) is dropped and another one taken.
func (f *faulty) fillPool(t *testing.T, n int) {
	t.Helper()
	f.takeAll(t, n)
	f.takeAll(t, n)
}

// takeAll takes n live connections of the store's pool at once, then gives them back.
func (f *faulty) takeAll(t *testing.T, n int) {
	t.Helper()
	sqlDB, err := f.db.DB()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conns := make([]*sql.Conn, 0, n)
	for len(conns) < n {
		c, err := sqlDB.Conn(ctx)
		if err != nil {
			t.Fatalf("take a connection: %v", err)
		}
		// A failed ping closes the driver's connection; database/sql then drops it.
		if err := c.PingContext(ctx); err != nil {
			_ = c.Close()
			continue
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		_ = c.Close()
	}
}

// counter reads the value of the counter name whose labels include want.
func counter(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("%s%v not found", name, want)
	return 0
}

// TestReadAfterBackendsTerminated: when the server closes the store's pooled connections
// (pg_terminate_backend: SQLSTATE 57P01, as in a failover or a pooler restart), the next read of
// each kind succeeds, run once more on a live connection, and db_retries_total{op=read,
// reason=conn_lost} counts it. With several dead connections in the pool, the retry must not get
// another dead one.
func TestReadAfterBackendsTerminated(t *testing.T) {
	reads := []struct {
		name string
		read func(ctx context.Context, s *pgstore.Store) error
	}{
		{"product", func(ctx context.Context, s *pgstore.Store) error { _, err := s.Product(ctx, 3); return err }},
		{"products", func(ctx context.Context, s *pgstore.Store) error {
			ps, err := s.Products(ctx, []int64{1, 2, 3})
			if err == nil && len(ps) != 3 {
				err = fmt.Errorf("%d products, want 3", len(ps))
			}
			return err
		}},
		{"list", func(ctx context.Context, s *pgstore.Store) error {
			_, err := s.List(ctx, catalog.Page{Limit: 5})
			return err
		}},
		{"inventory", func(ctx context.Context, s *pgstore.Store) error { _, err := s.Inventory(ctx, 3); return err }},
	}
	for _, pooled := range []int{1, 5} {
		for _, r := range reads {
			t.Run(fmt.Sprintf("%s/%d pooled", r.name, pooled), func(t *testing.T) {
				f := newFaulty(t, pgstore.Options{}, pgstore.Pool{MaxOpenConns: 10, MaxIdleConns: 10})
				ctx := context.Background()
				f.fillPool(t, pooled)
				if n := f.terminateBackends(t); n != pooled {
					t.Fatalf("terminated %d backends, want the %d pooled", n, pooled)
				}
				if err := r.read(ctx, f.store); err != nil {
					t.Fatalf("read after the backends were terminated: %v, want success", err)
				}
				want := map[string]float64{"conn_lost": 1, "replica_failed": 0}
				got := map[string]float64{}
				for reason := range want {
					got[reason] = counter(t, f.reg, "db_retries_total", map[string]string{"op": "read", "reason": reason})
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("db_retries_total{op=read} (-want +got):\n%s", diff)
				}
				// Every connection is alive again: the next reads need no retry.
				for range 3 {
					if err := r.read(ctx, f.store); err != nil {
						t.Fatalf("a later read: %v", err)
					}
				}
				if n := counter(t, f.reg, "db_retries_total", map[string]string{"op": "read", "reason": "conn_lost"}); n != 1 {
					t.Errorf("db_retries_total{op=read,reason=conn_lost} = %v after more reads, want still 1", n)
				}
			})
		}
	}
}

// TestReadOpenPoolAfterBackendTerminated runs the same fault through Open, the pool the service
// uses (pgx pings a connection idle for more than a second, so whether the retry is needed
// depends on the machine's speed; the read must succeed either way).
func TestReadOpenPoolAfterBackendTerminated(t *testing.T) {
	tdb := testdb.New(t)
	ctx := context.Background()
	seedDB, err := tdb.Gorm.DB()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Run(ctx, seedDB, seed.Options{Products: 5, BatchSize: 5, Generator: gen}, nil); err != nil {
		t.Fatal(err)
	}
	_ = seedDB.Close()
	db, err := pgstore.Open(ctx, tdb.URL, pgstore.Pool{MaxOpenConns: 4, MaxIdleConns: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { _ = sqlDB.Close() })
	admin, err := pgx.Connect(ctx, tdb.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close(context.Background()) })
	f := &faulty{db: db, admin: admin, reg: prometheus.NewRegistry()}
	store := pgstore.New(db, pgstore.Options{Metrics: pgstore.NewMetrics(f.reg)})
	const rounds = 3
	for round := range rounds {
		f.fillPool(t, 4)
		f.terminateBackends(t)
		if _, err := store.Product(ctx, 2); err != nil {
			t.Fatalf("round %d: read after the backends were terminated: %v", round, err)
		}
	}
	n := counter(t, f.reg, "db_retries_total", map[string]string{"op": "read", "reason": "conn_lost"})
	t.Logf("%v of %d reads after a termination were retried (the others found their connection idle for more than a second: pinged)", n, rounds)
	if n > rounds {
		t.Errorf("db_retries_total{op=read,reason=conn_lost} = %v, want at most one per read (%d)", n, rounds)
	}
}

// TestWriteAfterBackendTerminated: a write whose BEGIN met a connection the server closed runs
// BEGIN again on another connection (nothing of the write ran) and succeeds, counted in
// db_retries_total{op=begin,reason=conn_lost}.
func TestWriteAfterBackendTerminated(t *testing.T) {
	f := newFaulty(t, pgstore.Options{LockTimeout: time.Second}, pgstore.Pool{MaxOpenConns: 5, MaxIdleConns: 5})
	ctx := context.Background()
	before, err := f.store.Product(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	f.fillPool(t, 3)
	f.terminateBackends(t)
	in := input(before.SKU)
	after, err := f.store.Update(ctx, 4, in, before.Version)
	if err != nil {
		t.Fatalf("Update after the backends were terminated: %v, want success", err)
	}
	if after.Version != before.Version+1 || after.Name != in.Name {
		t.Errorf("after the update: version %d name %q, want %d %q", after.Version, after.Name, before.Version+1, in.Name)
	}
	if n := counter(t, f.reg, "db_retries_total", map[string]string{"op": "begin", "reason": "conn_lost"}); n != 1 {
		t.Errorf("db_retries_total{op=begin,reason=conn_lost} = %v, want 1", n)
	}
}

// TestWriteWaitingOnRowLock: a write that waits on a row lock another transaction holds (here
// SELECT … FOR UPDATE) gives up after LockTimeout with ErrLockTimeout, changes nothing, and is
// counted in db_lock_timeouts_total{operation}; once the lock is released the same write
// succeeds. The query timeout is far longer, so only lock_timeout can end the wait.
func TestWriteWaitingOnRowLock(t *testing.T) {
	const id = int64(6)
	f := newFaulty(t, pgstore.Options{QueryTimeout: 20 * time.Second, LockTimeout: 100 * time.Millisecond},
		pgstore.Pool{MaxOpenConns: 5, MaxIdleConns: 5})
	ctx := context.Background()
	before, err := f.store.Product(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	holder, err := f.admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Rollback(context.Background()) }()
	if _, err := holder.Exec(ctx, `SELECT id FROM products WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}

	in := input("LOCKED-1")
	writes := []struct {
		operation string
		write     func() error
	}{
		{"update", func() error { _, err := f.store.Update(ctx, id, in, before.Version); return err }},
		{"update", func() error { _, err := f.store.Update(ctx, id, in, 0); return err }},
		{"delete", func() error { return f.store.Delete(ctx, id, before.Version) }},
	}
	for _, w := range writes {
		if err := w.write(); !errors.Is(err, catalog.ErrLockTimeout) {
			t.Errorf("%s of a locked row: %v, want ErrLockTimeout", w.operation, err)
		}
	}
	for op, want := range map[string]float64{"update": 2, "delete": 1, "create": 0} {
		if n := counter(t, f.reg, "db_lock_timeouts_total", map[string]string{"operation": op}); n != want {
			t.Errorf("db_lock_timeouts_total{operation=%s} = %v, want %v", op, n, want)
		}
	}
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	unchanged, err := f.store.Product(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, unchanged); diff != "" {
		t.Errorf("the locked row changed (-before +after):\n%s", diff)
	}
	if _, err := f.store.Update(ctx, id, in, before.Version); err != nil {
		t.Fatalf("Update once the lock was released: %v", err)
	}
}

// TestLockTimeoutStaysInTheTransaction: lock_timeout is SET LOCAL, so the connection a write used
// goes back to the pool with the server's default, and a read that gets it next is not bounded.
func TestLockTimeoutStaysInTheTransaction(t *testing.T) {
	f := newFaulty(t, pgstore.Options{LockTimeout: 250 * time.Millisecond}, pgstore.Pool{MaxOpenConns: 1, MaxIdleConns: 1})
	ctx := context.Background()
	p, err := f.store.Product(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Update(ctx, 2, input(p.SKU), p.Version); err != nil {
		t.Fatal(err)
	}
	// The pool's one connection served the write.
	var after string
	if err := f.db.Raw("SHOW lock_timeout").Row().Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != "0" {
		t.Errorf("lock_timeout after a write on its connection = %q, want the default 0", after)
	}
}
