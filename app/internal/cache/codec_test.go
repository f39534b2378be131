package cache

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

func sampleProduct() catalog.Product {
	at := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	return catalog.Product{
		ID: 42, SKU: "SKU-00000042", Name: "Eco Keyboard 42", Description: "Quiet and efficient. Works out of the box.",
		PriceCents: 31792, Currency: "GBP", Version: 3, IsHot: true,
		Category:  catalog.Category{ID: 4, Name: "Coffee", Slug: "coffee"},
		Inventory: catalog.Inventory{ProductID: 42, Stock: 132, Reserved: 14, Available: 118, UpdatedAt: at},
		Rating:    catalog.Rating{Average: 4.4, Count: 15}, CreatedAt: at, UpdatedAt: at.Add(time.Hour),
	}
}

func TestCodecRoundTrip(t *testing.T) {
	want := sampleProduct()
	for _, ser := range []Serializer{SerializerJSON, SerializerMsgpack} {
		t.Run(string(ser), func(t *testing.T) {
			raw, err := encode(ser, want)
			if err != nil {
				t.Fatal(err)
			}
			var got catalog.Product
			s := &Store{m: NewMetricsForTest()}
			if err := s.decode(raw, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := decode(nullValue, &catalog.Product{}); !errors.Is(err, errNullValue) {
		t.Errorf("the null marker decodes to %v", err)
	}
	if _, err := decode([]byte("x{}"), &catalog.Product{}); err == nil {
		t.Error("an unknown tag decodes")
	}
}

// BenchmarkCodec measures the encode and decode cost and the payload size of each serializer.
func BenchmarkCodec(b *testing.B) {
	p := sampleProduct()
	for _, ser := range []Serializer{SerializerJSON, SerializerMsgpack} {
		raw, _ := encode(ser, p)
		b.Run(string(ser)+"/encode", func(b *testing.B) {
			b.ReportMetric(float64(len(raw)), "bytes/value")
			for b.Loop() {
				_, _ = encode(ser, p)
			}
		})
		b.Run(string(ser)+"/decode", func(b *testing.B) {
			for b.Loop() {
				var out catalog.Product
				_, _ = decode(raw, &out)
			}
		})
	}
}
