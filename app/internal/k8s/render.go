// Package k8s renders the Kubernetes manifests of deploy/k8s with kustomize and decodes every
// object strictly into its API type (k8s.io/api): an unknown kind, an unknown or misspelt field
// and a duplicate field are errors, where the API server would drop or reject them at apply time.
// Its tests check the rendered objects against the service's real routes, port and variables.
package k8s

import (
	"errors"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Objects are the rendered objects of one kustomization, by kind, in rendering order.
type Objects struct {
	Namespaces      []corev1.Namespace
	ServiceAccounts []corev1.ServiceAccount
	ConfigMaps      []corev1.ConfigMap
	Secrets         []corev1.Secret
	Services        []corev1.Service
	Deployments     []appsv1.Deployment
	HPAs            []autoscalingv2.HorizontalPodAutoscaler
	PDBs            []policyv1.PodDisruptionBudget
	ServiceMonitors []ServiceMonitor
}

// Render builds the kustomization in dir (a directory on disk) and decodes each object strictly.
func Render(dir string) (Objects, error) {
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return Objects{}, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	var objs Objects
	var errs []error
	for _, r := range resources.Resources() {
		id := fmt.Sprintf("%s %s/%s", r.GetKind(), r.GetApiVersion(), r.GetName())
		raw, err := r.MarshalJSON()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: encode: %w", id, err))
			continue
		}
		if err := objs.add(r.GetApiVersion(), r.GetKind(), raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Objects{}, fmt.Errorf("render %s: %w", dir, err)
	}
	return objs, nil
}

// add decodes one object into the slice of its kind.
func (o *Objects) add(apiVersion, kind string, raw []byte) error {
	switch apiVersion + " " + kind {
	case "v1 Namespace":
		return decodeInto(raw, &o.Namespaces, func(v corev1.Namespace) metav1ObjectMeta { return v.ObjectMeta })
	case "v1 ServiceAccount":
		return decodeInto(raw, &o.ServiceAccounts, func(v corev1.ServiceAccount) metav1ObjectMeta { return v.ObjectMeta })
	case "v1 ConfigMap":
		return decodeInto(raw, &o.ConfigMaps, func(v corev1.ConfigMap) metav1ObjectMeta { return v.ObjectMeta })
	case "v1 Secret":
		return decodeInto(raw, &o.Secrets, func(v corev1.Secret) metav1ObjectMeta { return v.ObjectMeta })
	case "v1 Service":
		return decodeInto(raw, &o.Services, func(v corev1.Service) metav1ObjectMeta { return v.ObjectMeta })
	case "apps/v1 Deployment":
		return decodeInto(raw, &o.Deployments, func(v appsv1.Deployment) metav1ObjectMeta { return v.ObjectMeta })
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return decodeInto(raw, &o.HPAs, func(v autoscalingv2.HorizontalPodAutoscaler) metav1ObjectMeta { return v.ObjectMeta })
	case "policy/v1 PodDisruptionBudget":
		return decodeInto(raw, &o.PDBs, func(v policyv1.PodDisruptionBudget) metav1ObjectMeta { return v.ObjectMeta })
	case "monitoring.coreos.com/v1 ServiceMonitor":
		return decodeInto(raw, &o.ServiceMonitors, func(v ServiceMonitor) metav1ObjectMeta { return v.ObjectMeta })
	}
	return fmt.Errorf("kind %s %s is not one this package knows: add its type", apiVersion, kind)
}

// decodeInto decodes raw strictly (case-sensitive, no unknown or duplicate fields, as the API
// server's strict field validation), checks its name and labels, and appends it to list.
func decodeInto[T any](raw []byte, list *[]T, meta func(T) metav1ObjectMeta) error {
	var v T
	strict, err := json.UnmarshalStrict(raw, &v)
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if len(strict) > 0 {
		return fmt.Errorf("decode: %w", errors.Join(strict...))
	}
	m := meta(v)
	var errs []error
	for _, msg := range validation.IsDNS1123Subdomain(m.Name) {
		errs = append(errs, fmt.Errorf("metadata.name %q: %s", m.Name, msg))
	}
	for _, e := range metav1validation.ValidateLabels(m.Labels, field.NewPath("metadata", "labels")) {
		errs = append(errs, e)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	*list = append(*list, v)
	return nil
}

// ConfigMap returns the ConfigMap named name.
func (o Objects) ConfigMap(name string) (corev1.ConfigMap, bool) {
	i := slices.IndexFunc(o.ConfigMaps, func(c corev1.ConfigMap) bool { return c.Name == name })
	if i < 0 {
		return corev1.ConfigMap{}, false
	}
	return o.ConfigMaps[i], true
}

// Secret returns the Secret named name.
func (o Objects) Secret(name string) (corev1.Secret, bool) {
	i := slices.IndexFunc(o.Secrets, func(s corev1.Secret) bool { return s.Name == name })
	if i < 0 {
		return corev1.Secret{}, false
	}
	return o.Secrets[i], true
}
