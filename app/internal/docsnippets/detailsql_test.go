package docsnippets

import (
	"os"
	"strings"
	"testing"

	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
)

// TestTroubleshootingDetailQuery: the guide's EXPLAIN ANALYZE prepares exactly the statement the
// service runs, so a change of the detail query cannot leave the guide explaining an old one.
func TestTroubleshootingDetailQuery(t *testing.T) {
	md, err := os.ReadFile(repoRoot + "/docs/troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	want := "PREPARE detail(bigint) AS\n" + pgstore.DetailSQL + ";\nEXPLAIN (ANALYZE, BUFFERS) EXECUTE detail("
	if !strings.Contains(string(md), want) {
		t.Errorf("docs/troubleshooting.md does not prepare pgstore.DetailSQL verbatim; want:\n%s", want)
	}
}
