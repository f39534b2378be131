package drills

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDrillConcurrentUpdates has many writers update one product at once, each a read-modify-write
// with If-Match (read the product, add 1 to its stock, PUT it back naming the version read), while
// the read load reads it too (it is the hottest id of the Zipf distribution). No update is lost:
// the final version is the first plus the number of 2xx updates, and so is the stock.
func TestDrillConcurrentUpdates(t *testing.T) {
	ctx := drillContext(t, 5*time.Minute)
	sh := loadShape()
	const (
		id      = int64(1)
		writers = 16
	)
	st := newStack(ctx, t, stackOptions{products: 2000, env: []string{"CACHE_PRESET=two-level"}})
	api := newAPIClient(st.svc().Base)
	first, _, err := api.get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	sched := newSchedule(time.Second, phases3, sh.phase, sh.phase, sh.phase)
	load := startReadLoad(ctx, t, st.logs, readLoadSpec{bases: []string{st.svc().Base}, rate: sh.rate, sched: sched, products: 2000})

	var ok, conflicts, other atomic.Int64
	var otherMu sync.Mutex
	var otherErrs []string
	sleepUntil(ctx, sched.start("during"))
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; time.Now().Before(sched.start("after")) && ctx.Err() == nil; k++ {
				p, _, err := api.get(ctx, id)
				if err != nil {
					other.Add(1)
					continue
				}
				_, status, err := api.put(ctx, id, replaceWith(p, fmt.Sprintf("cu-%d-%d", w, k), p.Inventory.Stock+1), p.Version)
				switch {
				case err == nil:
					ok.Add(1)
				case status == http.StatusPreconditionFailed:
					conflicts.Add(1)
				default:
					other.Add(1)
					otherMu.Lock()
					otherErrs = append(otherErrs, err.Error())
					otherMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	res := load.wait()

	conn := st.pg.Connect(pgDatabase)
	defer conn.Close(context.Background())
	var version, stock int64
	if err := conn.QueryRow(ctx, `SELECT p.version, i.stock FROM products p JOIN inventory i ON i.product_id = p.id WHERE p.id = $1`, id).
		Scan(&version, &stock); err != nil {
		t.Fatal(err)
	}
	failed := res.total("", "") - res.total("", outOK)
	addRow(t, reportRow{
		drill: fmt.Sprintf("%d writers, If-Match read-modify-write of one product", writers), load: sh.String(),
		sent:   res.total("", "") + int(ok.Load()+conflicts.Load()+other.Load()),
		failed: fmt.Sprintf("reads %d (want 0); updates other than 2xx/412: %d (want 0)", failed, other.Load()),
		p99:    [3]time.Duration{res.get("read", "before").p99, res.get("read", "during").p99, res.get("read", "after").p99},
		writes: fmt.Sprintf("%d 2xx (%d refused with 412) / version %d → %d, stock %d → %d", ok.Load(), conflicts.Load(),
			first.Version, version, first.Inventory.Stock, stock),
		figures: fmt.Sprintf("lost updates: %d (want 0)", first.Version+ok.Load()-version),
	})
	if version != first.Version+ok.Load() || stock != first.Inventory.Stock+ok.Load() {
		t.Errorf("lost updates: version %d → %d and stock %d → %d after %d acknowledged updates",
			first.Version, version, first.Inventory.Stock, stock, ok.Load())
	}
	if ok.Load() == 0 || conflicts.Load() == 0 {
		t.Errorf("%d updates succeeded and %d conflicted: the writers did not contend", ok.Load(), conflicts.Load())
	}
	if other.Load() != 0 {
		t.Errorf("%d updates failed otherwise: %v", other.Load(), otherErrs[:min(5, len(otherErrs))])
	}
	if failed != 0 {
		t.Errorf("%d reads failed: %+v", failed, res.describe(""))
	}
}
