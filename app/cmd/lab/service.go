package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// common are the flags of every command: the tools and servers, and the dataset.
type common struct {
	k6, pgAdminURL, dbName, redisAddr string
	products, rate                    int
}

// flags declares the common flags on fs, with each command's defaults.
func (c *common) flags(fs *flag.FlagSet, env func(key, def string) string, dbName string, products, rate int) {
	home, _ := os.UserHomeDir()
	fs.StringVar(&c.k6, "k6", env("K6", filepath.Join(home, ".cache/product-service-lab/tools/k6-v1.8.1/k6")), "k6 binary (env K6; make tools builds it)")
	fs.StringVar(&c.pgAdminURL, "pg-admin-url", env("PG_ADMIN_URL", "postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		"maintenance database URL, to create -db-name (env PG_ADMIN_URL)")
	fs.StringVar(&c.dbName, "db-name", dbName, "database of the service, on the -pg-admin-url server")
	fs.StringVar(&c.redisAddr, "redis-addr", env("REDIS_ADDR", "127.0.0.1:6379"), "Redis host:port (env REDIS_ADDR)")
	fs.IntVar(&c.products, "products", atoi(env("PRODUCTS", ""), products), "products seeded and read, ids 1..products (env PRODUCTS)")
	fs.IntVar(&c.rate, "rate", atoi(env("RATE", ""), rate), "read requests per second (env RATE)")
}

// validate checks the common flags.
func (c *common) validate() error {
	if _, err := os.Stat(c.k6); err != nil {
		return fmt.Errorf("k6 not found at %s: run 'make tools' or pass -k6 (%w)", c.k6, err)
	}
	if c.products < 1 || c.rate < 1 {
		return fmt.Errorf("-products and -rate must be positive, got %d and %d", c.products, c.rate)
	}
	return nil
}

// envOf reads flag defaults from lookup.
func envOf(lookup func(string) (string, bool)) func(key, def string) string {
	return func(key, def string) string {
		if v, ok := lookup(key); ok && v != "" {
			return v
		}
		return def
	}
}

func atoi(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// started is the one replica a command runs, and how to end it.
type started struct {
	*lab.Replica
	token, namespace string
	stop             func() // stops the replica, deletes its Redis keys and the binary
}

// startService builds, prepares and starts the service of c with extra settings (KEY=VALUE),
// its output in logPath; name prefixes its cache namespace.
func startService(ctx context.Context, c common, name, logDir string, extra ...string) (*started, error) {
	dbCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	dbURL, err := lab.EnsureDatabase(dbCtx, c.pgAdminURL, c.dbName)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%w (set -pg-admin-url)", err)
	}
	fmt.Printf("%s: building product-service\n", name)
	bin, err := lab.ServiceBinary()
	if err != nil {
		return nil, err
	}
	s := &started{token: randomHex(), namespace: fmt.Sprintf("%s-%d-%s", name, os.Getpid(), randomHex()[:6])}
	svc := &lab.Service{Bin: bin, LogDir: logDir, Env: append([]string{"DATABASE_URL=" + dbURL, "REDIS_ADDR=" + c.redisAddr,
		"ADMIN_TOKEN=" + s.token, "LOG_LEVEL=warn", "CACHE_NAMESPACE=" + s.namespace}, extra...)}
	fmt.Printf("%s: migrating and seeding %d products into database %s (idempotent)\n", name, c.products, c.dbName)
	if err := svc.Prepare(ctx, dbURL, c.products); err != nil {
		lab.RemoveServiceBinary()
		return nil, err
	}
	if s.Replica, err = svc.Start(ctx, name+"-service", ""); err != nil {
		lab.RemoveServiceBinary()
		return nil, err
	}
	s.stop = func() {
		_ = s.Stop()
		lab.RemoveServiceBinary()
		rdb := redis.NewClient(&redis.Options{Addr: c.redisAddr})
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := lab.DeleteKeys(ctx, rdb, s.namespace+":*", ""); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		}
	}
	return s, nil
}

// randomHex returns 16 random bytes in hex.
func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
