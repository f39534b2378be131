package drills

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// terminateSQL ends every client backend of the drill's database but the caller's own, as a
// failover, a pooler restart or an operator's pg_terminate_backend does: the service's pooled
// connections get SQLSTATE 57P01 on their next statement. It returns how many it ended.
const terminateSQL = `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`

// TestDrillPostgresConnsTerminated terminates every backend of the service's pool again and
// again (pg_terminate_backend, SQLSTATE 57P01) under read load, with no cache (CACHE_PRESET=none),
// so that every read goes to PostgreSQL. The database itself stays up: no read may fail. Each read
// that met a closed connection runs once more on a live one (db_retries_total{op="read",
// reason="conn_lost"}). The sweeps are further apart than a read lives, even on a loaded machine,
// so that each read meets at most one: a read is retried once, and two sweeps within one read are
// two faults.
func TestDrillPostgresConnsTerminated(t *testing.T) {
	ctx := drillContext(t, 5*time.Minute)
	sh := loadShape()
	every := time.Second
	if useK6 {
		every = 2 * time.Second
	}
	st := newStack(ctx, t, stackOptions{products: 2000, env: []string{"CACHE_PRESET=none"}})
	api := newAPIClient(st.svc().Base)
	admin := st.pg.Connect(pgDatabase)
	defer admin.Close(context.Background())
	retries := func() float64 {
		n, err := api.metricSum(ctx, "db_retries_total", map[string]string{"op": "read", "reason": "conn_lost"})
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		return n
	}
	retried0 := retries()

	sched := newSchedule(time.Second, phases3, sh.phase, sh.phase, sh.phase)
	load := startReadLoad(ctx, t, st.logs, readLoadSpec{bases: []string{st.svc().Base}, rate: sh.rate, sched: sched, products: 2000})
	sleepUntil(ctx, sched.start("during"))
	rounds, terminated := 0, 0
	for next := time.Now(); next.Before(sched.start("after")) && ctx.Err() == nil; next = next.Add(every) {
		sleepUntil(ctx, next)
		var n int
		if err := admin.QueryRow(ctx, terminateSQL).Scan(&n); err != nil {
			t.Fatalf("terminate backends: %v", err)
		}
		rounds++
		terminated += n
	}
	res := load.wait()
	retried := retries() - retried0

	failed := res.total("", "") - res.total("", outOK)
	addRow(t, reportRow{
		drill: fmt.Sprintf("PostgreSQL connections terminated (pg_terminate_backend of every backend of the service, every %s of phase during, no cache)", every),
		load:  sh.String(),
		sent:  res.total("", ""),
		failed: fmt.Sprintf("reads %d (want 0; without the retry, some answer 503 after each termination): %s",
			failed, res.describe("")),
		p99: [3]time.Duration{res.get("read", "before").p99, res.get("read", "during").p99, res.get("read", "after").p99},
		figures: fmt.Sprintf("%d terminations ended %d backends; reads retried on a live connection (db_retries_total{op=read,reason=conn_lost}): %.0f",
			rounds, terminated, retried),
	})
	if failed != 0 {
		t.Errorf("%d reads failed while PostgreSQL was up and only its connections were terminated, want 0: %s", failed, res.describe(""))
	}
	if terminated == 0 || retried == 0 {
		t.Errorf("%d backends terminated, %.0f reads retried: the drill did not bite", terminated, retried)
	}
}

// putAnswer is what a PUT got, as a client that honours Retry-After sees it.
type putAnswer struct {
	status     int // 0: no answer
	problem    string
	retryAfter string
	lat        time.Duration
}

// putHeld sends one PUT of body to product id and reads the status, the problem type and
// Retry-After of the answer.
func putHeld(ctx context.Context, api *apiClient, id int64, body any) putAnswer {
	raw, _ := json.Marshal(body)
	sent := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, fmt.Sprintf("%s/api/v1/products/%d", api.base, id), bytes.NewReader(raw))
	if err != nil {
		return putAnswer{}
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := api.http.Do(req)
	if err != nil {
		return putAnswer{lat: time.Since(sent)}
	}
	defer resp.Body.Close()
	var p struct{ Type string }
	_ = json.NewDecoder(resp.Body).Decode(&p)
	return putAnswer{status: resp.StatusCode, problem: p.Type, retryAfter: resp.Header.Get("Retry-After"), lat: time.Since(sent)}
}

// TestDrillRowLockHeld holds a row lock on one product (SELECT … FOR UPDATE in a transaction left
// open) through phase during while writers PUT it and the read load reads every product. The
// PUTs must answer quickly (well before DB_QUERY_TIMEOUT, 5 s) with 409 problem type lock-timeout
// and a Retry-After, write nothing, and be counted in db_lock_timeouts_total; PUTs of other
// products and every read succeed; once the lock is released, a PUT of the product succeeds.
func TestDrillRowLockHeld(t *testing.T) {
	ctx := drillContext(t, 5*time.Minute)
	sh := loadShape()
	const (
		locked  = int64(1) // the hottest id of the read load
		free    = int64(2)
		writers = 4
	)
	queryTimeout := 5 * time.Second // the service's default DB_QUERY_TIMEOUT; DB_LOCK_TIMEOUT is its default, 1 s
	st := newStack(ctx, t, stackOptions{products: 2000})
	api := newAPIClient(st.svc().Base)
	orig, _, err := api.get(ctx, locked)
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := api.get(ctx, free)
	if err != nil {
		t.Fatal(err)
	}
	admin := st.pg.Connect(pgDatabase)
	defer admin.Close(context.Background())
	timeouts := func() float64 {
		n, err := api.metricSum(ctx, "db_lock_timeouts_total", map[string]string{"operation": "update"})
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		return n
	}
	timeouts0 := timeouts()

	sched := newSchedule(time.Second, phases3, sh.phase, sh.phase, sh.phase)
	load := startReadLoad(ctx, t, st.logs, readLoadSpec{bases: []string{st.svc().Base}, rate: sh.rate, sched: sched, products: 2000})
	sleepUntil(ctx, sched.start("during"))
	holder, err := admin.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, `SELECT id FROM products WHERE id = $1 FOR UPDATE`, locked); err != nil {
		t.Fatal(err)
	}
	lockedUntil := sched.start("after")

	// Writers PUT the locked product while the lock is held; one more PUTs another product.
	var mu sync.Mutex
	var held []putAnswer
	var freeOK, freeFailed atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The lock is released once every writer has returned: every PUT meets it.
			for k := 0; time.Now().Before(lockedUntil) && ctx.Err() == nil; k++ {
				a := putHeld(ctx, api, locked, replaceWith(orig, fmt.Sprintf("held-%d-%d", w, k), orig.Inventory.Stock+1))
				mu.Lock()
				held = append(held, a)
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; time.Now().Before(lockedUntil) && ctx.Err() == nil; k++ {
			_, _, err := api.put(ctx, free, replaceWith(other, fmt.Sprintf("free-%d", k), other.Inventory.Stock), 0)
			if err != nil {
				freeFailed.Add(1)
			} else {
				freeOK.Add(1)
			}
			sleepUntil(ctx, time.Now().Add(100*time.Millisecond))
		}
	}()
	wg.Wait()
	var during struct {
		name    string
		version int64
	}
	if err := holder.QueryRow(ctx, `SELECT name, version FROM products WHERE id = $1`, locked).Scan(&during.name, &during.version); err != nil {
		t.Fatal(err)
	}
	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	_, afterStatus, afterErr := api.put(ctx, locked, replaceWith(orig, "released", orig.Inventory.Stock), 0)
	res := load.wait()
	counted := timeouts() - timeouts0

	var lockTimeouts, withRetryAfter int
	var lat []time.Duration
	statuses := map[int]int{}
	for _, a := range held {
		statuses[a.status]++
		lat = append(lat, a.lat)
		if a.status == http.StatusConflict && a.problem == "urn:product-service:problem:lock-timeout" {
			lockTimeouts++
			if a.retryAfter != "" {
				withRetryAfter++
			}
		}
	}
	failed := res.total("", "") - res.total("", outOK)
	addRow(t, reportRow{
		drill: fmt.Sprintf("row lock held (SELECT … FOR UPDATE of one product through phase during) while %d writers PUT it", writers),
		load:  sh.String(),
		sent:  res.total("", "") + len(held) + int(freeOK.Load()+freeFailed.Load()) + 1,
		failed: fmt.Sprintf("reads %d (want 0); PUTs of the locked product not answered 409 lock-timeout with Retry-After: %d of %d (statuses %v; without lock_timeout: 503 unavailable after DB_QUERY_TIMEOUT)",
			failed, len(held)-withRetryAfter, len(held), statuses),
		p99: [3]time.Duration{res.get("read", "before").p99, res.get("read", "during").p99, res.get("read", "after").p99},
		writes: fmt.Sprintf("locked product: version %d → %d while held (want unchanged), PUT after the release %d; other product: %d of %d PUTs 2xx",
			orig.Version, during.version, afterStatus, freeOK.Load(), freeOK.Load()+freeFailed.Load()),
		figures: fmt.Sprintf("PUT of the locked product answered in p50 %s, p99 %s (DB_LOCK_TIMEOUT 1 s, DB_QUERY_TIMEOUT %s); db_lock_timeouts_total{operation=update} +%.0f",
			ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99)), queryTimeout, counted),
	})
	if len(held) == 0 {
		t.Fatal("no PUT was sent while the lock was held")
	}
	if lockTimeouts != len(held) || withRetryAfter != lockTimeouts {
		t.Errorf("PUTs of the locked product: %d 409 lock-timeout (%d with Retry-After) of %d, statuses %v, want all",
			lockTimeouts, withRetryAfter, len(held), statuses)
	}
	if judged, _ := latencyJudged(); judged && percentile(lat, 0.99) >= queryTimeout {
		p := percentile(lat, 0.99)
		t.Errorf("PUTs of the locked product answered in p99 %s, want well below DB_QUERY_TIMEOUT %s", p, queryTimeout)
	}
	if during.version != orig.Version || during.name != orig.Name {
		t.Errorf("the locked product changed while held: version %d → %d, name %q → %q", orig.Version, during.version, orig.Name, during.name)
	}
	if float64(lockTimeouts) != counted {
		t.Errorf("db_lock_timeouts_total{operation=update} +%.0f, want +%d (one per 409 lock-timeout)", counted, lockTimeouts)
	}
	if afterErr != nil {
		t.Errorf("PUT once the lock was released: %v", afterErr)
	}
	if freeFailed.Load() != 0 || freeOK.Load() == 0 {
		t.Errorf("PUTs of another product: %d failed, %d succeeded; want none failed", freeFailed.Load(), freeOK.Load())
	}
	if failed != 0 {
		t.Errorf("%d reads failed: %s", failed, res.describe(""))
	}
}
