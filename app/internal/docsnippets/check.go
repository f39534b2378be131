package docsnippets

import (
	"fmt"
	"slices"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Check parses the snippet: PromQL in full, LogQL structurally (see the package doc). The error
// names the snippet's file and line.
func (s Snippet) Check() error {
	var err error
	switch s.Lang {
	case PromQL:
		_, err = promql.ParseExpr(s.Expr)
	case LogQL:
		err = checkLogQL(s.Expr)
	default:
		err = fmt.Errorf("unknown language %q", s.Lang)
	}
	if err != nil {
		return fmt.Errorf("%s (%s): %w", s.Source(), s.Lang, err)
	}
	return nil
}

// MetricNames returns the metric names a PromQL snippet selects, sorted and without repeats
// (recording rules included); nil for LogQL.
func (s Snippet) MetricNames() ([]string, error) {
	if s.Lang != PromQL {
		return nil, nil
	}
	expr, err := promql.ParseExpr(s.Expr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Source(), err)
	}
	var names []string
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name != "" && !slices.Contains(names, name) {
			names = append(names, name)
		}
		return nil
	})
	slices.Sort(names)
	return names, nil
}

// promql is the PromQL parser the snippets are checked with (Prometheus's own, default options).
var promql = parser.NewParser(parser.Options{})
