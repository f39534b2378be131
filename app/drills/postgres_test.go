package drills

import (
	"context"
	"testing"

	"github.com/product-service-lab/product-service/app/internal/pgtest"
)

// pgDatabase is the database the drills create in their cluster.
const pgDatabase = "products"

// pgCluster is a PostgreSQL cluster of one drill (app/internal/pgtest): initdb in a temp dir, the
// server on a free port, run as the user postgres when the drill runs as root.
type pgCluster = pgtest.Cluster

// startPostgres creates a cluster, starts it and creates the database pgDatabase in it. The
// cluster is stopped and its directory removed at cleanup.
func startPostgres(ctx context.Context, t *testing.T, logs string) *pgCluster {
	t.Helper()
	return pgtest.Start(ctx, t, pgtest.Options{LogDir: logs, Database: pgDatabase})
}
