package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// redact hides the password of a URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
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
