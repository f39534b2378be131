package faults_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/product-service-lab/product-service/app/internal/faults"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// probe is a row of the table the GORM tests write to.
type probe struct {
	ID   int64
	Name string
}

// TableName keeps the probe table apart from the service's own.
func (probe) TableName() string { return "faults_probe" }

// faultyDB returns a fresh database with a probe table and the injector's plugin in use.
func faultyDB(t *testing.T) (*gorm.DB, *faults.Injector) {
	t.Helper()
	db := testdb.New(t).Gorm
	if err := db.Exec(`CREATE TABLE faults_probe (id bigserial PRIMARY KEY, name text NOT NULL)`).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Create(&probe{Name: "seed"}).Error; err != nil {
		t.Fatal(err)
	}
	inj, _, _ := newInjector(t)
	if err := db.Use(inj.GORMPlugin()); err != nil {
		t.Fatal(err)
	}
	return db, inj
}

// gormOps are statements through each of gorm's processors, each changing or reading the probe
// table.
var gormOps = []struct {
	name string
	run  func(ctx context.Context, db *gorm.DB) error
}{
	{"create", func(ctx context.Context, db *gorm.DB) error {
		return db.WithContext(ctx).Create(&probe{Name: "created"}).Error
	}},
	{"query", func(ctx context.Context, db *gorm.DB) error {
		var ps []probe
		return db.WithContext(ctx).Find(&ps).Error
	}},
	{"update", func(ctx context.Context, db *gorm.DB) error {
		return db.WithContext(ctx).Model(&probe{}).Where("name = ?", "seed").Update("name", "updated").Error
	}},
	{"delete", func(ctx context.Context, db *gorm.DB) error {
		return db.WithContext(ctx).Where("name = ?", "seed").Delete(&probe{}).Error
	}},
	{"row (raw scan)", func(ctx context.Context, db *gorm.DB) error {
		var n int
		return db.WithContext(ctx).Raw("SELECT 1").Scan(&n).Error
	}},
	{"raw (exec)", func(ctx context.Context, db *gorm.DB) error {
		return db.WithContext(ctx).Exec("INSERT INTO faults_probe (name) VALUES ('exec')").Error
	}},
}

func TestGORMPluginErrors(t *testing.T) {
	db, inj := faultyDB(t)
	// Rate 1 first, while the seed row is there for update and delete to (not) change.
	for _, rate := range []string{"1", "0"} {
		for _, op := range gormOps {
			t.Run(op.name+"/rate="+rate, func(t *testing.T) {
				set(t, inj, `{"db_error_rate":`+rate+`}`)
				before := rows(t, db)
				err := op.run(t.Context(), db)
				after := rows(t, db)
				if rate == "0" {
					if err != nil {
						t.Fatalf("no fault, yet: %v", err)
					}
					return
				}
				if !errors.Is(err, faults.ErrInjected) {
					t.Fatalf("error = %v, want one wrapping ErrInjected", err)
				}
				if before != after {
					t.Errorf("the failed statement ran: probe rows %q, then %q", before, after)
				}
			})
		}
	}
}

// rows lists the probe table's names through database/sql, which the plugin does not see.
func rows(t *testing.T, db *gorm.DB) string {
	t.Helper()
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	var names string
	if err := sqlDB.QueryRowContext(t.Context(), `SELECT coalesce(string_agg(name, ',' ORDER BY id), '') FROM faults_probe`).Scan(&names); err != nil {
		t.Fatal(err)
	}
	return names
}

func TestGORMPluginSingleRowIsNeverFailed(t *testing.T) {
	db, inj := faultyDB(t)
	set(t, inj, `{"db_error_rate":1}`)
	var n int
	if err := db.Raw("SELECT 7").Row().Scan(&n); err != nil || n != 7 {
		t.Fatalf("Row().Scan = %d, %v; want 7, nil", n, err)
	}
}

func TestGORMPluginLatency(t *testing.T) {
	db, inj := faultyDB(t)
	var reached atomic.Int64
	countReached(t, db, &reached)
	tests := []struct {
		name    string
		latency string
		timeout time.Duration // 0: none
		wantErr error
		// wantWait: the latency the fault was asked to wait (ended early by the context or not).
		wantWait time.Duration
		// wantReached: the call went on past the fault (a cancelled wait must not).
		wantReached bool
	}{
		{name: "statement waits the latency", latency: "50ms", wantWait: 50 * time.Millisecond, wantReached: true},
		// A wait that outlived the context would go on to the statement, with no error yet.
		{name: "cancelled context ends the wait", latency: "30s", timeout: 30 * time.Millisecond,
			wantErr: context.DeadlineExceeded, wantWait: 30 * time.Second},
	}
	waits := faults.RecordWaits(inj)
	for _, tt := range tests {
		for _, op := range gormOps {
			t.Run(tt.name+"/"+op.name, func(t *testing.T) {
				set(t, inj, `{"db_latency":"`+tt.latency+`"}`)
				reached.Store(0)
				before := len(waits())
				ctx := t.Context()
				if tt.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				err := op.run(ctx, db)
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("error = %v, want %v", err, tt.wantErr)
				}
				if got := waits()[before:]; len(got) == 0 || got[0] != tt.wantWait {
					t.Errorf("latency waits asked: %v, want %s first", got, tt.wantWait)
				}
				if got := reached.Load() > 0; got != tt.wantReached {
					t.Errorf("went on past the fault: %v, want %v", got, tt.wantReached)
				}
			})
		}
	}
}

// countReached registers, right after the injector's callback in each of gorm's processors, one
// that counts the statements going on towards the database without an error.
func countReached(t *testing.T, db *gorm.DB, n *atomic.Int64) {
	t.Helper()
	count := func(db *gorm.DB) {
		if db.Error == nil {
			n.Add(1)
		}
	}
	cb := db.Callback()
	for _, r := range []struct {
		before   string
		register func(name string, fn func(*gorm.DB)) error
	}{
		{"gorm:create", cb.Create().Before("gorm:create").After("faults:inject").Register},
		{"gorm:query", cb.Query().Before("gorm:query").After("faults:inject").Register},
		{"gorm:update", cb.Update().Before("gorm:update").After("faults:inject").Register},
		{"gorm:delete", cb.Delete().Before("gorm:delete").After("faults:inject").Register},
		{"gorm:row", cb.Row().Before("gorm:row").After("faults:inject").Register},
		{"gorm:raw", cb.Raw().Before("gorm:raw").After("faults:inject").Register},
	} {
		if err := r.register("test:reached", count); err != nil {
			t.Fatalf("register before %s: %v", r.before, err)
		}
	}
}
