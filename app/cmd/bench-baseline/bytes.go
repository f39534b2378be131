package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"
)

// loadWorkers is how many DetailSQL statements run at once while the bodies are loaded at start.
const loadWorkers = 8

// loadBodies returns the JSON body the service sends for each product 1..n, read from the
// database at start (as many statements at once as loadWorkers), so the byte-serving modes send
// what a cache hit sends.
func loadBodies(ctx context.Context, pool *pgxpool.Pool, n int64) (map[int64][]byte, error) {
	bodies := make([][]byte, n+1)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(loadWorkers)
	for id := int64(1); id <= n; id++ {
		g.Go(func() error {
			p, err := load(ctx, pool, id)
			if err != nil {
				return err
			}
			body, err := json.Marshal(p)
			if err != nil {
				return fmt.Errorf("encode product %d: %w", id, err)
			}
			bodies[id] = body
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("load the bodies of products 1..%d: %w", n, err)
	}
	m := make(map[int64][]byte, n)
	for id := int64(1); id <= n; id++ {
		m[id] = bodies[id]
	}
	return m, nil
}

// pathID returns the {id} of r when it is a positive integer, and answers 400 when it is not, as
// the service does.
func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		http.Error(w, "id must be a positive integer", http.StatusBadRequest)
		return 0, false
	}
	return id, true
}

// writeJSON sends body as the service sends a product.
func writeJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}

// mapHandler answers a product read with one Go map lookup of its body: the ceiling of an
// in-process (L1) cache hit (mode map).
type mapHandler struct{ bodies map[int64][]byte }

// ServeHTTP writes the product's body, or 404 for an id outside the map.
func (h mapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	body, found := h.bodies[id]
	if !found {
		http.Error(w, "product not found", http.StatusNotFound)
		return
	}
	writeJSON(w, body)
}

// redisHandler answers a product read with one GET of the product's key: the ceiling of a Redis
// cache hit (mode redis-get).
type redisHandler struct {
	rdb    *redis.Client
	prefix string
	log    *logrus.Entry
}

// key is the Redis key of product id's body.
func key(prefix string, id int64) string { return prefix + ":" + strconv.FormatInt(id, 10) }

// ServeHTTP writes the key's bytes, 404 when the key is missing, 500 when Redis fails.
func (h redisHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	body, err := h.rdb.Get(r.Context(), key(h.prefix, id)).Bytes()
	if errors.Is(err, redis.Nil) {
		http.Error(w, "product not found", http.StatusNotFound)
		return
	}
	if err != nil {
		h.log.WithContext(r.Context()).WithFields(logrus.Fields{"product_id": id, "error": err.Error()}).Error("redis get failed")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeJSON(w, body)
}

// redisBatch is how many keys one pipeline sets or deletes.
const redisBatch = 1000

// newRedis connects with the settings product-service uses by default (one timeout for dial,
// read and write, no retries).
func newRedis(o options) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:         o.redisAddr,
		DialTimeout:  o.redisTimeout,
		ReadTimeout:  o.redisTimeout,
		WriteTimeout: o.redisTimeout,
		PoolTimeout:  2 * o.redisTimeout,
		PoolSize:     o.redisPoolSize,
		MaxRetries:   -1,
	})
}

// storeBodies sets each body under key(o.redisPrefix, id) with a TTL of an hour, so a baseline
// killed before it cleans up leaves nothing for long, through a client of its own with go-redis's
// default timeouts (a pipeline of a thousand SETs outlasts the serving client's). The returned
// stop deletes the keys.
func storeBodies(ctx context.Context, o options, bodies map[int64][]byte, log *logrus.Entry) (func(), error) {
	rdb := redis.NewClient(&redis.Options{Addr: o.redisAddr})
	ids := make([]int64, 0, len(bodies))
	for id := range bodies {
		ids = append(ids, id)
	}
	// Storing 100k keys takes longer than the per-command timeout allows a whole pipeline.
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for start := 0; start < len(ids); start += redisBatch {
		pipe := rdb.Pipeline()
		for _, id := range ids[start:min(start+redisBatch, len(ids))] {
			pipe.Set(ctx, key(o.redisPrefix, id), bodies[id], time.Hour)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			_ = rdb.Close()
			return nil, fmt.Errorf("redis %s: set %s:*: %w", o.redisAddr, o.redisPrefix, err)
		}
	}
	stop := func() {
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for start := 0; start < len(ids); start += redisBatch {
			keys := make([]string, 0, redisBatch)
			for _, id := range ids[start:min(start+redisBatch, len(ids))] {
				keys = append(keys, key(o.redisPrefix, id))
			}
			if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
				log.WithFields(logrus.Fields{"key_prefix": o.redisPrefix, "error": err.Error()}).
					Warn("redis keys not deleted; they expire within an hour")
				break
			}
		}
	}
	return stop, nil
}
