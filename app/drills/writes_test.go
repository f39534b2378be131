package drills

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// write is one update a writer sent: product id gets name "drill-w<n>" and stock n+100000, in
// one transaction of two tables (products and inventory), so a half-applied write shows.
type write struct {
	n      int
	id     int64
	phase  string
	status int // 0: no answer
	lat    time.Duration
}

func (w write) name() string { return fmt.Sprintf("drill-w%d", w.n) }
func (w write) stock() int64 { return int64(w.n) + 100000 }
func (w write) acked() bool  { return w.status >= 200 && w.status < 300 }

// writerSpec describes a writer: rate updates a second over the schedule, write n to product
// from+n (each product written once).
type writerSpec struct {
	api   *apiClient
	rate  int
	sched schedule
	from  int64
	// originals are the products as they were, by id (for the body of each PUT).
	originals map[int64]product
}

// startWriter sends the writes in the background; wait returns them all.
func startWriter(ctx context.Context, spec writerSpec) func() []write {
	var (
		mu     sync.Mutex
		writes []write
		wg     sync.WaitGroup
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sleepUntil(ctx, spec.sched.starts[0])
		interval := time.Second / time.Duration(spec.rate)
		next := time.Now()
		for n := 0; next.Before(spec.sched.end) && ctx.Err() == nil; n++ {
			sleepUntil(ctx, next)
			next = next.Add(interval)
			w := write{n: n, id: spec.from + int64(n)}
			orig, ok := spec.originals[w.id]
			if !ok {
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sent := time.Now()
				w.phase = spec.sched.phaseAt(sent)
				_, w.status, _ = spec.api.put(ctx, w.id, replaceWith(orig, w.name(), w.stock()), 0)
				w.lat = time.Since(sent)
				mu.Lock()
				writes = append(writes, w)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}()
	return func() []write {
		<-done
		return writes
	}
}

// loadOriginals reads products from..from+n-1 from the database, as the writer's starting point.
func loadOriginals(ctx context.Context, t *testing.T, st *stack, from int64, n int) map[int64]product {
	t.Helper()
	conn := st.pg.Connect(pgDatabase)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT p.id, p.sku, p.name, p.description, p.price_cents, p.currency,
		p.category_id, p.is_hot, p.version, i.stock FROM products p JOIN inventory i ON i.product_id = p.id
		WHERE p.id >= $1 AND p.id < $2`, from, from+int64(n))
	if err != nil {
		t.Fatalf("read originals: %v", err)
	}
	defer rows.Close()
	out := map[int64]product{}
	for rows.Next() {
		var p product
		if err := rows.Scan(&p.ID, &p.SKU, &p.Name, &p.Description, &p.PriceCents, &p.Currency, &p.Category.ID,
			&p.IsHot, &p.Version, &p.Inventory.Stock); err != nil {
			t.Fatalf("read originals: %v", err)
		}
		out[p.ID] = p
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read originals: %v", err)
	}
	return out
}

// writeCheck is what the database holds of a writer's writes.
type writeCheck struct {
	acked, found         int // acknowledged writes, and those of them the database holds
	failed, applied      int // writes without a 2xx, and those of them that committed anyway
	halfApplied, missing int // writes seen in one table but not the other; acknowledged but absent
}

func (c writeCheck) String() string {
	return fmt.Sprintf("%d / %d; %d failed (%d committed whole before the failure was reported), %d half-applied",
		c.acked, c.found, c.failed, c.applied, c.halfApplied)
}

// checkWrites compares every write with the database: an acknowledged write must be there whole;
// a failed one may be absent or whole (the commit may have happened before the answer was lost),
// never half there.
func checkWrites(ctx context.Context, t *testing.T, st *stack, writes []write, originals map[int64]product) writeCheck {
	t.Helper()
	conn := st.pg.Connect(pgDatabase)
	defer conn.Close(ctx)
	var c writeCheck
	for _, w := range writes {
		var name string
		var stock int64
		err := conn.QueryRow(ctx, `SELECT p.name, i.stock FROM products p JOIN inventory i ON i.product_id = p.id
			WHERE p.id = $1`, w.id).Scan(&name, &stock)
		if err != nil {
			t.Fatalf("check write %d (product %d): %v", w.n, w.id, err)
		}
		orig := originals[w.id]
		whole := name == w.name() && stock == w.stock()
		untouched := name == orig.Name && stock == orig.Inventory.Stock
		if !whole && !untouched {
			c.halfApplied++
		}
		if w.acked() {
			c.acked++
			if whole {
				c.found++
			} else {
				c.missing++
			}
			continue
		}
		c.failed++
		if whole {
			c.applied++
		}
	}
	return c
}
