package pgstore

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// connLossPlugin names the connLoss that Open installs on the db, where New finds it.
const connLossPlugin = "pgstore:conn-loss"

// connLoss remembers when a lost connection was last seen (see connLost), so that every pooled
// connection last checked out before then is pinged before it serves again. When one connection of
// the pool was lost its siblings often were too (a failover, a pooler restart, the backends of the
// service terminated together), and pgx pings only connections idle for more than a second: without
// this, a read run again after a lost connection would often get another dead one.
//
// It is a GORM plugin only to travel with the db from Open to New; it installs nothing.
type connLoss struct {
	at   atomic.Int64 // unix nanoseconds of the last loss; 0: none yet
	now  func() time.Time
	idle time.Duration // pgx's own rule: ping a connection idle for longer
}

func newConnLoss() *connLoss { return &connLoss{now: time.Now, idle: time.Second} }

// Name names the plugin.
func (l *connLoss) Name() string { return connLossPlugin }

// Initialize installs nothing (see connLoss).
func (l *connLoss) Initialize(*gorm.DB) error { return nil }

// mark records that a connection was lost now. A nil connLoss (a db not made by Open) ignores it.
func (l *connLoss) mark() {
	if l != nil {
		l.at.Store(l.now().UnixNano())
	}
}

// pingKey marks the context of a statement run again (see withPing).
type pingKey struct{}

// withPing returns ctx marked so that the connection a statement takes with it is pinged first,
// whatever its history: a statement run again after a lost connection must not get a dead one.
func withPing(ctx context.Context) context.Context { return context.WithValue(ctx, pingKey{}, true) }

// shouldPing is the pool's stdlib.OptionShouldPing: pgx's own rule (a connection idle for more
// than a second), a connection last checked out before the last loss, or any connection taken by
// a statement run again (withPing). database/sql passes the statement's context.
func (l *connLoss) shouldPing(ctx context.Context, p stdlib.ShouldPingParams) bool {
	if p.IdleDuration > l.idle || ctx.Value(pingKey{}) != nil {
		return true
	}
	at := l.at.Load()
	return at != 0 && l.now().Add(-p.IdleDuration).UnixNano() < at
}

// lossOf returns the connLoss Open installed on db, or nil.
func lossOf(db *gorm.DB) *connLoss {
	l, _ := db.Config.Plugins[connLossPlugin].(*connLoss)
	return l
}
