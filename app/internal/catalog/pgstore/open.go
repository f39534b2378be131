// Package pgstore keeps the catalogue in PostgreSQL through GORM. It owns the schema (versioned SQL
// migrations), the one detail query every read path shares, and the mapping between rows and the
// catalog domain.
package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Pool sizes the connection pool.
type Pool struct {
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	ConnMaxIdleTime time.Duration
}

// Open connects to the database at dsn, sizes its pool and checks that it answers. log receives
// GORM's own messages; nil silences them. Once a connection of the pool was lost (see connLost),
// every other one is pinged before it serves again, so that a read retried after the loss gets a
// live connection.
func Open(ctx context.Context, dsn string, pool Pool, log logger.Interface) (*gorm.DB, error) {
	return open(ctx, dsn, pool, log, newConnLoss())
}

// open is Open with the connLoss the pool consults.
func open(ctx context.Context, dsn string, pool Pool, log logger.Interface, loss *connLoss) (*gorm.DB, error) {
	if log == nil {
		log = logger.Discard
	}
	connCfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	conns := stdlib.OpenDB(*connCfg, stdlib.OptionShouldPing(loss.shouldPing))
	db, err := gorm.Open(postgres.New(postgres.Config{Conn: conns}), &gorm.Config{
		Logger:                 log,
		SkipDefaultTransaction: true,
		// Open pings itself, with a bound. GORM's own ping would also run for every replica pool
		// dbresolver opens with this config (Route), and a replica down at start would then fail
		// the start instead of falling back to the primary.
		DisableAutomaticPing: true,
		NowFunc:              func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		_ = conns.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := db.Use(loss); err != nil {
		_ = conns.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	sqlDB.SetMaxOpenConns(pool.MaxOpenConns)
	sqlDB.SetMaxIdleConns(pool.MaxIdleConns)
	sqlDB.SetConnMaxLifetime(pool.ConnMaxLifetime)
	sqlDB.SetConnMaxIdleTime(pool.ConnMaxIdleTime)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return db, nil
}
