package docsnippets

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Lang is the query language of a snippet, as its fence names it.
type Lang string

// The languages a snippet can be written in.
const (
	PromQL Lang = "promql"
	LogQL  Lang = "logql"
)

// Snippet is one PromQL or LogQL expression of a Markdown file.
type Snippet struct {
	// File is the path the snippet was read from, as the caller gave it.
	File string
	// Line is the 1-based line of the expression's first line.
	Line int
	Lang Lang
	// Section is the title of the last Markdown heading above the snippet.
	Section string
	// Comment is the text of the # lines just above the expression, without the #.
	Comment string
	// Expr is the expression; a wrapped one keeps its line breaks.
	Expr string
}

// Source names the snippet for messages: "docs/troubleshooting.md:42".
func (s Snippet) Source() string { return fmt.Sprintf("%s:%d", s.File, s.Line) }

// IsLogQuery reports whether s is a LogQL log query (it returns lines, not samples): one that
// starts with its stream selector. Loki runs log queries only as range queries.
func (s Snippet) IsLogQuery() bool {
	return s.Lang == LogQL && strings.HasPrefix(strings.TrimSpace(s.Expr), "{")
}

// ExtractFiles reads each path (relative to root) and returns the snippets of all of them, in
// order. Snippet.File is the path as given, without root.
func ExtractFiles(root string, paths ...string) ([]Snippet, error) {
	var out []Snippet
	for _, p := range paths {
		md, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			return nil, err
		}
		snippets, err := Extract(p, md)
		if err != nil {
			return nil, err
		}
		out = append(out, snippets...)
	}
	return out, nil
}

// Extract returns the snippets of the Markdown document md; file names it in the snippets and
// in errors. A fence left open is an error: the rest of the file would silently be code.
func Extract(file string, md []byte) ([]Snippet, error) {
	var (
		out     []Snippet
		section string
		fence   *openFence
		comment []string
		cur     *Snippet
	)
	end := func() {
		if cur != nil {
			out = append(out, *cur)
			cur = nil
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if fence == nil {
			if f, ok := opening(line, n); ok {
				fence, comment = &f, nil
			} else if title, ok := heading(line); ok {
				section = title
			}
			continue
		}
		if fence.closes(line) {
			end()
			fence = nil
			continue
		}
		if fence.lang == "" {
			continue
		}
		body := fence.dedent(line)
		trimmed := strings.TrimSpace(body)
		switch {
		case trimmed == "":
			end()
			comment = nil
		case strings.HasPrefix(trimmed, "#"):
			end()
			comment = append(comment, strings.TrimSpace(strings.TrimPrefix(trimmed, "#")))
		case cur != nil && (strings.HasPrefix(body, " ") || strings.HasPrefix(body, "\t")):
			cur.Expr += "\n" + body
		default:
			end()
			cur = &Snippet{File: file, Line: n, Lang: fence.lang, Section: section,
				Comment: strings.Join(comment, " "), Expr: trimmed}
			comment = nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if fence != nil {
		return nil, fmt.Errorf("%s:%d: code block opened here is never closed", file, fence.line)
	}
	return out, nil
}

// openFence is a fenced code block being read.
type openFence struct {
	line   int    // where it opened
	indent int    // spaces before the fence, removed from its lines
	marker string // ``` or ~~~ (or longer): the closing fence repeats it at least as long
	lang   Lang   // promql, logql, or "" for any other block
	info   string // the info string's first word, lower case: "sh", "promql", "" when none
}

// opening recognises the first line of a fenced code block.
func opening(line string, n int) (openFence, bool) {
	rest := strings.TrimLeft(line, " ")
	indent := len(line) - len(rest)
	for _, ch := range []string{"`", "~"} {
		run := len(rest) - len(strings.TrimLeft(rest, ch))
		if run < 3 {
			continue
		}
		info := strings.TrimSpace(rest[run:])
		if ch == "`" && strings.Contains(info, "`") {
			return openFence{}, false // inline code, not a fence
		}
		f := openFence{line: n, indent: indent, marker: rest[:run]}
		if fields := strings.Fields(info); len(fields) > 0 {
			f.info = strings.ToLower(fields[0])
			switch l := Lang(f.info); l {
			case PromQL, LogQL:
				f.lang = l
			}
		}
		return f, true
	}
	return openFence{}, false
}

// closes reports whether line is the closing fence.
func (f *openFence) closes(line string) bool {
	t := strings.TrimSpace(line)
	return strings.HasPrefix(t, f.marker) && strings.Trim(t, f.marker[:1]) == ""
}

// dedent removes up to the fence's indentation from a line of its block.
func (f *openFence) dedent(line string) string {
	i := 0
	for i < f.indent && i < len(line) && line[i] == ' ' {
		i++
	}
	return line[i:]
}

// heading returns the title of an ATX heading line ("## Cookbook").
func heading(line string) (string, bool) {
	t := strings.TrimLeft(line, " ")
	level := len(t) - len(strings.TrimLeft(t, "#"))
	if level == 0 || level > 6 || len(t) == level || t[level] != ' ' {
		return "", false
	}
	return strings.TrimSpace(strings.TrimRight(strings.TrimSpace(t[level:]), "#")), true
}

// Documents are the Markdown files of the repository that hold PromQL or LogQL snippets, relative
// to the repository root: the tests check their snippets and the end-to-end test runs them. A
// test keeps the list equal to the documents (README.md, docs/*.md) that have such a block.
var Documents = []string{"README.md", "docs/queries.md", "docs/telemetry.md", "docs/troubleshooting.md"}
