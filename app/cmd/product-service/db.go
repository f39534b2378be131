package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"github.com/sirupsen/logrus"
	"golang.org/x/term"

	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
	"github.com/product-service-lab/product-service/app/internal/seed"
)

// migrate applies pending migrations.
func migrate(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	wait := dbWaitFlag(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: product-service migrate [flags]\n\nApplies pending migrations to DATABASE_URL and exits.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *wait < 0 {
		fs.Usage()
		return errUsage
	}
	cfg, log, closeLog, err := setup(stdout, lookup)
	if err != nil {
		return err
	}
	defer closeLog.Close()
	_, sqlDB, err := openDatabaseWaiting(ctx, cfg, log, *wait)
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	applied, err := pgstore.Migrate(ctx, sqlDB)
	if err != nil {
		return err
	}
	for _, m := range applied {
		log.WithFields(logrus.Fields{"version": m.Version, "file": m.File}).Info("migration applied")
	}
	version, err := pgstore.SchemaVersion(ctx, sqlDB)
	if err != nil {
		return err
	}
	log.WithFields(logrus.Fields{"applied": len(applied), "schema_version": version}).Info("database is up to date")
	return nil
}

// seedCmd loads the deterministic catalogue.
func seedCmd(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	products := fs.Int("products", 100_000, "number of products the catalogue should hold (ids 1..N)")
	seedValue := fs.Uint64("seed", seed.DefaultSeed, "random seed; the same seed gives the same data")
	batch := fs.Int("batch", 5000, "products per transaction")
	hot := fs.Float64("hot-share", 0.01, "fraction of products flagged is_hot (0..1)")
	wait := dbWaitFlag(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: product-service seed [flags]\n\n"+
			"Makes sure products 1..N exist with inventory and ~10 reviews each, inserting only the\n"+
			"missing ones, so it is safe to run again. Needs the schema: run 'migrate' first.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *products < 0 || *batch <= 0 || *hot < 0 || *hot > 1 || *wait < 0 || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	cfg, log, closeLog, err := setup(stdout, lookup)
	if err != nil {
		return err
	}
	defer closeLog.Close()
	_, sqlDB, err := openDatabaseWaiting(ctx, cfg, log, *wait)
	if err != nil {
		return err
	}
	defer sqlDB.Close()

	var progress seed.Progress = &logProgress{log: log, total: *products, every: max(*products/10, 1)}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar := progressbar.NewOptions(*products, progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("seeding products"), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
		defer bar.Finish()
		progress = bar
	}
	res, err := seed.Run(ctx, sqlDB, seed.Options{
		Products:  *products,
		BatchSize: *batch,
		Generator: seed.Generator{Seed: *seedValue, HotShare: *hot},
	}, progress)
	if err != nil {
		return err
	}
	log.WithFields(logrus.Fields{
		"products": *products, "inserted": res.Inserted, "skipped": res.Skipped, "reviews": res.Reviews,
		"hot": res.Hot, "seed": *seedValue, "elapsed_ms": res.Elapsed.Milliseconds(),
	}).Info("seed complete")
	return nil
}

// logProgress reports seeding progress as log lines when no terminal shows a bar.
type logProgress struct {
	log                     logrus.FieldLogger
	total, every, done, due int
}

// Add records n more products and logs each time another tenth is done.
func (p *logProgress) Add(n int) error {
	p.done += n
	if p.done >= p.due+p.every || p.done == p.total {
		p.log.WithFields(logrus.Fields{"done": p.done, "total": p.total}).Info("seeding")
		p.due = p.done
	}
	return nil
}
