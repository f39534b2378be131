package cache

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"github.com/product-service-lab/product-service/app/internal/faults"
)

// The kinds of Redis errors (cache_redis_errors_total{kind}). Only timeout and connection say
// that Redis is unreachable or too slow, and count against the circuit breaker (with injected,
// the faults injector's stand-in for them); the others are answers from a Redis that is up (a
// refused write does not make its reads fail).
const (
	kindTimeout    = "timeout"    // no answer in time: the call's deadline, a socket timeout, the pool's wait
	kindConnection = "connection" // connection refused, reset or closed
	kindOOM        = "oom"        // a write refused: maxmemory reached under noeviction
	kindReadonly   = "readonly"   // a write sent to a replica (a failover in progress)
	kindLoading    = "loading"    // Redis is loading its dataset
	kindInjected   = "injected"   // the faults injector's redis_error_rate: stands for an unreachable Redis
	kindOther      = "other"
)

var errorKinds = []string{kindTimeout, kindConnection, kindOOM, kindReadonly, kindLoading, kindInjected, kindOther}

// The ops of cache_redis_errors_total and the budget counters.
const (
	opGet        = "get"        // a read's GET (or GET and PTTL), a waiter's look, the rescue look
	opMGet       = "mget"       // a batch read's pipelined GETs
	opLock       = "lock"       // the breakdown lock's SET NX
	opUnlock     = "unlock"     // its release
	opSet        = "set"        // a fill, a refill or a fence
	opDel        = "del"        // an invalidation
	opPublish    = "publish"    // an event to the other instances
	opBackground = "background" // generation, reset, popularity, warm-up's id list
)

var redisOps = []string{opGet, opMGet, opLock, opUnlock, opSet, opDel, opPublish, opBackground}

// errorKind classifies a failed Redis call.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, faults.ErrInjected):
		return kindInjected
	case redis.IsOOMError(err):
		return kindOOM
	case redis.IsReadOnlyError(err):
		return kindReadonly
	case redis.IsLoadingError(err):
		return kindLoading
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, redis.ErrPoolTimeout),
		errors.As(err, &ne) && ne.Timeout():
		return kindTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, redis.ErrClosed),
		errors.Is(err, net.ErrClosed), errors.As(err, new(*net.OpError)):
		return kindConnection
	}
	return kindOther
}

// unreachable reports whether err says Redis cannot be reached in time: what the circuit
// breaker counts as a failure. A missing key, a refused write (OOM), a replica's READONLY or any
// other answer proves Redis is up, and counts as a success.
func unreachable(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	k := errorKind(err)
	return k == kindTimeout || k == kindConnection || k == kindInjected
}

// breakerSettings are the Redis circuit breaker's: it opens after 5 calls in a row found Redis
// unreachable, and lets one probe through every 2 s while open.
func (s *Store) breakerSettings() gobreaker.Settings {
	return gobreaker.Settings{
		Name:         "redis",
		MaxRequests:  1,
		Timeout:      2 * time.Second,
		ReadyToTrip:  func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 5 },
		IsSuccessful: func(err error) bool { return !unreachable(err) },
		IsExcluded:   func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			s.m.breakerState.Set(float64(to))
			s.log.WithFields(logrus.Fields{"from": from.String(), "to": to.String()}).Warn("redis circuit breaker changed state")
		},
	}
}

// call runs one Redis operation of op: within the read's budget (see within), through the
// circuit breaker (while Redis is unreachable the breaker is open and the call fails at once), its
// failure counted and logged by kind.
func (s *Store) call(ctx context.Context, op string, fn func(context.Context) error) error {
	return s.within(ctx, op, func(ctx context.Context) error {
		_, err := s.breaker.Execute(func() (struct{}, error) { return struct{}{}, s.observe(ctx, op, fn(ctx)) })
		return err
	})
}

// observe counts a failed Redis call in cache_redis_errors_total{op,kind} and logs it, at most
// once per kind every 10 s (a Redis in trouble fails thousands of calls a second). It returns err.
func (s *Store) observe(ctx context.Context, op string, err error) error {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return err
	}
	kind := errorKind(err)
	s.m.redisErrors.WithLabelValues(op, kind).Inc()
	if sometimes := s.logOnce.kinds[kind]; sometimes != nil {
		sometimes.Do(func() {
			s.log.WithFields(logrus.Fields{"op": op, "kind": kind, "breaker_failure": unreachable(err)}).WithError(err).
				WithContext(ctx).Warn("redis call failed (logged at most once per kind every 10 s)")
		})
	}
	return err
}

// logLimits keep Redis trouble from flooding the log: one line per kind (and one for spent
// budgets) every 10 s.
type logLimits struct {
	kinds  map[string]*rate.Sometimes
	budget *rate.Sometimes
}

func newLogLimits() logLimits {
	l := logLimits{kinds: map[string]*rate.Sometimes{}, budget: &rate.Sometimes{Interval: logEvery}}
	for _, k := range errorKinds {
		l.kinds[k] = &rate.Sometimes{Interval: logEvery}
	}
	return l
}

// logEvery is how often one kind of Redis trouble is logged at most.
const logEvery = 10 * time.Second
