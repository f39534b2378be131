package pgstore_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"gorm.io/plugin/opentelemetry/tracing"

	"github.com/product-service-lab/product-service/app/internal/catalog"
	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
	"github.com/product-service-lab/product-service/app/internal/pgtest"
	"github.com/product-service-lab/product-service/app/internal/seed"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// replicated is a store over a private primary with one streaming replica of it.
type replicated struct {
	store            *pgstore.Store
	primary, replica *pgtest.Cluster
	reg              *prometheus.Registry
	spans            *tracetest.SpanRecorder
	tp               *sdktrace.TracerProvider
	// clock is the store's (Unix ns): it stands still until a test moves it, so the
	// read-your-writes window ends when the test says, not when the machine gets to it.
	clock atomic.Int64
}

const readYourWrites = 400 * time.Millisecond

// newReplicated starts a primary (seeded with products 1..seeded), makes a streaming replica of it
// with pg_basebackup, waits until the replica caught up and opens a store that reads from it.
func newReplicated(t *testing.T) *replicated {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	r := &replicated{primary: pgtest.Start(ctx, t, pgtest.Options{Name: "primary", Database: "products"})}
	db, err := pgstore.Open(ctx, r.primary.URL("products"), pgstore.Pool{MaxOpenConns: 5, MaxIdleConns: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { _ = sqlDB.Close() })
	if _, err := pgstore.Migrate(ctx, sqlDB); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Run(ctx, sqlDB, seed.Options{Products: seeded, BatchSize: 100, Generator: gen}, nil); err != nil {
		t.Fatal(err)
	}
	r.replica = r.primary.Replica("replica")
	r.primary.WaitCaughtUp(r.replica, 30*time.Second)

	replicas, down, err := pgstore.OpenReplicas(ctx, []string{r.replica.URL("products")}, pgstore.Pool{MaxOpenConns: 5, MaxIdleConns: 5})
	if err != nil || len(down) > 0 {
		t.Fatalf("open replica: %v %v", err, down)
	}
	t.Cleanup(func() { pgstore.CloseReplicas(replicas) })
	r.spans = tracetest.NewSpanRecorder()
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	if err := db.Use(tracing.NewPlugin(tracing.WithTracerProvider(r.tp), tracing.WithoutMetrics())); err != nil {
		t.Fatal(err)
	}
	r.reg = prometheus.NewRegistry()
	m := pgstore.NewMetrics(r.reg)
	if err := pgstore.Route(db, replicas, m); err != nil {
		t.Fatal(err)
	}
	r.clock.Store(time.Now().UnixNano())
	r.store = pgstore.New(db, pgstore.Options{Metrics: m, Replicated: true, ReadYourWrites: readYourWrites,
		Now: func() time.Time { return time.Unix(0, r.clock.Load()) }})
	return r
}

// counts reads db_statements_total{target} and db_replica_bypass_total{reason}.
func (r *replicated) counts(t *testing.T) (primary, replica, ryw, failed float64) {
	t.Helper()
	read := func(name, label string) float64 {
		mfs, err := r.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetValue() == label {
						return m.GetCounter().GetValue()
					}
				}
			}
		}
		t.Fatalf("%s{%s} not found", name, label)
		return 0
	}
	return read("db_statements_total", pgstore.TargetPrimary), read("db_statements_total", pgstore.TargetReplica),
		read("db_replica_bypass_total", "read_your_writes"), read("db_replica_bypass_total", "replica_failed")
}

// name reads product id's name through the store.
func (r *replicated) name(t *testing.T, id int64) string {
	t.Helper()
	p, err := r.store.Product(context.Background(), id)
	if err != nil {
		t.Fatalf("Product(%d): %v", id, err)
	}
	return p.Name
}

func TestReplicaServesReadsPrimaryServesWrites(t *testing.T) {
	r := newReplicated(t)
	ctx := context.Background()

	// Reads outside a transaction go to the replica, and only there.
	p0, r0, _, _ := r.counts(t)
	if _, err := r.store.Product(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.Products(ctx, []int64{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.List(ctx, catalog.Page{Limit: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.Inventory(ctx, 7); err != nil {
		t.Fatal(err)
	}
	p1, r1, _, _ := r.counts(t)
	if p1 != p0 || r1-r0 != 4 {
		t.Errorf("4 reads: primary +%v, replica +%v statements; want +0, +4", p1-p0, r1-r0)
	}

	// A replica that stopped replaying serves the data of that moment: a row changed on the
	// primary behind the store's back reads as before...
	r.replica.PauseReplay()
	r.primary.Exec("products", "UPDATE products SET name = 'changed behind the store' WHERE id = 8")
	if got := r.name(t, 8); got == "changed behind the store" {
		t.Fatalf("product 8 read %q: the read did not go to the paused replica", got)
	}

	// ...but the caller's own write is read back from the primary, within the window: the
	// update (a transaction, with its read inside) runs on the primary alone.
	before, err := r.store.Product(ctx, 9)
	if err != nil {
		t.Fatal(err)
	}
	in := catalog.ProductInput{SKU: before.SKU, Name: "renamed by the store", Description: before.Description,
		PriceCents: &before.PriceCents, Currency: before.Currency, CategoryID: before.Category.ID}
	p2, r2, ryw2, _ := r.counts(t)
	updated, err := r.store.Update(ctx, 9, in, before.Version)
	if err != nil {
		t.Fatal(err)
	}
	p3, r3, _, _ := r.counts(t)
	if updated.Name != "renamed by the store" || r3 != r2 || p3 <= p2 {
		t.Errorf("update: name %q, primary +%v, replica +%v statements; want the new name, all on the primary",
			updated.Name, p3-p2, r3-r2)
	}
	if got := r.name(t, 9); got != "renamed by the store" {
		t.Errorf("read right after the update: %q, want the write (read your writes)", got)
	}
	if inv, err := r.store.Inventory(ctx, 9); err != nil || inv.ProductID != 9 {
		t.Errorf("inventory right after the update: %+v, %v", inv, err)
	}
	_, _, ryw4, _ := r.counts(t)
	if ryw4-ryw2 != 2 {
		t.Errorf("db_replica_bypass_total{reason=read_your_writes} +%v, want +2", ryw4-ryw2)
	}

	// Past the window the replica answers again, with what it has: the window must exceed the
	// replicas' lag, which is what DB_READ_YOUR_WRITES documents.
	r.clock.Add(int64(readYourWrites + time.Nanosecond))
	if got := r.name(t, 9); got == "renamed by the store" {
		t.Errorf("past the window product 9 read %q from a paused replica", got)
	}
	r.replica.ResumeReplay()
	r.primary.WaitCaughtUp(r.replica, 30*time.Second)
	for id, want := range map[int64]string{8: "changed behind the store", 9: "renamed by the store"} {
		if got := r.name(t, id); got != want {
			t.Errorf("after the replica caught up product %d reads %q, want %q", id, got, want)
		}
	}

	// Every statement span says which database served it.
	targets := map[string]int{}
	for _, s := range r.spans.Ended() {
		for _, a := range s.Attributes() {
			if a.Key == "db.target" {
				targets[a.Value.AsString()]++
			}
		}
	}
	if targets[pgstore.TargetPrimary] == 0 || targets[pgstore.TargetReplica] == 0 {
		t.Errorf("spans by db.target: %v, want both primary and replica", targets)
	}
}

func TestReplicaDownFallsBackToPrimary(t *testing.T) {
	r := newReplicated(t)
	ctx := context.Background()
	if got := r.name(t, 3); got == "" {
		t.Fatal("no name")
	}
	r.replica.Kill()
	_, _, _, f0 := r.counts(t)
	for _, id := range []int64{3, 4, 5} {
		p, err := r.store.Product(ctx, id)
		if err != nil {
			t.Fatalf("Product(%d) with the replica down: %v, want the primary's answer", id, err)
		}
		if p.ID != id {
			t.Fatalf("Product(%d) = %d", id, p.ID)
		}
	}
	_, err := r.store.Product(ctx, seeded+1)
	if !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("a missing product with the replica down: %v, want ErrNotFound from the primary", err)
	}
	_, _, _, f1 := r.counts(t)
	if f1-f0 != 4 {
		t.Errorf("db_replica_bypass_total{reason=replica_failed} +%v, want +4", f1-f0)
	}
	r.replica.Start()
	if got := r.name(t, 3); got == "" {
		t.Fatal("no name after the replica came back")
	}
}

// Without replicas the split is not installed and everything is the primary's.
func TestNoReplicasEverythingOnPrimary(t *testing.T) {
	db := testdb.New(t)
	r := &replicated{reg: prometheus.NewRegistry()}
	m := pgstore.NewMetrics(r.reg)
	if err := pgstore.Route(db.Gorm, nil, m); err != nil {
		t.Fatal(err)
	}
	s := pgstore.New(db.Gorm, pgstore.Options{Metrics: m, ReadYourWrites: time.Second})
	if _, err := s.Product(context.Background(), 1); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("Product(1) on an empty database: %v, want ErrNotFound", err)
	}
	primary, replica, ryw, failed := r.counts(t)
	if primary != 1 || replica != 0 || ryw != 0 || failed != 0 {
		t.Errorf("statements primary %v replica %v, bypasses %v %v; want 1 0 0 0", primary, replica, ryw, failed)
	}
}
