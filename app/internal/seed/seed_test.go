package seed_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/product-service-lab/product-service/app/internal/seed"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

func TestGeneratorIsDeterministic(t *testing.T) {
	g := seed.Generator{Seed: 7, HotShare: 0.1}
	for _, id := range []int64{1, 2, 99_999} {
		if diff := cmp.Diff(g.Product(id), g.Product(id)); diff != "" {
			t.Errorf("product %d differs between two generations:\n%s", id, diff)
		}
	}
	other := seed.Generator{Seed: 8, HotShare: 0.1}
	if cmp.Equal(g.Product(1), other.Product(1)) {
		t.Error("seeds 7 and 8 generate the same product 1")
	}
}

func TestGeneratorShape(t *testing.T) {
	g := seed.Generator{Seed: seed.DefaultSeed, HotShare: 0.01}
	const n = 20_000
	hot, reviews := 0, 0
	for id := int64(1); id <= n; id++ {
		p := g.Product(id)
		if p.IsHot {
			hot++
		}
		reviews += len(p.Reviews)
		if p.Reserved > p.Stock || p.PriceCents <= 0 || p.Name == "" {
			t.Fatalf("product %d is inconsistent: %+v", id, p)
		}
		for _, r := range p.Reviews {
			if r.Rating < 1 || r.Rating > 5 {
				t.Fatalf("product %d has a %d-star review", id, r.Rating)
			}
		}
	}
	if share := float64(hot) / n; share < 0.007 || share > 0.013 {
		t.Errorf("hot share %.4f, want about 0.01", share)
	}
	if avg := float64(reviews) / n; avg < 9.5 || avg > 10.5 {
		t.Errorf("%.2f reviews per product, want about 10", avg)
	}
}

func count(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRunIsIdempotentAndResumable(t *testing.T) {
	db := testdb.New(t)
	sqlDB, err := db.Gorm.DB()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opts := seed.Options{Products: 250, BatchSize: 60, Generator: seed.Generator{Seed: 1, HotShare: 0.1}}

	first, err := seed.Run(ctx, sqlDB, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Inserted != 250 || first.Skipped != 0 {
		t.Fatalf("first run inserted %d, skipped %d", first.Inserted, first.Skipped)
	}
	reviews := count(t, sqlDB, "reviews")
	if reviews != first.Reviews {
		t.Fatalf("%d reviews in the database, run reported %d", reviews, first.Reviews)
	}

	second, err := seed.Run(ctx, sqlDB, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.Inserted != 0 || second.Skipped != 250 || count(t, sqlDB, "reviews") != reviews {
		t.Fatalf("second run inserted %d products; reviews %d → %d", second.Inserted, reviews, count(t, sqlDB, "reviews"))
	}

	// A deleted product comes back, and a larger count only adds the new ids.
	if _, err := sqlDB.Exec("DELETE FROM products WHERE id = 100"); err != nil {
		t.Fatal(err)
	}
	opts.Products = 300
	third, err := seed.Run(ctx, sqlDB, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if third.Inserted != 51 || count(t, sqlDB, "products") != 300 || count(t, sqlDB, "inventory") != 300 {
		t.Fatalf("third run inserted %d, want 51 (id 100 and 251..300)", third.Inserted)
	}
	if count(t, sqlDB, "categories") != len(mustCategories()) {
		t.Fatalf("categories duplicated: %d", count(t, sqlDB, "categories"))
	}

	// Products created after seeding get ids past the seeded range.
	var next int64
	if err := sqlDB.QueryRow(`INSERT INTO products (sku, name, price_cents, currency, category_id)
		VALUES ('AFTER-SEED', 'x', 1, 'EUR', (SELECT min(id) FROM categories)) RETURNING id`).Scan(&next); err != nil {
		t.Fatal(err)
	}
	if next <= 300 {
		t.Fatalf("a product created after seeding got id %d, inside the seeded range", next)
	}
}

func mustCategories() []string {
	names, _ := seed.Categories()
	return names
}
