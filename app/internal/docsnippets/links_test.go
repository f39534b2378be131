package docsnippets

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// markdownFiles are the documents whose links the tests check: README.md and docs/*.md, relative
// to the repository root.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"README.md"}
	for _, d := range docs {
		files = append(files, "docs/"+filepath.Base(d))
	}
	if len(files) < 2 {
		t.Fatalf("no docs/*.md under %s", repoRoot)
	}
	return files
}

// TestRelativeLinks: every relative link of README.md and docs/*.md names a file or directory of
// the repository, and every #anchor a heading of the Markdown file it points into.
func TestRelativeLinks(t *testing.T) {
	anchors := map[string]map[string]bool{} // by path from the root
	anchorsOf := func(p string) (map[string]bool, error) {
		if a, ok := anchors[p]; ok {
			return a, nil
		}
		md, err := os.ReadFile(filepath.Join(repoRoot, p))
		if err != nil {
			return nil, err
		}
		a, err := Anchors(md)
		anchors[p] = a
		return a, err
	}
	checked := 0
	for _, file := range markdownFiles(t) {
		md, err := os.ReadFile(filepath.Join(repoRoot, file))
		if err != nil {
			t.Fatal(err)
		}
		links, err := Links(file, md)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range links {
			if l.IsExternal() {
				continue
			}
			checked++
			p, fragment := l.Split()
			target := file
			if p != "" {
				target = path.Clean(path.Join(path.Dir(file), p))
			}
			if strings.HasPrefix(target, "../") || path.IsAbs(target) {
				t.Errorf("%s: %s leaves the repository", l.Source(), l.Target)
				continue
			}
			if _, err := os.Stat(filepath.Join(repoRoot, target)); err != nil {
				t.Errorf("%s: %s: no such file: %s", l.Source(), l.Target, target)
				continue
			}
			if fragment == "" {
				continue
			}
			if !strings.HasSuffix(target, ".md") {
				t.Errorf("%s: %s: an anchor into %s, which is not Markdown", l.Source(), l.Target, target)
				continue
			}
			a, err := anchorsOf(target)
			if err != nil {
				t.Errorf("%s: %s: %v", l.Source(), l.Target, err)
				continue
			}
			if !a[fragment] {
				t.Errorf("%s: %s: %s has no heading with the anchor #%s", l.Source(), l.Target, target, fragment)
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d relative links checked: is the link parser broken?", checked)
	}
}

func TestLinks(t *testing.T) {
	md := "# T\n" +
		"See [api](docs/api.md#errors), [the top](#t) and [site](https://example.com/x).\n" +
		"`[not](a-link.md)` but [a [nested] one](b.md \"title\") is.\n" +
		"```sh\n[in](code.md)\n```\n" +
		"| [cell](c.md) |\n"
	got, err := Links("f.md", []byte(md))
	if err != nil {
		t.Fatal(err)
	}
	want := []Link{
		{File: "f.md", Line: 2, Target: "docs/api.md#errors"},
		{File: "f.md", Line: 2, Target: "#t"},
		{File: "f.md", Line: 2, Target: "https://example.com/x"},
		{File: "f.md", Line: 3, Target: "b.md"},
		{File: "f.md", Line: 7, Target: "c.md"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
	if !got[2].IsExternal() || got[0].IsExternal() {
		t.Error("IsExternal: want only the https link external")
	}
	if p, f := got[0].Split(); p != "docs/api.md" || f != "errors" {
		t.Errorf("Split: %q %q", p, f)
	}
	if _, err := Links("f.md", []byte("```\nopen")); err == nil {
		t.Error("an unclosed fence: no error")
	}
}

func TestAnchors(t *testing.T) {
	md := "# Cache lab\n" +
		"## What the tests prove (real Redis and PostgreSQL, `app/internal/cache`)\n" +
		"## Runbook: L1 invalidation lag\n" +
		"## Edge cache (profile `edge`)\n" +
		"## See [Redis HA](redis-ha.md)\n" +
		"## Metrics\n### Metrics\n" +
		"```sh\n# not a heading\n```\n" +
		"#not a heading either\n"
	got, err := Anchors([]byte(md))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"cache-lab": true,
		"what-the-tests-prove-real-redis-and-postgresql-appinternalcache": true,
		"runbook-l1-invalidation-lag":                                     true,
		"edge-cache-profile-edge":                                         true,
		"see-redis-ha":                                                    true,
		"metrics":                                                         true,
		"metrics-1":                                                       true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("anchors (-want +got):\n%s", diff)
	}
}
