package cache

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/sirupsen/logrus"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// The outbox relay. Every write records its invalidation in the database, in the write's own
// transaction (the store's outbox), and then applies it to Redis itself. When Redis takes it, the
// writer settles the row; when Redis refuses, or the process dies between the commit and the
// deletion, the row stays, and the relay of any instance applies it later: the old value can no
// longer outlive a write in Redis until its TTL. Relays of several instances share the work
// (FOR UPDATE SKIP LOCKED), wake when a write commits (LISTEN/NOTIFY) or poll, leave rows younger
// than the grace to their writer, and back off while Redis refuses.

// Outbox is the durable record of invalidations the relay applies (pgstore.Outbox).
type Outbox interface {
	// Claim locks up to limit rows older than minAge that no other relay holds, passes them to
	// apply and deletes the rows apply returns (by Seq), in one transaction; it returns how
	// many it claimed.
	Claim(ctx context.Context, limit int, minAge time.Duration, apply func(context.Context, []catalog.Invalidation) []int64) (int, error)
	// Settle deletes the rows writers applied themselves: per entry, those of its product and op
	// up to its version (any version when 0).
	Settle(ctx context.Context, done []catalog.Invalidation) error
	// Backlog returns how many rows wait and when the oldest was written.
	Backlog(ctx context.Context) (rows int64, oldest time.Time, err error)
	// Listen calls wake once listening and whenever a write commits, until ctx ends or it fails.
	Listen(ctx context.Context, wake func()) error
}

// Relay defaults.
const (
	// DefaultOutboxPoll is how often the relay looks at the outbox when no commit wakes it.
	DefaultOutboxPoll = time.Second
	// DefaultOutboxGrace is how long a row is left to its writer, which applies it at once.
	DefaultOutboxGrace = time.Second
	relayBatch         = 100              // rows per claim
	relayTimeout       = 30 * time.Second // bounds one claim, Redis work included
	relayMaxBackoff    = 2 * time.Second  // the longest wait while Redis refuses
	relayLastFlush     = 2 * time.Second  // bounds the settle at shutdown
)

// settled queues the rows writers applied, for the relay to delete in batches.
type settled struct {
	mu   sync.Mutex
	rows []catalog.Invalidation
	wake chan struct{}
}

// settle tells the relay a writer applied inv itself (no-op without an outbox).
func (s *Store) settle(inv catalog.Invalidation) {
	if s.opts.Outbox == nil {
		return
	}
	s.m.outbox.applied.WithLabelValues("writer").Inc()
	s.settled.mu.Lock()
	s.settled.rows = append(s.settled.rows, inv)
	s.settled.mu.Unlock()
	select {
	case s.settled.wake <- struct{}{}:
	default:
	}
}

// flushSettled deletes the rows writers applied. A failure leaves them to the relay, which applies
// them once more: harmless, as every application is.
func (s *Store) flushSettled(ctx context.Context) {
	s.settled.mu.Lock()
	rows := s.settled.rows
	s.settled.rows = nil
	s.settled.mu.Unlock()
	if len(rows) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, relayTimeout)
	defer cancel()
	if err := s.opts.Outbox.Settle(ctx, rows); err != nil {
		s.log.WithError(err).WithField("rows", len(rows)).Warn("cache outbox settle failed; the relay applies those rows again")
	}
}

// relay applies the outbox until ctx ends.
func (s *Store) relay(ctx context.Context) {
	wakes := make(chan struct{}, 1)
	go s.listenOutbox(ctx, wakes)
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval = 100*time.Millisecond, relayMaxBackoff
	timer := time.NewTimer(0)
	defer timer.Stop()
	due := time.Now()
	failing := false
	// schedule makes the next claim happen within d (never later than already due).
	schedule := func(d time.Duration) {
		if at := time.Now().Add(d); at.Before(due) || !due.After(time.Now()) {
			due = at
			timer.Reset(d)
		}
	}
	for {
		select {
		case <-ctx.Done():
			// A short last try: what it misses, a relay applies again later.
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), relayLastFlush)
			s.flushSettled(last)
			cancel()
			return
		case <-s.settled.wake:
			s.flushSettled(ctx)
		case <-wakes:
			if !failing { // while Redis refuses, the backoff decides
				schedule(s.opts.OutboxGrace)
			}
		case <-timer.C:
			s.flushSettled(ctx)
			claimed, ok := s.relayOnce(ctx)
			s.observeBacklog(ctx)
			next := s.opts.OutboxPoll
			switch {
			case !ok:
				failing, next = true, bo.NextBackOff()
			case claimed == relayBatch:
				failing, next = false, 0
				bo.Reset()
			default:
				failing = false
				bo.Reset()
			}
			due = time.Now().Add(next)
			timer.Reset(next)
		}
	}
}

// relayOnce claims one batch and applies it in order, stopping at the first row Redis does not
// take. It reports how many rows it claimed and whether all went well.
func (s *Store) relayOnce(ctx context.Context) (int, bool) {
	ctx, cancel := context.WithTimeout(ctx, relayTimeout)
	defer cancel()
	ok := true
	n, err := s.opts.Outbox.Claim(ctx, relayBatch, s.opts.OutboxGrace, func(ctx context.Context, invs []catalog.Invalidation) []int64 {
		p := s.policy.Load()
		var done []int64
		for _, inv := range invs {
			if !s.applyInvalidation(ctx, p, inv) {
				s.m.outbox.failures.Inc()
				ok = false
				break
			}
			done = append(done, inv.Seq)
			s.m.outbox.applied.WithLabelValues("relay").Inc()
			s.m.outbox.lag.Observe(time.Since(inv.CommittedAt).Seconds())
		}
		return done
	})
	if err != nil && ctx.Err() == nil {
		s.log.WithError(err).Warn("cache outbox claim failed")
		return n, false
	}
	if !ok {
		s.log.WithField("rows", n).Warn("cache outbox relay: redis refused an invalidation; backing off")
	}
	return n, ok
}

// applyInvalidation does what the writer of inv did after its commit, with the policy in force
// now: delete the product's keys, or with refill on store its current version under the fence
// (a tombstone after a delete). It reports whether Redis took it; on success the keys are no
// longer pending on this instance.
func (s *Store) applyInvalidation(ctx context.Context, p *Policy, inv catalog.Invalidation) bool {
	id := inv.ProductID
	var ok bool
	switch inv.Op {
	case catalog.OpCreate:
		s.bloom.add(id)
		ok = s.invalidate(ctx, p, opCreate, id)
	case catalog.OpDelete:
		ok = s.invalidateDeleted(ctx, p, id)
	default:
		ok = s.applyUpdate(ctx, p, inv)
	}
	if ok {
		s.pending.settle(id, s.productKey(id), s.inventoryKey(id))
	}
	return ok
}

// applyUpdate refills the product when refill is on and the database holds the written version
// or a newer one (a lagging replica's older row is never stored: the keys are deleted instead);
// otherwise it deletes the keys.
func (s *Store) applyUpdate(ctx context.Context, p *Policy, inv catalog.Invalidation) bool {
	if p.Refill && p.usesRedis() {
		prod, err := s.src.Product(ctx, inv.ProductID)
		switch {
		case errors.Is(err, catalog.ErrNotFound):
			return s.invalidateDeleted(ctx, p, inv.ProductID)
		case err == nil && prod.Version >= inv.Version:
			return s.refill(ctx, p, prod)
		case err != nil:
			s.log.WithError(err).WithField("product_id", inv.ProductID).Warn("cache outbox refill load failed; deleting the keys instead")
		}
	}
	return s.invalidate(ctx, p, opInvalidate, inv.ProductID)
}

// observeBacklog updates the backlog gauges.
func (s *Store) observeBacklog(ctx context.Context) {
	rows, oldest, err := s.opts.Outbox.Backlog(ctx)
	if err != nil {
		return // the claim failed the same way and logged it
	}
	s.m.outbox.backlog.Set(float64(rows))
	age := 0.0
	if !oldest.IsZero() {
		age = max(time.Since(oldest).Seconds(), 0)
	}
	s.m.outbox.oldestAge.Set(age)
}

// listenOutbox wakes the relay when a write commits, reconnecting with backoff when the
// connection fails; the relay polls meanwhile.
func (s *Store) listenOutbox(ctx context.Context, wakes chan<- struct{}) {
	bo := backoff.NewExponentialBackOff()
	bo.MaxInterval = 30 * time.Second
	wake := func() {
		select {
		case wakes <- struct{}{}:
		default:
		}
	}
	_, _ = backoff.Retry(ctx, func() (struct{}, error) {
		err := s.opts.Outbox.Listen(ctx, wake)
		if ctx.Err() != nil {
			return struct{}{}, backoff.Permanent(ctx.Err())
		}
		return struct{}{}, err
	}, backoff.WithBackOff(bo), backoff.WithMaxElapsedTime(0), backoff.WithNotify(func(err error, next time.Duration) {
		s.log.WithError(err).WithFields(logrus.Fields{"retry_in_ms": next.Milliseconds()}).
			Warn("cache outbox listener lost; the relay polls until it is back")
	}))
}
