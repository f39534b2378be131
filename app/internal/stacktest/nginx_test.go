package stacktest_test

// observability/nginx.conf, read with a small parser of nginx's syntax (directives, blocks,
// quotes, comments): the balancer listens where compose publishes it, sends every request to all
// replicas of product-service, re-resolving them, and passes the request id and trace context on.

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// directive is one nginx directive: its name, its arguments (quotes removed) and, for a block
// directive, the directives inside it.
type directive struct {
	name  string
	args  []string
	block []directive
}

// all returns the directives named name among ds.
func all(ds []directive, name string) []directive {
	var out []directive
	for _, d := range ds {
		if d.name == name {
			out = append(out, d)
		}
	}
	return out
}

// parseNginx parses nginx configuration text. It knows the syntax, not the directives: lua
// blocks and the like are out of scope.
func parseNginx(text string) ([]directive, error) {
	tokens, err := nginxTokens(text)
	if err != nil {
		return nil, err
	}
	ds, rest, err := nginxBlock(tokens, false)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, errors.New("unexpected }")
	}
	return ds, nil
}

// nginxBlock parses directives up to the end of the tokens or, inside a block, its closing brace,
// and returns the tokens after it.
func nginxBlock(tokens []string, inside bool) ([]directive, []string, error) {
	var ds []directive
	var cur *directive
	for len(tokens) > 0 {
		tok := tokens[0]
		tokens = tokens[1:]
		switch {
		case tok == ";" || tok == "{":
			if cur == nil {
				return nil, nil, fmt.Errorf("%q without a directive", tok)
			}
			if tok == "{" {
				block, rest, err := nginxBlock(tokens, true)
				if err != nil {
					return nil, nil, err
				}
				cur.block, tokens = block, rest
				if cur.block == nil {
					cur.block = []directive{}
				}
			}
			ds = append(ds, *cur)
			cur = nil
		case tok == "}":
			if cur != nil {
				return nil, nil, fmt.Errorf("directive %s not terminated by ;", cur.name)
			}
			if !inside {
				return ds, append([]string{tok}, tokens...), nil
			}
			return ds, tokens, nil
		case cur == nil:
			cur = &directive{name: unquote(tok)}
		default:
			cur.args = append(cur.args, unquote(tok))
		}
	}
	if cur != nil {
		return nil, nil, fmt.Errorf("directive %s not terminated by ;", cur.name)
	}
	if inside {
		return nil, nil, errors.New("block not closed by }")
	}
	return ds, nil, nil
}

// nginxTokens splits text into words, quoted strings (kept with their quotes, so an empty "" is a
// token) and the punctuation ; { }, dropping comments.
func nginxTokens(text string) ([]string, error) {
	var tokens []string
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case c == ';' || c == '{' || c == '}':
			tokens = append(tokens, string(c))
			i++
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(text) && text[j] != c {
				if text[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(text) {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			tokens = append(tokens, text[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(text) && !strings.ContainsRune(" \t\r\n;{}\"'", rune(text[j])) {
				j++
			}
			tokens = append(tokens, text[i:j])
			i = j
		}
	}
	return tokens, nil
}

// unquote removes the quotes of a quoted token.
func unquote(tok string) string {
	if len(tok) >= 2 && (tok[0] == '"' || tok[0] == '\'') && tok[len(tok)-1] == tok[0] {
		return tok[1 : len(tok)-1]
	}
	return tok
}

func TestParseNginx(t *testing.T) {
	text := "# comment\nevents { worker_connections 1024; }\nhttp {\n  map $a $b { default $a; \"\" x; }\n" +
		"  log_format f '$status \"q\"'; # trailing\n  server { listen 8080; location = /h { return 200 \"ok\\n\"; } }\n}\n"
	got, err := parseNginx(text)
	if err != nil {
		t.Fatal(err)
	}
	want := []directive{
		{name: "events", block: []directive{{name: "worker_connections", args: []string{"1024"}}}},
		{name: "http", block: []directive{
			{name: "map", args: []string{"$a", "$b"}, block: []directive{
				{name: "default", args: []string{"$a"}},
				{name: "", args: []string{"x"}},
			}},
			{name: "log_format", args: []string{"f", `$status "q"`}},
			{name: "server", block: []directive{
				{name: "listen", args: []string{"8080"}},
				{name: "location", args: []string{"=", "/h"}, block: []directive{{name: "return", args: []string{"200", `ok\n`}}}},
			}},
		}},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(directive{})); diff != "" {
		t.Errorf("parseNginx (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"http {", "http { listen 80 }", "}", "listen 80", "a 'b;", "; x;"} {
		if _, err := parseNginx(bad); err == nil {
			t.Errorf("parseNginx(%q) accepted it", bad)
		}
	}
}

func TestNginxConf(t *testing.T) {
	raw, err := os.ReadFile(repoRoot + "/observability/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	top, err := parseNginx(string(raw))
	if err != nil {
		t.Fatalf("nginx.conf: %v", err)
	}
	https := all(top, "http")
	if len(https) != 1 {
		t.Fatalf("nginx.conf has %d http blocks, want 1", len(https))
	}
	http := https[0].block

	t.Run("listens where compose expects", func(t *testing.T) {
		var ports []int
		for _, srv := range all(http, "server") {
			for _, l := range all(srv.block, "listen") {
				addr := l.args[0]
				if i := strings.LastIndex(addr, ":"); i >= 0 {
					addr = addr[i+1:]
				}
				n, err := strconv.Atoi(addr)
				if err != nil {
					t.Fatalf("listen %v: %v", l.args, err)
				}
				ports = append(ports, n)
			}
		}
		slices.Sort(ports)
		if diff := cmp.Diff(listens["nginx"], ports); diff != "" {
			t.Errorf("listen ports (-want +got):\n%s", diff)
		}
	})

	// The balanced server: the one listening on 8080, which compose publishes.
	var front []directive
	for _, srv := range all(http, "server") {
		for _, l := range all(srv.block, "listen") {
			if l.args[0] == "8080" || strings.HasSuffix(l.args[0], ":8080") {
				front = srv.block
			}
		}
	}
	if front == nil {
		t.Fatal("no server listens on 8080")
	}
	var root []directive
	for _, loc := range all(front, "location") {
		if slices.Equal(loc.args, []string{"/"}) {
			root = loc.block
		}
	}
	if root == nil {
		t.Fatal("the server on 8080 has no location /")
	}

	t.Run("every replica, re-resolved", func(t *testing.T) {
		pass := all(root, "proxy_pass")
		if len(pass) != 1 {
			t.Fatalf("location / has %d proxy_pass", len(pass))
		}
		name, ok := strings.CutPrefix(pass[0].args[0], "http://")
		if !ok {
			t.Fatalf("proxy_pass %v: want http://<upstream>", pass[0].args)
		}
		var group []directive
		for _, u := range all(http, "upstream") {
			if slices.Equal(u.args, []string{name}) {
				group = u.block
			}
		}
		if group == nil {
			t.Fatalf("proxy_pass names upstream %q, which is not defined", name)
		}
		servers := all(group, "server")
		if len(servers) != 1 || servers[0].args[0] != "product-service:8080" || !slices.Contains(servers[0].args[1:], "resolve") {
			t.Errorf("upstream %s servers %v, want `server product-service:8080 resolve`", name, servers)
		}
		checkAddress(t, "upstream "+name, "product-service:8080")
		if len(all(group, "zone")) != 1 {
			t.Errorf("upstream %s has no zone: `resolve` needs the group in shared memory", name)
		}
		resolvers := all(http, "resolver")
		if len(resolvers) != 1 || resolvers[0].args[0] != "127.0.0.11" {
			t.Errorf("resolver %v, want Docker's DNS 127.0.0.11", resolvers)
		} else if !slices.ContainsFunc(resolvers[0].args[1:], func(a string) bool { return strings.HasPrefix(a, "valid=") }) {
			t.Errorf("resolver %v caches answers for their TTL; set valid= so new replicas join quickly", resolvers[0].args)
		}
	})

	t.Run("request id and trace context passed on", func(t *testing.T) {
		set := map[string]string{}
		for _, h := range all(root, "proxy_set_header") {
			set[strings.ToLower(h.args[0])] = strings.Join(h.args[1:], " ")
		}
		if v := set["traceparent"]; v != "$http_traceparent" {
			t.Errorf("proxy_set_header traceparent %q, want $http_traceparent", v)
		}
		v, ok := set["x-request-id"]
		if !ok {
			t.Fatal("no proxy_set_header X-Request-ID")
		}
		// The value is the caller's id when there is one: directly, or through a map of it.
		if v != "$http_x_request_id" {
			var ok bool
			for _, m := range all(http, "map") {
				if len(m.args) == 2 && m.args[0] == "$http_x_request_id" && m.args[1] == v {
					ok = true
				}
			}
			if !ok {
				t.Errorf("X-Request-ID is set to %s, which is not the caller's $http_x_request_id", v)
			}
		}
	})
}
