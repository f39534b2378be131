package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// dbNameRE is what a database name may be (it is quoted into CREATE DATABASE).
var dbNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Time bounds of preparing the database.
const (
	migrateTimeout = 2 * time.Minute
	seedTimeout    = 20 * time.Minute
)

// withDatabase returns admin with its database swapped for name.
func withDatabase(admin, name string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", redact(admin), err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// redact hides the password of a URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// ensureDatabase creates the database name on the admin URL's server when it is missing.
func ensureDatabase(ctx context.Context, admin, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to %s (set -pg-admin-url): %w", redact(admin), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look for database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	fmt.Printf("compare: creating database %s\n", name)
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %q", name)); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// dataset describes the database a run reads.
type dataset struct {
	hotIDs          []int64
	postgresVersion string
}

// readDataset reads the is_hot ids (the first Zipf ranks, as many as the service warms) and the
// server version.
func readDataset(ctx context.Context, databaseURL string, products int) (dataset, error) {
	var d dataset
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return d, fmt.Errorf("connect to %s: %w", redact(databaseURL), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&d.postgresVersion); err != nil {
		return d, fmt.Errorf("read the PostgreSQL version: %w", err)
	}
	rows, err := conn.Query(ctx, "SELECT id FROM products WHERE is_hot AND id <= $1 ORDER BY id LIMIT $2", products, hotLimit)
	if err != nil {
		return d, fmt.Errorf("read the is_hot ids: %w", err)
	}
	d.hotIDs, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return d, fmt.Errorf("read the is_hot ids: %w", err)
	}
	return d, nil
}

// hotLimit is the service's CACHE_HOT_LIMIT default: the most is_hot products warm-up loads.
const hotLimit = 5000

// writeIDs writes ids one a line.
func writeIDs(path string, ids []int64) error {
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintln(&b, id)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// prepareDatabase migrates and seeds (both idempotent) the database with the built binary.
func prepareDatabase(ctx context.Context, bin, databaseURL string, products int) error {
	env := []string{"DATABASE_URL=" + databaseURL, "LOG_LEVEL=warn"}
	for _, step := range []struct {
		limit time.Duration
		args  []string
	}{
		{migrateTimeout, []string{"migrate"}},
		{seedTimeout, []string{"seed", "--products", fmt.Sprint(products)}},
	} {
		sctx, cancel := context.WithTimeout(ctx, step.limit)
		out, err := command(sctx, env, bin, step.args...).CombinedOutput()
		cancel()
		if err != nil {
			return fmt.Errorf("product-service %s: %w\n%s", strings.Join(step.args, " "), err, out)
		}
	}
	return nil
}
