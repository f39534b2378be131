package lab

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// WaitHTTP polls url every 100 ms until it answers 2xx, p ends, ctx ends or limit passes. Its
// errors quote the last lines of p's log.
func WaitHTTP(ctx context.Context, p *Proc, url string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := httpClient(2 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if answered(ctx, client, url) {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited before %s answered: %v (log: %s)%s", p.Name, url, p.Err(), p.Log, lines(p.Tail(tailLines)))
		case <-ctx.Done():
			return fmt.Errorf("%s: %s did not answer within %s: %w (log: %s)%s", p.Name, url, limit, ctx.Err(), p.Log, lines(p.Tail(tailLines)))
		case <-tick.C:
		}
	}
}

// httpClient is a client that does not follow the environment's proxy settings.
func httpClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{Proxy: nil}}
}

// answered reports whether a GET of url answers 2xx.
func answered(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}
