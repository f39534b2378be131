package lab

import (
	"context"
	"fmt"
	"net/url"
	"regexp"

	"github.com/jackc/pgx/v5"
)

// dbName is what EnsureDatabase accepts as a database name: it is put in a statement unquoted.
var dbName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// DatabaseURL returns adminURL (a postgres:// URL) with its database swapped for name.
func DatabaseURL(adminURL, name string) (string, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return "", fmt.Errorf("admin URL must be a postgres:// URL")
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// EnsureDatabase creates database name on the server of adminURL when it is missing, and returns
// its URL. name must be lower-case letters, digits and '_'.
func EnsureDatabase(ctx context.Context, adminURL, name string) (string, error) {
	if !dbName.MatchString(name) {
		return "", fmt.Errorf("database name must match %s, got %q", dbName, name)
	}
	dbURL, err := DatabaseURL(adminURL, name)
	if err != nil {
		return "", err
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect to the admin database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look for database %s: %w", name, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			return "", fmt.Errorf("create database %s: %w", name, err)
		}
	}
	return dbURL, nil
}
