package policyfile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/product-service-lab/product-service/app/internal/cache"
	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// TestWatchRealCache: two cache instances share a namespace on the real Redis, over a real
// PostgreSQL database, as replicas do; the file is watched by one of them. A ConfigMap update
// reaches both (the watching instance applies it, pub/sub carries it to the other), and an invalid
// update leaves both as they were.
func TestWatchRealCache(t *testing.T) {
	addr := testdb.RedisAddr(t)
	db := testdb.New(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	suffix := make([]byte, 5)
	_, _ = rand.Read(suffix)
	namespace := "test-policyfile-" + hex.EncodeToString(suffix)
	src := pgstore.New(db.Gorm, pgstore.Options{})
	t.Cleanup(func() { // the shared Redis must not fill up with test namespaces
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, namespace+":*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})

	startup := mustPreset(t, "protected")
	instance := func() *cache.Store {
		s, err := cache.New(src, rdb, startup, cache.Options{Namespace: namespace, Metrics: cache.NewMetrics(prometheus.NewRegistry())})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		lab.WaitFor(t, "cache ready", func() bool { return s.Ready(ctx) == nil })
		return s
	}
	watching, other := instance(), instance()

	n := 0
	l := configMap{t.TempDir(), &n}
	l.write(t, "preset: two-level\n")
	m := NewMetrics(prometheus.NewRegistry())
	stop, err := Watch(context.Background(), Options{Path: l.path(), Base: watching.Policy(), Target: watching,
		Metrics: m, Settle: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	both := func(want cache.Policy) func() bool {
		return func() bool { return watching.Policy() == want && other.Policy() == want }
	}
	lab.WaitFor(t, "the start-up file on both instances", both(mustPreset(t, "two-level")))

	l.write(t, "preset: full\nttl: 90s\nserializer: msgpack\n")
	want := mustPreset(t, "full")
	want.TTL, want.Serializer, want.Preset = cache.Duration(90*time.Second), cache.SerializerMsgpack, "custom"
	lab.WaitFor(t, "the update on both instances", both(want))

	l.write(t, "preset: full\nttl: 90\n")
	lab.WaitFor(t, "the refusal counted", func() bool { return m.count(resultInvalid) == 1 })
	if diff := cmp.Diff(want, watching.Policy()); diff != "" {
		t.Errorf("after an invalid file (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, other.Policy()); diff != "" {
		t.Errorf("other instance after an invalid file (-want +got):\n%s", diff)
	}
}
