package pgstore

import (
	"context"
	"math"
	"time"

	"gorm.io/gorm"
)

// OpenWithoutIdlePing is Open without pgx's ping of connections idle for more than a second: only
// a lost connection (see connLoss) makes the pool ping the others. A test then decides which
// pooled connections are dead when it reads, however slow the machine.
func OpenWithoutIdlePing(ctx context.Context, dsn string, pool Pool) (*gorm.DB, error) {
	return open(ctx, dsn, pool, nil, &connLoss{now: time.Now, idle: math.MaxInt64})
}
