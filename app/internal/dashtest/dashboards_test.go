package dashtest

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// provisionedUIDs are the data sources grafana/provisioning/datasources/datasources.yml creates,
// by uid, with their type.
var provisionedUIDs = map[string]string{"prometheus": "prometheus", "loki": "loki", "tempo": "tempo"}

// profileUIDs are the data sources of pyroscope.yml, beside datasources.yml. Their panels
// (flame graphs) query by label selector, not by expression: no query list entry, no e2e
// evaluation (the native e2e stack runs no Pyroscope).
var profileUIDs = map[string]string{"pyroscope": "grafana-pyroscope-datasource"}

// builtinUIDs are Grafana's own data sources, valid without provisioning.
var builtinUIDs = map[string]bool{"-- Grafana --": true, "-- Mixed --": true, "-- Dashboard --": true, "grafana": true}

// wantDashboards are the lab's dashboards by uid: links and the docs name them.
var wantDashboards = []string{"ps-overview", "ps-cache-lab", "ps-datastores", "ps-logs", "ps-load-test"}

// TestDashboards checks each dashboard as Grafana will load it: identity, panels, data sources
// and the variables its queries use.
func TestDashboards(t *testing.T) {
	dashboards := loadDashboards(t)
	uids, titles := map[string]string{}, map[string]string{}
	uidPattern := regexp.MustCompile(`^[a-z0-9-]{1,40}$`)
	for _, d := range dashboards {
		t.Run(d.name, func(t *testing.T) {
			uid, title := str(d.json["uid"]), str(d.json["title"])
			if !uidPattern.MatchString(uid) {
				t.Errorf("uid %q: want a fixed uid of up to 40 lower-case letters, digits and dashes", uid)
			}
			if prev, ok := uids[uid]; ok {
				t.Errorf("uid %q is also the uid of %s", uid, prev)
			}
			uids[uid] = d.name
			if title == "" {
				t.Error("no title")
			}
			if prev, ok := titles[title]; ok {
				t.Errorf("title %q is also the title of %s", title, prev)
			}
			titles[title] = d.name
			if str(d.json["description"]) == "" {
				t.Error("no description")
			}
			if id, ok := d.json["id"]; ok && id != nil {
				t.Errorf("id %v: provisioned dashboards leave id null (the uid identifies them)", id)
			}
			if v, _ := d.json["schemaVersion"].(float64); v < 36 {
				t.Errorf("schemaVersion %v: want 36 or later (data sources referenced by uid)", v)
			}
			checkPanels(t, d)
			checkDatasourceRefs(t, d)
			checkVariablesDefined(t, d)
		})
	}
	for _, uid := range wantDashboards {
		if _, ok := uids[uid]; !ok {
			t.Errorf("no dashboard has uid %s", uid)
		}
	}
}

// checkPanels: unique ids, a place on the 24-column grid, a title, and a query in every panel that
// shows data.
func checkPanels(t *testing.T, d dashboard) {
	t.Helper()
	ids := map[float64]bool{}
	for _, p := range d.panels() {
		id, _ := p["id"].(float64)
		title := str(p["title"])
		if id <= 0 {
			t.Errorf("panel %q: no id", title)
		} else if ids[id] {
			t.Errorf("panel id %v is used twice", id)
		}
		ids[id] = true
		if title == "" {
			t.Errorf("panel %v: no title", id)
		}
		g := obj(p["gridPos"])
		x, _ := g["x"].(float64)
		w, _ := g["w"].(float64)
		h, _ := g["h"].(float64)
		if w <= 0 || h <= 0 || x < 0 || x+w > 24 {
			t.Errorf("panel %v %q: gridPos %v is not on the 24-column grid", id, title, g)
		}
		switch str(p["type"]) {
		case "row", "text":
			continue
		}
		targets := list(p["targets"])
		if len(targets) == 0 {
			t.Errorf("panel %v %q: no targets", id, title)
		}
		for _, tg := range targets {
			tm := obj(tg)
			if _, profile := profileUIDs[str(obj(tm["datasource"])["uid"])]; profile {
				if strings.TrimSpace(str(tm["labelSelector"])) == "" || str(tm["profileTypeId"]) == "" {
					t.Errorf("panel %v %q: profile target %s needs a labelSelector and a profileTypeId", id, title, str(tm["refId"]))
				}
				continue
			}
			if strings.TrimSpace(str(tm["expr"])) == "" {
				t.Errorf("panel %v %q: target %s has no expr", id, title, str(tm["refId"]))
			}
		}
	}
}

// checkDatasourceRefs: every data source a panel, target, variable or annotation names is a
// provisioned one (by uid, with its type) or one of Grafana's built-ins.
func checkDatasourceRefs(t *testing.T, d dashboard) {
	t.Helper()
	check := func(where string, ref any) {
		if ref == nil {
			return
		}
		r := obj(ref)
		if r == nil {
			t.Errorf("%s: datasource %v: want a {type, uid} reference", where, ref)
			return
		}
		uid, typ := str(r["uid"]), str(r["type"])
		if builtinUIDs[uid] {
			return
		}
		want, ok := provisionedUIDs[uid]
		if !ok {
			want, ok = profileUIDs[uid]
		}
		switch {
		case !ok:
			t.Errorf("%s: datasource uid %q is not provisioned (want one of prometheus, loki, tempo, pyroscope)", where, uid)
		case typ != want:
			t.Errorf("%s: datasource %q has type %q, provisioned as %q", where, uid, typ, want)
		}
	}
	for _, p := range d.panels() {
		where := "panel " + str(p["title"])
		if str(p["type"]) != "row" && p["datasource"] == nil {
			t.Errorf("%s: no datasource (the default one may change)", where)
		}
		check(where, p["datasource"])
		for _, tg := range list(p["targets"]) {
			check(where+" target "+str(obj(tg)["refId"]), obj(tg)["datasource"])
		}
	}
	for _, v := range d.variables() {
		check("variable "+str(v["name"]), v["datasource"])
	}
	for _, a := range d.annotations() {
		check("annotation "+str(a["name"]), a["datasource"])
	}
}

// checkVariablesDefined: every variable a query uses is a template variable of the dashboard or
// a Grafana built-in ($__…), and the preset variable lists presets from cache_policy_info.
func checkVariablesDefined(t *testing.T, d dashboard) {
	t.Helper()
	defined := map[string]bool{}
	for _, v := range d.variables() {
		defined[str(v["name"])] = true
		if str(v["name"]) == "preset" && varQuery(v) != "label_values(cache_policy_info, preset)" {
			t.Errorf("variable preset: query %q, want label_values(cache_policy_info, preset)", varQuery(v))
		}
	}
	for _, q := range dashboardQueries(d) {
		for _, m := range varRef.FindAllStringSubmatch(q.raw, -1) {
			name := m[1] + m[2] + m[3]
			if !strings.HasPrefix(name, "__") && !defined[name] {
				t.Errorf("%s uses $%s, which the dashboard does not define", q.Source, name)
			}
		}
	}
}

// TestDashboardsProvisioned: the provider loads grafana/dashboards into the one lab folder, and no
// dashboard hides in a subfolder the provider would not read.
func TestDashboardsProvisioned(t *testing.T) {
	var cfg struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name      string `yaml:"name"`
			Type      string `yaml:"type"`
			Folder    string `yaml:"folder"`
			FolderUID string `yaml:"folderUid"`
			Options   struct {
				Path                      string `yaml:"path"`
				FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, providersFile, &cfg)
	if cfg.APIVersion != 1 || len(cfg.Providers) != 1 {
		t.Fatalf("want apiVersion 1 and one provider, got %+v", cfg)
	}
	p := cfg.Providers[0]
	if p.Type != "file" || p.Folder != "Product service lab" || p.FolderUID == "" ||
		p.Options.Path != "/var/lib/grafana/dashboards" || p.Options.FoldersFromFilesStructure {
		t.Errorf("provider %+v: want type file, folder \"Product service lab\" with a uid, path "+
			"/var/lib/grafana/dashboards (where compose mounts grafana/dashboards), no folders from files", p)
	}
	entries, err := os.ReadDir(dashboardsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			t.Errorf("grafana/dashboards/%s: only dashboard JSON files belong there (one folder)", e.Name())
		}
	}
}

// TestLatencyPanelShowsExemplars: the overview's latency panel asks for exemplars, the way from a
// slow request to its trace.
func TestLatencyPanelShowsExemplars(t *testing.T) {
	for _, d := range loadDashboards(t) {
		if str(d.json["uid"]) != "ps-overview" {
			continue
		}
		for _, p := range d.panels() {
			for _, tg := range list(p["targets"]) {
				if ex, _ := obj(tg)["exemplar"].(bool); ex &&
					strings.Contains(str(obj(tg)["expr"]), "app_request_latency_seconds_bucket") {
					return
				}
			}
		}
	}
	t.Error("no panel of ps-overview queries app_request_latency_seconds with exemplars on")
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
