// Package redistest starts private Redis deployments for tests, one per topology the service
// supports: a single server, a Sentinel set-up (a master, optionally a replica, and sentinels
// monitoring it) and a Redis Cluster of several masters. Every server runs from the installed
// redis-server on free local ports in a temporary directory, without persistence, in a process
// group of its own, and is stopped at the test's cleanup. Without redis-server (or redis-cli, for a
// cluster) a test is skipped, or fails when CI is set.
package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/product-service-lab/product-service/app/internal/lab"
)

// Mode names a topology, as the service's configuration selects it.
type Mode string

// The topologies.
const (
	Single   Mode = "single"   // REDIS_ADDRS holds one address
	Sentinel Mode = "sentinel" // REDIS_MASTER_NAME is set; REDIS_ADDRS lists the sentinels
	Cluster  Mode = "cluster"  // REDIS_ADDRS lists several cluster nodes
)

// Modes are every topology, in the order tests run them.
var Modes = []Mode{Single, Sentinel, Cluster}

// MasterName is the name the sentinels monitor the master under.
const MasterName = "lab-master"

// startLimit bounds how long a topology may take to come up.
const startLimit = 20 * time.Second

// Topology is a running private Redis deployment.
type Topology struct {
	Mode Mode
	// Addrs and MasterName are what REDIS_ADDRS and REDIS_MASTER_NAME would hold.
	Addrs      []string
	MasterName string
	// Nodes are the data servers: the cluster's masters, or the Sentinel set-up's master then its
	// replica (before any failover).
	Nodes []*Node
	// Sentinels are the Sentinel set-up's sentinels.
	Sentinels []*Node
}

// Node is one server process.
type Node struct {
	Addr string
	Proc *lab.Proc
}

// Kill ends the server with SIGKILL, as a crash or a lost machine would.
func (n *Node) Kill() { _ = n.Proc.Kill() }

// SentinelOptions shape a Sentinel set-up.
type SentinelOptions struct {
	// Replica adds a replica of the master, so the sentinels can fail over.
	Replica bool
	// Sentinels is how many sentinels monitor the master (1 when zero), with quorum 1.
	Sentinels int
}

// Start starts a topology of mode: a single server, a Sentinel set-up with one replica and one
// sentinel, or a cluster of three masters.
func Start(t testing.TB, mode Mode) *Topology {
	t.Helper()
	switch mode {
	case Single:
		return StartSingle(t)
	case Sentinel:
		return StartSentinel(t, SentinelOptions{Replica: true, Sentinels: 1})
	case Cluster:
		return StartCluster(t, 3)
	}
	t.Fatalf("redistest: unknown mode %q", mode)
	return nil
}

// StartSingle starts one redis-server.
func StartSingle(t testing.TB) *Topology {
	t.Helper()
	dir := t.TempDir()
	n := startServer(t, dir, "redis")
	waitPing(t, n)
	return &Topology{Mode: Single, Addrs: []string{n.Addr}, Nodes: []*Node{n}}
}

// StartCluster starts masters cluster-enabled servers, joins them with redis-cli --cluster
// create (no replicas) and waits until every node reports cluster_state:ok.
func StartCluster(t testing.TB, masters int) *Topology {
	t.Helper()
	cli := tool(t, "redis-cli", "REDIS_CLI")
	dir := t.TempDir()
	tp := &Topology{Mode: Cluster}
	for i := range masters {
		name := "cluster-" + strconv.Itoa(i)
		busPort := lab.MustFreePort(t)
		n := startServer(t, dir, name, "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, name+"-nodes.conf"),
			"--cluster-port", strconv.Itoa(busPort), "--cluster-node-timeout", "2000")
		tp.Nodes = append(tp.Nodes, n)
		tp.Addrs = append(tp.Addrs, n.Addr)
	}
	for _, n := range tp.Nodes {
		waitPing(t, n)
	}
	args := append([]string{"--cluster", "create"}, tp.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	lab.MustRun(context.Background(), t, startLimit, lab.Spec{Name: "redistest: create the cluster", Bin: cli, Args: args,
		Env: lab.CleanEnv(), Dir: dir})
	for _, n := range tp.Nodes {
		waitFor(t, n, "cluster_state:ok", func(ctx context.Context, c *redis.Client) error {
			info, err := c.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") ||
				!strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(masters)+"\r") {
				return fmt.Errorf("not joined yet:\n%s", info)
			}
			return nil
		})
	}
	return tp
}

// StartSentinel starts a master, optionally a replica (in sync before the sentinels start), and
// sentinels monitoring the master with quorum 1 and down-after-milliseconds 500, so a failover
// takes a few seconds.
func StartSentinel(t testing.TB, opts SentinelOptions) *Topology {
	t.Helper()
	if opts.Sentinels <= 0 {
		opts.Sentinels = 1
	}
	dir := t.TempDir()
	tp := &Topology{Mode: Sentinel, MasterName: MasterName}
	// No wait before a replica's full sync (Redis waits 5 s by default for more replicas to join).
	master := startServer(t, dir, "master", "--repl-diskless-sync-delay", "0")
	waitPing(t, master)
	tp.Nodes = append(tp.Nodes, master)
	host, port, _ := strings.Cut(master.Addr, ":")
	if opts.Replica {
		replica := startServer(t, dir, "replica", "--replicaof", host, port)
		waitFor(t, replica, "replica in sync", func(ctx context.Context, c *redis.Client) error {
			info, err := c.Info(ctx, "replication").Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "master_link_status:up") {
				return fmt.Errorf("replica not in sync:\n%s", info)
			}
			return nil
		})
		tp.Nodes = append(tp.Nodes, replica)
	}
	for i := range opts.Sentinels {
		name := "sentinel-" + strconv.Itoa(i)
		sport := lab.MustFreePort(t)
		conf := filepath.Join(dir, name+".conf")
		body := strings.Join([]string{
			"bind 127.0.0.1", "port " + strconv.Itoa(sport), "protected-mode no", "dir " + dir,
			"sentinel monitor " + MasterName + " " + host + " " + port + " 1",
			"sentinel down-after-milliseconds " + MasterName + " 500",
			"sentinel failover-timeout " + MasterName + " 5000",
			"sentinel parallel-syncs " + MasterName + " 1", "",
		}, "\n")
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		bin := tool(t, "redis-server", "REDIS_SERVER")
		n := &Node{Addr: "127.0.0.1:" + strconv.Itoa(sport)}
		n.Proc = lab.MustStart(context.Background(), t, lab.Spec{
			Name: name, Log: filepath.Join(dir, name+".log"), Append: true, Env: lab.CleanEnv(), Bin: bin, Dir: dir,
			Args: []string{conf, "--sentinel"}, StopTimeout: 5 * time.Second,
		})
		tp.Sentinels = append(tp.Sentinels, n)
		tp.Addrs = append(tp.Addrs, n.Addr)
	}
	for _, s := range tp.Sentinels {
		waitFor(t, s, "sentinel monitoring", func(ctx context.Context, c *redis.Client) error {
			sc := redis.NewSentinelClient(c.Options())
			defer sc.Close()
			addr, err := sc.GetMasterAddrByName(ctx, MasterName).Result()
			if err != nil {
				return err
			}
			if got := strings.Join(addr, ":"); got != master.Addr {
				return fmt.Errorf("sentinel names master %s, want %s", got, master.Addr)
			}
			if opts.Replica {
				replicas, err := sc.Replicas(ctx, MasterName).Result()
				if err != nil {
					return err
				}
				if len(replicas) == 0 {
					return fmt.Errorf("sentinel has not found the replica yet")
				}
			}
			if opts.Sentinels > 1 {
				peers, err := sc.Sentinels(ctx, MasterName).Result()
				if err != nil {
					return err
				}
				if len(peers) < opts.Sentinels-1 {
					return fmt.Errorf("sentinel knows %d of %d peers", len(peers), opts.Sentinels-1)
				}
			}
			return nil
		})
	}
	return tp
}

// Options returns the client options the service would build for this topology (REDIS_ADDRS,
// REDIS_MASTER_NAME), with its retry settings (no command retries, one dial attempt) and
// timeouts of a second.
func (tp *Topology) Options() *redis.UniversalOptions {
	return &redis.UniversalOptions{
		Addrs:         append([]string(nil), tp.Addrs...),
		MasterName:    tp.MasterName,
		DialTimeout:   time.Second,
		ReadTimeout:   time.Second,
		WriteTimeout:  time.Second,
		PoolSize:      64,
		MaxRetries:    -1,
		DialerRetries: 1,
	}
}

// Client returns a client of the topology through redis.NewUniversalClient, as the service makes
// it, closed at cleanup. mods adjust the options first.
func (tp *Topology) Client(t testing.TB, mods ...func(*redis.UniversalOptions)) redis.UniversalClient {
	t.Helper()
	opts := tp.Options()
	for _, m := range mods {
		m(opts)
	}
	c := redis.NewUniversalClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// MasterAddr asks the first sentinel which server is the master now.
func (tp *Topology) MasterAddr(ctx context.Context) (string, error) {
	if len(tp.Sentinels) == 0 {
		return "", fmt.Errorf("redistest: a %s topology has no sentinels", tp.Mode)
	}
	sc := redis.NewSentinelClient(&redis.Options{Addr: tp.Sentinels[0].Addr, DialTimeout: time.Second})
	defer sc.Close()
	addr, err := sc.GetMasterAddrByName(ctx, tp.MasterName).Result()
	if err != nil {
		return "", fmt.Errorf("redistest: ask the sentinel for the master: %w", err)
	}
	return strings.Join(addr, ":"), nil
}

// startServer starts a redis-server on a free port in dir without persistence.
func startServer(t testing.TB, dir, name string, extra ...string) *Node {
	t.Helper()
	bin := tool(t, "redis-server", "REDIS_SERVER")
	port := lab.MustFreePort(t)
	n := &Node{Addr: "127.0.0.1:" + strconv.Itoa(port)}
	args := append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no",
		"--dir", dir, "--dbfilename", name + ".rdb", "--protected-mode", "no", "--loglevel", "warning"}, extra...)
	n.Proc = lab.MustStart(context.Background(), t, lab.Spec{
		Name: name, Log: filepath.Join(dir, name+".log"), Append: true, Env: lab.CleanEnv(), Bin: bin, Args: args, Dir: dir,
		StopTimeout: 5 * time.Second,
	})
	return n
}

// waitPing waits until n answers PING.
func waitPing(t testing.TB, n *Node) {
	t.Helper()
	waitFor(t, n, "PING", func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() })
}

// waitFor polls check against n until it passes, failing the test when n exits or startLimit passes.
func waitFor(t testing.TB, n *Node, what string, check func(context.Context, *redis.Client) error) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: n.Addr, DialTimeout: time.Second, ReadTimeout: time.Second,
		MaxRetries: -1, PoolSize: 1})
	defer c.Close()
	deadline := time.Now().Add(startLimit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := check(ctx, c)
		cancel()
		if err == nil {
			return
		}
		if n.Proc.Exited() {
			t.Fatalf("redistest: %s exited (%v) before %s:\n%s", n.Proc.Name, n.Proc.Err(), what, n.Proc.Tail(20))
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: %s at %s: no %s within %s: %v\n%s", n.Proc.Name, n.Addr, what, startLimit, err,
				n.Proc.Tail(20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tool finds a binary at the path env names, or on the PATH (lab.Tool): without it the test is
// skipped, or fails when CI is set.
func tool(t testing.TB, name, env string) string {
	t.Helper()
	return lab.Tool(t, env, name)
}
