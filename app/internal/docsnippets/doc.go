// Package docsnippets extracts the PromQL and LogQL examples of the repository's Markdown files
// (README.md, docs/*.md) and checks them, so that a query a reader copies from the docs runs.
//
// A snippet lives in a fenced code block whose info string is promql or logql (```promql,
// ~~~logql; any case). Inside such a block every line that does not start with a space is one
// expression; a line indented further than the fence continues the expression above it, so a
// long query may be wrapped. A line starting with # is a comment: it describes the expression
// below it (Snippet.Comment). A blank line ends an expression. Placeholders belong inside string
// literals (trace_id="<trace id>"), where they still parse.
//
// Check parses PromQL with Prometheus's own parser (promql/parser). LogQL gets a structural
// check only: string literals and brackets balance, every stream selector parses as label
// matchers, every range is a duration and every pipeline stage starts with a known stage or a
// filter. Loki's parser (github.com/grafana/loki/v3/pkg/logql/syntax) does not build as a
// dependency of this module (its go.mod replaces dskit's memberlist and more, which a dependent
// module does not inherit); the end-to-end test (app/e2e, TestStack) runs every snippet against
// a real Prometheus and Loki, and that is where LogQL is parsed in full.
//
// Links and Anchors read the documents' inline links and the anchors GitHub gives their headings;
// the package's tests check with them that every relative link and #anchor of README.md and
// docs/*.md resolves, and that the shell examples can be copied and run twice (header names
// matched with grep -i, writes to the id a create returned).
package docsnippets
