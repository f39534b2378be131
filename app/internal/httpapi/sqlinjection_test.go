package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// injections are SQL injection attempts: tautologies, stacked statements, comments, LIKE
// wildcards, UNIONs, time-based probes, placeholders of every dialect, and Unicode look-alikes of
// the quote and the semicolon (which some drivers and collations fold into ASCII).
var injections = []string{
	"1 OR 1=1",
	"1; DROP TABLE products--",
	"1; DROP TABLE products; --",
	"' OR ''='",
	"' OR '1'='1' --",
	"1' OR '1'='1",
	"%' --",
	"%",
	"_",
	"1 UNION SELECT id, sku FROM products --",
	"1)) OR ((1=1",
	"1/**/OR/**/1=1",
	`\' OR 1=1 --`,
	"'; DELETE FROM products; --",
	"'; TRUNCATE products CASCADE; --",
	"1; UPDATE products SET price_cents = 0 --",
	"1 AND pg_sleep(3) IS NULL",
	"'; SELECT pg_sleep(3); --",
	"’ OR ’’=’",              // right single quotation marks
	"ʼ OR 1=1 --",            // modifier letter apostrophe
	"＇ OR 1=1 --",            // fullwidth apostrophe
	"1; DROP TABLE products", // Greek question mark, a semicolon look-alike
	"$1", "?", "@id", ":id", "$$; DROP TABLE products; $$",
	"0x31", "1e3", "１", "9223372036854775808", "-1", "1.0",
}

// productRow is what the products table holds of a product, read with SQL of our own.
type productRow struct {
	ID          int64
	SKU         string
	Name        string
	Description string
	PriceCents  int64
	Currency    string
	CategoryID  int64
	Version     int64
}

// snapshot reads every product row, and counts the other tables.
func snapshot(t *testing.T, db *gorm.DB) (map[int64]productRow, map[string]int64) {
	t.Helper()
	var rows []productRow
	if err := db.Raw(`SELECT id, sku, name, description, price_cents, currency, category_id, version FROM products`).
		Scan(&rows).Error; err != nil {
		t.Fatalf("read products: %v", err)
	}
	byID := make(map[int64]productRow, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
	}
	counts := map[string]int64{}
	for _, table := range []string{"products", "categories", "inventory", "reviews"} {
		var exists bool
		if err := db.Raw(`SELECT to_regclass(?) IS NOT NULL`, "public."+table).Scan(&exists).Error; err != nil || !exists {
			t.Fatalf("table %s exists: %v (%v)", table, exists, err)
		}
		var n int64
		if err := db.Table(table).Count(&n).Error; err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		counts[table] = n
	}
	return byID, counts
}

// Hostile strings in every parameter — path id, ids, category_id, cursor, limit, If-Match, and
// every text field of a create or update — against the real PostgreSQL through the real router and
// pgstore: each is refused as bad input (400/404/409/422) or stored verbatim as data and read back
// equal. Afterwards every table is still there, the rows the requests did not mean to change are
// unchanged, and the only new rows are the intended creates.
func TestSQLInjectionIsRefusedOrStoredAsData(t *testing.T) {
	srv, _, db := newDBAPI(t, token)
	before, beforeCounts := snapshot(t, db)
	if len(before) != products {
		t.Fatalf("seeded %d products, want %d", len(before), products)
	}
	const updated = 5 // the product the update cases replace
	want := before[updated]
	var created []productRow

	// 412: a well-formed If-Match that names no version of the product is refused as stale.
	refused := []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusUnprocessableEntity}
	body := func(sku, name, description, currency string) string {
		b, _ := json.Marshal(map[string]any{"sku": sku, "name": name, "description": description, "price_cents": 4200,
			"currency": currency, "category_id": 2})
		return string(b)
	}
	// stored checks a write answered 2xx: the answer and a fresh read hold exactly what was sent.
	stored := func(t *testing.T, a answer, in productRow) productRow {
		t.Helper()
		var p catalog.Product
		if err := json.Unmarshal(a.body, &p); err != nil {
			t.Fatalf("write answer %s: %v", a.body, err)
		}
		read := do(t, srv, call{method: "GET", path: "/api/v1/products/" + strconv.FormatInt(p.ID, 10)})
		var r catalog.Product
		if err := json.Unmarshal(read.body, &r); err != nil || read.status != http.StatusOK {
			t.Fatalf("read back %d: %d %s", p.ID, read.status, read.body)
		}
		in.ID, in.Version = p.ID, r.Version
		got := productRow{ID: r.ID, SKU: r.SKU, Name: r.Name, Description: r.Description, PriceCents: r.PriceCents,
			Currency: r.Currency, CategoryID: r.Category.ID, Version: r.Version}
		if diff := cmp.Diff(in, got); diff != "" {
			t.Fatalf("stored product differs from what was sent (-sent +read):\n%s", diff)
		}
		return got
	}

	for i, x := range injections {
		esc, q := url.PathEscape(x), url.QueryEscape(x)
		forged := base64.RawURLEncoding.EncodeToString([]byte("v1:" + x))
		sku := fmt.Sprintf("SQLI-%d", i)
		cases := []struct {
			name string
			call call
			// keep, when set, checks a 2xx answer and returns the row the write meant to leave.
			keep func(t *testing.T, a answer) productRow
		}{
			{name: "path id", call: call{method: "GET", path: "/api/v1/products/" + esc}},
			{name: "path id of inventory", call: call{method: "GET", path: "/api/v1/products/" + esc + "/inventory"}},
			{name: "path id of update", call: call{method: "PUT", path: "/api/v1/products/" + esc, header: auth(nil),
				body: body(sku, "x", "", "EUR")}},
			{name: "path id of delete", call: call{method: "DELETE", path: "/api/v1/products/" + esc, header: auth(nil)}},
			{name: "ids", call: call{method: "GET", path: "/api/v1/products?ids=" + q}},
			{name: "ids after a good one", call: call{method: "GET", path: "/api/v1/products?ids=1," + q}},
			{name: "category_id", call: call{method: "GET", path: "/api/v1/products?category_id=" + q}},
			{name: "limit", call: call{method: "GET", path: "/api/v1/products?limit=" + q}},
			{name: "cursor", call: call{method: "GET", path: "/api/v1/products?cursor=" + q}},
			{name: "forged cursor", call: call{method: "GET", path: "/api/v1/products?cursor=" + forged}},
			{name: "If-Match", call: call{method: "DELETE", path: "/api/v1/products/7",
				header: auth(map[string]string{"If-Match": `"` + x + `"`})}},
			{name: "category_id in the body", call: call{method: "POST", path: "/api/v1/products", header: auth(nil),
				body: `{"sku":"` + sku + `","name":"x","price_cents":1,"currency":"EUR","category_id":` + strconv.Quote(x) + `}`}},
			{name: "price_cents in the body", call: call{method: "POST", path: "/api/v1/products", header: auth(nil),
				body: `{"sku":"` + sku + `","name":"x","price_cents":` + strconv.Quote(x) + `,"currency":"EUR","category_id":1}`}},
			{name: "currency", call: call{method: "POST", path: "/api/v1/products", header: auth(nil), body: body(sku, "x", "", x)}},
			{name: "sku", call: call{method: "POST", path: "/api/v1/products", header: auth(nil), body: body(x, "x", "", "EUR")},
				keep: func(t *testing.T, a answer) productRow {
					return stored(t, a, productRow{SKU: x, Name: "x", PriceCents: 4200, Currency: "EUR", CategoryID: 2})
				}},
			{name: "name and description of a create", call: call{method: "POST", path: "/api/v1/products", header: auth(nil),
				body: body(sku, x, x, "EUR")},
				keep: func(t *testing.T, a answer) productRow {
					return stored(t, a, productRow{SKU: sku, Name: x, Description: x, PriceCents: 4200, Currency: "EUR", CategoryID: 2})
				}},
			{name: "name and description of an update", call: call{method: "PUT", path: "/api/v1/products/" + strconv.Itoa(updated),
				header: auth(nil), body: body(want.SKU, x, x, "EUR")},
				keep: func(t *testing.T, a answer) productRow {
					return stored(t, a, productRow{SKU: want.SKU, Name: x, Description: x, PriceCents: 4200, Currency: "EUR", CategoryID: 2})
				}},
		}
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/%q", c.name, x), func(t *testing.T) {
				a := do(t, srv, c.call)
				if a.status >= 200 && a.status < 300 && c.keep != nil {
					row := c.keep(t, a)
					switch c.call.method {
					case "POST":
						created = append(created, row)
					case "PUT":
						want = row
					}
					return
				}
				if !slices.Contains(refused, a.status) {
					t.Fatalf("status %d, want the input stored as data or refused as one of %v; body %s", a.status, refused, a.body)
				}
				a.problem(t)
			})
		}
	}

	after, afterCounts := snapshot(t, db)
	wantCounts := map[string]int64{
		"products": beforeCounts["products"] + int64(len(created)), "inventory": beforeCounts["inventory"] + int64(len(created)),
		"categories": beforeCounts["categories"], "reviews": beforeCounts["reviews"],
	}
	if diff := cmp.Diff(wantCounts, afterCounts); diff != "" {
		t.Errorf("row counts (-want +got):\n%s", diff)
	}
	wantRows := before
	wantRows[updated] = want
	for _, r := range created {
		wantRows[r.ID] = r
	}
	if diff := cmp.Diff(wantRows, after); diff != "" {
		t.Errorf("products (-want +got):\n%s", diff)
	}
	if len(created) < len(injections) {
		t.Errorf("%d creates stored the hostile names, want at least one per injection (%d)", len(created), len(injections))
	}
}
