//go:build e2e

package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/product-service-lab/product-service/app/internal/proctest"
)

// repoRoot is the repository root, relative to this package: processes run there, so the
// repository's config files are found by their usual paths.
const repoRoot = "../.."

// proc is a process the test started (app/internal/proctest), stopped at cleanup.
type proc = proctest.Proc

// logDir is where process output goes: E2E_LOG_DIR when set (kept), else a temp dir.
func logDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("E2E_LOG_DIR"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// start runs bin with args in the repository root with exactly env, writing its output to
// dir/name.log.
func start(ctx context.Context, t *testing.T, dir, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	return proctest.Start(ctx, t, proctest.Spec{Name: name, LogDir: dir, Env: env, Bin: bin, Args: args, WorkDir: repoRoot})
}

// waitReady polls url until it answers 200, failing the test when p exits or limit passes.
func waitReady(t *testing.T, p *proc, url string, limit time.Duration) {
	t.Helper()
	proctest.WaitHTTP(t, p, url, limit)
}

// runOnce runs a short command to completion within limit, failing the test on error.
func runOnce(ctx context.Context, t *testing.T, limit time.Duration, env []string, bin string, args ...string) string {
	t.Helper()
	out, err := proctest.Run(ctx, limit, proctest.Spec{Env: env, Bin: bin, Args: args, WorkDir: repoRoot})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// baseEnv is the environment every process starts from (proctest.BaseEnv).
func baseEnv(extra ...string) []string { return proctest.BaseEnv(extra...) }
