package pgstore_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/product-service-lab/product-service/app/internal/catalog"
	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
	"github.com/product-service-lab/product-service/app/internal/seed"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

const seeded = 300

var gen = seed.Generator{Seed: seed.DefaultSeed, HotShare: 0.05}

// newStore returns a store over a fresh database holding products 1..seeded, and a counter of the
// SQL statements the store runs from then on.
func newStore(t *testing.T, opts pgstore.Options) (*pgstore.Store, *atomic.Int64) {
	t.Helper()
	db := testdb.New(t)
	sqlDB, err := db.Gorm.DB()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Run(context.Background(), sqlDB, seed.Options{Products: seeded, BatchSize: 100, Generator: gen}, nil); err != nil {
		t.Fatalf("seed: %v", err)
	}
	counter := &statementCounter{Interface: logger.Discard}
	return pgstore.New(db.Gorm.Session(&gorm.Session{Logger: counter}), opts), &counter.n
}

// statementCounter counts the statements GORM runs.
type statementCounter struct {
	logger.Interface
	n atomic.Int64
}

func (c *statementCounter) Trace(context.Context, time.Time, func() (string, int64), error) {
	c.n.Add(1)
}

func (c *statementCounter) LogMode(logger.LogLevel) logger.Interface { return c }

func TestProductMatchesGeneratedData(t *testing.T) {
	store, _ := newStore(t, pgstore.Options{})
	for _, id := range []int64{1, 17, seeded} {
		want := gen.Product(id)
		got, err := store.Product(context.Background(), id)
		if err != nil {
			t.Fatalf("Product(%d): %v", id, err)
		}
		var sum float64
		for _, r := range want.Reviews {
			sum += float64(r.Rating)
		}
		avg := math.Round(sum/float64(len(want.Reviews))*100) / 100
		checks := []struct {
			what      string
			got, want any
		}{
			{"sku", got.SKU, want.SKU},
			{"name", got.Name, want.Name},
			{"price", got.PriceCents, want.PriceCents},
			{"currency", got.Currency, want.Currency},
			{"version", got.Version, int64(1)},
			{"is_hot", got.IsHot, want.IsHot},
			{"stock", got.Inventory.Stock, want.Stock},
			{"available", got.Inventory.Available, want.Stock - want.Reserved},
			{"rating count", got.Rating.Count, int64(len(want.Reviews))},
			{"rating average", got.Rating.Average, avg},
			{"category set", got.Category.ID != 0 && got.Category.Name != "", true},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("product %d %s = %v, want %v", id, c.what, c.got, c.want)
			}
		}
	}
}

func TestProductNotFound(t *testing.T) {
	store, _ := newStore(t, pgstore.Options{})
	_, err := store.Product(context.Background(), seeded+1)
	if !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("Product(missing) error = %v, want ErrNotFound", err)
	}
	if _, err := store.Inventory(context.Background(), seeded+1); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("Inventory(missing) error = %v, want ErrNotFound", err)
	}
}

func TestProductsRunsOneStatement(t *testing.T) {
	store, statements := newStore(t, pgstore.Options{})
	ids := []int64{5, 3, 999_999, 1, 250}
	before := statements.Load()
	got, err := store.Products(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if n := statements.Load() - before; n != 1 {
		t.Errorf("Products(%d ids) ran %d statements, want 1", len(ids), n)
	}
	found := map[int64]bool{}
	for _, p := range got {
		found[p.ID] = true
	}
	if diff := cmp.Diff(map[int64]bool{1: true, 3: true, 5: true, 250: true}, found); diff != "" {
		t.Errorf("found ids (-want +got):\n%s", diff)
	}
}

func TestListWalksEveryProductOnce(t *testing.T) {
	store, _ := newStore(t, pgstore.Options{})
	tests := []struct {
		name     string
		category int64
	}{{"all", 0}, {"one category", 0}}
	first, err := store.Product(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	tests[1].category = first.Category.ID
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ids []int64
			page := catalog.Page{CategoryID: tt.category, Limit: 7}
			for pages := 0; ; pages++ {
				if pages > seeded {
					t.Fatal("pagination does not end")
				}
				res, err := store.List(context.Background(), page)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range res.Items {
					if tt.category != 0 && p.Category.ID != tt.category {
						t.Fatalf("product %d of category %d in a list of category %d", p.ID, p.Category.ID, tt.category)
					}
					ids = append(ids, p.ID)
				}
				if res.Next == 0 {
					break
				}
				page.After = res.Next
			}
			for i := 1; i < len(ids); i++ {
				if ids[i] <= ids[i-1] {
					t.Fatalf("ids out of order or repeated at %d: %v", i, ids[i-1:i+1])
				}
			}
			if tt.category == 0 && len(ids) != seeded {
				t.Errorf("walked %d products, want %d", len(ids), seeded)
			}
			if tt.category != 0 && (len(ids) == 0 || len(ids) == seeded) {
				t.Errorf("category walk returned %d products", len(ids))
			}
		})
	}
}

func input(sku string) catalog.ProductInput {
	price, stock := int64(1500), int64(9)
	return catalog.ProductInput{SKU: sku, Name: "Test lamp", PriceCents: &price, Currency: "EUR", CategoryID: 1, Stock: &stock}
}

func TestWrites(t *testing.T) {
	store, _ := newStore(t, pgstore.Options{})
	ctx := context.Background()

	created, err := store.Create(ctx, input("NEW-1"))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if created.ID <= seeded || created.Version != 1 || created.Inventory.Stock != 9 {
		t.Fatalf("created = id %d version %d stock %d; want a fresh id, version 1, stock 9",
			created.ID, created.Version, created.Inventory.Stock)
	}

	t.Run("duplicate sku", func(t *testing.T) {
		_, err := store.Create(ctx, input("NEW-1"))
		if !errors.Is(err, catalog.ErrDuplicateSKU) {
			t.Fatalf("error = %v, want ErrDuplicateSKU", err)
		}
	})
	t.Run("unknown category leaves nothing behind", func(t *testing.T) {
		in := input("NEW-2")
		in.CategoryID = 9999
		if _, err := store.Create(ctx, in); !errors.Is(err, catalog.ErrUnknownCategory) {
			t.Fatalf("error = %v, want ErrUnknownCategory", err)
		}
		res, err := store.List(ctx, catalog.Page{After: created.ID, Limit: 10})
		if err != nil || len(res.Items) != 0 {
			t.Fatalf("after a failed create: %d products past %d, err %v", len(res.Items), created.ID, err)
		}
	})

	in := input("NEW-1")
	in.Name = "Renamed lamp"
	updated, err := store.Update(ctx, created.ID, in, 1)
	if err != nil {
		t.Fatalf("Update with the current version: %v", err)
	}
	if updated.Version != 2 || updated.Name != "Renamed lamp" || !updated.UpdatedAt.After(created.UpdatedAt) {
		t.Fatalf("updated = version %d name %q", updated.Version, updated.Name)
	}

	errorCases := []struct {
		name string
		run  func() error
		want error
	}{
		{"update with a stale version", func() error { _, err := store.Update(ctx, created.ID, in, 1); return err }, catalog.ErrVersionMismatch},
		{"update a missing product", func() error { _, err := store.Update(ctx, 999_999, in, 0); return err }, catalog.ErrNotFound},
		{"update to a taken sku", func() error { _, err := store.Update(ctx, created.ID, input("SKU-00000001"), 0); return err }, catalog.ErrDuplicateSKU},
		{"delete with a stale version", func() error { return store.Delete(ctx, created.ID, 1) }, catalog.ErrVersionMismatch},
		{"delete a missing product", func() error { return store.Delete(ctx, 999_999, 0) }, catalog.ErrNotFound},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
		})
	}
	if got, _ := store.Product(ctx, created.ID); got.Version != 2 || got.Name != "Renamed lamp" {
		t.Fatalf("failed writes changed the product: version %d name %q", got.Version, got.Name)
	}

	if err := store.Delete(ctx, created.ID, 2); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := store.Product(ctx, created.ID); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("Product after delete: %v", err)
	}
	if _, err := store.Inventory(ctx, created.ID); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("Inventory after delete: %v", err)
	}
}

// Many writers updating one product with If-Match: no update is lost, so the final version is
// one more than the number of updates that succeeded.
func TestConcurrentConditionalUpdatesLoseNothing(t *testing.T) {
	store, _ := newStore(t, pgstore.Options{})
	ctx := context.Background()
	const writers, attempts = 8, 10
	var ok atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for range attempts {
				cur, err := store.Product(ctx, 7)
				if err != nil {
					t.Error(err)
					return
				}
				in := input(cur.SKU)
				in.Name = "writer " + string(rune('A'+w))
				_, err = store.Update(ctx, 7, in, cur.Version)
				switch {
				case err == nil:
					ok.Add(1)
				case !errors.Is(err, catalog.ErrVersionMismatch):
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	final, err := store.Product(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	if final.Version != 1+ok.Load() {
		t.Fatalf("final version %d after %d successful updates: an update was lost", final.Version, ok.Load())
	}
	if ok.Load() == 0 {
		t.Fatal("no update succeeded")
	}
}

func TestSimulatedLatency(t *testing.T) {
	const delay = 50 * time.Millisecond
	store, _ := newStore(t, pgstore.Options{SimulatedLatency: delay})
	start := time.Now()
	if _, err := store.Product(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < delay {
		t.Errorf("detail load took %s, want at least the simulated %s", elapsed, delay)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if _, err := store.Product(ctx, 1); !errors.Is(err, catalog.ErrUnavailable) {
		t.Errorf("a deadline inside the simulated latency gave %v, want ErrUnavailable", err)
	}
}

func TestUnreachableDatabaseIsUnavailable(t *testing.T) {
	db, err := gorm.Open(postgres.Open("postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"),
		&gorm.Config{DisableAutomaticPing: true, Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	store := pgstore.New(db, pgstore.Options{QueryTimeout: 3 * time.Second})
	if _, err := store.Product(context.Background(), 1); !errors.Is(err, catalog.ErrUnavailable) {
		t.Errorf("Product: %v, want ErrUnavailable", err)
	}
	if err := store.Ping(context.Background()); !errors.Is(err, catalog.ErrUnavailable) {
		t.Errorf("Ping: %v, want ErrUnavailable", err)
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	db := testdb.New(t) // already migrated once
	sqlDB, err := db.Gorm.DB()
	if err != nil {
		t.Fatal(err)
	}
	applied, err := pgstore.Migrate(context.Background(), sqlDB)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second Migrate applied %v, err %v; want nothing", applied, err)
	}
	v, err := pgstore.SchemaVersion(context.Background(), sqlDB)
	if err != nil || v != 3 {
		t.Fatalf("SchemaVersion = %d, %v; want 3", v, err)
	}
}
