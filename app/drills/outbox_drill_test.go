package drills

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestDrillOutboxKilledWriter: with Redis refusing deletions (DEL and UNLINK taken away from its
// default user by ACL), products are updated, and the writer is SIGKILLed after each commit has
// answered: its invalidations are in no process any more. A new process starts while Redis still
// refuses, then Redis takes deletions again. The relay applies the invalidations the database
// kept (the cache outbox): every product reads its new version, and no read returns an old one
// afterwards. The drill reports how long that took after Redis came back, and after the restart.
// Without the outbox the old values stay cached until their TTL (an hour here).
func TestDrillOutboxKilledWriter(t *testing.T) {
	ctx := drillContext(t, 4*time.Minute)
	const n = 20
	st := newStack(ctx, t, stackOptions{products: 200, env: []string{`CACHE_POLICY={"ttl":"1h"}`}})
	api := newAPIClient(st.svc().Base)
	rdb := redis.NewClient(&redis.Options{Addr: st.redis.addr})
	t.Cleanup(func() { _ = rdb.Close() })

	olds := map[int64]product{}
	for id := int64(1); id <= n; id++ {
		p, status, err := api.get(ctx, id)
		if err != nil || status != 200 {
			t.Fatalf("read %d before the fault: status %d, %v", id, status, err)
		}
		olds[id] = p
	}
	if keys := rdb.Keys(ctx, "drill:*:product:{*}").Val(); len(keys) < n {
		t.Fatalf("test setup: %d product keys in Redis, want at least %d", len(keys), n)
	}

	refuse := func(on bool) {
		t.Helper()
		rule := []any{"ACL", "SETUSER", "default", "+del", "+unlink"}
		if on {
			rule = []any{"ACL", "SETUSER", "default", "-del", "-unlink"}
		}
		if err := rdb.Do(ctx, rule...).Err(); err != nil {
			t.Fatalf("redis %v: %v", rule, err)
		}
	}
	refuse(true)
	if err := rdb.Del(ctx, "drill:probe").Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("test setup: DEL should be refused with NOPERM, got %v", err)
	}
	news := map[int64]int64{}
	for id := int64(1); id <= n; id++ {
		p, status, err := api.put(ctx, id, replaceWith(olds[id], fmt.Sprintf("outbox-drill-%d", id), 7), olds[id].Version)
		if err != nil || status != 200 {
			t.Fatalf("update %d: status %d, %v", id, status, err)
		}
		news[id] = p.Version
	}
	_ = st.svc().Kill() // every write answered, so every commit is done; the deletions were refused
	st.svc().start()
	restarted := time.Now()

	// readAll reads every product once and returns how many answered their old version.
	readAll := func() (stale int) {
		for id := int64(1); id <= n; id++ {
			p, status, err := api.get(ctx, id)
			if err != nil || status != 200 {
				t.Fatalf("read %d: status %d, %v", id, status, err)
			}
			if p.Version < news[id] {
				stale++
			}
		}
		return stale
	}
	staleWhileRefused := readAll() // Redis still holds the old values and refuses to drop them
	time.Sleep(2 * time.Second)
	refuse(false)
	back := time.Now()

	// The relay has run when this instance's relay found the outbox empty after applying it. Without
	// the outbox that never happens, so the drill waits for it up to its own deadline: a slow machine
	// makes it slow, never failing.
	applied, allNew := time.Duration(-1), time.Duration(-1)
	stale := n
	for ctx.Err() == nil {
		if stale = readAll(); stale == 0 && allNew < 0 {
			allNew = time.Since(back)
		}
		relayed, _ := api.metricSum(ctx, "cache_outbox_applied_total", map[string]string{"by": "relay"})
		backlog, err := api.metricSum(ctx, "cache_outbox_backlog_rows", nil)
		if stale == 0 && err == nil && backlog == 0 && relayed > 0 {
			applied = time.Since(back)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	sinceRestart := time.Since(restarted)
	staleAfter, reads := 0, 0
	for round := 0; round < 20 && applied >= 0; round++ {
		staleAfter += readAll()
		reads += n
	}
	backlog, _ := api.metricSum(ctx, "cache_outbox_backlog_rows", nil)
	relayed, _ := api.metricSum(ctx, "cache_outbox_applied_total", map[string]string{"by": "relay"})

	appliedText := "not before the drill's deadline"
	if applied >= 0 {
		appliedText = fmt.Sprintf("%s after Redis took deletes again (%s after the restart; every read new after %s)",
			applied.Round(10*time.Millisecond), sinceRestart.Round(10*time.Millisecond), allNew.Round(10*time.Millisecond))
	}
	addRow(t, reportRow{
		drill: "Writer SIGKILLed after its commits, Redis refusing DEL (ACL)", load: fmt.Sprintf("%d updates, reads of them", n),
		sent: n + reads, failed: fmt.Sprintf("%d old versions read after the relay ran (want 0)", staleAfter),
		writes: fmt.Sprintf("%d acknowledged", n),
		figures: fmt.Sprintf("old versions read while Redis refused: %d of %d; relay done %s; relay applied %.0f rows, backlog %.0f",
			staleWhileRefused, n, appliedText, relayed, backlog),
	})
	if applied < 0 {
		t.Fatalf("%d of %d products still read their old version, outbox backlog %v, %s after Redis took deletes again: the invalidations died with the writer",
			stale, n, backlog, time.Since(back).Round(time.Second))
	}
	if staleAfter != 0 {
		t.Errorf("%d of %d reads returned an old version after the relay ran, want 0", staleAfter, reads)
	}
	if backlog != 0 {
		t.Errorf("cache_outbox_backlog_rows = %v after the relay ran, want 0", backlog)
	}
}
