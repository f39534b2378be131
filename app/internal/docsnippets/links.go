package docsnippets

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// Link is one inline Markdown link, [text](target), outside code.
type Link struct {
	// File is the document the link is in, as the caller named it.
	File string
	// Line is the 1-based line of the link.
	Line int
	// Target is the link's destination as written: "docs/api.md#errors", "#prerequisites".
	Target string
}

// Source names the link for messages: "README.md:42".
func (l Link) Source() string { return fmt.Sprintf("%s:%d", l.File, l.Line) }

// IsExternal reports whether the link leaves the repository (a URL with a scheme).
func (l Link) IsExternal() bool { return scheme.MatchString(l.Target) }

// Split returns the link's path and its fragment (without #); either may be empty.
func (l Link) Split() (path, fragment string) {
	path, fragment, _ = strings.Cut(l.Target, "#")
	return path, fragment
}

// Links returns the inline links of the Markdown document md, in order. Links inside fenced code
// blocks and inline code spans are not links and are left out.
func Links(file string, md []byte) ([]Link, error) {
	var out []Link
	err := eachLine(md, func(n int, line string, block *openFence, _ bool) {
		if block != nil {
			return
		}
		for _, m := range inlineLink.FindAllStringSubmatch(withoutCodeSpans(line), -1) {
			target := strings.TrimSpace(m[1])
			if t, _, ok := strings.Cut(target, " "); ok {
				target = t // [text](target "title")
			}
			out = append(out, Link{File: file, Line: n, Target: strings.Trim(target, "<>")})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return out, nil
}

// Anchors returns the fragment identifiers GitHub gives the headings of the Markdown document md:
// the heading's text in lower case, without inline code marks, link targets and punctuation other
// than - and _, spaces turned into dashes; a repeated anchor gets -1, -2… as GitHub numbers it.
func Anchors(md []byte) (map[string]bool, error) {
	anchors := map[string]bool{}
	seen := map[string]int{}
	err := eachLine(md, func(_ int, line string, block *openFence, _ bool) {
		if block != nil {
			return
		}
		title, ok := heading(line)
		if !ok {
			return
		}
		slug := Slug(title)
		if n := seen[slug]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
	})
	return anchors, err
}

// Slug is GitHub's anchor for a heading titled title: "Runbook: L1 invalidation lag" is
// "runbook-l1-invalidation-lag".
func Slug(title string) string {
	title = inlineLinkText.ReplaceAllString(title, "$1")
	title = strings.ToLower(title)
	title = slugDrop.ReplaceAllString(title, "")
	return strings.ReplaceAll(title, " ", "-")
}

// eachLine calls fn with every line of md and the fenced code block it belongs to (nil outside
// any); edge is true on the block's opening and closing fence lines. An unclosed fence is an
// error, as for Extract.
func eachLine(md []byte, fn func(n int, line string, block *openFence, edge bool)) error {
	var fence *openFence
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t\r")
		switch {
		case fence == nil:
			if f, ok := opening(line, n); ok {
				fence = &f
				fn(n, line, fence, true)
				continue
			}
			fn(n, line, nil, false)
		case fence.closes(line):
			fn(n, line, fence, true)
			fence = nil
		default:
			fn(n, line, fence, false)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if fence != nil {
		return fmt.Errorf("line %d: code block opened here is never closed", fence.line)
	}
	return nil
}

// withoutCodeSpans blanks the inline code spans of line (`like this`), where brackets are text.
func withoutCodeSpans(line string) string {
	return codeSpan.ReplaceAllStringFunc(line, func(s string) string { return strings.Repeat(" ", len(s)) })
}

var (
	// inlineLink matches [text](target); the text may hold one level of nested brackets.
	inlineLink = regexp.MustCompile(`\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(([^()\s]+(?:\s+"[^"]*")?)\)`)
	// inlineLinkText matches a link in a heading, to keep its text only.
	inlineLinkText = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	codeSpan       = regexp.MustCompile("`+[^`]*`+")
	slugDrop       = regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	scheme         = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)
