// Command lab runs the service as a user does, through app/internal/lab, for the make targets that
// are not a test suite or a measurement matrix:
//
//	lab smoke    make e2e's first step: the k6 contract and load smoke (loadtest/smoke.js)
//	lab profile  make profile: a CPU profile of the service under the read load (loadtest/read.js)
//
// Each builds product-service, creates its database when missing, migrates and seeds it, starts
// one `serve` on a free 127.0.0.1 port with a clean environment and a cache namespace of its own,
// runs k6, and on exit stops everything it started (process groups) and deletes its Redis keys.
// `lab <command> -h` lists a command's flags; each flag may also come from the environment
// variable named in its help, and a flag wins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.LookupEnv)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
		os.Exit(1)
	}
}

// errUsage is a command line naming no known command.
var errUsage = errors.New("usage: lab smoke|profile [flags] (lab <command> -h lists them)")

// run dispatches to the command args name.
func run(ctx context.Context, args []string, lookup func(string) (string, bool)) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "smoke":
		return smoke(ctx, args[1:], lookup)
	case "profile":
		return profile(ctx, args[1:], lookup)
	default:
		return fmt.Errorf("unknown command %q: %w", args[0], errUsage)
	}
}
