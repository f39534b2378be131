package docsnippets

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestShellExamples: the shell examples of README.md and docs/*.md work when copied, more than
// once: a grep for a header name ignores case (Go sends X-Request-ID as X-Request-Id and ETag as
// Etag), and writes go to the product a create returned, never to a fixed id or SKU.
func TestShellExamples(t *testing.T) {
	commands := 0
	for _, file := range markdownFiles(t) {
		md, err := os.ReadFile(filepath.Join(repoRoot, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range shellCommands(file, md) {
			commands++
			for _, problem := range lintCommand(c.text) {
				t.Errorf("%s: %s\n  %s", c.source, problem, c.text)
			}
		}
	}
	if commands < 20 {
		t.Errorf("only %d shell commands found: is the sh block parser broken?", commands)
	}
}

func TestLintCommand(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		want []string
	}{
		{cmd: `curl -si localhost:8080/api/v1/products/42 | grep X-Cache`, want: []string{problemHeaderCase}},
		{cmd: `curl -si localhost:8080/api/v1/products/42 | grep -i x-cache`},
		{cmd: `curl -s -D - localhost:8080/ | grep -iE '^(etag|x-request-id)'`},
		{cmd: `curl -s -D - localhost:8080/ | grep --ignore-case ETag`},
		{cmd: `curl -sI localhost:8080/ | grep -e took -e ETag`, want: []string{problemHeaderCase}},
		{cmd: `grep -c error app.log`},
		{cmd: `curl -i -X PUT localhost:8080/api/v1/products/100001 -H 'If-Match: "100001-1"'`, want: []string{problemFixedID}},
		{cmd: `curl -i -X DELETE localhost:8080/api/v1/products/100001 -H "$T"`, want: []string{problemFixedID}},
		{cmd: `curl -i -X DELETE "localhost:8080/api/v1/products/$id" -H "$T"`},
		{cmd: `curl -X DELETE -H "$T" localhost:8080/api/v1/admin/cache/products/42`},
		{cmd: `curl -X POST localhost:8080/api/v1/products -d '{"sku":"LAMP-1","name":"x"}'`, want: []string{problemFixedSKU}},
		{cmd: `curl -X POST localhost:8080/api/v1/products -d '{"sku":"'$sku'","name":"x"}'`},
	} {
		if diff := cmp.Diff(tc.want, lintCommand(tc.cmd)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.cmd, diff)
		}
	}
}

func TestShellCommands(t *testing.T) {
	md := "```sh\n" +
		"curl -i \\\n  -H 'a: b' x   # comment\n" +
		"# only a comment\n\n" +
		"echo two\n" +
		"```\n" +
		"```promql\nnot_shell\n```\n" +
		"```bash\necho three\n```\n"
	var got []string
	for _, c := range shellCommands("f.md", []byte(md)) {
		got = append(got, c.source+" "+c.text)
	}
	want := []string{"f.md:2 curl -i -H 'a: b' x   # comment", "f.md:6 echo two", "f.md:12 echo three"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
}

// The problems lintCommand reports.
const (
	problemHeaderCase = "grep for a header name without -i: Go sends header names in canonical form (Etag, X-Request-Id), so a case-sensitive grep can print nothing"
	problemFixedID    = "a write to a fixed product id works once: create the product, then use the id it returned"
	problemFixedSKU   = "a create with a fixed SKU works once (the second gets 409 duplicate-sku): make the SKU unique"
)

// lintCommand returns what makes a shell command of the docs fail when a reader runs it, or runs
// it twice.
func lintCommand(cmd string) []string {
	var problems []string
	for _, segment := range strings.Split(cmd, "|") {
		fields := strings.Fields(segment)
		if len(fields) == 0 || fields[0] != "grep" {
			continue
		}
		ignoreCase := false
		for _, f := range fields[1:] {
			if f == "--ignore-case" || (strings.HasPrefix(f, "-") && !strings.HasPrefix(f, "--") && strings.Contains(f, "i")) {
				ignoreCase = true
			}
		}
		if !ignoreCase && headerName.MatchString(segment) {
			problems = append(problems, problemHeaderCase)
		}
	}
	if strings.HasPrefix(strings.TrimSpace(cmd), "curl") {
		if productWrite.MatchString(cmd) && fixedProductURL.MatchString(cmd) {
			problems = append(problems, problemFixedID)
		}
		if productCreate.MatchString(cmd) && fixedSKU.MatchString(cmd) {
			problems = append(problems, problemFixedSKU)
		}
	}
	return problems
}

var (
	headerName      = regexp.MustCompile(`(?i)\b(x-[a-z]+(-[a-z]+)*|etag|cache-control|location|content-type|retry-after|www-authenticate)\b`)
	productWrite    = regexp.MustCompile(`-X\s*(PUT|DELETE|PATCH)\b`)
	fixedProductURL = regexp.MustCompile(`/api/v1/products/\d+\b`)
	productCreate   = regexp.MustCompile(`-X\s*POST\b.*/api/v1/products(\s|['"]|$)|/api/v1/products(\s|['"]).*-X\s*POST\b`)
	fixedSKU        = regexp.MustCompile(`"sku"\s*:\s*"[^"$']*"`)
)

// command is one shell command of a document, its continuation lines joined.
type command struct {
	source string // file:line of its first line
	text   string
}

// shellCommands returns the commands of the sh, bash and shell blocks of md; comment lines are
// left out, a line ending in a backslash continues on the next.
func shellCommands(file string, md []byte) []command {
	var (
		out []command
		cur *command
	)
	_ = eachLine(md, func(n int, line string, block *openFence, edge bool) {
		if block == nil || edge || !shellInfo[block.info] {
			return
		}
		text := strings.TrimSpace(line)
		if cur == nil {
			if text == "" || strings.HasPrefix(text, "#") {
				return
			}
			cur = &command{source: file + ":" + strconv.Itoa(n)}
		}
		continued := strings.HasSuffix(text, "\\")
		text = strings.TrimSpace(strings.TrimSuffix(text, "\\"))
		if cur.text != "" {
			cur.text += " "
		}
		cur.text += text
		if !continued {
			out = append(out, *cur)
			cur = nil
		}
	})
	return out
}

// shellInfo are the info strings of shell blocks.
var shellInfo = map[string]bool{"sh": true, "bash": true, "shell": true, "console": true}
