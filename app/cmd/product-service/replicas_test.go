package main

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
	"github.com/product-service-lab/product-service/app/internal/seed"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// openReplicas as serve calls it: a replica that does not answer at start is a warning, not a
// failed start; each replica's pool is registered as products_replica_<n>; reads go to the
// replicas and, where one does not answer, to the primary.
func TestOpenReplicasWiring(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	sqlDB, _ := db.Gorm.DB()
	if _, err := seed.Run(ctx, sqlDB, seed.Options{Products: 20, Generator: seed.Generator{Seed: 1}}, nil); err != nil {
		t.Fatal(err)
	}
	// The database itself stands in for a replica that answers; port 1 for one that does not.
	down := "postgres://postgres@127.0.0.1:1/products?sslmode=disable&connect_timeout=1"
	cfg, _, _, err := setup(&strings.Builder{}, lookup(map[string]string{
		"DATABASE_URL": db.URL, "DATABASE_REPLICA_URLS": db.URL + "," + down,
	}))
	if err != nil {
		t.Fatal(err)
	}
	log, hook := test.NewNullLogger()
	reg := prometheus.NewRegistry()
	m := pgstore.NewMetrics(reg)
	replicas, err := openReplicas(ctx, cfg, db.Gorm, m, reg, log)
	if err != nil {
		t.Fatalf("openReplicas with one replica down: %v, want a start", err)
	}
	defer pgstore.CloseReplicas(replicas)
	var warned int
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.WarnLevel && strings.Contains(e.Message, "replica not answering") {
			warned++
		}
	}
	if len(replicas) != 2 || warned != 1 {
		t.Fatalf("%d replicas, %d warnings; want 2 and 1 (the one at port 1)", len(replicas), warned)
	}
	if n, err := testutil.GatherAndCount(reg, "go_sql_open_connections"); err != nil || n != 2 {
		t.Fatalf("go_sql_open_connections series %d (%v), want one per replica", n, err)
	}
	for _, name := range []string{"products_replica_1", "products_replica_2"} {
		if !gathered(t, reg, "go_sql_open_connections", "db_name", name) {
			t.Errorf("no pool statistics for %s", name)
		}
	}
	store := pgstore.New(db.Gorm, pgstore.Options{Metrics: m, Replicated: true})
	for id := int64(1); id <= 4; id++ { // round robin: twice on each replica
		if _, err := store.Product(ctx, id); err != nil {
			t.Fatalf("Product(%d) with one replica down: %v", id, err)
		}
	}
	if !gathered(t, reg, "db_statements_total", "target", pgstore.TargetReplica) {
		t.Error("no statement counted on a replica")
	}
	if !gathered(t, reg, "db_replica_bypass_total", "reason", "replica_failed") {
		t.Error("no read fell back from the replica that is down")
	}
}

// gathered reports whether reg has a series of family name with label = value: a gauge, or a
// counter above zero.
func gathered(t *testing.T, reg *prometheus.Registry, name, label, value string) bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value && (m.GetCounter() == nil || m.GetCounter().GetValue() > 0) {
					return true
				}
			}
		}
	}
	return false
}
