package k8s

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRenderIsStrict: what the API server would drop or reject fails rendering here.
func TestRenderIsStrict(t *testing.T) {
	const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  %s: 2
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
        - name: app
          image: app:1
`
	tests := []struct {
		name     string
		resource string
		wantErr  string // "" renders
	}{
		{"valid", strings.Replace(deployment, "%s", "replicas", 1), ""},
		{"misspelt field", strings.Replace(deployment, "%s", "replica", 1), `unknown field "spec.replica"`},
		{"wrong case", strings.Replace(deployment, "%s", "Replicas", 1), `unknown field "spec.Replicas"`},
		{"unknown kind", "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: app\n", "not one this package knows"},
		{"kind under the wrong API version", "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata:\n  name: app\n", "not one this package knows"},
		{"bad label value", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  labels: {app: 'not valid!'}\n", "metadata.labels"},
		{"bad name", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: App_1\n", "metadata.name"},
		{"unknown ServiceMonitor field", `apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: app
spec:
  selector: {matchLabels: {app: app}}
  endpoints:
    - port: http
      honorLabel: true
`, `unknown field "spec.endpoints[0].honorLabel"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name, content string) {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			write("kustomization.yaml", "resources:\n  - resource.yaml\n")
			write("resource.yaml", tt.resource)
			_, err := Render(dir)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Render error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
