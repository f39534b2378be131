package catalog_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

func ptr[T any](v T) *T { return &v }

func valid() catalog.ProductInput {
	return catalog.ProductInput{SKU: "SKU-1", Name: "Lamp", PriceCents: ptr[int64](1999), Currency: "EUR", CategoryID: 1}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*catalog.ProductInput)
		want   []string // invalid fields
	}{
		{"valid", func(*catalog.ProductInput) {}, nil},
		{"zero price is fine", func(in *catalog.ProductInput) { in.PriceCents = ptr[int64](0) }, nil},
		{"empty name", func(in *catalog.ProductInput) { in.Name = "" }, []string{"name"}},
		{"long name", func(in *catalog.ProductInput) { in.Name = strings.Repeat("é", 201) }, []string{"name"}},
		{"NUL in name", func(in *catalog.ProductInput) { in.Name = "a\x00b" }, []string{"name"}},
		{"invalid UTF-8 description", func(in *catalog.ProductInput) { in.Description = "\xff" }, []string{"description"}},
		{"negative price", func(in *catalog.ProductInput) { in.PriceCents = ptr[int64](-1) }, []string{"price_cents"}},
		{"missing price", func(in *catalog.ProductInput) { in.PriceCents = nil }, []string{"price_cents"}},
		{"huge price", func(in *catalog.ProductInput) { in.PriceCents = ptr[int64](1 << 60) }, []string{"price_cents"}},
		{"bad currency", func(in *catalog.ProductInput) { in.Currency = "euro" }, []string{"currency"}},
		{"no category", func(in *catalog.ProductInput) { in.CategoryID = 0 }, []string{"category_id"}},
		{"negative stock", func(in *catalog.ProductInput) { in.Stock = ptr[int64](-3) }, []string{"stock"}},
		{"empty sku", func(in *catalog.ProductInput) { in.SKU = "" }, []string{"sku"}},
		{"sku with space", func(in *catalog.ProductInput) { in.SKU = "A B" }, []string{"sku"}},
		{"everything wrong", func(in *catalog.ProductInput) { *in = catalog.ProductInput{} },
			[]string{"category_id", "currency", "name", "price_cents", "sku"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := valid()
			tt.modify(&in)
			err := in.Validate()
			var got []string
			var verr *catalog.ValidationError
			if errors.As(err, &verr) {
				for f := range verr.Fields {
					got = append(got, f)
				}
			} else if err != nil {
				t.Fatalf("Validate returned %T, want *ValidationError", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("invalid fields (-want +got):\n%s\nerror: %v", diff, err)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	in := catalog.ProductInput{SKU: " A-1 ", Name: "  Lamp ", Description: " d ", Currency: " eur "}
	in.Normalize()
	want := catalog.ProductInput{SKU: "A-1", Name: "Lamp", Description: "d", Currency: "EUR"}
	if diff := cmp.Diff(want, in); diff != "" {
		t.Errorf("Normalize (-want +got):\n%s", diff)
	}
}
