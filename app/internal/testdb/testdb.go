// Package testdb gives integration tests a fresh, migrated PostgreSQL database of their own, and a
// Redis address, from TEST_DATABASE_URL and TEST_REDIS_ADDR (defaulting to the local servers).
// When a server cannot be reached the test is skipped, except under CI (CI set), where it fails.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
	"github.com/product-service-lab/product-service/app/internal/lab"
)

// Defaults used when the environment names no server.
const (
	DefaultURL       = "postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable"
	DefaultRedisAddr = "127.0.0.1:6379"
)

// AdminURL returns the URL of the server tests create their databases on.
func AdminURL() string {
	if v := os.Getenv("TEST_DATABASE_URL"); v != "" {
		return v
	}
	return DefaultURL
}

// RedisAddr returns the Redis address tests use, skipping (or failing under CI) when it is down.
func RedisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("TEST_REDIS_ADDR")
	if addr == "" {
		addr = DefaultRedisAddr
	}
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		lab.Missing(t, "redis at %s is unreachable: %v", addr, err)
	}
	_ = conn.Close()
	return addr
}

// DB is a database created for one test and dropped when it ends.
type DB struct {
	// URL connects to the new database.
	URL string
	// Gorm is an open handle on it.
	Gorm *gorm.DB
}

// New creates an empty database, applies the migrations and returns it. It is dropped at cleanup.
func New(t testing.TB) DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := AdminURL()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		lab.Missing(t, "postgres at %s is unreachable: %v", redact(admin), err)
	}
	defer conn.Close(ctx)

	name := "test_" + randomSuffix()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})

	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	db, err := pgstore.Open(ctx, u.String(), pgstore.Pool{MaxOpenConns: 20, MaxIdleConns: 10}, nil)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sqlDB.Close() })
	if _, err := pgstore.Migrate(ctx, sqlDB); err != nil {
		t.Fatalf("migrate %s: %v", name, err)
	}
	return DB{URL: u.String(), Gorm: db}
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return strings.ToLower(hex.EncodeToString(b))
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// String names the database for messages.
func (d DB) String() string { return fmt.Sprintf("testdb(%s)", redact(d.URL)) }
