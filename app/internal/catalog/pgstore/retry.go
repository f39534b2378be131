package pgstore

import (
	"context"
	"errors"

	"gorm.io/gorm"
	"gorm.io/plugin/dbresolver"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// Reasons a statement was run a second time, as db_retries_total{op,reason} names them.
const (
	// retryReplicaFailed: a replica did not answer a read; it ran again on the primary.
	retryReplicaFailed = "replica_failed"
	// retryConnLost: the primary's connection was lost under the statement (see connLost); it ran
	// again on another connection.
	retryConnLost = "conn_lost"
)

// read runs q, a read that changes nothing, through reader, and runs it once more on the primary
// when the first attempt failed in a way a second one may not: a replica that did not answer (its
// load goes to the primary instead of an error to the caller), or a connection of the primary
// that the server closed (pg_terminate_backend, a failover, a pooler restart) while the database
// itself is fine. The retry runs within the caller's deadline (ctx), never after it, and only
// once: a second failure is the answer. Every connection of the pool that may be as dead as the
// lost one is pinged before it serves the retry (see connLoss).
func (s *Store) read(ctx context.Context, ids []int64, q func(db *gorm.DB) error) error {
	db, primary := s.reader(ctx, ids...)
	raw := q(db)
	err := classify(raw)
	if err == nil || ctx.Err() != nil {
		return err
	}
	lost := connLost(raw)
	if lost {
		s.loss.mark()
	}
	switch {
	case s.opts.Replicated && !primary && errors.Is(err, catalog.ErrUnavailable):
		// The resolver may have sent it to a replica; whether it did is not told, so any
		// unavailability of a replicated read counts as the replica's.
		s.bypass(retryReplicaFailed)
		s.retried("read", retryReplicaFailed)
	case lost:
		s.retried("read", retryConnLost)
	default:
		return err
	}
	raw = q(s.db.WithContext(ctx).Clauses(dbresolver.Write))
	if connLost(raw) {
		s.loss.mark()
	}
	return classify(raw)
}

// retried counts a statement run a second time.
func (s *Store) retried(op, reason string) {
	if s.opts.Metrics != nil {
		s.opts.Metrics.retries.WithLabelValues(op, reason).Inc()
	}
}
