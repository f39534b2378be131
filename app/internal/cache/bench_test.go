package cache

import (
	"context"
	"testing"
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
