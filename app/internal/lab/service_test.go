package lab

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
)

// fakeService is the variable that makes this test binary act as product-service: "serve"
// answers /ready on HTTP_ADDR (or exits at once with FAKE_EXIT), "migrate" and "seed" exit 0
// (or 3 with FAKE_FAIL set to the command).
const fakeService = "LAB_FAKE_SERVICE"

func TestMain(m *testing.M) {
	if os.Getenv(fakeService) != "" {
		os.Exit(fake(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fake runs one command of the fake service and returns its exit status.
func fake(args []string) int {
	if len(args) == 0 {
		return 2
	}
	if os.Getenv("FAKE_FAIL") == args[0] {
		fmt.Println("fake failure of", args[0])
		return 3
	}
	if args[0] != "serve" {
		return 0
	}
	if os.Getenv("FAKE_EXIT") != "" {
		fmt.Println("fake start-up failure")
		return 1
	}
	fmt.Println("serving on", os.Getenv("HTTP_ADDR"))
	_ = http.ListenAndServe(os.Getenv("HTTP_ADDR"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, os.Getenv("HTTP_ADDR"))
	}))
	return 1
}

// fakeSvc is a Service run by this test binary.
func fakeSvc(t *testing.T, env ...string) *Service {
	return &Service{Bin: os.Args[0], Env: append([]string{fakeService + "=1"}, env...), LogDir: t.TempDir()}
}

func TestServiceReplicas(t *testing.T) {
	ctx := context.Background()
	s := fakeSvc(t)
	rs, err := s.StartReplicas(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Addr == rs[1].Addr {
		t.Fatalf("StartReplicas(2) = %d replicas on %v", len(rs), rs)
	}
	for _, r := range rs {
		if !strings.HasSuffix(r.Log, r.Name+".log") || !strings.HasPrefix(r.Name, "service-") {
			t.Errorf("replica %s logs to %s", r.Name, r.Log)
		}
		if err := r.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	r := rs[0]
	if err := r.Restart(ctx); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	defer r.Stop()
	if got := strings.Count(r.Tail(10), "serving on "+r.Addr); got != 2 {
		t.Errorf("the log holds %d starts on %s after a restart, want 2 (appended):\n%s", got, r.Addr, r.Tail(10))
	}
}

func TestServiceStartFails(t *testing.T) {
	_, err := fakeSvc(t, "FAKE_EXIT=1").Start(context.Background(), "service", "")
	if err == nil || !strings.Contains(err.Error(), "fake start-up failure") {
		t.Fatalf("Start of a service that exits = %v, want an error quoting its log", err)
	}
}

func TestServicePrepare(t *testing.T) {
	tests := []struct {
		fail    string
		wantErr string
	}{
		{"", ""},
		{"migrate", "fake failure of migrate"},
		{"seed", "fake failure of seed"},
	}
	for _, tt := range tests {
		t.Run("fail "+tt.fail, func(t *testing.T) {
			// Prepare gives the commands only DATABASE_URL and LOG_LEVEL: the fake reads its
			// variables from the binary's own environment here, through a wrapper script.
			dir := t.TempDir()
			script := dir + "/svc"
			body := fmt.Sprintf("#!/bin/sh\nexport %s=1 FAKE_FAIL=%s\nexec %s \"$@\"\n", fakeService, tt.fail, os.Args[0])
			if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
				t.Fatal(err)
			}
			err := (&Service{Bin: script}).Prepare(context.Background(), "postgres://127.0.0.1/x", 10)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Prepare = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}
