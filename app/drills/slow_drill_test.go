package drills

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDrillSlowClients attacks the service the cheap ways while the read load runs: slowloris
// (headers trickled), slow bodies, oversized bodies (with and without Content-Length) and many idle
// connections. Each attack is bounded by a timeout or a limit (the connection is closed, or the
// body refused with 413) and the read load keeps being served: no read fails.
func TestDrillSlowClients(t *testing.T) {
	ctx := drillContext(t, 5*time.Minute)
	sh := loadShape()
	const (
		headerTimeout = 2 * time.Second
		readTimeout   = 4 * time.Second
		idleTimeout   = 5 * time.Second
		maxBody       = 1 << 20
	)
	slowloris, slowBodies, idle, kept, oversized := 200, 50, 1000, 200, 20
	if useK6 {
		slowloris, idle, kept = 500, 2000, 500
	}
	st := newStack(ctx, t, stackOptions{products: 2000, env: []string{
		"HTTP_READ_HEADER_TIMEOUT=" + headerTimeout.String(), "HTTP_READ_TIMEOUT=" + readTimeout.String(),
		"HTTP_IDLE_TIMEOUT=" + idleTimeout.String(), fmt.Sprintf("HTTP_MAX_BODY_BYTES=%d", maxBody),
	}})
	addr := st.svc().Addr
	during := max(sh.phase, 10*time.Second) // the longest attack ends by itself within ~7 s
	sched := newSchedule(time.Second, phases3, sh.phase, during, sh.phase)
	load := startReadLoad(ctx, t, st.logs, readLoadSpec{bases: []string{st.svc().Base}, rate: sh.rate, sched: sched, products: 2000})

	sleepUntil(ctx, sched.start("during"))
	attackCtx, cancel := context.WithTimeout(ctx, during)
	defer cancel()
	type attack struct {
		name  string
		n     int
		bound time.Duration // every connection must be closed by the server within it
		run   func(ctx context.Context, i int) (time.Duration, error)
	}
	attacks := []attack{
		{"slowloris (a header line every 500 ms)", slowloris, headerTimeout + time.Second, func(ctx context.Context, _ int) (time.Duration, error) {
			return trickle(ctx, addr, "GET /api/v1/products/1 HTTP/1.1\r\nHost: drill\r\n", "X-Slow: 1\r\n")
		}},
		{"slow body (a byte every 500 ms)", slowBodies, readTimeout + time.Second, func(ctx context.Context, _ int) (time.Duration, error) {
			head := "PUT /api/v1/products/1 HTTP/1.1\r\nHost: drill\r\nAuthorization: Bearer " + adminToken +
				"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
			return trickle(ctx, addr, head, " ")
		}},
		{"idle connections (nothing sent)", idle, headerTimeout + time.Second, func(ctx context.Context, _ int) (time.Duration, error) {
			return idleConn(ctx, addr, "")
		}},
		{"kept-alive connections (one request, then idle)", kept, idleTimeout + time.Second, func(ctx context.Context, _ int) (time.Duration, error) {
			return idleConn(ctx, addr, "GET /health HTTP/1.1\r\nHost: drill\r\n\r\n")
		}},
	}
	type outcome struct {
		closedIn []time.Duration
		errs     []string
	}
	results := make([]outcome, len(attacks))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for ai, a := range attacks {
		for i := range a.n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, err := a.run(attackCtx, i)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					results[ai].errs = append(results[ai].errs, err.Error())
					return
				}
				results[ai].closedIn = append(results[ai].closedIn, d)
			}()
		}
	}
	big := oversizedBodies(attackCtx, st.svc().Base, oversized, maxBody)
	wg.Wait()
	res := load.wait()

	var figures []string
	for ai, a := range attacks {
		r := results[ai]
		worst := time.Duration(0)
		if len(r.closedIn) > 0 {
			worst = slices.Max(r.closedIn)
		}
		figures = append(figures, fmt.Sprintf("%s ×%d: closed by the server within %s (bound %s)", a.name, a.n, worst.Round(10*time.Millisecond), a.bound))
		if len(r.errs) > 0 {
			t.Errorf("%s: %d of %d connections not closed by the server as expected, e.g. %s", a.name, len(r.errs), a.n, r.errs[0])
		}
		if worst > a.bound {
			t.Errorf("%s: a connection stayed open %s, over its bound %s", a.name, worst, a.bound)
		}
	}
	figures = append(figures, big.String())
	if big.wrong > 0 {
		t.Errorf("oversized bodies: %s", big)
	}
	failed := res.total("", "") - res.total("", outOK)
	addRow(t, reportRow{
		drill: "slow clients, oversized bodies, many connections", load: sh.String(),
		sent: res.total("", ""), failed: fmt.Sprintf("reads %d (want 0)", failed),
		p99:     [3]time.Duration{res.get("read", "before").p99, res.get("read", "during").p99, res.get("read", "after").p99},
		figures: strings.Join(figures, "; "),
	})
	if failed != 0 {
		t.Errorf("%d reads failed during the attacks: %+v", failed, res.describe(""))
	}
}

// trickle sends head, then line every 500 ms, until the server closes the connection; it returns
// how long after the first byte that took.
func trickle(ctx context.Context, addr, head, line string) (time.Duration, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	began := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		return 0, fmt.Errorf("write: %w", err)
	}
	closed := make(chan struct{})
	go func() {
		// The server's answer (if any) and then its close end this read.
		_, _ = io.Copy(io.Discard, conn)
		close(closed)
	}()
	tk := time.NewTicker(500 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-closed:
			return time.Since(began), nil
		case <-ctx.Done():
			return 0, errors.New("still open when the attack ended")
		case <-tk.C:
			if _, err := io.WriteString(conn, line); err != nil {
				<-closed
				return time.Since(began), nil
			}
		}
	}
}

// idleConn opens a connection, sends first (when not empty) and reads its answer, then waits for
// the server to close the connection; it returns how long after the last byte sent that took.
func idleConn(ctx context.Context, addr, first string) (time.Duration, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	began := time.Now()
	r := bufio.NewReader(conn)
	if first != "" {
		if _, err := io.WriteString(conn, first); err != nil {
			return 0, fmt.Errorf("write: %w", err)
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return 0, fmt.Errorf("first answer: %w", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("first answer: %s", resp.Status)
		}
		began = time.Now()
	}
	if _, err := r.ReadByte(); err == nil {
		return 0, errors.New("the server sent bytes nobody asked for")
	} else if ctx.Err() != nil {
		return 0, errors.New("still open when the attack ended")
	}
	return time.Since(began), nil
}

// bigBodies is what n oversized bodies got, sent both ways.
type bigBodies struct {
	n, refused, wrong int
	worst             time.Duration
	statuses          map[int]int
}

func (b bigBodies) String() string {
	return fmt.Sprintf("oversized bodies ×%d (2 MiB, half chunked): %d refused 413 problem+json, %d otherwise; slowest answer %s",
		b.n, b.refused, b.wrong, b.worst.Round(time.Millisecond))
}

// oversizedBodies PUTs n bodies of twice the limit (half with Content-Length, half chunked) with
// the admin token: each must get 413 problem+json without the body being read whole.
func oversizedBodies(ctx context.Context, base string, n, limit int) bigBodies {
	b := bigBodies{n: n, statuses: map[int]int{}}
	client := &http.Client{Timeout: 20 * time.Second}
	payload := `{"name":"` + strings.Repeat("x", 2*limit) + `"}`
	for i := range n {
		var body io.Reader = strings.NewReader(payload)
		if i%2 == 1 {
			body = io.MultiReader(strings.NewReader(payload)) // no length: sent chunked
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/api/v1/products/1", body)
		if err != nil {
			b.wrong++
			continue
		}
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		began := time.Now()
		resp, err := client.Do(req)
		b.worst = max(b.worst, time.Since(began))
		if err != nil {
			b.wrong++
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		b.statuses[resp.StatusCode]++
		if resp.StatusCode == http.StatusRequestEntityTooLarge && resp.Header.Get("Content-Type") == "application/problem+json" {
			b.refused++
		} else {
			b.wrong++
		}
	}
	return b
}
