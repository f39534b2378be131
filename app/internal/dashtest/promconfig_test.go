package dashtest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// scrapeConfig is the part of a scrape config these checks read.
type scrapeConfig struct {
	JobName        string `yaml:"job_name"`
	ScrapeInterval string `yaml:"scrape_interval"`
	DNSSDConfigs   []struct {
		Names []string `yaml:"names"`
		Type  string   `yaml:"type"`
		Port  int      `yaml:"port"`
	} `yaml:"dns_sd_configs"`
	StaticConfigs []struct {
		Targets []string `yaml:"targets"`
	} `yaml:"static_configs"`
}

// TestScrapeConfig: every replica of the service is found by DNS and scraped every 5 s, every
// other part of the stack every 15 s, and both rule files are loaded.
func TestScrapeConfig(t *testing.T) {
	var cfg struct {
		Global struct {
			ScrapeInterval string `yaml:"scrape_interval"`
		} `yaml:"global"`
		RuleFiles     []string       `yaml:"rule_files"`
		ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
	}
	readYAML(t, promConfigFile, &cfg)
	if cfg.Global.ScrapeInterval != "15s" {
		t.Errorf("global scrape_interval %q, want 15s", cfg.Global.ScrapeInterval)
	}
	for _, f := range []string{"rules/recording.yml", "rules/alerts.yml"} {
		if !slices.Contains(cfg.RuleFiles, f) {
			t.Errorf("rule_files %v: %s missing", cfg.RuleFiles, f)
		}
	}
	jobs := map[string]scrapeConfig{}
	for _, sc := range cfg.ScrapeConfigs {
		jobs[sc.JobName] = sc
	}
	for _, job := range []string{"product-service", "postgres", "redis", "prometheus", "loki", "tempo"} {
		if _, ok := jobs[job]; !ok {
			t.Errorf("no scrape job %s", job)
		}
	}
	svc := jobs["product-service"]
	if svc.ScrapeInterval != "5s" || len(svc.DNSSDConfigs) != 1 || len(svc.StaticConfigs) != 0 {
		t.Fatalf("job product-service %+v: want scrape_interval 5s and one dns_sd_configs", svc)
	}
	if sd := svc.DNSSDConfigs[0]; !slices.Contains(sd.Names, "product-service") || sd.Type != "A" || sd.Port != 8080 {
		t.Errorf("product-service dns_sd_configs %+v: want names [product-service], type A, port 8080", sd)
	}
	for name, sc := range jobs {
		if name != "product-service" && sc.ScrapeInterval != "" && sc.ScrapeInterval != "15s" {
			t.Errorf("job %s: scrape_interval %s, want the global 15s", name, sc.ScrapeInterval)
		}
	}
}

// TestNativeConfigSwapsTargets: the native config keeps job names, intervals and rules, and only
// swaps targets.
func TestNativeConfigSwapsTargets(t *testing.T) {
	raw, err := NativeConfig(repoRoot, map[string][]string{"product-service": {"127.0.0.1:18081", "127.0.0.1:18082"}})
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		RuleFiles     []string       `yaml:"rule_files"`
		ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.ScrapeConfigs) != 1 {
		t.Fatalf("jobs %+v: want only product-service", cfg.ScrapeConfigs)
	}
	sc := cfg.ScrapeConfigs[0]
	if sc.JobName != "product-service" || sc.ScrapeInterval != "5s" || len(sc.DNSSDConfigs) != 0 ||
		len(sc.StaticConfigs) != 1 || strings.Join(sc.StaticConfigs[0].Targets, ",") != "127.0.0.1:18081,127.0.0.1:18082" {
		t.Errorf("job %+v: want product-service every 5s on the two static targets", sc)
	}
	for _, f := range cfg.RuleFiles {
		if _, err := os.Stat(f); !filepath.IsAbs(f) || err != nil {
			t.Errorf("rule file %s: want an absolute path that exists (%v)", f, err)
		}
	}
}
