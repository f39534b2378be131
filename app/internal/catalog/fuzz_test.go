package catalog_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// FuzzProductInput normalises and validates any input: an input Validate accepts keeps every
// promise the README makes of a product body, a refused one names only fields of a product, and
// normalising twice changes nothing.
func FuzzProductInput(f *testing.F) {
	f.Add("LAMP-1", "Desk lamp", "Warm light", int64(2999), "eur", int64(3), int64(10), true)
	f.Add(" a ", " b ", "", int64(0), " usd ", int64(1), int64(-1), false)
	f.Add("", "", "\x00", int64(-1), "€€€", int64(0), int64(1_000_000_001), false)
	f.Add("1 OR 1=1", "' OR ''='", "1; DROP TABLE products--", int64(10_000_000_001), "EU", int64(-9), int64(0), true)
	f.Add(strings.Repeat("S", 65), strings.Repeat("é", 201), "\xff", int64(1), "ÉUR", int64(1), int64(0), false)
	skuOK := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	fields := map[string]bool{"sku": true, "name": true, "description": true, "price_cents": true, "currency": true,
		"category_id": true, "stock": true}
	f.Fuzz(func(t *testing.T, sku, name, description string, price int64, currency string, category, stock int64, hot bool) {
		in := catalog.ProductInput{SKU: sku, Name: name, Description: description, PriceCents: &price, Currency: currency,
			CategoryID: category, Stock: &stock, IsHot: hot}
		in.Normalize()
		again := in
		again.Normalize()
		if again != in {
			t.Fatalf("Normalize is not idempotent: %+v → %+v", in, again)
		}
		err := in.Validate()
		if err != nil {
			var verr *catalog.ValidationError
			if !errors.As(err, &verr) || len(verr.Fields) == 0 {
				t.Fatalf("Validate error %v is not a ValidationError naming fields", err)
			}
			for field := range verr.Fields {
				if !fields[field] {
					t.Fatalf("Validate names %q, not a field of a product", field)
				}
			}
			return
		}
		switch {
		case !skuOK.MatchString(in.SKU):
			t.Fatalf("accepted sku %q", in.SKU)
		case in.Name == "" || !utf8.ValidString(in.Name) || strings.ContainsRune(in.Name, 0) || utf8.RuneCountInString(in.Name) > catalog.MaxNameLen:
			t.Fatalf("accepted name %q", in.Name)
		case !utf8.ValidString(in.Description) || strings.ContainsRune(in.Description, 0) || utf8.RuneCountInString(in.Description) > catalog.MaxDescriptionLen:
			t.Fatalf("accepted description %q", in.Description)
		case price < 0 || price > catalog.MaxPriceCents:
			t.Fatalf("accepted price_cents %d", price)
		case len(in.Currency) != 3 || strings.ToUpper(in.Currency) != in.Currency || strings.Trim(in.Currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "":
			t.Fatalf("accepted currency %q", in.Currency)
		case category <= 0:
			t.Fatalf("accepted category_id %d", category)
		case stock < 0 || stock > catalog.MaxStock:
			t.Fatalf("accepted stock %d", stock)
		}
	})
}
