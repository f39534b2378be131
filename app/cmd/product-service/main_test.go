package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/product-service-lab/product-service/app/internal/lab"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

func lookup(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

// errAny stands for "some error" in test tables.
var errAny = errors.New("any error")

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr error  // nil: success
		wantOut string // in stdout or stderr
	}{
		{"no command", nil, nil, errUsage, "Commands:"},
		{"help", []string{"help"}, nil, nil, "serve"},
		{"--help", []string{"--help"}, nil, nil, "seed"},
		{"unknown", []string{"launch"}, nil, errUsage, `unknown command "launch"`},
		{"seed help", []string{"seed", "--help"}, nil, flag.ErrHelp, "-products"},
		{"serve help", []string{"serve", "-h"}, nil, flag.ErrHelp, "SIGTERM"},
		{"migrate help", []string{"migrate", "-h"}, nil, flag.ErrHelp, "-db-wait"},
		{"negative db-wait", []string{"seed", "-db-wait", "-1s"}, nil, errUsage, "-db-wait"},
		{"negative products", []string{"seed", "--products", "-5"}, nil, errUsage, "-products"},
		{"bad variable", []string{"serve"}, map[string]string{"DB_SIMULATED_LATENCY": "200"}, errAny, "DB_SIMULATED_LATENCY"},
		// The cache package owns the preset names; serve checks them before it connects to anything.
		{"unknown preset", []string{"serve"}, map[string]string{"CACHE_PRESET": "turbo", "DATABASE_URL": "postgres://127.0.0.1:1/none"},
			errAny, "CACHE_PRESET: unknown preset"},
		{"bad policy", []string{"serve"}, map[string]string{"CACHE_POLICY": `{"ttl":"soon"}`, "DATABASE_URL": "postgres://127.0.0.1:1/none"},
			errAny, "CACHE_POLICY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, &out, &errOut, lookup(tt.env))
			text := out.String() + errOut.String()
			if err != nil {
				text += err.Error()
			}
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("error %v", err)
			case tt.wantErr == errAny && err == nil:
				t.Fatal("no error")
			case tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(text, tt.wantOut) {
				t.Errorf("output %q lacks %q", text, tt.wantOut)
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// migrate, seed and serve end to end; SIGTERM (ctx cancel) lets an in-flight request finish.
func TestMigrateSeedServeAndDrain(t *testing.T) {
	db := testdb.New(t)
	addr := freeAddr(t)
	env := lookup(map[string]string{
		"DATABASE_URL": db.URL, "HTTP_ADDR": addr, "DB_SIMULATED_LATENCY": "400ms", "SHUTDOWN_TIMEOUT": "5s",
		"MIGRATE_ON_START": "true", "CACHE_NAMESPACE": "test-drain-" + strconv.Itoa(os.Getpid()),
	})
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, []string{"migrate"}, &out, &out, env); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out.String())
	}
	if err := run(ctx, []string{"seed", "--products", "40", "--batch", "16"}, &out, &out, env); err != nil {
		t.Fatalf("seed: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), `"inserted":40`) {
		t.Fatalf("seed log lacks the count: %s", out.String())
	}

	serveCtx, stop := context.WithCancel(ctx)
	var logs safeBuffer
	done := make(chan error, 1)
	go func() { done <- run(serveCtx, []string{"serve"}, &logs, &logs, env) }()

	base := "http://" + addr
	lab.WaitFor(t, "the service to answer /health", func() bool {
		resp, err := http.Get(base + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	if err := run(ctx, []string{"healthcheck"}, &out, &out, env); err != nil {
		t.Errorf("healthcheck against a running server: %v", err)
	}

	// A detail load takes 400ms (simulated latency); stop the server while one is in flight, as
	// the metrics show it (a scrape counts itself: 1 is idle). A request that finished before a
	// scrape saw it is replaced by one for another product (the first was cached).
	var result chan string
	id := 0
	lab.WaitFor(t, "a product request in flight", func() bool {
		if result == nil || len(result) > 0 {
			id++
			result = make(chan string, 1)
			go func(result chan<- string, id int) {
				resp, err := http.Get(base + "/api/v1/products/" + strconv.Itoa(id))
				if err != nil {
					result <- err.Error()
					return
				}
				resp.Body.Close()
				result <- fmt.Sprint(resp.StatusCode)
			}(result, id)
		}
		return inFlight(t, base) > 1
	})
	stop()
	if got := <-result; got != "200" {
		t.Errorf("in-flight request during shutdown: %s, want 200", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
	for _, want := range []string{"simulated database latency is on", "shutting down", `"msg":"stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
	if err := run(ctx, []string{"healthcheck"}, &out, &out, env); err == nil {
		t.Error("healthcheck passed with the server stopped")
	}
}

// inFlight reads app_requests_in_flight from the service's /metrics (the scrape included).
func inFlight(t *testing.T, base string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, "app_requests_in_flight "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("/metrics lacks app_requests_in_flight")
	return 0
}
