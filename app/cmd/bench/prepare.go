package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/product-service-lab/product-service/app/internal/config"
	"github.com/product-service-lab/product-service/app/internal/lab"
)

// buildTimeout bounds one build of a binary.
const buildTimeout = 20 * time.Minute

// bench is what every suite shares: the options, the binaries and the database.
type bench struct {
	o        options
	root     string // the module
	tmp      string // binaries and the run's scratch files
	service  string // product-service
	baseline string // bench-baseline
	before   string // an older product-service, or ""
	dbURL    string
	runID    string // prefixes the Redis keys of the run
	commit   string
}

// prepare builds the binaries (and the -before-rev one), then creates, migrates and seeds the
// bench database.
func prepare(ctx context.Context, o options, root, tmp string, stdout io.Writer) (*bench, error) {
	b := &bench{o: o, root: root, tmp: tmp, before: o.serviceBefore, runID: "bench" + strconv.Itoa(os.Getpid()),
		service: filepath.Join(tmp, "product-service"), baseline: filepath.Join(tmp, "bench-baseline"), commit: gitCommit(root)}
	fmt.Fprintln(stdout, "bench: building product-service and bench-baseline")
	for pkg, out := range map[string]string{"./app/cmd/product-service": b.service, "./app/cmd/bench-baseline": b.baseline} {
		bctx, cancel := context.WithTimeout(ctx, buildTimeout)
		err := lab.Build(bctx, o.goCmd, root, pkg, out)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	if o.beforeRev != "" {
		fmt.Fprintf(stdout, "bench: building product-service at %s\n", o.beforeRev)
		before, err := buildRevision(ctx, o, root, tmp)
		if err != nil {
			return nil, err
		}
		b.before = before
	}
	if b.before != "" {
		if err := checkTool("service-before", b.before); err != nil {
			return nil, err
		}
	}

	dbURL, err := lab.EnsureDatabase(ctx, o.pgAdminURL, o.dbName)
	if err != nil {
		return nil, err
	}
	b.dbURL = dbURL
	fmt.Fprintf(stdout, "bench: migrating and seeding %d products into %s (idempotent; the first run takes a while)\n",
		o.products, config.RedactURL(dbURL))
	svc := &lab.Service{Bin: b.service}
	if err := svc.Prepare(ctx, dbURL, int(o.products)); err != nil {
		return nil, err
	}
	return b, nil
}

// buildRevision builds product-service at o.beforeRev from a temporary git worktree.
func buildRevision(ctx context.Context, o options, root, tmp string) (string, error) {
	dir := filepath.Join(tmp, "before-src")
	if out, err := exec.CommandContext(ctx, "git", "-C", root, "worktree", "add", "--detach", dir, o.beforeRev).CombinedOutput(); err != nil {
		return "", fmt.Errorf("git worktree add %s: %w: %s", o.beforeRev, err, strings.TrimSpace(string(out)))
	}
	defer func() {
		_ = exec.Command("git", "-C", root, "worktree", "remove", "--force", dir).Run()
	}()
	out := filepath.Join(tmp, "product-service-before")
	bctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	if err := lab.Build(bctx, o.goCmd, dir, "./app/cmd/product-service", out); err != nil {
		return "", err
	}
	return out, nil
}

// gitCommit is the short commit of the module's checkout, "+" when it has local changes, or
// "unknown".
func gitCommit(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	commit := strings.TrimSpace(string(out))
	if exec.Command("git", "-C", root, "diff", "--quiet", "HEAD").Run() != nil {
		commit += "+"
	}
	return commit
}
