package cache

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// One Redis budget per read. A read may take several Redis calls: the GET, the breakdown lock's
// SET NX, the lock waiter's looks for the holder's value, the fill, the lock's release, the rescue
// look when the database fails, and any of them may be the breaker's half-open probe. Each call
// alone is bounded by the client's timeout (REDIS_TIMEOUT), so with a silent Redis the calls of
// one read added up to several timeouts. Instead a read carries one budget (Options.RedisBudget,
// REDIS_TIMEOUT) for all its calls together: each call gets what is left as its context deadline,
// its time is taken off, and once nothing is left the read makes no more Redis calls and goes to
// the database. Background work (refresh, warm-up, invalidation retries) has no budget: each of
// its calls is bounded by the client's timeout alone.

// errBudgetSpent says a read's Redis budget is spent: the call was not made.
var errBudgetSpent = errors.New("cache: the read's redis budget is spent")

// budget is what is left of one read's Redis time.
type budget struct {
	mu   sync.Mutex
	left time.Duration
}

type budgetKey struct{}

// withBudget returns ctx carrying a fresh Redis budget for one read, unless the Store has none
// configured or ctx carries one already (a read inside a read keeps the outer one).
func (s *Store) withBudget(ctx context.Context) context.Context {
	if s.opts.RedisBudget <= 0 {
		return ctx
	}
	if _, ok := ctx.Value(budgetKey{}).(*budget); ok {
		return ctx
	}
	return context.WithValue(ctx, budgetKey{}, &budget{left: s.opts.RedisBudget})
}

// withoutBudget returns ctx with its budget removed, for work handed to the background.
func withoutBudget(ctx context.Context) context.Context {
	return context.WithValue(ctx, budgetKey{}, (*budget)(nil))
}

// budgetOf returns ctx's budget, nil when it has none.
func budgetOf(ctx context.Context) *budget {
	b, _ := ctx.Value(budgetKey{}).(*budget)
	return b
}

// spent reports whether ctx carries a budget with nothing left.
func spent(ctx context.Context) bool {
	b := budgetOf(ctx)
	return b != nil && b.remaining() <= 0
}

func (b *budget) remaining() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.left
}

// take takes d off the budget, or all of it when all is set (the call ran into its deadline);
// it reports whether this emptied the budget.
func (b *budget) take(d time.Duration, all bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left <= 0 {
		return false
	}
	if all || d >= b.left {
		b.left = 0
		return true
	}
	b.left -= d
	return false
}

// within runs one Redis call of op under ctx's budget: not at all when the budget is spent
// (errBudgetSpent), else with what is left as its deadline, its time then taken off. A call
// that ran out of time (its deadline passed, or it failed with a timeout) spends the whole rest.
// Without a budget fn runs with ctx as it is.
func (s *Store) within(ctx context.Context, op string, fn func(context.Context) error) error {
	b := budgetOf(ctx)
	if b == nil {
		return fn(ctx)
	}
	left := b.remaining()
	if left <= 0 {
		s.m.budgetSkipped.WithLabelValues(op).Inc()
		return errBudgetSpent
	}
	callCtx, cancel := context.WithTimeout(ctx, left)
	defer cancel()
	start := s.now()
	err := fn(callCtx)
	outOfTime := (callCtx.Err() != nil && ctx.Err() == nil) || (err != nil && errorKind(err) == kindTimeout)
	if b.take(s.now().Sub(start), outOfTime) {
		s.m.budgetExhausted.WithLabelValues(op).Inc()
		s.logOnce.budget.Do(func() {
			s.log.WithFields(logrus.Fields{"op": op, "redis_budget": s.opts.RedisBudget.String()}).WithContext(ctx).
				Warn("redis budget of a read spent; it goes on to the database (logged at most every 10 s)")
		})
	}
	return err
}

// fillAfter runs a Redis write a read makes once it has its answer (a fill of what it loaded, the
// release of its lock): within the read's budget while some is left. Once the budget is spent it
// runs in the background instead, bounded by the client's timeouts alone (counted as skipped by
// the read): a slow Redis still gets filled, and the read does not wait for it.
func (s *Store) fillAfter(ctx context.Context, op string, fn func(context.Context)) {
	ctx = context.WithoutCancel(ctx)
	if spent(ctx) {
		s.m.budgetSkipped.WithLabelValues(op).Inc()
		go fn(withoutBudget(ctx))
		return
	}
	fn(ctx)
}
