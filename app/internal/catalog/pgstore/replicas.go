package pgstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/plugin/dbresolver"
)

// Database roles, as metrics and spans name them.
const (
	TargetPrimary = "primary"
	TargetReplica = "replica"
)

// Replica is one read replica's pool.
type Replica struct {
	// Addr is host:port, for spans and messages.
	Addr string
	DB   *sql.DB
}

// OpenReplicas opens a pool per replica URL, sized like the primary's. A replica that does not
// answer yet is not an error (reads fall back to the primary while it is away); its ping error
// is returned in down, one per such replica, for the caller to log.
func OpenReplicas(ctx context.Context, urls []string, pool Pool) (replicas []Replica, down []error, err error) {
	for _, raw := range urls {
		u, perr := url.Parse(raw)
		if perr != nil {
			CloseReplicas(replicas)
			return nil, nil, fmt.Errorf("replica URL: %w", perr)
		}
		db, oerr := sql.Open("pgx", raw)
		if oerr != nil {
			CloseReplicas(replicas)
			return nil, nil, fmt.Errorf("open replica %s: %w", u.Host, oerr)
		}
		db.SetMaxOpenConns(pool.MaxOpenConns)
		db.SetMaxIdleConns(pool.MaxIdleConns)
		db.SetConnMaxLifetime(pool.ConnMaxLifetime)
		db.SetConnMaxIdleTime(pool.ConnMaxIdleTime)
		pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if perr := db.PingContext(pingCtx); perr != nil {
			down = append(down, fmt.Errorf("replica %s: %w", u.Host, perr))
		}
		cancel()
		replicas = append(replicas, Replica{Addr: u.Host, DB: db})
	}
	return replicas, down, nil
}

// CloseReplicas closes the replicas' pools.
func CloseReplicas(rs []Replica) {
	for _, r := range rs {
		_ = r.DB.Close()
	}
}

// Route installs the read/write split on db (gorm.io/plugin/dbresolver): with replicas, a
// statement outside a transaction that only reads goes to one of them (round robin); writes,
// every statement of a transaction and reads marked for the primary go to the primary. Without
// replicas everything goes to the primary, as before. Either way each statement is counted in
// db_statements_total{target} and its span (when GORM is traced) gets db.target and the
// server.address of the database that served it. Call it before GORM's tracing plugin is
// installed or after, but before the first statement.
func Route(db *gorm.DB, replicas []Replica, m *Metrics) error {
	targets := make(map[gorm.ConnPool]Replica, len(replicas))
	if len(replicas) > 0 {
		dialectors := make([]gorm.Dialector, len(replicas))
		for i, r := range replicas {
			dialectors[i] = postgres.New(postgres.Config{Conn: r.DB})
			targets[r.DB] = r
		}
		if err := db.Use(dbresolver.Register(dbresolver.Config{
			Replicas: dialectors, Policy: dbresolver.RoundRobinPolicy(),
		})); err != nil {
			return fmt.Errorf("database read/write split: %w", err)
		}
	}
	// The two counters are looked up once here, not on every statement; without metrics they
	// are registered nowhere.
	onPrimary := prometheus.NewCounter(prometheus.CounterOpts{Name: "db_statements_unregistered"})
	onReplica := prometheus.NewCounter(prometheus.CounterOpts{Name: "db_statements_unregistered"})
	if m != nil {
		onPrimary, onReplica = m.statements.WithLabelValues(TargetPrimary), m.statements.WithLabelValues(TargetReplica)
	}
	record := func(tx *gorm.DB) {
		target, addr, counter := TargetPrimary, "", onPrimary
		if r, ok := targets[tx.Statement.ConnPool]; ok {
			target, addr, counter = TargetReplica, r.Addr, onReplica
		}
		counter.Inc()
		span := trace.SpanFromContext(tx.Statement.Context)
		if span.IsRecording() {
			span.SetAttributes(attribute.String("db.target", target))
			if addr != "" {
				span.SetAttributes(attribute.String("server.address", addr))
			}
		}
	}
	// After the statement ran (the resolver chose its pool before it), before GORM's tracing
	// plugin ends the statement's span.
	cb := db.Callback()
	for _, h := range []struct {
		name string
		reg  interface {
			Register(string, func(*gorm.DB)) error
		}
	}{
		{"create", cb.Create().After("gorm:create").Before("otel:after:create")},
		{"query", cb.Query().After("gorm:query").Before("otel:after:select")},
		{"update", cb.Update().After("gorm:update").Before("otel:after:update")},
		{"delete", cb.Delete().After("gorm:delete").Before("otel:after:delete")},
		{"row", cb.Row().After("gorm:row").Before("otel:after:row")},
		{"raw", cb.Raw().After("gorm:raw").Before("otel:after:raw")},
	} {
		if err := h.reg.Register("pgstore:target:"+h.name, record); err != nil {
			return fmt.Errorf("database target callback %s: %w", h.name, err)
		}
	}
	return nil
}

// reader is db for a read of ids: the primary when the store has replicas and one of the ids
// was written within the read-your-writes window, else whatever the resolver picks. It reports
// whether it chose the primary for that reason.
func (s *Store) reader(ctx context.Context, ids ...int64) (*gorm.DB, bool) {
	db := s.db.WithContext(ctx)
	if !s.opts.Replicated {
		return db, false
	}
	if s.recent.any(ids, s.now()) {
		s.bypass("read_your_writes")
		return db.Clauses(dbresolver.Write), true
	}
	return db, false
}

func (s *Store) bypass(reason string) {
	if s.opts.Metrics != nil {
		s.opts.Metrics.bypass.WithLabelValues(reason).Inc()
	}
}

// MarkWritten records that ids were just written (by this instance or, told by pub/sub, by
// another one): for the read-your-writes window their reads go to the primary, which has the
// write, rather than to a replica that may not have replayed it yet.
func (s *Store) MarkWritten(ids ...int64) {
	if s.opts.Replicated && s.opts.ReadYourWrites > 0 {
		now := s.now()
		s.recent.mark(ids, now, now.Add(s.opts.ReadYourWrites))
	}
}

// now reads the store's clock (Options.Now).
func (s *Store) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// recentWrites remembers until when each recently written id must be read from the primary.
type recentWrites struct {
	mu    sync.Mutex
	until map[int64]time.Time
}

func (r *recentWrites) mark(ids []int64, now, until time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.until == nil {
		r.until = make(map[int64]time.Time)
	}
	if len(r.until) >= 1024 {
		for id, t := range r.until {
			if now.After(t) {
				delete(r.until, id)
			}
		}
	}
	for _, id := range ids {
		r.until[id] = until
	}
}

func (r *recentWrites) any(ids []int64, now time.Time) bool {
	if len(ids) == 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if t, ok := r.until[id]; ok {
			if now.Before(t) {
				return true
			}
			delete(r.until, id)
		}
	}
	return false
}
