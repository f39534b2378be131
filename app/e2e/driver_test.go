//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// driver makes the requests of the event script against the replicas.
type driver struct {
	t        *testing.T
	replicas []*replica
}

// answer is what the script reads of a response.
type answer struct {
	status  int
	cache   string // X-Cache
	etag    string
	body    []byte
	elapsed time.Duration
}

// do makes one request; admin requests carry the token. A transport error is status 0, with
// the error as body. It is safe to call from any goroutine.
func (d *driver) do(r *replica, method, path, body string, header map[string]string) answer {
	req, err := http.NewRequest(method, r.Base+path, strings.NewReader(body))
	if err != nil {
		return answer{body: []byte(err.Error())}
	}
	if strings.HasPrefix(path, "/api/v1/admin/") || method != http.MethodGet {
		req.Header.Set("Authorization", "Bearer "+adminToken)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	begin := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return answer{body: []byte(err.Error()), elapsed: time.Since(begin)}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, cache: resp.Header.Get("X-Cache"), etag: resp.Header.Get("ETag"),
		body: raw, elapsed: time.Since(begin)}
}

// admin makes an admin request that must succeed.
func (d *driver) admin(r *replica, method, path, body string) answer {
	d.t.Helper()
	a := d.do(r, method, path, body, nil)
	if a.status/100 != 2 {
		d.t.Fatalf("%s %s%s %s: %d %s", method, r.Name, path, body, a.status, a.body)
	}
	return a
}

// faults sets fault injection on the replicas ("" clears it).
func (d *driver) faults(patch string, rs ...*replica) {
	d.t.Helper()
	for _, r := range rs {
		if patch == "" {
			d.admin(r, http.MethodDelete, "/api/v1/admin/faults", "")
		} else {
			d.admin(r, http.MethodPut, "/api/v1/admin/faults", patch)
		}
	}
}

// policy changes the cache policy through r; it reaches the other replicas over pub/sub, which
// this waits for.
func (d *driver) policy(r *replica, patch string) {
	d.t.Helper()
	var want struct {
		Policy json.RawMessage `json:"policy"`
	}
	if err := json.Unmarshal(d.admin(r, http.MethodPut, "/api/v1/admin/cache", patch).body, &want); err != nil {
		d.t.Fatal(err)
	}
	for _, other := range d.replicas {
		deadline := time.Now().Add(5 * time.Second)
		for {
			var got struct {
				Policy json.RawMessage `json:"policy"`
			}
			_ = json.Unmarshal(d.admin(other, http.MethodGet, "/api/v1/admin/cache", "").body, &got)
			if string(got.Policy) == string(want.Policy) {
				break
			}
			if time.Now().After(deadline) {
				d.t.Fatalf("policy %s did not reach %s: %s", patch, other.Name, got.Policy)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// evict drops a product from every layer of every replica, as if it had expired.
func (d *driver) evict(id int64) {
	d.t.Helper()
	d.admin(d.replicas[0], http.MethodDelete, fmt.Sprintf("/api/v1/admin/cache/products/%d", id), "")
}

// read is GET /api/v1/products/{id} on r.
func (d *driver) read(r *replica, id int64, header map[string]string) answer {
	return d.do(r, http.MethodGet, fmt.Sprintf("/api/v1/products/%d", id), "", header)
}

// update rewrites a product's name through r with If-Match, as a client that read it first.
func (d *driver) update(r *replica, id int64, name string) {
	d.t.Helper()
	cur := d.read(r, id, nil)
	if cur.status != http.StatusOK {
		d.t.Fatalf("read %d before update: %d %s", id, cur.status, cur.body)
	}
	var p struct {
		SKU, Description, Currency string
		PriceCents                 int64 `json:"price_cents"`
		Category                   struct{ ID int64 }
	}
	if err := json.Unmarshal(cur.body, &p); err != nil {
		d.t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"sku": p.SKU, "name": name, "description": p.Description,
		"price_cents": p.PriceCents, "currency": p.Currency, "category_id": p.Category.ID})
	a := d.do(r, http.MethodPut, fmt.Sprintf("/api/v1/products/%d", id), string(body), map[string]string{"If-Match": cur.etag})
	if a.status != http.StatusOK {
		d.t.Fatalf("update %d: %d %s", id, a.status, a.body)
	}
}

// remove deletes a product through r with If-Match.
func (d *driver) remove(r *replica, id int64) {
	d.t.Helper()
	cur := d.read(r, id, nil)
	a := d.do(r, http.MethodDelete, fmt.Sprintf("/api/v1/products/%d", id), "", map[string]string{"If-Match": cur.etag})
	if a.status != http.StatusNoContent {
		d.t.Fatalf("delete %d: %d %s", id, a.status, a.body)
	}
}

// readAll reads every id once, spread over the replicas, with workers requests in flight, and
// counts the answers by status and by X-Cache.
func (d *driver) readAll(ids []int64, workers int) (byStatus map[int]int, byCache map[string]int) {
	byStatus, byCache = map[int]int{}, map[string]int{}
	var mu sync.Mutex
	next := make(chan int, len(ids))
	for i := range ids {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				a := d.read(d.replicas[i%len(d.replicas)], ids[i], nil)
				mu.Lock()
				byStatus[a.status]++
				byCache[a.cache]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return byStatus, byCache
}

// concurrently runs n reads of id on each replica at once. It counts the answers by status, and
// by replica, status and X-Cache for messages.
func (d *driver) concurrently(id int64, n int) (byStatus map[int]int, detail map[string]int) {
	byStatus, detail = map[int]int{}, map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	startGun := make(chan struct{})
	for _, r := range d.replicas {
		for range n {
			wg.Go(func() {
				<-startGun
				a := d.read(r, id, nil)
				mu.Lock()
				byStatus[a.status]++
				detail[fmt.Sprintf("%s %d %s", r.Name, a.status, a.cache)]++
				mu.Unlock()
			})
		}
	}
	close(startGun)
	wg.Wait()
	return byStatus, detail
}

// ids returns first..last.
func ids(first, last int64) []int64 {
	out := make([]int64, 0, last-first+1)
	for id := first; id <= last; id++ {
		out = append(out, id)
	}
	return out
}
