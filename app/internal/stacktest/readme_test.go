package stacktest_test

import (
	"os"
	"strings"
	"testing"

	"github.com/product-service-lab/product-service/app/internal/config"
)

// TestReadmeDocumentsEveryVariable keeps the configuration table (docs/configuration.md) true:
// every variable config.Load reads has a row.
func TestReadmeDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	var read []string
	if _, err := config.Load(func(key string) (string, bool) { read = append(read, key); return "", false }); err != nil {
		t.Fatal(err)
	}
	if len(read) < 10 {
		t.Fatalf("config.Load read only %v", read)
	}
	for _, key := range read {
		if !strings.Contains(string(readme), "| `"+key+"` |") {
			t.Errorf("docs/configuration.md has no configuration row for %s", key)
		}
	}
}
