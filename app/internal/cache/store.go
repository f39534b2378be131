// Package cache decorates the catalogue store with switchable cache strategies: Redis and an
// in-process L1 (cache-aside), protection against breakdown (singleflight, a Redis lock), avalanche
// (TTL jitter) and penetration (null caching, a Bloom filter), warm-up and refresh of hot keys, and
// invalidation after writes (on every instance through Redis pub/sub). Every switch lives in one
// immutable Policy that can be swapped at run time; Redis trouble never fails a read.
package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// Source is what the cache decorates: the catalogue store, plus the id lists that warm-up and the
// Bloom filter are built from.
type Source interface {
	catalog.Store
	// HotProductIDs returns up to limit ids of products flagged is_hot.
	HotProductIDs(ctx context.Context, limit int) ([]int64, error)
	// ProductIDs returns the id of every product.
	ProductIDs(ctx context.Context) ([]int64, error)
}

var _ catalog.Store = (*Store)(nil)

// Options are the settings of a Store that do not change at run time.
type Options struct {
	// Namespace prefixes every key and channel, so several services can share one Redis.
	Namespace string
	// L1MaxEntries bounds the in-process cache.
	L1MaxEntries int
	// BloomRebuild is how often the Bloom filter is rebuilt from the database.
	BloomRebuild time.Duration
	// HotLimit bounds how many ids warm-up and refresh load.
	HotLimit int
	// Log receives policy changes, breaker transitions and background failures.
	Log logrus.FieldLogger
	// Metrics are the collectors to update; NewMetrics makes them.
	Metrics *Metrics
	// Tracer starts the cache.lookup spans; nil means no tracing (and no span work at all).
	Tracer trace.Tracer
	// RedisBudget bounds the time one read spends in Redis, all its calls together (the service's
	// REDIS_TIMEOUT); once it is spent the read goes on to the database. Zero leaves each call
	// bounded by the client's own timeouts alone. The client must honour context deadlines
	// (go-redis's ContextTimeoutEnabled).
	RedisBudget time.Duration
	// Written, when set, is told the ids the other instances write, through pub/sub (each write
	// is then published whatever the policy's pubsub switch says). With read replicas it is the
	// store's MarkWritten (which marks this instance's own writes itself), so that a read of a row
	// another instance wrote a moment ago goes to the primary instead of filling the cache from a
	// replica that has not replayed the write yet.
	Written func(ids ...int64)
	// Outbox, when set, is the database's record of invalidations: writes settle their rows
	// there, and a relay applies the rest (see relay). Nil keeps invalidations in memory only.
	Outbox Outbox
	// OutboxPoll is how often the relay looks at the outbox without a wake-up; zero means
	// DefaultOutboxPoll.
	OutboxPoll time.Duration
	// OutboxGrace is how long the relay leaves a row to its writer; zero means DefaultOutboxGrace.
	OutboxGrace time.Duration
}

// Store is a catalog.Store that caches product reads according to its current Policy.
type Store struct {
	src     Source
	rdb     redis.UniversalClient
	opts    Options
	log     logrus.FieldLogger
	m       *Metrics
	tracer  trace.Tracer
	policy  atomic.Pointer[Policy]
	gen     atomic.Int64 // namespace generation; a reset moves every key to a new one
	l1      *otter.Cache[string, entry]
	breaker *gobreaker.CircuitBreaker[struct{}]
	flight  singleflight.Group
	bloom   *bloomSet
	popular *popularity
	pending *pendingSet
	origin  string // identifies this instance in pub/sub messages
	ready   atomic.Bool
	events  chan struct{} // wakes Run when the Bloom filter must be rebuilt
	// refreshing holds the keys this instance is reloading in the background.
	refreshing sync.Map
	// loads bounds the reloads made off the request path (the policy's load_rate), warmLoads
	// warm-up (warmup_rate).
	loads, warmLoads *rate.Limiter
	// warming makes concurrent warm-ups one; warmups wakes Run to start one in the background.
	warming singleflight.Group
	warmups chan struct{}
	warm    warmState
	// lastHotLog is when the hot keys were last logged (Unix ns).
	lastHotLog atomic.Int64
	// uniform draws XFetch's u in [0, 1); tests fix it so an early refresh is certain.
	uniform func() float64
	// now is the clock that measures Redis calls against a read's budget; tests move it.
	now func() time.Time
	// logOnce rate-limits the logs of Redis trouble.
	logOnce logLimits
	// settled holds the outbox rows writers applied, until the relay deletes them.
	settled settled
	// listeners are the receivers of Broadcast messages, by topic (func([]byte)).
	listeners sync.Map
}

// entry is one L1 value: a decoded product or inventory, or a cached "not found"; stamp is the
// Redis value's (zero without stamps), so an L1 hit can refresh early too (XFetch).
type entry struct {
	value any
	null  bool
	ttl   time.Duration
	stamp stamp
}

// New returns a Store in front of src using Redis client rdb, starting with policy p. Call Run to
// start its background work (pub/sub, Bloom filter, warm-up, refresh).
func New(src Source, rdb redis.UniversalClient, p Policy, opts Options) (*Store, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("cache policy: %w", err)
	}
	if opts.Namespace == "" {
		opts.Namespace = "ps"
	}
	if opts.L1MaxEntries <= 0 {
		opts.L1MaxEntries = 100_000
	}
	if opts.BloomRebuild <= 0 {
		opts.BloomRebuild = 10 * time.Minute
	}
	if opts.HotLimit <= 0 {
		opts.HotLimit = 5_000
	}
	if opts.Log == nil {
		l := logrus.New()
		l.Out = io.Discard
		opts.Log = l
	}
	if opts.Metrics == nil {
		return nil, errors.New("cache: Options.Metrics is required")
	}
	if opts.OutboxPoll <= 0 {
		opts.OutboxPoll = DefaultOutboxPoll
	}
	if opts.OutboxGrace <= 0 {
		opts.OutboxGrace = DefaultOutboxGrace
	}
	s := &Store{
		src: src, rdb: rdb, opts: opts, log: opts.Log, m: opts.Metrics, tracer: opts.Tracer,
		bloom: &bloomSet{}, popular: newPopularity(), pending: newPendingSet(), origin: randomToken(),
		events: make(chan struct{}, 1), warmups: make(chan struct{}, 1), loads: rate.NewLimiter(rate.Inf, 1), warmLoads: rate.NewLimiter(rate.Inf, 1),
		uniform: mathrand.Float64, now: time.Now, logOnce: newLogLimits(),
		settled: settled{wake: make(chan struct{}, 1)},
	}
	l1, err := otter.New(&otter.Options[string, entry]{
		MaximumSize:      opts.L1MaxEntries,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, entry]) time.Duration { return e.Value.ttl }),
		OnDeletion: func(e otter.DeletionEvent[string, entry]) {
			if e.Cause == otter.CauseOverflow {
				s.m.l1Evictions.Inc()
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("cache: create L1: %w", err)
	}
	s.l1 = l1
	s.m.watchL1(l1.EstimatedSize)
	s.breaker = gobreaker.NewCircuitBreaker[struct{}](s.breakerSettings())
	s.setPolicy(&p)
	return s, nil
}

// Policy returns the policy in force.
func (s *Store) Policy() Policy { return *s.policy.Load() }

// SetPolicy applies patch (a JSON object of Policy fields, optionally with a preset) to the
// policy in force, on this instance and, through pub/sub, on every other.
func (s *Store) SetPolicy(ctx context.Context, patch []byte) (Policy, error) {
	next, err := Apply(s.Policy(), patch)
	if err != nil {
		return Policy{}, err
	}
	prev := s.Policy()
	s.setPolicy(&next)
	s.publish(ctx, event{Op: opPolicy, Policy: &next})
	if next.Warmup && next.Layers != LayersNone && (!prev.Warmup || prev.WarmupScope != next.WarmupScope || prev.Layers != next.Layers) {
		// Warm up in the background, on this instance only: the others read what it stores.
		select {
		case s.warmups <- struct{}{}:
		default:
		}
	}
	return next, nil
}

// setPolicy swaps the policy and does what the change implies.
func (s *Store) setPolicy(next *Policy) {
	prev := s.policy.Swap(next)
	s.m.setPolicy(next)
	s.loads.SetLimit(limit(next.LoadRate))
	s.loads.SetBurst(burst(next.LoadRate))
	s.warmLoads.SetLimit(limit(next.WarmupRate))
	s.warmLoads.SetBurst(burst(next.WarmupRate))
	if prev == nil {
		return
	}
	s.m.policyChanges.Inc()
	s.log.WithFields(logrus.Fields{
		"preset": next.Preset, "layers": next.Layers, "breakdown": next.Breakdown, "ttl": next.TTL.String(),
		"ttl_jitter": next.TTLJitter, "null_ttl": next.NullTTL.String(), "bloom": next.Bloom,
		"warmup": next.Warmup, "refresh": next.Refresh, "serializer": next.Serializer, "pubsub": next.PubSub,
		"stale_ttl": next.StaleTTL.String(), "xfetch_beta": next.XFetchBeta, "warmup_scope": next.WarmupScope,
		"load_rate": next.LoadRate, "warmup_rate": next.WarmupRate, "refill": next.Refill, "previous_preset": prev.Preset,
	}).Info("cache policy changed")
	if prev.Layers != next.Layers {
		// L1 entries may have missed invalidations while L1 was off.
		s.l1.InvalidateAll()
	}
	if next.Bloom && (!prev.Bloom || prev.BloomFPR != next.BloomFPR) {
		s.wake()
	}
}

// wake asks Run to rebuild the Bloom filter.
func (s *Store) wake() {
	select {
	case s.events <- struct{}{}:
	default:
	}
}

// Ready reports whether Run has finished starting: subscribed to other instances, built the Bloom
// filter and, with warm-up on, loaded the hot products.
func (s *Store) Ready(context.Context) error {
	if !s.ready.Load() {
		return errors.New("cache start-up (subscription, bloom filter, warm-up) in progress")
	}
	return nil
}

// key builds a key under the namespace and current generation. The id sits in braces, a Redis
// Cluster hash tag, so all keys of one product land on one node.
func (s *Store) key(kind string, id int64, suffix string) string {
	return s.opts.Namespace + ":g" + strconv.FormatInt(s.gen.Load(), 10) + ":" + kind + ":{" +
		strconv.FormatInt(id, 10) + "}" + suffix
}

func (s *Store) productKey(id int64) string   { return s.key("product", id, "") }
func (s *Store) inventoryKey(id int64) string { return s.key("product", id, ":inventory") }
func (s *Store) lockKey(key string) string {
	return s.opts.Namespace + ":lock:" + key[len(s.opts.Namespace)+1:]
}

func randomToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
