package drills

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// invalidationWindow is the documented bound (README, package doc): once a write has been
// acknowledged for this long, no instance serves an older version of the product. It is the
// delayed double delete (200 ms, set below) plus 100 ms for the pub/sub message and the
// in-flight reads.
const invalidationWindow = 300 * time.Millisecond

// TestDrillConsistency runs two instances sharing PostgreSQL and Redis with the two-level preset
// (L1 in each, invalidated through Redis pub/sub) and double_delete 200ms. Writers update the
// hottest products through either instance while checkers read them through both (and the read
// load runs on both): no read that starts more than invalidationWindow after a write was
// acknowledged returns an older version. The largest staleness seen is reported.
func TestDrillConsistency(t *testing.T) {
	ctx := drillContext(t, 5*time.Minute)
	sh := loadShape()
	const (
		hot        = 50 // products 1..hot are written and checked
		writers    = 5
		writeEvery = 250 * time.Millisecond // per writer: 20 writes/s in all
		checkRate  = 200                    // checking reads a second
	)
	st := newStack(ctx, t, stackOptions{products: 2000, replicas: 2, env: []string{
		"CACHE_PRESET=two-level", `CACHE_POLICY={"double_delete":"200ms"}`,
	}})
	apis := []*apiClient{newAPIClient(st.services[0].Base), newAPIClient(st.services[1].Base)}
	sched := newSchedule(time.Second, phases3, sh.phase, sh.phase, sh.phase)
	load := startReadLoad(ctx, t, st.logs, readLoadSpec{
		bases: []string{st.services[0].Base, st.services[1].Base}, rate: sh.rate, sched: sched, products: 2000})

	type ack struct {
		version int64
		at      time.Time
	}
	var mu sync.Mutex
	acks := map[int64][]ack{} // by product, in version order
	var writeErrs []string
	var wg sync.WaitGroup
	sleepUntil(ctx, sched.start("during"))
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			current := map[int64]product{}
			for id := int64(w + 1); id <= hot; id += writers {
				p, _, err := apis[0].get(ctx, id)
				if err != nil {
					mu.Lock()
					writeErrs = append(writeErrs, err.Error())
					mu.Unlock()
					return
				}
				current[id] = p
			}
			for k := 0; time.Now().Before(sched.start("after")) && ctx.Err() == nil; k++ {
				id := int64(w+1) + int64(k%len(current))*writers
				p := current[id]
				got, _, err := apis[k%2].put(ctx, id, replaceWith(p, fmt.Sprintf("consistency-%d", k), p.Inventory.Stock+1), p.Version)
				now := time.Now()
				mu.Lock()
				if err != nil {
					writeErrs = append(writeErrs, err.Error())
				} else {
					acks[id] = append(acks[id], ack{version: got.Version, at: now})
					current[id] = got
				}
				mu.Unlock()
				sleepUntil(ctx, now.Add(writeEvery))
			}
		}()
	}

	type read struct {
		id      int64
		version int64
		sent    time.Time
	}
	var reads []read
	var readErrs int
	checkEnd := sched.end
	interval := time.Second / checkRate
	var rwg sync.WaitGroup
	for i, next := 0, time.Now(); next.Before(checkEnd) && ctx.Err() == nil; i, next = i+1, next.Add(interval) {
		sleepUntil(ctx, next)
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			id := int64(1 + i%hot)
			sent := time.Now()
			p, status, err := apis[(i/hot)%2].get(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || status != http.StatusOK {
				readErrs++
				return
			}
			reads = append(reads, read{id: id, version: p.Version, sent: sent})
		}()
	}
	wg.Wait()
	rwg.Wait()
	res := load.wait()

	// A read is stale when a newer version had been acknowledged before it was sent; it violates
	// the window when that acknowledgement was more than invalidationWindow before.
	var stale, violations, writes int
	var worst time.Duration
	for _, as := range acks {
		writes += len(as)
	}
	for _, r := range reads {
		for _, a := range acks[r.id] {
			if a.version > r.version && a.at.Before(r.sent) {
				stale++
				age := r.sent.Sub(a.at)
				worst = max(worst, age)
				if age > invalidationWindow {
					violations++
				}
				break
			}
		}
	}
	// Every acknowledged write is in the database: each product's version is its last ack.
	conn := st.pg.Connect(pgDatabase)
	defer conn.Close(context.Background())
	found := 0
	for id, as := range acks {
		var v int64
		if err := conn.QueryRow(ctx, "SELECT version FROM products WHERE id = $1", id).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v == as[len(as)-1].version {
			found += len(as)
		}
	}
	failed := res.total("", "") - res.total("", outOK)
	addRow(t, reportRow{
		drill: "cache consistency under writes, 2 instances, two-level + pub/sub + double delete 200 ms", load: sh.String(),
		sent:   res.total("", "") + len(reads) + readErrs + writes,
		failed: fmt.Sprintf("reads %d + checking reads %d (want 0); writes %d (want 0)", failed, readErrs, len(writeErrs)),
		p99:    [3]time.Duration{res.get("read", "before").p99, res.get("read", "during").p99, res.get("read", "after").p99},
		writes: fmt.Sprintf("%d / %d", writes, found),
		figures: fmt.Sprintf("%d checking reads: %d returned a version older than one already acknowledged, the oldest acknowledged %s before the read; %d beyond the %s window (want 0)",
			len(reads), stale, worst.Round(time.Millisecond), violations, invalidationWindow),
	})
	if violations != 0 {
		t.Errorf("%d reads returned a version older than one acknowledged more than %s earlier (worst %s)", violations, invalidationWindow, worst)
	}
	if len(writeErrs) != 0 {
		t.Errorf("%d writes failed, e.g. %s", len(writeErrs), writeErrs[0])
	}
	if writes == 0 || found != writes {
		t.Errorf("%d writes acknowledged, %d found in the database", writes, found)
	}
	if failed != 0 || readErrs != 0 {
		t.Errorf("%d reads and %d checking reads failed", failed, readErrs)
	}
}
