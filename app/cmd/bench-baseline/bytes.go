package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"
)

// productBody returns the JSON body the service sends for product id, read once from the database
// so the byte-serving modes send what a cache hit sends.
func productBody(ctx context.Context, pool *pgxpool.Pool, id int64) ([]byte, error) {
	p, err := load(ctx, pool, id)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode product %d: %w", id, err)
	}
	return body, nil
}

// validID reports whether the {id} of r is a positive integer, and answers 400 when it is not,
// as the service does; the byte-serving modes then ignore it.
func validID(w http.ResponseWriter, r *http.Request) bool {
	if id, err := strconv.ParseInt(r.PathValue("id"), 10, 64); err != nil || id < 1 {
		http.Error(w, "id must be a positive integer", http.StatusBadRequest)
		return false
	}
	return true
}

// writeJSON sends body as the service sends a product.
func writeJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}

// fixedHandler answers every product read with the same bytes: the ceiling of an in-process
// cache hit (mode fixed).
type fixedHandler struct{ body []byte }

// ServeHTTP writes the fixed body.
func (h fixedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if validID(w, r) {
		writeJSON(w, h.body)
	}
}

// redisHandler answers every product read with one GET of a key holding a product body: the
// ceiling of a Redis cache hit (mode redis-get).
type redisHandler struct {
	rdb *redis.Client
	key string
	log *logrus.Entry
}

// ServeHTTP writes the key's bytes, or 500 when Redis fails or the key is gone.
func (h redisHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !validID(w, r) {
		return
	}
	body, err := h.rdb.Get(r.Context(), h.key).Bytes()
	if err != nil {
		h.log.WithContext(r.Context()).WithFields(logrus.Fields{"key": h.key, "error": err.Error()}).Error("redis get failed")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeJSON(w, body)
}

// openRedis connects with the settings product-service uses by default (one timeout for dial,
// read and write, no retries), checks that Redis answers and stores body under o.redisKey with
// a TTL, so a baseline killed before it cleans up leaves nothing for long. The returned stop
// deletes the key and closes the client.
func openRedis(ctx context.Context, o options, body []byte, log *logrus.Entry) (*redis.Client, func(), error) {
	rdb := redis.NewClient(&redis.Options{
		Addr:         o.redisAddr,
		DialTimeout:  o.redisTimeout,
		ReadTimeout:  o.redisTimeout,
		WriteTimeout: o.redisTimeout,
		PoolTimeout:  2 * o.redisTimeout,
		PoolSize:     o.redisPoolSize,
		MaxRetries:   -1,
	})
	setCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Set(setCtx, o.redisKey, body, time.Hour).Err(); err != nil {
		_ = rdb.Close()
		return nil, nil, fmt.Errorf("redis %s: set %s: %w", o.redisAddr, o.redisKey, err)
	}
	stop := func() {
		delCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := rdb.Del(delCtx, o.redisKey).Err(); err != nil {
			log.WithFields(logrus.Fields{"key": o.redisKey, "error": err.Error()}).Warn("redis key not deleted; it expires within an hour")
		}
		_ = rdb.Close()
	}
	return rdb, stop, nil
}
