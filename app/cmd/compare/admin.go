package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// adminClient calls the service's cache admin API.
type adminClient struct {
	base, token string
	http        *http.Client
}

func newAdminClient(base, token string) *adminClient {
	return &adminClient{base: base, token: token, http: &http.Client{Timeout: warmupPatience}}
}

// do sends one admin request and returns the body of a 2xx answer.
func (a *adminClient) do(ctx context.Context, method, path, body string) ([]byte, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+"/api/v1/admin"+path, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s /api/v1/admin%s: %w", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return nil, &statusError{status: resp.StatusCode,
			msg: fmt.Sprintf("%s /api/v1/admin%s answered %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(out))}
	}
	return out, nil
}

// statusError is an admin call answered with an error status.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

// cacheState is the part of GET/PUT /api/v1/admin/cache compare reads.
type cacheState struct {
	Policy struct {
		Preset string `json:"preset"`
		Warmup bool   `json:"warmup"`
	} `json:"policy"`
	Status struct {
		// Warmup is absent from a service without background warm-up.
		Warmup *struct {
			Running bool `json:"running"`
		} `json:"warmup"`
	} `json:"status"`
	Presets []string `json:"presets"`
}

// warming reports whether a warm-up runs.
func (s cacheState) warming() bool { return s.Status.Warmup != nil && s.Status.Warmup.Running }

func decodeState(body []byte, err error) (cacheState, error) {
	var s cacheState
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return s, fmt.Errorf("decode the cache state: %w", err)
	}
	return s, nil
}

// state reads the policy in force and the cache's status.
func (a *adminClient) state(ctx context.Context) (cacheState, error) {
	return decodeState(a.do(ctx, http.MethodGet, "/cache", ""))
}

// setPreset switches the preset and returns the state that answers.
func (a *adminClient) setPreset(ctx context.Context, preset string) (cacheState, error) {
	return decodeState(a.do(ctx, http.MethodPut, "/cache", fmt.Sprintf(`{"preset":%q}`, preset)))
}

// waitWarmup waits, up to warmupPatience, until no warm-up runs (a policy change that turns
// warm-up on starts one in the background).
func (a *adminClient) waitWarmup(ctx context.Context) error {
	deadline := time.Now().Add(warmupPatience)
	for {
		s, err := a.state(ctx)
		if err != nil || !s.warming() {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("a warm-up still runs after %s", warmupPatience)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// warmupPatience bounds how long compare waits for a warm-up.
const warmupPatience = 5 * time.Minute

// reset empties the namespace. Redis may refuse for a while after a run that saturated the
// machine (its calls timed out and the service's circuit breaker opened: 503 cache-unavailable
// until a probe succeeds), so a 503 is retried for up to resetPatience.
func (a *adminClient) reset(ctx context.Context) error {
	_, err := backoff.Retry(ctx, func() ([]byte, error) {
		out, err := a.do(ctx, http.MethodPost, "/cache/reset", "")
		var se *statusError
		if err != nil && !(errors.As(err, &se) && se.status == http.StatusServiceUnavailable) {
			return nil, backoff.Permanent(err)
		}
		return out, err
	}, backoff.WithBackOff(backoff.NewConstantBackOff(time.Second)), backoff.WithMaxElapsedTime(resetPatience))
	return err
}

// resetPatience bounds how long reset waits for Redis to take it.
const resetPatience = 30 * time.Second

func (a *adminClient) warmup(ctx context.Context) error {
	_, err := a.do(ctx, http.MethodPost, "/cache/warmup", "")
	return err
}
