package lab

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    uint64
		wantErr bool
	}{
		{"plain", "1234 (wrk) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 100 0 0", 325, false},
		{"name with spaces and parens", "42 (a) b (c)) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 0 0", 10, false},
		{"no name", "42 R 1 42", 0, true},
		{"too short", "42 (x) R 1 2 3", 0, true},
		{"not a number", "42 (x) R 1 42 42 0 -1 0 0 0 0 0 x 3 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tt.stat))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseStat = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestCPUTimeOfSelf(t *testing.T) {
	if _, err := CPUTime(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := CPUTime(-1); err == nil {
		t.Fatal("CPUTime(-1) succeeded")
	}
}

func TestFreePort(t *testing.T) {
	port, err := FreePort()
	if err != nil || port <= 0 {
		t.Fatalf("FreePort = %d, %v", port, err)
	}
}

func TestCleanEnv(t *testing.T) {
	t.Setenv("CACHE_PRESET", "full")
	env := CleanEnv("A=1")
	if len(env) != 3 || env[2] != "A=1" || !strings.HasPrefix(env[0], "PATH=") || !strings.HasPrefix(env[1], "HOME=") {
		t.Fatalf("CleanEnv = %q", env)
	}
}

func TestStartAndStop(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		wantErr bool // Stop had to kill it
	}{
		{"exits on SIGTERM", "echo started; exec sleep 60", false},
		{"ignores SIGTERM", "trap '' TERM; echo started; sleep 60 & wait; sleep 60", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "out.log")
			p, err := Start(Spec{Name: "sh", Bin: "/bin/sh", Args: []string{"-c", tt.script},
				Log: log, StopTimeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if p.Err() != nil || p.State() != nil {
				t.Fatal("running process reports an end")
			}
			// Wait until the script is past its trap.
			for b, _ := os.ReadFile(log); !strings.Contains(string(b), "started"); b, _ = os.ReadFile(log) {
				time.Sleep(10 * time.Millisecond)
			}
			if err := p.Stop(); (err != nil) != tt.wantErr {
				t.Fatalf("Stop = %v, want error %v", err, tt.wantErr)
			}
			select {
			case <-p.Done():
			default:
				t.Fatal("Done not closed after Stop")
			}
			if p.State() == nil {
				t.Fatal("no state after Stop")
			}
			if err := p.Stop(); err != nil {
				t.Fatalf("second Stop = %v", err)
			}
		})
	}
}

func TestWaitHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ready" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	p, err := Start(Spec{Name: "sleeper", Bin: "/bin/sh", Args: []string{"-c", "exec sleep 60"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Stop() }()
	if err := WaitHTTP(context.Background(), p, srv.URL+"/ready", time.Minute); err != nil {
		t.Fatalf("WaitHTTP of an answering URL: %v", err)
	}

	quitter, err := Start(Spec{Name: "quitter", Bin: "/bin/sh", Args: []string{"-c", "exit 3"}})
	if err != nil {
		t.Fatal(err)
	}
	err = WaitHTTP(context.Background(), quitter, srv.URL+"/missing", time.Hour)
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("WaitHTTP of an exited process = %v, want an error naming the exit", err)
	}
}

func TestStartMissingBinary(t *testing.T) {
	if _, err := Start(Spec{Name: "nothing", Bin: filepath.Join(t.TempDir(), "absent")}); err == nil {
		t.Fatal("Start of a missing binary succeeded")
	}
}

func TestBuildFails(t *testing.T) {
	err := Build(context.Background(), "", t.TempDir(), "./does-not-exist", filepath.Join(t.TempDir(), "x"))
	if err == nil {
		t.Fatal("Build of a missing package succeeded")
	}
}

func TestDatabaseURL(t *testing.T) {
	tests := []struct {
		admin, name, want string
		wantErr           bool
	}{
		{"postgres://u:p@127.0.0.1:5432/postgres?sslmode=disable", "products_bench",
			"postgres://u:p@127.0.0.1:5432/products_bench?sslmode=disable", false},
		{"postgresql://h/", "x", "postgresql://h/x", false},
		{"mysql://h/db", "x", "", true},
		{"postgres:///db", "x", "", true},
	}
	for _, tt := range tests {
		got, err := DatabaseURL(tt.admin, tt.name)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("DatabaseURL(%q, %q) = %q, %v; want %q, error %v", tt.admin, tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestEnsureDatabaseRefusesBadNames(t *testing.T) {
	for _, name := range []string{"", "Bench", "a;drop", "1x"} {
		if _, err := EnsureDatabase(context.Background(), "postgres://127.0.0.1:1/postgres", name); err == nil {
			t.Errorf("EnsureDatabase(%q) succeeded", name)
		}
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		limit   time.Duration
		wantErr string
	}{
		{"succeeds", "echo fine", time.Hour, ""},
		{"fails with its log", "echo broken; exit 2", time.Hour, "broken"},
		{"outlives its limit", "echo slow; exec sleep 60", time.Millisecond, "did not finish"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(context.Background(), Spec{Name: "sh", Bin: "/bin/sh", Args: []string{"-c", tt.script},
				Log: filepath.Join(t.TempDir(), "log")}, tt.limit)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Run = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("ModuleRoot = %s without go.mod: %v", root, err)
	}
}
