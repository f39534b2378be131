package drills

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/product-service-lab/product-service/app/internal/pgtest"
	"github.com/product-service-lab/product-service/app/internal/proctest"
)

// repoRoot is the repository root, relative to this package: processes run there, so the
// repository's scripts are found by their usual paths.
const repoRoot = "../.."

// stopTimeout is how long a process may take to exit after it was asked to before it is killed.
const stopTimeout = 15 * time.Second

// proc is a process a drill started (app/internal/proctest), stopped at cleanup.
type proc = proctest.Proc

// logDir is where process output goes: DRILLS_LOG_DIR/<test> when set (kept), else a temp dir.
func logDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("DRILLS_LOG_DIR"); dir != "" {
		dir = filepath.Join(dir, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// procSpec says how to run a process.
type procSpec struct {
	name string   // names the log file (dir/name.log) and the messages
	dir  string   // where the log file goes
	env  []string // the whole environment
	bin  string
	args []string
	// cred, when set, runs the process as another user (PostgreSQL refuses root).
	cred *syscall.Credential
	// wd is the working directory; the repository root when empty.
	wd string
}

// spec is s as proctest takes it.
func (s procSpec) spec() proctest.Spec {
	wd := s.wd
	if wd == "" {
		wd = repoRoot
	}
	return proctest.Spec{Name: s.name, LogDir: s.dir, Env: s.env, Bin: s.bin, Args: s.args, WorkDir: wd,
		Cred: s.cred, StopTimeout: stopTimeout}
}

// start runs spec and registers its stop at cleanup.
func start(ctx context.Context, t *testing.T, spec procSpec) *proc {
	t.Helper()
	return proctest.Start(ctx, t, spec.spec())
}

// waitHTTP polls url until it answers 200, failing the test when p exits or limit passes.
func waitHTTP(t *testing.T, p *proc, url string, limit time.Duration) {
	t.Helper()
	proctest.WaitHTTP(t, p, url, limit)
}

// runOnce runs a short command to completion within limit, failing the test on error; it returns
// the combined output. spec.name and spec.dir are not used.
func runOnce(ctx context.Context, t *testing.T, limit time.Duration, spec procSpec) string {
	t.Helper()
	out, err := runCmd(ctx, limit, spec)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// runCmd runs a short command to completion within limit.
func runCmd(ctx context.Context, limit time.Duration, spec procSpec) (string, error) {
	return proctest.Run(ctx, limit, spec.spec())
}

// freeAddr returns a 127.0.0.1:port nothing listens on, never the same twice.
func freeAddr(t *testing.T) string {
	t.Helper()
	return proctest.FreeAddr(t)
}

// baseEnv is the environment every process starts from (proctest.BaseEnv).
func baseEnv(extra ...string) []string { return proctest.BaseEnv(extra...) }

// missingTool skips the drill, or fails it when CI is set: CI must never pass by skipping.
func missingTool(t *testing.T, format string, args ...any) {
	t.Helper()
	pgtest.Missing(t, format, args...)
}

// sleepUntil waits until at, or until ctx ends.
func sleepUntil(ctx context.Context, at time.Time) {
	tm := time.NewTimer(time.Until(at))
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
	}
}
