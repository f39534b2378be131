package dashtest

import (
	"regexp"
	"strings"
	"testing"
)

// datasource is one provisioned data source; jsonData is read generically.
type datasource struct {
	Name     string         `yaml:"name"`
	Type     string         `yaml:"type"`
	UID      string         `yaml:"uid"`
	URL      string         `yaml:"url"`
	JSONData map[string]any `yaml:"jsonData"`
}

// loadDatasources decodes a provisioning file (datasources.yml, pyroscope.yml) into data sources
// by uid.
func loadDatasources(t *testing.T, file string) map[string]datasource {
	t.Helper()
	var cfg struct {
		APIVersion  int          `yaml:"apiVersion"`
		Datasources []datasource `yaml:"datasources"`
	}
	readYAML(t, file, &cfg)
	if cfg.APIVersion != 1 {
		t.Errorf("apiVersion %d, want 1", cfg.APIVersion)
	}
	byUID := map[string]datasource{}
	for _, ds := range cfg.Datasources {
		if _, dup := byUID[ds.UID]; dup {
			t.Errorf("uid %q provisioned twice", ds.UID)
		}
		byUID[ds.UID] = ds
	}
	return byUID
}

// TestDatasources: the three data sources have their fixed uids and types, and link metrics, logs
// and traces: exemplars and log lines lead to Tempo, traces lead to their logs and metrics.
func TestDatasources(t *testing.T) {
	byUID := loadDatasources(t, datasourcesFile)
	for uid, typ := range provisionedUIDs {
		ds, ok := byUID[uid]
		switch {
		case !ok:
			t.Fatalf("no data source with uid %s", uid)
		case ds.Type != typ:
			t.Errorf("data source %s: type %q, want %q", uid, ds.Type, typ)
		case !strings.HasPrefix(ds.URL, "http://"):
			t.Errorf("data source %s: url %q", uid, ds.URL)
		}
	}
	if len(byUID) != len(provisionedUIDs) {
		t.Errorf("provisioned %v, want exactly %v", sortedKeys(byUID), sortedKeys(provisionedUIDs))
	}

	t.Run("exemplars lead to Tempo", func(t *testing.T) {
		for _, d := range list(byUID["prometheus"].JSONData["exemplarTraceIdDestinations"]) {
			if str(obj(d)["name"]) == "trace_id" && str(obj(d)["datasourceUid"]) == "tempo" {
				return
			}
		}
		t.Error("prometheus: no exemplarTraceIdDestinations {name: trace_id, datasourceUid: tempo}")
	})

	t.Run("log lines lead to Tempo", func(t *testing.T) {
		// A request line as the service writes it (telemetry.Formatter).
		line := `{"app":"product-service","level":"info","msg":"request","route":"/api/v1/products/:id",` +
			`"status":200,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}`
		for _, f := range list(byUID["loki"].JSONData["derivedFields"]) {
			fm := obj(f)
			if str(fm["datasourceUid"]) != "tempo" {
				continue
			}
			re, err := regexp.Compile(str(fm["matcherRegex"]))
			if err != nil {
				t.Fatalf("derived field %s: %v", str(fm["name"]), err)
			}
			if m := re.FindStringSubmatch(line); len(m) != 2 || m[1] != "4bf92f3577b34da6a3ce929d0e0e4736" {
				t.Errorf("derived field %s: %q extracts %q from a log line, want the trace id", str(fm["name"]), re, m)
			}
			// "$$" in provisioning files is a literal "$" (Grafana expands environment variables).
			if url := str(fm["url"]); url != "$${__value.raw}" {
				t.Errorf("derived field %s: url %q, want $${__value.raw} (the trace id as the Tempo query)", str(fm["name"]), url)
			}
			return
		}
		t.Error("loki: no derived field with datasourceUid tempo")
	})

	t.Run("traces lead to logs and metrics", func(t *testing.T) {
		jd := byUID["tempo"].JSONData
		logs := obj(jd["tracesToLogsV2"])
		if str(logs["datasourceUid"]) != "loki" || logs["filterByTraceID"] != true {
			t.Errorf("tempo tracesToLogsV2 %v: want datasourceUid loki and filterByTraceID true", logs)
		}
		for _, key := range []string{"tracesToMetrics", "serviceMap"} {
			if str(obj(jd[key])["datasourceUid"]) != "prometheus" {
				t.Errorf("tempo %s %v: want datasourceUid prometheus", key, jd[key])
			}
		}
		if obj(jd["nodeGraph"])["enabled"] != true {
			t.Error("tempo: nodeGraph is not enabled")
		}
		if str(obj(jd["lokiSearch"])["datasourceUid"]) != "loki" {
			t.Error("tempo: lokiSearch does not use loki")
		}
	})
}

// TestProfileDatasource: pyroscope.yml provisions the data sources profile panels use
// (profileUIDs), with their types.
func TestProfileDatasource(t *testing.T) {
	byUID := loadDatasources(t, profileDatasourcesFile)
	for uid, typ := range profileUIDs {
		if ds, ok := byUID[uid]; !ok || ds.Type != typ {
			t.Errorf("%s: data source %s is %+v, want type %s", profileDatasourcesFile, uid, ds, typ)
		}
	}
}
