// Command product-service serves the product catalogue over HTTP and manages its database.
//
// Usage:
//
//	product-service serve                    run the HTTP API
//	product-service migrate                  apply pending database migrations
//	product-service seed [--products N]      load a deterministic catalogue
//	product-service healthcheck              exit 0 when the local /health answers
//
// Configuration comes from environment variables only; docs/configuration.md has the table.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `product-service — a product-detail service for measuring cache strategies.

Usage:
  product-service <command> [flags]

Commands:
  serve         run the HTTP API (MIGRATE_ON_START=true applies migrations first)
  migrate       apply pending database migrations and exit
  seed          load a deterministic catalogue (idempotent); see 'product-service seed --help'
                (both wait up to -db-wait, 1m, for a database that does not accept connections yet)
  healthcheck   exit 0 when GET /health on HTTP_ADDR answers 200 (for container health checks)
  help          show this text

Configuration is read from the environment (DATABASE_URL, HTTP_ADDR, ADMIN_TOKEN, …);
docs/configuration.md lists every variable with its default.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "product-service:", err)
		os.Exit(1)
	}
}

// errUsage marks a command line that could not be understood; usage has been printed.
var errUsage = errors.New("invalid command line")

// run dispatches to a subcommand. It is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdout, stderr, lookup)
	case "migrate":
		return migrate(ctx, rest, stdout, stderr, lookup)
	case "seed":
		return seedCmd(ctx, rest, stdout, stderr, lookup)
	case "healthcheck":
		return healthcheck(ctx, rest, stderr, lookup)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
		return errUsage
	}
}

// noFlags parses the flags of a command that takes none, so --help works everywhere.
func noFlags(name, summary string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, "Usage: product-service %s\n\n%s\n", name, summary) }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	return nil
}
