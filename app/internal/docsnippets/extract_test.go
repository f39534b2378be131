package docsnippets

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExtract(t *testing.T) {
	for _, tc := range []struct {
		name string
		md   string
		want []Snippet
	}{
		{
			name: "one expression a line, comments above, other blocks ignored",
			md: "# Title\n\n## Queries\n\n```sh\n# not a query\ncurl x\n```\n\n```promql\n# rate\nrate(a_total[1m])\n" +
				"up\n\n# two\n# lines\nsum(b)\n```\n",
			want: []Snippet{
				{File: "f.md", Line: 12, Lang: PromQL, Section: "Queries", Comment: "rate", Expr: "rate(a_total[1m])"},
				{File: "f.md", Line: 13, Lang: PromQL, Section: "Queries", Expr: "up"},
				{File: "f.md", Line: 17, Lang: PromQL, Section: "Queries", Comment: "two lines", Expr: "sum(b)"},
			},
		},
		{
			name: "indented lines continue the expression",
			md:   "```logql\nsum by (level) (\n  count_over_time({app=\"x\"}[1m])\n)\n{app=\"y\"}\n```\n",
			want: []Snippet{
				{File: "f.md", Line: 2, Lang: LogQL, Expr: "sum by (level) (\n  count_over_time({app=\"x\"}[1m])"},
				{File: "f.md", Line: 4, Lang: LogQL, Expr: ")"},
				{File: "f.md", Line: 5, Lang: LogQL, Expr: "{app=\"y\"}"},
			},
		},
		{
			name: "tilde fences, upper case, a fence inside a list item, a longer fence",
			md: "~~~PromQL\nup\n~~~\n\n- item\n\n   ```logql\n   {app=\"x\"} |= \"a\"\n     | json\n   ```\n\n" +
				"````promql extra words\nx\n```\ny\n````\n",
			want: []Snippet{
				{File: "f.md", Line: 2, Lang: PromQL, Expr: "up"},
				{File: "f.md", Line: 8, Lang: LogQL, Expr: "{app=\"x\"} |= \"a\"\n  | json"},
				{File: "f.md", Line: 13, Lang: PromQL, Expr: "x"},
				{File: "f.md", Line: 14, Lang: PromQL, Expr: "```"}, // a shorter fence is content
				{File: "f.md", Line: 15, Lang: PromQL, Expr: "y"},
			},
		},
		{
			name: "inline code is no fence; headings inside code are no sections",
			md:   "## A\n\n```text\n## not a heading\n```\n\n``` `promql` ``` is inline\n\n```promql\nup\n```\n",
			want: []Snippet{{File: "f.md", Line: 10, Lang: PromQL, Section: "A", Expr: "up"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Extract("f.md", []byte(tc.md))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("snippets (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExtractUnclosedFence(t *testing.T) {
	_, err := Extract("f.md", []byte("text\n\n```promql\nup\n"))
	if err == nil || !strings.Contains(err.Error(), "f.md:3") {
		t.Errorf("error %v: want one naming f.md:3, where the block opens", err)
	}
}

func TestIsLogQuery(t *testing.T) {
	for expr, want := range map[string]bool{
		`{app="x"} | json`:                    true,
		` {app="x"}`:                          true,
		`sum(count_over_time({app="x"}[1m]))`: false,
	} {
		if got := (Snippet{Lang: LogQL, Expr: expr}).IsLogQuery(); got != want {
			t.Errorf("IsLogQuery(%q) = %v, want %v", expr, got, want)
		}
	}
	if (Snippet{Lang: PromQL, Expr: `{__name__="up"}`}).IsLogQuery() {
		t.Error("a PromQL snippet is never a log query")
	}
}

// FuzzExtract: any input either fails cleanly or yields snippets whose lines exist and whose
// expressions are not empty.
func FuzzExtract(f *testing.F) {
	f.Add("```promql\nup\n```\n")
	f.Add("~~~logql\n{a=\"b\"}\n  | json\n~~~\n")
	f.Add("```promql\n# c\n\n  x\n```")
	f.Fuzz(func(t *testing.T, md string) {
		snippets, err := Extract("f.md", []byte(md))
		if err != nil {
			return
		}
		lines := strings.Count(md, "\n") + 1
		for _, s := range snippets {
			if s.Line < 1 || s.Line > lines || strings.TrimSpace(s.Expr) == "" {
				t.Errorf("snippet %+v of a %d-line input", s, lines)
			}
		}
	})
}
