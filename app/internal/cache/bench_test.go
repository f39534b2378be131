package cache

import (
	"context"
	"strconv"
	"testing"

	"github.com/product-service-lab/product-service/app/internal/redistest"
)

// BenchmarkProductGet measures one product read under each preset, with the key already cached
// (none: every read is a database load).
func BenchmarkProductGet(b *testing.B) {
	for _, preset := range PresetNames() {
		b.Run(preset, func(b *testing.B) {
			f := newFixture(b, 0)
			s := f.store(preset)
			ctx := context.Background()
			if _, err := s.Product(ctx, 1); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.Product(ctx, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkProducts measures one batch read whose products are all in Redis (naive: no L1, so
// every id is read from Redis), for batches of 10 and 100 ids (the API's limit).
func BenchmarkProducts(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			f := newFixture(b, 0)
			s := f.store("naive")
			ctx := context.Background()
			ids := make([]int64, n)
			for i := range ids {
				ids[i] = int64(i + 1)
			}
			if got, err := s.Products(ctx, ids); err != nil || len(got) != n {
				b.Fatalf("Products = %d, %v", len(got), err)
			}
			loads := f.src.total.Load()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if got, err := s.Products(ctx, ids); err != nil || len(got) != n {
					b.Fatalf("Products = %d, %v", len(got), err)
				}
			}
			b.StopTimer()
			if f.src.total.Load() != loads {
				b.Fatal("the batch loaded from the database: the benchmark must read Redis only")
			}
		})
	}
}

// BenchmarkProductsTopology measures the same batch of 100 cached ids on a private server of each
// topology: a cluster answers from its three masters in parallel, in one round trip to each.
func BenchmarkProductsTopology(b *testing.B) {
	for _, mode := range redistest.Modes {
		b.Run(string(mode), func(b *testing.B) {
			tp := redistest.Start(b, mode)
			f := newFixtureOn(b, seededDB(b), tp.Client(b), 0)
			s := f.store("naive")
			ctx := context.Background()
			ids := make([]int64, 100)
			for i := range ids {
				ids[i] = int64(i + 1)
			}
			if got, err := s.Products(ctx, ids); err != nil || len(got) != len(ids) {
				b.Fatalf("Products = %d, %v", len(got), err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if got, err := s.Products(ctx, ids); err != nil || len(got) != len(ids) {
					b.Fatalf("Products = %d, %v", len(got), err)
				}
			}
		})
	}
}
