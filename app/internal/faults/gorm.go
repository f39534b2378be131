package faults

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// GORMPlugin returns a plugin that, before every statement (create, query, update, delete, row
// and raw), sleeps db_latency and fails the statement with probability db_error_rate with an
// error wrapping ErrInjected, so the statement never reaches the database. A statement whose
// context ends during the sleep fails with the context's error.
//
// A single-row Row() call is delayed but never failed: gorm returns a nil *sql.Row for a
// statement that has an error, and the caller's Scan would panic.
func (i *Injector) GORMPlugin() gorm.Plugin { return gormPlugin{i: i} }

// gormPlugin registers the injector's callback on a *gorm.DB.
type gormPlugin struct{ i *Injector }

// Name names the plugin for gorm.DB.Use.
func (gormPlugin) Name() string { return "faults" }

// Initialize registers the callback before each of gorm's statement processors.
func (p gormPlugin) Initialize(db *gorm.DB) error {
	cb := db.Callback()
	for _, r := range []struct {
		before   string
		register func(name string, fn func(*gorm.DB)) error
	}{
		{"gorm:create", cb.Create().Before("gorm:create").Register},
		{"gorm:query", cb.Query().Before("gorm:query").Register},
		{"gorm:update", cb.Update().Before("gorm:update").Register},
		{"gorm:delete", cb.Delete().Before("gorm:delete").Register},
		{"gorm:row", cb.Row().Before("gorm:row").Register},
		{"gorm:raw", cb.Raw().Before("gorm:raw").Register},
	} {
		if err := r.register("faults:inject", p.i.beforeStatement); err != nil {
			return fmt.Errorf("register faults before %s: %w", r.before, err)
		}
	}
	return nil
}

// beforeStatement applies the database faults in force to one statement.
func (i *Injector) beforeStatement(db *gorm.DB) {
	if db.Error != nil {
		return
	}
	s := i.Settings()
	ctx := db.Statement.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if err := i.wait(ctx, s.DBLatency); err != nil {
		_ = db.AddError(err)
		return
	}
	if rows, ok := db.Get("rows"); ok && rows == false {
		return
	}
	if hit(s.DBErrorRate) {
		_ = db.AddError(fmt.Errorf("db_error_rate: %w", ErrInjected))
	}
}
