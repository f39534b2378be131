package docsnippets

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// repoRoot is the repository root, relative to this package.
const repoRoot = "../../.."

// TestDocuments: every PromQL and LogQL snippet of the repository's documents parses; each
// document of Documents has at least one (a fence renamed by mistake would hide them all), and
// together they have both languages.
func TestDocuments(t *testing.T) {
	total := map[Lang]int{}
	for _, doc := range Documents {
		t.Run(doc, func(t *testing.T) {
			snippets, err := ExtractFiles(repoRoot, doc)
			if err != nil {
				t.Fatal(err)
			}
			perLang := map[Lang]int{}
			for _, s := range snippets {
				perLang[s.Lang]++
				total[s.Lang]++
				if err := s.Check(); err != nil {
					t.Errorf("%v\n  %s", err, s.Expr)
				}
			}
			if len(snippets) == 0 {
				t.Error("no snippet: fence them as ```promql or ```logql, or drop the document from Documents")
			}
			t.Logf("%d PromQL and %d LogQL snippets", perLang[PromQL], perLang[LogQL])
		})
	}
	for _, l := range []Lang{PromQL, LogQL} {
		if total[l] == 0 {
			t.Errorf("no %s snippet in %v: fence them as ```%s", l, Documents, l)
		}
	}
}

// TestDocumentsListed: Documents names exactly the documents (README.md, docs/*.md) that have
// PromQL or LogQL blocks, so a snippet on a new page is checked and run too.
func TestDocumentsListed(t *testing.T) {
	var with []string
	for _, file := range markdownFiles(t) {
		md, err := os.ReadFile(filepath.Join(repoRoot, file))
		if err != nil {
			t.Fatal(err)
		}
		snippets, err := Extract(file, md)
		if err != nil {
			t.Fatal(err)
		}
		if len(snippets) > 0 {
			with = append(with, file)
		}
	}
	listed := slices.Clone(Documents)
	slices.Sort(listed)
	slices.Sort(with)
	if diff := cmp.Diff(with, listed); diff != "" {
		t.Errorf("Documents (-documents with snippets +listed):\n%s", diff)
	}
}
