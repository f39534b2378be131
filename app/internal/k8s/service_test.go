package k8s

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sirupsen/logrus"

	"github.com/product-service-lab/product-service/app/internal/config"
	"github.com/product-service-lab/product-service/app/internal/httpapi"
)

// The repository's root, seen from this package.
const root = "../../.."

// service is what the manifests must agree with, taken from the service itself.
type service struct {
	// router is the service's real router (no store: only the probe and metrics routes answer).
	router http.Handler
	// families are the metric families the router's collectors export, by name.
	families map[string]*dto.MetricFamily
	// variables are the names config.Load reads.
	variables map[string]bool
	// documented are the names of the Configuration table (docs/configuration.md).
	documented map[string]bool
	// kubernetes is the Kubernetes page (docs/kubernetes.md).
	kubernetes string
	// uid is the Dockerfile's USER.
	uid int64
}

func newService(t *testing.T) service {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	reg := prometheus.NewRegistry()
	log := logrus.New()
	log.Out = io.Discard
	router := httpapi.New(httpapi.Deps{Gatherer: reg, Metrics: httpapi.NewMetrics(reg), Log: log}, httpapi.Options{})
	// One request, so the request counter has a series and shows up in the registry.
	router.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/health", nil))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	s := service{router: router, families: map[string]*dto.MetricFamily{}, variables: map[string]bool{}, documented: map[string]bool{}}
	for _, mf := range mfs {
		s.families[mf.GetName()] = mf
	}
	// Every variable config.Load reads passes through its lookup.
	if _, err := config.Load(func(key string) (string, bool) { s.variables[key] = true; return "", false }); err != nil {
		t.Fatalf("config.Load with an empty environment: %v", err)
	}
	kubernetes, err := os.ReadFile(root + "/docs/kubernetes.md")
	if err != nil {
		t.Fatal(err)
	}
	s.kubernetes = string(kubernetes)
	configuration, err := os.ReadFile(root + "/docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	table := string(configuration)
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z0-9_]+)` \\|").FindAllStringSubmatch(table, -1) {
		s.documented[m[1]] = true
	}
	dockerfile, err := os.ReadFile(root + "/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^USER (\d+):\d+$`).FindSubmatch(dockerfile)
	if m == nil {
		t.Fatal("Dockerfile has no numeric USER uid:gid")
	}
	for _, c := range m[1] {
		s.uid = s.uid*10 + int64(c-'0')
	}
	return s
}

// get answers a GET of path on the real router.
func (s service) get(path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.router.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}
