package docsnippets

import (
	"testing"
)

// repoRoot is the repository root, relative to this package.
const repoRoot = "../../.."

// TestDocuments: every PromQL and LogQL snippet of the repository's documents parses, and each
// document has snippets of both languages (a fence renamed by mistake would hide them all).
func TestDocuments(t *testing.T) {
	for _, doc := range Documents {
		t.Run(doc, func(t *testing.T) {
			snippets, err := ExtractFiles(repoRoot, doc)
			if err != nil {
				t.Fatal(err)
			}
			perLang := map[Lang]int{}
			for _, s := range snippets {
				perLang[s.Lang]++
				if err := s.Check(); err != nil {
					t.Errorf("%v\n  %s", err, s.Expr)
				}
			}
			for _, l := range []Lang{PromQL, LogQL} {
				if perLang[l] == 0 {
					t.Errorf("no %s snippet: fence them as ```%s", l, l)
				}
			}
			t.Logf("%d PromQL and %d LogQL snippets", perLang[PromQL], perLang[LogQL])
		})
	}
}
