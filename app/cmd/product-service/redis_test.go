package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/product-service-lab/product-service/app/internal/config"
	"github.com/product-service-lab/product-service/app/internal/faults"
	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/redistest"
)

// newRedis builds the client the environment asks for, and each works against a real server of
// its topology: keys of many hash slots are written and read back (a plain client on a cluster
// would get MOVED for most of them).
func TestNewRedisTopologies(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	sentinel := redistest.StartSentinel(t, redistest.SentinelOptions{})
	tests := []struct {
		name string
		env  map[string]string
		want string // the client's type
		// moved: a plain client on one cluster node, which the node answers MOVED for keys of
		// the other nodes' slots (why REDIS_CLUSTER exists).
		moved bool
	}{
		{"two cluster seeds", map[string]string{"REDIS_ADDRS": cluster.Nodes[0].Addr + "," + cluster.Nodes[1].Addr}, "*redis.ClusterClient", false},
		{"one cluster seed with REDIS_CLUSTER", map[string]string{"REDIS_ADDRS": cluster.Nodes[0].Addr, "REDIS_CLUSTER": "true"}, "*redis.ClusterClient", false},
		{"one cluster seed alone", map[string]string{"REDIS_ADDRS": cluster.Nodes[0].Addr}, "*redis.Client", true},
		{"sentinels", map[string]string{"REDIS_ADDRS": sentinel.Addrs[0], "REDIS_MASTER_NAME": sentinel.MasterName}, "*redis.Client", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb := newRedisFromEnv(t, tt.env)
			if got := fmt.Sprintf("%T", rdb); got != tt.want {
				t.Errorf("client %s, want %s", got, tt.want)
			}
			ctx := context.Background()
			var moved int
			for i := range 50 {
				key := fmt.Sprintf("newredis-test:{%d}", i)
				if err := rdb.Set(ctx, key, i, 0).Err(); err != nil {
					if tt.moved && strings.HasPrefix(err.Error(), "MOVED") {
						moved++
						continue
					}
					t.Fatalf("SET %s: %v", key, err)
				}
				if got, err := rdb.Get(ctx, key).Int(); err != nil || got != i {
					t.Fatalf("GET %s = %d, %v", key, got, err)
				}
				rdb.Del(ctx, key)
			}
			if tt.moved && moved == 0 {
				t.Error("a plain client on one cluster node never got MOVED: the case shows nothing")
			}
		})
	}
}

// A dead Redis costs a command one refused dial, not go-redis's default five (100 ms apart):
// counted at the client's dial hook, where TestSentinelFailover can only time it.
func TestNewRedisClientDialsOnce(t *testing.T) {
	rdb := newRedisFromEnv(t, map[string]string{"REDIS_ADDRS": lab.MustFreeAddr(t)}) // nothing listens there
	var dials atomic.Int64
	rdb.AddHook(dialCounter{&dials})
	if err := rdb.Get(context.Background(), "dials-once").Err(); err == nil {
		t.Fatal("GET against a closed port succeeded")
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("one GET against a closed port dialled %d times, want 1", n)
	}
}

// newRedisFromEnv is newRedis for the configuration env gives, closed at cleanup.
func newRedisFromEnv(t *testing.T, env map[string]string) redis.UniversalClient {
	t.Helper()
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	rdb, err := newRedis(cfg, log, nil, faults.New(prometheus.NewRegistry(), log))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// dialCounter counts the client's dial attempts.
type dialCounter struct{ n *atomic.Int64 }

func (d dialCounter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d.n.Add(1)
		return next(ctx, network, addr)
	}
}

func (dialCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (dialCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
