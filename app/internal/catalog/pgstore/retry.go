package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v5"

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

// retryPause is waited before a statement runs again. When the server closes connections it
// often closes many at once (pg_terminate_backend of each backend, a pooler restart, a failover),
// and the backends exit as they get the CPU: on the drills' loaded 2-core machine a sweep of 20
// took 30–105 ms, and with a 20 ms pause about 1 retried read in 40 met a backend of the same
// sweep. The pause costs only the requests that failed once.
const retryPause = 100 * time.Millisecond

// retryOnce is the policy of every statement run again: at most two attempts, retryPause apart,
// within the caller's deadline.
func retryOnce() []backoff.RetryOption {
	return []backoff.RetryOption{backoff.WithBackOff(backoff.NewConstantBackOff(retryPause)),
		backoff.WithMaxTries(2), backoff.WithMaxElapsedTime(0)}
}

// read runs q, a read that changes nothing, through reader, and runs it once more on the primary
// when the first attempt failed in a way a second one may not: a replica that did not answer (its
// load goes to the primary instead of an error to the caller), or a connection of the primary
// that the server closed (pg_terminate_backend, a failover, a pooler restart) while the database
// itself is fine. The retry runs within the caller's deadline (ctx), never after it, and only
// once: a second failure is the answer. Its connection is pinged before it serves (see
// connLoss), so it is not another dead one.
func (s *Store) read(ctx context.Context, ids []int64, q func(db *gorm.DB) error) error {
	db, primary := s.reader(ctx, ids...)
	again := false
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		if again {
			db = s.db.WithContext(withPing(ctx)).Clauses(dbresolver.Write)
		}
		raw := q(db)
		if raw == nil {
			return struct{}{}, nil
		}
		if connLost(raw) {
			s.loss.mark()
		}
		err := classify(raw)
		switch {
		case again || ctx.Err() != nil:
			return struct{}{}, backoff.Permanent(err)
		case s.opts.Replicated && !primary && errors.Is(err, catalog.ErrUnavailable):
			// The resolver may have sent it to a replica; whether it did is not told, so any
			// unavailability of a replicated read counts as the replica's.
			s.bypass(retryReplicaFailed)
			s.retried("read", retryReplicaFailed)
		case connLost(raw):
			s.retried("read", retryConnLost)
		default:
			return struct{}{}, backoff.Permanent(err)
		}
		again = true
		return struct{}{}, err
	}, retryOnce()...)
	return classify(err)
}

// retried counts a statement run a second time.
func (s *Store) retried(op, reason string) {
	if s.opts.Metrics != nil {
		s.opts.Metrics.retries.WithLabelValues(op, reason).Inc()
	}
}
