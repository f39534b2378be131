package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// decodeProduct runs the body through the create path's decoding and validation.
func decodeProduct(t testing.TB, contentType, body string) error {
	t.Helper()
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest(http.MethodPost, "/api/v1/products", strings.NewReader(body))
	c.Request.Header.Set("Content-Type", contentType)
	_, err := productHandlers{maxBodyBytes: 1 << 10}.input(c)
	return err
}

func TestProductBodyProblems(t *testing.T) {
	valid := `{"sku":"A-1","name":"Lamp","price_cents":100,"currency":"EUR","category_id":1}`
	tests := []struct {
		name, contentType, body string
		wantStatus              int
		wantType                string
	}{
		{"valid", "application/json", valid, 0, ""},
		{"valid with charset", "application/json; charset=utf-8", valid, 0, ""},
		{"not json", "application/json", "name=lamp", 400, "malformed-json"},
		{"empty", "application/json", "", 400, "malformed-json"},
		{"cut short", "application/json", `{"sku":"A`, 400, "malformed-json"},
		{"two values", "application/json", valid + valid, 400, "malformed-json"},
		{"array", "application/json", `[1,2]`, 400, "invalid-field"},
		{"string price", "application/json", `{"price_cents":"cheap"}`, 400, "invalid-field"},
		{"fractional price", "application/json", `{"price_cents":1.5}`, 400, "invalid-field"},
		{"unknown field", "application/json", `{"colour":"red"}`, 400, "unknown-field"},
		{"too large", "application/json", `{"description":"` + strings.Repeat("x", 2<<10) + `"}`, 413, "body-too-large"},
		{"form content type", "application/x-www-form-urlencoded", valid, 415, "unsupported-media-type"},
		{"no content type", "", valid, 415, "unsupported-media-type"},
		{"invalid product", "application/json", `{"sku":"A-1","name":"","price_cents":-1,"currency":"EUR","category_id":1}`, 422, "validation-failed"},
		{"null body", "application/json", `null`, 422, "validation-failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeProduct(t, tt.contentType, tt.body)
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("valid body rejected: %v", err)
				}
				return
			}
			p := problemFor(err)
			if p.Status != tt.wantStatus || p.Type != ProblemTypePrefix+tt.wantType {
				t.Fatalf("got %d %s, want %d %s (%v)", p.Status, p.Type, tt.wantStatus, tt.wantType, err)
			}
		})
	}
}

func FuzzProductBody(f *testing.F) {
	for _, s := range []string{
		`{"sku":"A-1","name":"Lamp","price_cents":100,"currency":"EUR","category_id":1}`,
		`{"sku":"A-1","name":"Lamp","price_cents":100,"currency":"EUR","category_id":1,"stock":3,"is_hot":true}`,
		`{"price_cents":1e400}`, `{"name":"\u0000"}`, `{"name":"\ud800"}`, `[]`, `null`, `{`, `""`, `{"stock":-1}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		err := decodeProduct(t, "application/json", body)
		if err == nil {
			return // decoded and valid
		}
		if p := problemFor(err); p.Status < 400 || p.Status >= 500 {
			t.Fatalf("body %q gave status %d (%v), want a 4xx", body, p.Status, err)
		}
	})
}
