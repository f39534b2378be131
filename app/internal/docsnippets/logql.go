package docsnippets

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// logStages are the words a LogQL pipeline stage can start with (after its |), besides label
// filters (name op value) and line filters (|= |~ |> and their negations).
var logStages = map[string]bool{
	"json": true, "logfmt": true, "regexp": true, "pattern": true, "unpack": true,
	"line_format": true, "label_format": true, "unwrap": true, "drop": true, "keep": true,
	"decolorize": true,
}

// labelFilter is the start of a label filter stage: a label name and a comparison.
var labelFilter = regexp.MustCompile(`^\(?\s*[A-Za-z_][A-Za-z0-9_]*\s*(=~|!~|!=|==|>=|<=|=|>|<)`)

// checkLogQL checks the structure of a LogQL expression (the package doc says what it covers).
func checkLogQL(expr string) error {
	groups, err := brackets(expr)
	if err != nil {
		return err
	}
	selectors := 0
	for _, g := range groups {
		switch expr[g.open] {
		case '{':
			selectors++
			sel := expr[g.open : g.close+1]
			matchers, err := promql.ParseMetricSelector(sel)
			if err != nil {
				return fmt.Errorf("stream selector %s: %w", sel, err)
			}
			if !slices.ContainsFunc(matchers, func(m *labels.Matcher) bool { return !m.Matches("") }) {
				return fmt.Errorf("stream selector %s: Loki needs at least one non-empty matcher", sel)
			}
			if err := checkPipeline(expr[g.close+1:]); err != nil {
				return err
			}
		case '[':
			inner := strings.TrimSpace(expr[g.open+1 : g.close])
			if _, err := model.ParseDuration(inner); err != nil {
				return fmt.Errorf("range [%s]: %w", inner, err)
			}
		}
	}
	if selectors == 0 {
		return errors.New(`no stream selector ({label="value"}): every LogQL query starts from one`)
	}
	return nil
}

// group is a pair of brackets outside string literals, by offset.
type group struct{ open, close int }

// brackets finds the bracket pairs of expr outside string literals, failing on an unclosed
// string or an unbalanced bracket.
func brackets(expr string) ([]group, error) {
	pairs := map[byte]byte{')': '(', ']': '[', '}': '{'}
	var stack []int
	var groups []group
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; c {
		case '"', '`':
			end, err := stringEnd(expr, i)
			if err != nil {
				return nil, err
			}
			i = end
		case '(', '[', '{':
			stack = append(stack, i)
		case ')', ']', '}':
			if len(stack) == 0 || expr[stack[len(stack)-1]] != pairs[c] {
				return nil, fmt.Errorf("unbalanced %q at offset %d", c, i)
			}
			groups = append(groups, group{open: stack[len(stack)-1], close: i})
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("%q at offset %d is never closed", expr[stack[len(stack)-1]], stack[len(stack)-1])
	}
	return groups, nil
}

// stringEnd returns the offset of the quote that closes the string literal opening at s[i]:
// "…" with backslash escapes, or `…` raw.
func stringEnd(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case q == '"' && s[j] == '\\':
			j++
		case s[j] == q:
			return j, nil
		}
	}
	return 0, fmt.Errorf("string opened at offset %d is never closed", i)
}

// checkPipeline checks the stages at the start of rest, the text after a stream selector: each
// is a line filter, a known stage or a label filter. The pipeline ends at the range of a metric
// query, at the parenthesis closing the range function, or at the end.
func checkPipeline(rest string) error {
	for _, st := range stages(rest) {
		switch {
		case st == "":
			return errors.New("empty pipeline stage")
		case strings.IndexByte("=~>", st[0]) >= 0: // |= |~ |>
		case st[0] == '!': // != !~ !>
		case logStages[firstWord(st)]:
		case labelFilter.MatchString(st):
		default:
			return fmt.Errorf("pipeline stage %q: want a line filter (|= != |~ !~), a stage (%s) or a label filter (name op value)",
				st, strings.Join(slices.Sorted(maps.Keys(logStages)), ", "))
		}
	}
	return nil
}

// stages cuts the pipeline at the start of rest into its stages, without the | of each. A line
// filter written without | (!= "x") is a stage of its own.
func stages(rest string) []string {
	var out []string
	start, depth := -1, 0
	cut := func(end int) {
		if start >= 0 {
			out = append(out, strings.TrimSpace(rest[start:end]))
		}
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c == '"' || c == '`':
			end, err := stringEnd(rest, i)
			if err != nil {
				cut(len(rest))
				return out
			}
			i = end
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth > 0:
		case c == ')' || c == '[':
			cut(i)
			return out
		case c == '|':
			cut(i)
			start = i + 1
		case c == '!' && i+1 < len(rest) && strings.IndexByte("=~>", rest[i+1]) >= 0 && lineFilterStart(rest, start, i):
			cut(i)
			start = i
		case start < 0 && !isSpace(c):
			// After the selector, something that is no stage (by, offset…): the pipeline is over.
			return out
		}
	}
	cut(len(rest))
	return out
}

// lineFilterStart reports whether the ! at i starts a line filter (!= "x") rather than being a
// label filter's operator (status != 200): it does when no stage is open, or when the open stage
// already ends in a string.
func lineFilterStart(rest string, start, i int) bool {
	if start < 0 {
		return true
	}
	before := strings.TrimSpace(rest[start:i])
	return strings.HasSuffix(before, `"`) || strings.HasSuffix(before, "`")
}

// firstWord returns the leading lower-case word of s (a stage name).
func firstWord(s string) string {
	end := strings.IndexFunc(s, func(r rune) bool { return r != '_' && (r < 'a' || r > 'z') })
	if end < 0 {
		return s
	}
	return s[:end]
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
