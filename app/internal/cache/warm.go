package cache

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"
)

// popularity counts product reads in memory and flushes them into a Redis sorted set, so warm-up
// can load the most requested ids, not only those flagged is_hot. It counts only while warm-up
// or refresh is on.
type popularity struct {
	mu     sync.Mutex
	counts map[int64]float64
}

// popularKeep bounds the sorted set to the most requested ids.
const popularKeep = 10_000

func newPopularity() *popularity { return &popularity{counts: map[int64]float64{}} }

func (p *popularity) record(pol *Policy, id int64) {
	if !pol.Warmup && !pol.Refresh {
		return
	}
	p.mu.Lock()
	p.counts[id]++
	p.mu.Unlock()
}

func (p *popularity) take() map[int64]float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts
	p.counts = map[int64]float64{}
	return c
}

func (s *Store) popularKey() string { return s.opts.Namespace + ":popular" }

// flushPopular adds the counted reads to the sorted set and trims it.
func (s *Store) flushPopular(ctx context.Context) {
	counts := s.popular.take()
	if len(counts) == 0 {
		return
	}
	key := s.popularKey()
	err := s.guard(func() error {
		_, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for id, n := range counts {
				pipe.ZIncrBy(ctx, key, n, strconv.FormatInt(id, 10))
			}
			pipe.ZRemRangeByRank(ctx, key, 0, -popularKeep-1)
			return nil
		})
		return err
	})
	if err != nil {
		s.log.WithError(err).Warn("cache popularity flush failed")
	}
}

// hotIDs returns the ids to warm: products flagged is_hot, then the most requested ones.
func (s *Store) hotIDs(ctx context.Context) ([]int64, error) {
	ids, err := s.src.HotProductIDs(ctx, s.opts.HotLimit)
	if err != nil {
		return nil, fmt.Errorf("list hot products: %w", err)
	}
	seen := make(map[int64]bool, len(ids))
	for _, id := range ids {
		seen[id] = true
	}
	var top []string
	if err := s.guard(func() error {
		var err error
		top, err = s.rdb.ZRevRange(ctx, s.popularKey(), 0, int64(s.opts.HotLimit-1)).Result()
		return err
	}); err != nil {
		s.log.WithError(err).Warn("cache warm-up could not read the most requested ids; using is_hot only")
	}
	for _, m := range top {
		id, err := strconv.ParseInt(m, 10, 64)
		if err == nil && !seen[id] && len(ids) < 2*s.opts.HotLimit {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Warmup loads the hot products into the policy's layers and returns how many it loaded.
func (s *Store) Warmup(ctx context.Context) (int, error) { return s.loadHot(ctx, "warmup") }

// loadHot loads the hot ids in batches of one SQL statement each; cause labels the loads.
func (s *Store) loadHot(ctx context.Context, cause string) (int, error) {
	p := s.policy.Load()
	if p.Layers == LayersNone {
		return 0, nil
	}
	start := time.Now()
	ids, err := s.hotIDs(ctx)
	if err != nil {
		return 0, err
	}
	loaded := 0
	for i := 0; i < len(ids); i += batchSize {
		chunk := ids[i:min(i+batchSize, len(ids))]
		products, err := s.src.Products(ctx, chunk)
		if err != nil {
			return loaded, fmt.Errorf("%s: load products: %w", cause, err)
		}
		s.m.dbLoads.WithLabelValues(cause).Add(float64(len(products)))
		for _, pr := range products {
			s.fill(ctx, p, s.productKey(pr.ID), pr, time.Duration(p.TTL))
		}
		loaded += len(products)
	}
	s.log.WithFields(logrus.Fields{"cause": cause, "products": loaded, "elapsed_ms": time.Since(start).Milliseconds()}).
		Info("cache loaded hot products")
	return loaded, nil
}

// batchSize is the most ids loaded by one statement (the API's batch limit).
const batchSize = 100

// refreshHot reloads the hot products if this instance wins the refresh lock, so one replica does it.
func (s *Store) refreshHot(ctx context.Context, p *Policy) {
	key := s.opts.Namespace + ":lock:refresh"
	token := randomToken()
	ok, err := s.redisLock(ctx, key, token, time.Duration(p.RefreshInterval)/2)
	if err != nil || !ok {
		return
	}
	if _, err := s.loadHot(ctx, "refresh"); err != nil {
		s.log.WithError(err).Warn("cache refresh failed")
	}
}

// refreshKey reloads one key in the background before it expires (refresh-ahead). The key's lock
// makes one instance do it; singleflight makes one goroutine of this instance try.
func refreshKey[T any](s *Store, p *Policy, sp spec[T]) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(p.LockTTL))
		defer cancel()
		_, _, _ = s.flight.Do("refresh:"+sp.key, func() (any, error) {
			token := randomToken()
			lockKey := s.lockKey(sp.key)
			ok, err := s.redisLock(ctx, lockKey, token, time.Duration(p.LockTTL))
			if err != nil || !ok {
				return nil, err
			}
			defer s.redisUnlock(ctx, lockKey, token)
			return loadAndFill(ctx, s, p, sp, "refresh")
		})
	}()
}
