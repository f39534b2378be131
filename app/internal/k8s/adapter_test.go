package k8s

import (
	"os"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/yaml"
)

// adapterValues are the prometheus-adapter Helm values of deploy/k8s/prometheus-adapter: the
// fields of the chart's rules section the file uses, decoded strictly.
type adapterValues struct {
	Rules struct {
		Default bool          `json:"default"`
		Custom  []adapterRule `json:"custom"`
	} `json:"rules"`
}

// adapterRule is one prometheus-adapter discovery rule.
type adapterRule struct {
	SeriesQuery string `json:"seriesQuery"`
	Resources   struct {
		Overrides map[string]struct {
			Resource string `json:"resource"`
		} `json:"overrides"`
	} `json:"resources"`
	Name struct {
		Matches string `json:"matches"`
		As      string `json:"as"`
	} `json:"name"`
	MetricsQuery string `json:"metricsQuery"`
}

// adapterMetric returns the custom metric name the adapter rule serves, after checking that the
// rule reads a counter the service really exports, per pod.
func adapterMetric(t *testing.T, svc service) string {
	t.Helper()
	raw, err := os.ReadFile(root + "/deploy/k8s/prometheus-adapter/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var v adapterValues
	if err := yaml.UnmarshalStrict(raw, &v); err != nil {
		t.Fatalf("prometheus-adapter values: %v", err)
	}
	rule := one(t, "prometheus-adapter rule", v.Rules.Custom)
	series, _, _ := strings.Cut(rule.SeriesQuery, "{")
	mf, ok := svc.families[series]
	if !ok || mf.GetType() != dto.MetricType_COUNTER || len(mf.GetMetric()) == 0 {
		t.Fatalf("the adapter reads %s, which is not a counter the service exports", series)
	}
	route := false
	for _, l := range mf.GetMetric()[0].GetLabel() {
		route = route || l.GetName() == "route"
	}
	if strings.Contains(rule.MetricsQuery, "route") && !route {
		t.Errorf("the adapter filters on route, which %s does not carry", series)
	}
	for _, label := range []string{"namespace", "pod"} {
		if rule.Resources.Overrides[label].Resource != label {
			t.Errorf("the adapter does not map the %s label to its resource", label)
		}
	}
	if !strings.Contains(rule.MetricsQuery, "rate(<<.Series>>") || !strings.Contains(rule.MetricsQuery, "by (<<.GroupBy>>)") {
		t.Errorf("metricsQuery %q: want a rate of the series grouped per pod", rule.MetricsQuery)
	}
	re, err := regexp.Compile(rule.Name.Matches)
	if err != nil || !re.MatchString(series) {
		t.Fatalf("name.matches %q does not match %s", rule.Name.Matches, series)
	}
	return re.ReplaceAllString(series, rule.Name.As)
}
