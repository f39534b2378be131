package cache

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"
)

// Background periods.
const (
	generationPoll = 5 * time.Second  // catch up with a reset this instance missed
	popularFlush   = 5 * time.Second  // push read counts to Redis
	refreshCheck   = 10 * time.Second // how often the refresh schedule is looked at
	pendingRetry   = time.Second      // how often invalidations Redis missed are retried
)

// Run does the cache's background work until ctx ends: it reads the namespace generation, builds
// the Bloom filter, warms up (then reports ready), listens to other instances, and rebuilds,
// refreshes and flushes on schedule.
func (s *Store) Run(ctx context.Context) {
	s.loadGeneration(ctx)
	s.subscribe(ctx)
	relayDone := make(chan struct{})
	if s.opts.Outbox != nil {
		go func() { s.relay(ctx); close(relayDone) }()
	} else {
		close(relayDone)
	}
	defer func() { <-relayDone }()
	s.buildBloom(ctx)
	if s.policy.Load().Warmup {
		if _, err := s.Warmup(ctx); err != nil {
			s.log.WithError(err).Warn("cache warm-up failed; serving cold")
		}
	}
	s.ready.Store(true)

	bloomTick := time.NewTicker(s.opts.BloomRebuild)
	genTick := time.NewTicker(generationPoll)
	flushTick := time.NewTicker(popularFlush)
	refreshTick := time.NewTicker(refreshCheck)
	pendingTick := time.NewTicker(pendingRetry)
	defer pendingTick.Stop()
	defer bloomTick.Stop()
	defer genTick.Stop()
	defer flushTick.Stop()
	defer refreshTick.Stop()
	lastRefresh := time.Now()
	for {
		select {
		case <-ctx.Done():
			s.flushPopular(context.WithoutCancel(ctx))
			return
		case <-s.events:
			s.buildBloom(ctx)
		case <-s.warmups:
			go func() {
				if _, err := s.Warmup(ctx); err != nil {
					s.log.WithError(err).Warn("cache warm-up failed")
				}
			}()
		case <-bloomTick.C:
			s.buildBloom(ctx)
		case <-genTick.C:
			s.loadGeneration(ctx)
		case <-pendingTick.C:
			if s.opts.Outbox == nil { // else the relay retries, from the outbox
				s.retryPending(ctx)
			}
		case <-flushTick.C:
			s.flushPopular(ctx)
		case <-refreshTick.C:
			p := s.policy.Load()
			if p.Refresh && time.Since(lastRefresh) >= time.Duration(p.RefreshInterval) {
				lastRefresh = time.Now()
				s.refreshHot(ctx, p)
			}
		}
	}
}

// buildBloom (re)builds the Bloom filter from every product id in the database.
func (s *Store) buildBloom(ctx context.Context) {
	p := s.policy.Load()
	start := time.Now()
	ids, err := s.src.ProductIDs(ctx)
	if err != nil {
		s.log.WithError(err).Warn("cache bloom filter build failed; it lets every id through until the next try")
		return
	}
	s.bloom.rebuild(ids, p.BloomFPR)
	s.log.WithFields(logrus.Fields{"ids": len(ids), "fpr": p.BloomFPR, "elapsed_ms": time.Since(start).Milliseconds()}).
		Info("cache bloom filter built")
}

func (s *Store) generationKey() string { return s.opts.Namespace + ":generation" }

// loadGeneration reads the namespace generation from Redis; a change empties L1.
func (s *Store) loadGeneration(ctx context.Context) {
	var gen int64
	err := s.call(ctx, opBackground, func(ctx context.Context) error {
		v, err := s.rdb.Get(ctx, s.generationKey()).Result()
		if err != nil {
			return err
		}
		gen, err = strconv.ParseInt(v, 10, 64)
		return err
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return
	}
	if s.gen.Swap(gen) != gen {
		s.l1.InvalidateAll()
	}
}

// Reset empties this service's cache namespace, never the whole Redis: it moves every instance to
// a new key generation (old keys are unreachable at once) and deletes the old generation's keys in
// the background. It returns the new generation.
func (s *Store) Reset(ctx context.Context) (int64, error) {
	var gen int64
	err := s.call(ctx, opBackground, func(ctx context.Context) error {
		var err error
		gen, err = s.rdb.Incr(ctx, s.generationKey()).Result()
		return err
	})
	if err != nil {
		return 0, err
	}
	old := s.gen.Swap(gen)
	s.l1.InvalidateAll()
	s.publish(ctx, event{Op: opReset})
	go s.sweep(old)
	s.log.WithFields(logrus.Fields{"generation": gen}).Info("cache namespace reset")
	return gen, nil
}

// sweep deletes the keys of an old generation, a bounded SCAN at a time, on every node holding
// keys: the master of a single or Sentinel set-up, each master of a Redis Cluster (whose client
// would SCAN one node only).
func (s *Store) sweep(gen int64) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	match := s.opts.Namespace + ":g" + strconv.FormatInt(gen, 10) + ":*"
	err := s.eachMaster(ctx, func(ctx context.Context, node redis.Cmdable) error {
		iter := node.Scan(ctx, 0, match, 1000).Iterator()
		batch := make([]string, 0, 500)
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == cap(batch) {
				s.unlink(ctx, batch)
				batch = batch[:0]
			}
		}
		s.unlink(ctx, batch)
		return iter.Err()
	})
	if err != nil {
		s.log.WithError(err).WithFields(logrus.Fields{"generation": gen}).Warn("cache sweep of an old generation failed; its keys expire by themselves")
	}
}

// eachMaster runs fn on every master: each one of a Redis Cluster (in parallel), else the client.
func (s *Store) eachMaster(ctx context.Context, fn func(context.Context, redis.Cmdable) error) error {
	if c, ok := s.rdb.(*redis.ClusterClient); ok {
		return c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return fn(ctx, node) })
	}
	return fn(ctx, s.rdb)
}

// unlink deletes keys in the background of Redis, one UNLINK each in one pipeline: keys of
// several products sit on several Redis Cluster slots, which one UNLINK refuses.
func (s *Store) unlink(ctx context.Context, keys []string) {
	if len(keys) == 0 {
		return
	}
	_, _ = s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, k := range keys {
			pipe.Unlink(ctx, k)
		}
		return nil
	})
}

// Status describes the cache's state for the admin API.
type Status struct {
	Generation int64       `json:"generation"`
	L1Entries  int         `json:"l1_entries"`
	Breaker    string      `json:"redis_breaker"`
	Ready      bool        `json:"ready"`
	Bloom      BloomStatus `json:"bloom"`
	// PendingInvalidations counts keys whose deletion Redis has not taken yet.
	PendingInvalidations int `json:"pending_invalidations"`
	// Warmup is the warm-up running or last run.
	Warmup WarmupStatus `json:"warmup"`
}

// Status reports the cache's state.
func (s *Store) Status() Status {
	return Status{
		Generation: s.gen.Load(),
		L1Entries:  s.l1.EstimatedSize(),
		Breaker:    s.breaker.State().String(),
		Ready:      s.ready.Load(),
		Bloom:      s.bloom.stats(),

		PendingInvalidations: s.pending.size(),
		Warmup:               s.warm.status(),
	}
}
