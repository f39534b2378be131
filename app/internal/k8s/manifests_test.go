package k8s

import (
	"fmt"
	"net"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/product-service-lab/product-service/app/internal/cache"
	"github.com/product-service-lab/product-service/app/internal/config"
	"github.com/product-service-lab/product-service/app/internal/policyfile"
)

// overlay is one kustomization and what it must render.
type overlay struct {
	dir string
	// namespace of every namespaced object; "" leaves it to kubectl (base).
	namespace                string
	replicas                 int32
	minReplicas, maxReplicas int32
	// requestsMetric: the HPA also scales on requests per second (prometheus-adapter).
	requestsMetric bool
	// serviceMonitor: scraped through a ServiceMonitor; otherwise through pod annotations.
	serviceMonitor bool
	// generatedSecret: the overlay generates the Secret; otherwise the user creates it.
	generatedSecret bool
	// imageTag is the pinned tag; "" for base, which is never applied alone.
	imageTag string
	// policy is the preset the mounted policy file resolves to.
	policy string
}

var overlays = []overlay{
	{dir: "base", replicas: 3, minReplicas: 3, maxReplicas: 10, requestsMetric: true, policy: "protected"},
	{dir: "overlays/dev", namespace: "product-service-dev", replicas: 1, minReplicas: 1, maxReplicas: 3,
		generatedSecret: true, imageTag: "dev", policy: "custom"},
	{dir: "overlays/prod", namespace: "product-service", replicas: 3, minReplicas: 3, maxReplicas: 10,
		requestsMetric: true, serviceMonitor: true, imageTag: "1.0.0", policy: "two-level"},
}

// Names the base gives its objects; user-created objects are referenced by them.
const (
	appName       = "product-service"
	secretName    = "product-service-secrets"
	envConfigMap  = "product-service-env"
	policyMapName = "product-service-cache-policy"
	image         = "product-service-lab/product-service"
)

// userSecret holds example values of the Secret the user creates (docs/kubernetes.md), so the
// rendered environment can be passed to config.Load.
var userSecret = map[string]string{
	"DATABASE_URL":          "postgres://app:secret@postgres:5432/products?sslmode=require",
	"ADMIN_TOKEN":           "an-admin-token",
	"DATABASE_REPLICA_URLS": "postgres://app:secret@postgres-replica:5432/products?sslmode=require",
}

// postgresConnections is what the pods may open together: PostgreSQL's default max_connections
// (100) less its superuser_reserved_connections (3).
const postgresConnections = 97

func TestManifests(t *testing.T) {
	svc := newService(t)
	for _, ov := range overlays {
		t.Run(ov.dir, func(t *testing.T) {
			objs, err := Render(root + "/deploy/k8s/" + ov.dir)
			if err != nil {
				t.Fatal(err)
			}
			dep := one(t, "Deployment", objs.Deployments)
			pod := dep.Spec.Template
			ctr := one(t, "container", pod.Spec.Containers)
			env, cfg := environment(t, objs, ctr)

			t.Run("namespace", func(t *testing.T) { checkNamespace(t, ov, objs) })
			t.Run("deployment", func(t *testing.T) { checkDeployment(t, ov, dep, ctr) })
			t.Run("probes and port", func(t *testing.T) { checkProbes(t, svc, ctr, cfg) })
			t.Run("environment", func(t *testing.T) { checkEnvironment(t, svc, ov, objs, ctr, env) })
			t.Run("security", func(t *testing.T) { checkSecurity(t, svc, pod.Spec, ctr) })
			t.Run("shutdown", func(t *testing.T) { checkShutdown(t, pod.Spec, ctr, cfg) })
			t.Run("policy file", func(t *testing.T) { checkPolicyFile(t, ov, objs, pod.Spec, ctr, cfg) })
			t.Run("selectors", func(t *testing.T) { checkSelectors(t, objs, dep, ctr) })
			t.Run("autoscaling", func(t *testing.T) { checkAutoscaling(t, svc, ov, objs, dep, ctr, cfg) })
			t.Run("scraping", func(t *testing.T) { checkScraping(t, svc, ov, objs, pod, ctr) })
		})
	}
}

// one returns the only element of list.
func one[T any](t *testing.T, what string, list []T) T {
	t.Helper()
	if len(list) != 1 {
		t.Fatalf("%d %s objects, want 1", len(list), what)
	}
	return list[0]
}

// environment resolves the container's environment as the kubelet does (envFrom, then env) and
// loads it with config.Load, which must accept it.
func environment(t *testing.T, objs Objects, ctr corev1.Container) (map[string]string, config.Config) {
	t.Helper()
	env := map[string]string{}
	for _, from := range ctr.EnvFrom {
		if from.ConfigMapRef == nil || from.SecretRef != nil || from.Prefix != "" {
			t.Fatalf("envFrom %+v: only configMapRef without a prefix is expected", from)
		}
		cm, ok := objs.ConfigMap(from.ConfigMapRef.Name)
		if !ok {
			t.Fatalf("envFrom names ConfigMap %s, which is not rendered", from.ConfigMapRef.Name)
		}
		for k, v := range cm.Data {
			env[k] = v
		}
	}
	for _, e := range ctr.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			if s, ok := objs.Secret(ref.Name); ok {
				if v, ok := s.Data[ref.Key]; ok {
					env[e.Name] = string(v)
				}
			} else if v, ok := userSecret[ref.Key]; ok {
				env[e.Name] = v
			}
		default:
			t.Fatalf("env %s: only values and secretKeyRef are expected", e.Name)
		}
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("config.Load refuses the rendered environment: %v", err)
	}
	return env, cfg
}

func checkNamespace(t *testing.T, ov overlay, objs Objects) {
	metas := []metav1.ObjectMeta{}
	for _, o := range objs.ServiceAccounts {
		metas = append(metas, o.ObjectMeta)
	}
	for _, o := range objs.ConfigMaps {
		metas = append(metas, o.ObjectMeta)
	}
	for _, o := range objs.Secrets {
		metas = append(metas, o.ObjectMeta)
	}
	for _, o := range objs.Services {
		metas = append(metas, o.ObjectMeta)
	}
	for _, o := range objs.Deployments {
		metas = append(metas, o.ObjectMeta)
	}
	for _, o := range objs.HPAs {
		metas = append(metas, o.ObjectMeta)
	}
	for _, o := range objs.PDBs {
		metas = append(metas, o.ObjectMeta)
	}
	for _, o := range objs.ServiceMonitors {
		metas = append(metas, o.ObjectMeta)
	}
	for _, m := range metas {
		if m.Namespace != ov.namespace {
			t.Errorf("%s is in namespace %q, want %q", m.Name, m.Namespace, ov.namespace)
		}
	}
	if ov.namespace == "" {
		if len(objs.Namespaces) != 0 {
			t.Errorf("base renders %d Namespaces, want none", len(objs.Namespaces))
		}
		return
	}
	ns := one(t, "Namespace", objs.Namespaces)
	if ns.Name != ov.namespace {
		t.Errorf("Namespace %s, want %s", ns.Name, ov.namespace)
	}
	if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Errorf("Namespace enforces Pod Security %q, want restricted", got)
	}
}

func checkDeployment(t *testing.T, ov overlay, dep appsv1.Deployment, ctr corev1.Container) {
	if dep.Name != appName {
		t.Errorf("Deployment %s, want %s", dep.Name, appName)
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != ov.replicas {
		t.Errorf("replicas %v, want %d", dep.Spec.Replicas, ov.replicas)
	}
	if ru := dep.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("rolling update %+v: want maxUnavailable 0 (a new pod is ready before an old one stops)", ru)
	}
	wantImage := image
	if ov.imageTag != "" {
		wantImage += ":" + ov.imageTag
	}
	if ctr.Image != wantImage {
		t.Errorf("image %s, want %s", ctr.Image, wantImage)
	}
	if !slices.Equal(ctr.Args, []string{"serve"}) || len(ctr.Command) != 0 {
		t.Errorf("command %q args %q, want the image's entry point with args [serve]", ctr.Command, ctr.Args)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := ctr.Resources.Requests[r], ctr.Resources.Limits[r]
		if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
			t.Errorf("%s request %s limit %s: want both set, request ≤ limit", r, req.String(), lim.String())
		}
	}
	spread := dep.Spec.Template.Spec.TopologySpreadConstraints
	keys := []string{}
	for _, c := range spread {
		keys = append(keys, c.TopologyKey)
	}
	if !slices.Contains(keys, "topology.kubernetes.io/zone") || !slices.Contains(keys, "kubernetes.io/hostname") {
		t.Errorf("topology spread over %q, want zones and nodes", keys)
	}
}

func checkProbes(t *testing.T, svc service, ctr corev1.Container, cfg config.Config) {
	_, portText, err := net.SplitHostPort(cfg.HTTP.Addr)
	if err != nil {
		t.Fatalf("HTTP_ADDR %q: %v", cfg.HTTP.Addr, err)
	}
	port, _ := strconv.Atoi(portText)
	http := one(t, "container port", ctr.Ports)
	if int(http.ContainerPort) != port || http.Name != "http" || http.Protocol != corev1.ProtocolTCP {
		t.Errorf("container port %+v, want http %d/TCP (HTTP_ADDR %s)", http, port, cfg.HTTP.Addr)
	}
	tests := []struct {
		name           string
		probe          *corev1.Probe
		path           string
		delay, period  int32
		timeoutAtLeast time.Duration
	}{
		// /ready bounds its checks at 2 s: its probe must wait longer than that.
		{"liveness", ctr.LivenessProbe, "/health", 30, 10, time.Second},
		{"readiness", ctr.ReadinessProbe, "/ready", 5, 5, 3 * time.Second},
	}
	for _, tt := range tests {
		p := tt.probe
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe %+v: want an HTTP GET", tt.name, p)
			continue
		}
		if p.HTTPGet.Path != tt.path || p.InitialDelaySeconds != tt.delay || p.PeriodSeconds != tt.period {
			t.Errorf("%s probe %s delay %ds period %ds, want %s %ds %ds", tt.name, p.HTTPGet.Path,
				p.InitialDelaySeconds, p.PeriodSeconds, tt.path, tt.delay, tt.period)
		}
		if time.Duration(p.TimeoutSeconds)*time.Second < tt.timeoutAtLeast {
			t.Errorf("%s probe timeout %ds, want at least %s", tt.name, p.TimeoutSeconds, tt.timeoutAtLeast)
		}
		if got := resolvePort(ctr, p.HTTPGet.Port); got != int32(port) {
			t.Errorf("%s probe port %s resolves to %d, want %d", tt.name, p.HTTPGet.Port.String(), got, port)
		}
		if rec := svc.get(p.HTTPGet.Path); rec.Code != 200 {
			t.Errorf("%s probe path %s answers %d on the service's router, want 200", tt.name, p.HTTPGet.Path, rec.Code)
		}
	}
}

// resolvePort returns the container port a probe or Service port names (by name or number).
func resolvePort(ctr corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range ctr.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	return -1
}

func checkEnvironment(t *testing.T, svc service, ov overlay, objs Objects, ctr corev1.Container, env map[string]string) {
	for name := range env {
		if !svc.variables[name] {
			t.Errorf("%s is set but config.Load never reads it", name)
		}
		if !svc.documented[name] {
			t.Errorf("%s is set but not in the Configuration table (docs/configuration.md)", name)
		}
	}
	// Secrets come from the Secret only, never from the ConfigMap or a literal value.
	for _, name := range []string{"DATABASE_URL", "ADMIN_TOKEN", "DATABASE_REPLICA_URLS"} {
		i := slices.IndexFunc(ctr.Env, func(e corev1.EnvVar) bool { return e.Name == name })
		if i < 0 || ctr.Env[i].ValueFrom == nil || ctr.Env[i].ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s is not taken from a secretKeyRef", name)
			continue
		}
		ref := ctr.Env[i].ValueFrom.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		if optional != (name == "DATABASE_REPLICA_URLS") {
			t.Errorf("%s optional=%v: only DATABASE_REPLICA_URLS may be missing", name, optional)
		}
		if !ov.generatedSecret {
			// The user creates this Secret: docs/kubernetes.md says what it holds.
			if !strings.Contains(svc.kubernetes, "`"+ref.Key+"`") || !strings.Contains(svc.kubernetes, secretName) {
				t.Errorf("docs/kubernetes.md does not tell users to put %s in %s", ref.Key, secretName)
			}
			if ref.Name != secretName {
				t.Errorf("%s comes from Secret %s, want the user's %s", name, ref.Name, secretName)
			}
			continue
		}
		s, ok := objs.Secret(ref.Name)
		if !ok || !strings.HasPrefix(ref.Name, secretName+"-") {
			t.Errorf("%s comes from Secret %s, want the generated %s-<hash>", name, ref.Name, secretName)
		} else if _, has := s.Data[ref.Key]; !has && !optional {
			t.Errorf("the generated Secret %s has no %s", ref.Name, ref.Key)
		}
	}
	for _, cm := range objs.ConfigMaps {
		for k, v := range cm.Data {
			if _, secret := userSecret[k]; secret || strings.Contains(k, "TOKEN") || strings.Contains(k, "PASSWORD") ||
				strings.Contains(v, "postgres://") {
				t.Errorf("ConfigMap %s holds %s: secrets belong in the Secret", cm.Name, k)
			}
		}
	}
	if !ov.generatedSecret && len(objs.Secrets) != 0 {
		t.Errorf("%d Secrets rendered: this overlay must only reference the user's", len(objs.Secrets))
	}
	// The environment ConfigMap's name carries a content hash: a change rolls the pods.
	from := one(t, "envFrom", ctr.EnvFrom)
	if !regexp.MustCompile("^" + envConfigMap + "-[a-z0-9]{10}$").MatchString(from.ConfigMapRef.Name) {
		t.Errorf("envFrom ConfigMap %s, want %s-<hash>", from.ConfigMapRef.Name, envConfigMap)
	}
}

func checkSecurity(t *testing.T, svc service, spec corev1.PodSpec, ctr corev1.Container) {
	psc, sc := spec.SecurityContext, ctr.SecurityContext
	if psc == nil || sc == nil {
		t.Fatal("pod and container security contexts must be set")
	}
	if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != svc.uid {
		t.Errorf("pod runAsNonRoot %v runAsUser %v, want true and the Dockerfile's uid %d", psc.RunAsNonRoot, psc.RunAsUser, svc.uid)
	}
	if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccomp %+v, want RuntimeDefault", psc.SeccompProfile)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem must be true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation must be false")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Errorf("capabilities %+v, want drop [ALL] and none added", sc.Capabilities)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken must be false: the service does not call the API")
	}
	tmp := mountAt(t, spec, ctr, "/tmp")
	if tmp.EmptyDir == nil {
		t.Errorf("/tmp is %+v, want an emptyDir", tmp.VolumeSource)
	}
}

// mountAt returns the volume mounted at dir.
func mountAt(t *testing.T, spec corev1.PodSpec, ctr corev1.Container, dir string) corev1.Volume {
	t.Helper()
	i := slices.IndexFunc(ctr.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == dir })
	if i < 0 {
		t.Fatalf("nothing is mounted at %s", dir)
	}
	m := ctr.VolumeMounts[i]
	if m.SubPath != "" {
		t.Errorf("%s is a subPath mount: ConfigMap updates never reach it", dir)
	}
	j := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
	if j < 0 {
		t.Fatalf("mount %s names volume %s, which the pod does not have", dir, m.Name)
	}
	return spec.Volumes[j]
}

func checkShutdown(t *testing.T, spec corev1.PodSpec, ctr corev1.Container, cfg config.Config) {
	var pause time.Duration
	if ctr.Lifecycle != nil && ctr.Lifecycle.PreStop != nil && ctr.Lifecycle.PreStop.Sleep != nil {
		pause = time.Duration(ctr.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	if pause == 0 {
		t.Error("no preStop sleep: the pod may stop accepting before the endpoints drop it")
	}
	if spec.TerminationGracePeriodSeconds == nil {
		t.Fatal("terminationGracePeriodSeconds is unset")
	}
	grace := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	if grace <= pause+cfg.HTTP.ShutdownTimeout {
		t.Errorf("terminationGracePeriodSeconds %s ≤ preStop %s + SHUTDOWN_TIMEOUT %s: the drain is killed", grace, pause, cfg.HTTP.ShutdownTimeout)
	}
}

func checkPolicyFile(t *testing.T, ov overlay, objs Objects, spec corev1.PodSpec, ctr corev1.Container, cfg config.Config) {
	if cfg.ConfigFile == "" {
		t.Fatal("CONFIG_FILE is unset")
	}
	vol := mountAt(t, spec, ctr, path.Dir(cfg.ConfigFile))
	if vol.ConfigMap == nil || len(vol.ConfigMap.Items) != 0 {
		t.Fatalf("CONFIG_FILE's directory is %+v, want a whole ConfigMap", vol.VolumeSource)
	}
	// No hash suffix: the ConfigMap is updated in place, so the mounted file changes under the pods.
	if vol.ConfigMap.Name != policyMapName {
		t.Errorf("the policy ConfigMap is %s, want %s (no hash suffix)", vol.ConfigMap.Name, policyMapName)
	}
	cm, ok := objs.ConfigMap(vol.ConfigMap.Name)
	if !ok {
		t.Fatalf("ConfigMap %s is not rendered", vol.ConfigMap.Name)
	}
	if len(cm.Data) != 1 {
		t.Errorf("ConfigMap %s has %d keys, want only the policy file", cm.Name, len(cm.Data))
	}
	data, ok := cm.Data[path.Base(cfg.ConfigFile)]
	if !ok {
		t.Fatalf("ConfigMap %s has no key %s (CONFIG_FILE %s)", cm.Name, path.Base(cfg.ConfigFile), cfg.ConfigFile)
	}
	// The start-up policy, as the service builds it (CACHE_PRESET, then CACHE_POLICY).
	base, err := cache.Preset(cfg.Cache.Preset)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cache.Policy != "" {
		if base, err = cache.Apply(base, []byte(cfg.Cache.Policy)); err != nil {
			t.Fatal(err)
		}
	}
	p, err := policyfile.Resolve(base, []byte(data))
	if err != nil {
		t.Fatalf("the mounted policy file is refused: %v", err)
	}
	if p.Preset != ov.policy {
		t.Errorf("the policy file resolves to preset %s, want %s", p.Preset, ov.policy)
	}
}

// selects reports whether sel selects a pod with these labels.
func selects(t *testing.T, sel *metav1.LabelSelector, podLabels map[string]string) bool {
	t.Helper()
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("selector %+v: %v", sel, err)
	}
	return !s.Empty() && s.Matches(labels.Set(podLabels))
}

func checkSelectors(t *testing.T, objs Objects, dep appsv1.Deployment, ctr corev1.Container) {
	pod := dep.Spec.Template.Labels
	if !selects(t, dep.Spec.Selector, pod) {
		t.Errorf("the Deployment's selector %+v does not select its pods %v", dep.Spec.Selector, pod)
	}
	pdb := one(t, "PodDisruptionBudget", objs.PDBs)
	if !selects(t, pdb.Spec.Selector, pod) {
		t.Errorf("the PodDisruptionBudget selects %+v, not the pods %v", pdb.Spec.Selector, pod)
	}
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.MinAvailable != nil {
		t.Errorf("PodDisruptionBudget maxUnavailable %v minAvailable %v, want maxUnavailable 1", pdb.Spec.MaxUnavailable, pdb.Spec.MinAvailable)
	}
	s := one(t, "Service", objs.Services)
	if !selects(t, &metav1.LabelSelector{MatchLabels: s.Spec.Selector}, pod) {
		t.Errorf("the Service selects %v, not the pods %v", s.Spec.Selector, pod)
	}
	sp := one(t, "Service port", s.Spec.Ports)
	if resolvePort(ctr, sp.TargetPort) != one(t, "container port", ctr.Ports).ContainerPort {
		t.Errorf("the Service's targetPort %s is not the container's port", sp.TargetPort.String())
	}
	for _, c := range dep.Spec.Template.Spec.TopologySpreadConstraints {
		if !selects(t, c.LabelSelector, pod) {
			t.Errorf("topology spread over %s counts %+v, not these pods", c.TopologyKey, c.LabelSelector)
		}
	}
	sa := one(t, "ServiceAccount", objs.ServiceAccounts)
	if dep.Spec.Template.Spec.ServiceAccountName != sa.Name {
		t.Errorf("the pods run as ServiceAccount %q, want %s", dep.Spec.Template.Spec.ServiceAccountName, sa.Name)
	}
}

func checkAutoscaling(t *testing.T, svc service, ov overlay, objs Objects, dep appsv1.Deployment, ctr corev1.Container, cfg config.Config) {
	hpa := one(t, "HorizontalPodAutoscaler", objs.HPAs)
	ref := hpa.Spec.ScaleTargetRef
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != dep.Name {
		t.Errorf("the HPA scales %+v, want the Deployment %s", ref, dep.Name)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas != ov.minReplicas || hpa.Spec.MaxReplicas != ov.maxReplicas {
		t.Errorf("HPA replicas %v..%d, want %d..%d", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas, ov.minReplicas, ov.maxReplicas)
	}
	if *dep.Spec.Replicas < ov.minReplicas || *dep.Spec.Replicas > ov.maxReplicas {
		t.Errorf("Deployment replicas %d outside the HPA's %d..%d", *dep.Spec.Replicas, ov.minReplicas, ov.maxReplicas)
	}
	if conns := int(hpa.Spec.MaxReplicas) * cfg.Database.MaxOpenConns; conns > postgresConnections {
		t.Errorf("maxReplicas %d × DB_MAX_OPEN_CONNS %d = %d connections, more than PostgreSQL's default %d",
			hpa.Spec.MaxReplicas, cfg.Database.MaxOpenConns, conns, postgresConnections)
	}
	var kinds []string
	for _, m := range hpa.Spec.Metrics {
		switch {
		case m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU:
			kinds = append(kinds, "cpu")
			if m.Resource.Target.Type != autoscalingv2.UtilizationMetricType || m.Resource.Target.AverageUtilization == nil {
				t.Errorf("CPU target %+v, want a utilization", m.Resource.Target)
			}
			if cpu := ctr.Resources.Requests[corev1.ResourceCPU]; cpu.IsZero() {
				t.Error("CPU utilization needs a CPU request on the container")
			}
		case m.Type == autoscalingv2.PodsMetricSourceType && m.Pods != nil:
			kinds = append(kinds, "requests")
			if want := adapterMetric(t, svc); m.Pods.Metric.Name != want {
				t.Errorf("the HPA's Pods metric is %s, prometheus-adapter serves %s", m.Pods.Metric.Name, want)
			}
			if m.Pods.Target.Type != autoscalingv2.AverageValueMetricType || m.Pods.Target.AverageValue == nil {
				t.Errorf("requests target %+v, want an average value per pod", m.Pods.Target)
			}
		default:
			t.Errorf("unexpected HPA metric %+v", m)
		}
	}
	want := []string{"cpu"}
	if ov.requestsMetric {
		want = append(want, "requests")
	}
	if !slices.Equal(kinds, want) {
		t.Errorf("the HPA scales on %q, want %q", kinds, want)
	}
}

func checkScraping(t *testing.T, svc service, ov overlay, objs Objects, pod corev1.PodTemplateSpec, ctr corev1.Container) {
	port := one(t, "container port", ctr.Ports).ContainerPort
	scraped := pod.Annotations["prometheus.io/scrape"] == "true"
	if scraped == ov.serviceMonitor {
		t.Errorf("prometheus.io/scrape %q with serviceMonitor=%v: exactly one way of scraping", pod.Annotations["prometheus.io/scrape"], ov.serviceMonitor)
	}
	if pod.Annotations["prometheus.io/port"] != fmt.Sprint(port) || pod.Annotations["prometheus.io/path"] != "/metrics" {
		t.Errorf("scrape annotations %v, want port %d path /metrics", pod.Annotations, port)
	}
	if rec := svc.get("/metrics"); rec.Code != 200 || !strings.Contains(rec.Body.String(), "app_requests_total") {
		t.Errorf("/metrics answers %d on the service's router, want 200 with app_requests_total", rec.Code)
	}
	if !ov.serviceMonitor {
		if len(objs.ServiceMonitors) != 0 {
			t.Errorf("%d ServiceMonitors, want none", len(objs.ServiceMonitors))
		}
		return
	}
	sm := one(t, "ServiceMonitor", objs.ServiceMonitors)
	s := one(t, "Service", objs.Services)
	if !selects(t, &sm.Spec.Selector, s.Labels) {
		t.Errorf("the ServiceMonitor selects %+v, not the Service's labels %v", sm.Spec.Selector, s.Labels)
	}
	ep := one(t, "ServiceMonitor endpoint", sm.Spec.Endpoints)
	if ep.Port != one(t, "Service port", s.Spec.Ports).Name || ep.Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoint %+v, want the Service's port by name and /metrics", ep)
	}
	interval, err1 := time.ParseDuration(ep.Interval)
	timeout, err2 := time.ParseDuration(ep.ScrapeTimeout)
	if err1 != nil || err2 != nil || timeout > interval {
		t.Errorf("interval %q scrapeTimeout %q: want durations, timeout ≤ interval", ep.Interval, ep.ScrapeTimeout)
	}
}
