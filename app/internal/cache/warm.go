package cache

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
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
	err := s.call(ctx, opBackground, func(ctx context.Context) error {
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
		return
	}
	if last := s.lastHotLog.Load(); time.Since(time.Unix(0, last)) >= hotLogEvery &&
		s.lastHotLog.CompareAndSwap(last, time.Now().UnixNano()) {
		s.logHotKeys(ctx)
	}
}

// Hot keys are logged once a minute (and at the first flush), hotLogged of them.
const (
	hotLogEvery = time.Minute
	hotLogged   = 20
)

// logHotKeys logs the most requested ids, one line each ("cache hot key": product_id, reads,
// rank), from the sorted set warm-up reads: a dashboard's top list without a metric label per id.
func (s *Store) logHotKeys(ctx context.Context) {
	var top []redis.Z
	if err := s.call(ctx, opBackground, func(ctx context.Context) error {
		var err error
		top, err = s.rdb.ZRevRangeWithScores(ctx, s.popularKey(), 0, hotLogged-1).Result()
		return err
	}); err != nil {
		return
	}
	for i, z := range top {
		m, _ := z.Member.(string)
		id, err := strconv.ParseInt(m, 10, 64)
		if err != nil {
			continue
		}
		s.log.WithFields(logrus.Fields{"product_id": id, "reads": int64(z.Score), "rank": i + 1}).Info("cache hot key")
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
	if err := s.call(ctx, opBackground, func(ctx context.Context) error {
		var err error
		top, err = s.rdb.ZRevRange(ctx, s.popularKey(), 0, int64(s.opts.HotLimit-1)).Result()
		return err
	}); err != nil {
		s.log.WithError(err).Warn("cache warm-up could not read the most requested ids; using is_hot only")
	}
	for _, m := range top {
		id, err := strconv.ParseInt(m, 10, 64)
		// Reads of ids that do not exist are counted too: the Bloom filter, once built, drops them.
		if err == nil && !seen[id] && len(ids) < 2*s.opts.HotLimit && s.bloom.mayContain(id) {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Warmup loads the products the policy's warmup_scope names into its layers and returns how many
// it loaded. Concurrent calls share one warm-up.
func (s *Store) Warmup(ctx context.Context) (int, error) {
	n, err, _ := s.warming.Do("warmup", func() (any, error) {
		return s.loadProducts(context.WithoutCancel(ctx), "warmup")
	})
	return n.(int), err
}

// warmState is the progress of the warm-up running or last run, for the admin API and metrics.
type warmState struct {
	running              atomic.Bool
	scope                atomic.Value // WarmupScope
	loaded, target, size atomic.Int64
	started, elapsed     atomic.Int64 // Unix ns; ns
}

// WarmupStatus describes the warm-up running or last run.
type WarmupStatus struct {
	Running bool        `json:"running"`
	Scope   WarmupScope `json:"scope,omitempty"`
	// Loaded and Target count products; Bytes is the size of the values stored.
	Loaded    int64 `json:"loaded"`
	Target    int64 `json:"target"`
	Bytes     int64 `json:"bytes"`
	ElapsedMS int64 `json:"elapsed_ms"`
}

func (w *warmState) status() WarmupStatus {
	st := WarmupStatus{Running: w.running.Load(), Loaded: w.loaded.Load(), Target: w.target.Load(), Bytes: w.size.Load()}
	st.Scope, _ = w.scope.Load().(WarmupScope)
	if st.Running {
		st.ElapsedMS = time.Since(time.Unix(0, w.started.Load())).Milliseconds()
	} else {
		st.ElapsedMS = time.Duration(w.elapsed.Load()).Milliseconds()
	}
	return st
}

// loadProducts loads the ids to warm (refresh: the hot ids) in chunks of one SQL statement,
// warmWorkers at a time, each chunk waiting for the policy's warmup_rate (refresh: load_rate), and
// stops at the memory budget; cause labels the loads.
func (s *Store) loadProducts(ctx context.Context, cause string) (int, error) {
	p := s.policy.Load()
	if p.Layers == LayersNone {
		return 0, nil
	}
	start := time.Now()
	ids, err := s.hotIDs(ctx)
	if err == nil && cause == "warmup" && p.WarmupScope == WarmupAll {
		ids, err = s.allIDs(ctx, ids)
	}
	if err != nil {
		return 0, err
	}
	w := &s.warm
	if cause == "warmup" {
		w.scope.Store(p.WarmupScope)
		w.loaded.Store(0)
		w.size.Store(0)
		w.target.Store(int64(len(ids)))
		w.started.Store(start.UnixNano())
		w.running.Store(true)
		s.m.warmup(w)
		defer func() {
			w.elapsed.Store(int64(time.Since(start)))
			w.running.Store(false)
			s.m.warmup(w)
		}()
	}
	budget := int64(p.WarmupBudgetMB) << 20
	lim := s.loads
	if cause == "warmup" {
		lim = s.warmLoads
	}
	chunk := min(warmChunk, lim.Burst())
	var loaded, size atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(warmWorkers)
	for i := 0; i < len(ids) && gctx.Err() == nil; i += chunk {
		if budget > 0 && size.Load() >= budget {
			s.log.WithFields(logrus.Fields{"cause": cause, "budget_mb": p.WarmupBudgetMB}).Info("cache warm-up stopped at its memory budget")
			break
		}
		part := ids[i:min(i+chunk, len(ids))]
		g.Go(func() error {
			if err := lim.WaitN(gctx, len(part)); err != nil {
				return err
			}
			began := time.Now()
			products, err := s.src.Products(gctx, part)
			if err != nil {
				return fmt.Errorf("%s: load products: %w", cause, err)
			}
			s.m.dbLoads.WithLabelValues(cause).Add(float64(len(products)))
			size.Add(s.fillProducts(gctx, p, products, time.Since(began)))
			loaded.Add(int64(len(products)))
			if cause == "warmup" {
				w.loaded.Store(loaded.Load())
				w.size.Store(size.Load())
				s.m.warmup(w)
			}
			return nil
		})
	}
	err = g.Wait()
	s.log.WithFields(logrus.Fields{"cause": cause, "scope": p.WarmupScope, "products": loaded.Load(), "bytes": size.Load(),
		"elapsed_ms": time.Since(start).Milliseconds()}).Info("cache loaded hot products")
	return int(loaded.Load()), err
}

// allIDs returns first the ids given (the hot ones), then every other product id.
func (s *Store) allIDs(ctx context.Context, first []int64) ([]int64, error) {
	all, err := s.src.ProductIDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	seen := make(map[int64]bool, len(first))
	for _, id := range first {
		seen[id] = true
	}
	out := slices.Clip(first)
	for _, id := range all {
		if !seen[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

// Warm-up's batches: the most ids loaded by one statement, and how many statements run at once.
const (
	warmChunk   = 500
	warmWorkers = 4
)

// limit is a keys/s bound as a limit (none when 0).
func limit(keysPerS float64) rate.Limit {
	if keysPerS <= 0 {
		return rate.Inf
	}
	return rate.Limit(keysPerS)
}

// burst lets a tenth of a second's keys through at once (one warm-up chunk at most).
func burst(keysPerS float64) int {
	if keysPerS <= 0 {
		return warmChunk
	}
	return max(1, min(warmChunk, int(keysPerS/10)))
}

// refreshHot reloads the hot products if this instance wins the refresh lock, so one replica does it.
func (s *Store) refreshHot(ctx context.Context, p *Policy) {
	key := s.opts.Namespace + ":lock:refresh"
	token := randomToken()
	ok, err := s.redisLock(ctx, key, token, time.Duration(p.RefreshInterval)/2)
	if err != nil || !ok {
		return
	}
	if _, err := s.loadProducts(ctx, "refresh"); err != nil {
		s.log.WithError(err).Warn("cache refresh failed")
	}
}
