package dashtest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/product-service-lab/product-service/app/internal/docsnippets"
)

// TestRecordingRuleNames: level:metric:operations, each name recorded once.
func TestRecordingRuleNames(t *testing.T) {
	pattern := regexp.MustCompile(`^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z0-9_]+$`)
	seen := map[string]bool{}
	for _, r := range rules(t) {
		if r.Record == "" {
			continue
		}
		if !pattern.MatchString(r.Record) {
			t.Errorf("%s: %s is not level:metric:operations", r.file, r.Record)
		}
		if seen[r.Record] {
			t.Errorf("%s: %s is recorded twice", r.file, r.Record)
		}
		seen[r.Record] = true
	}
	if len(seen) == 0 {
		t.Error("no recording rules")
	}
}

// TestAlertsDocumented: every alert has a severity, a summary, a description and a runbook that
// is a section of docs/alerts.md.
func TestAlertsDocumented(t *testing.T) {
	runbooks, err := os.ReadFile(runbooksFile)
	if err != nil {
		t.Fatal(err)
	}
	anchors, err := docsnippets.Anchors(runbooks)
	if err != nil {
		t.Fatalf("%s: %v", runbooksFile, err)
	}
	runbook := regexp.MustCompile(`^docs/alerts\.md#([a-z0-9-]+)$`)
	n := 0
	for _, r := range rules(t) {
		if r.Alert == "" {
			continue
		}
		n++
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
		}
		for _, key := range []string{"summary", "description"} {
			if strings.TrimSpace(r.Annotations[key]) == "" {
				t.Errorf("%s: no %s annotation", r.Alert, key)
			}
		}
		m := runbook.FindStringSubmatch(r.Annotations["runbook"])
		switch {
		case m == nil:
			t.Errorf("%s: runbook %q, want docs/alerts.md#<section>", r.Alert, r.Annotations["runbook"])
		case !anchors[m[1]]:
			t.Errorf("%s: runbook %s: docs/alerts.md has no heading with anchor #%s (e.g. \"## %s\")",
				r.Alert, r.Annotations["runbook"], m[1], headingFor(m[1]))
		}
	}
	if n == 0 {
		t.Error("no alerts")
	}
}

// headingFor suggests a heading that has the anchor: "runbook-cache-lock-timeouts" becomes
// "Runbook: cache lock timeouts".
func headingFor(anchor string) string {
	words := strings.Split(anchor, "-")
	if len(words) > 1 && words[0] == "runbook" {
		return "Runbook: " + strings.Join(words[1:], " ")
	}
	return strings.Join(words, " ")
}

// promtoolTests is the part of a promtool test file these checks read.
type promtoolTests struct {
	Tests []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
		PromQLExprTest []struct {
			Expr string `yaml:"expr"`
		} `yaml:"promql_expr_test"`
	} `yaml:"tests"`
}

// TestEveryAlertUnitTested: prometheus/rules/tests has, for each alert, a case where it fires and
// one where it stays silent, and some recording rules are checked by value.
func TestEveryAlertUnitTested(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(rulesTestsDir, "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	exprTests := 0
	for _, f := range files {
		var pt promtoolTests
		readYAML(t, f, &pt)
		for _, tc := range pt.Tests {
			exprTests += len(tc.PromQLExprTest)
			for _, at := range tc.AlertRuleTest {
				if len(at.ExpAlerts) > 0 {
					fires[at.Alertname] = true
				} else {
					silent[at.Alertname] = true
				}
			}
		}
	}
	for _, r := range rules(t) {
		if r.Alert == "" {
			continue
		}
		if !fires[r.Alert] {
			t.Errorf("%s: no promtool test where it fires", r.Alert)
		}
		if !silent[r.Alert] {
			t.Errorf("%s: no promtool test where it stays silent", r.Alert)
		}
	}
	if exprTests < 5 {
		t.Errorf("%d promql_expr_test cases: want recording rules checked by value", exprTests)
	}
}
