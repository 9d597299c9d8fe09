package state

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dataresidency/operator/internal/residency"
)

// The operator reads what evaluation needs besides the workload (Namespaces'
// labels, ConfigMaps, ExternalName Services) one way: the manager's cache
// through controller-runtime's client, without deep copies. What these
// functions return is the cache's own: read it, never modify it.

// PodContext gathers what egress discovery reads beyond a pod spec: the data
// of the ConfigMaps it references and the ExternalName Services of its
// namespace. Secrets are never read. A missing ConfigMap is left out
// (discovery then finds nothing in it), which is what the kubelet would see.
func PodContext(ctx context.Context, r client.Reader, namespace string, spec *residency.PodSpec) (residency.PodContext, error) {
	pc := residency.PodContext{Namespace: namespace}
	if spec == nil {
		return pc, nil
	}
	for _, name := range residency.ReferencedConfigMaps(spec) {
		var cm corev1.ConfigMap
		if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &cm, client.UnsafeDisableDeepCopy); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return pc, err
		}
		if pc.ConfigMaps == nil {
			pc.ConfigMaps = map[string]map[string]string{}
		}
		pc.ConfigMaps[name] = cm.Data
	}
	var svcs corev1.ServiceList
	if err := r.List(ctx, &svcs, client.InNamespace(namespace),
		client.MatchingFields{IndexServiceType: string(corev1.ServiceTypeExternalName)}, client.UnsafeDisableDeepCopy); err != nil {
		return pc, err
	}
	for i := range svcs.Items {
		s := &svcs.Items[i]
		if s.Spec.Type != corev1.ServiceTypeExternalName || s.Spec.ExternalName == "" {
			continue
		}
		if pc.ExternalNames == nil {
			pc.ExternalNames = map[string]string{}
		}
		pc.ExternalNames[s.Name+"."+s.Namespace] = s.Spec.ExternalName
	}
	return pc, nil
}

// NamespaceLabels returns a Namespace's labels from the cache's metadata-only
// informer (the cache's own map: read-only), and whether the Namespace is there.
func NamespaceLabels(ctx context.Context, r client.Reader, name string) (map[string]string, bool, error) {
	var m metav1.PartialObjectMetadata
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := r.Get(ctx, client.ObjectKey{Name: name}, &m, client.UnsafeDisableDeepCopy); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return m.Labels, true, nil
}

// IndexServiceType indexes Services by spec.type, so that discovery lists only
// the ExternalName Services of a namespace.
const IndexServiceType = "spec.type"

// SetupIndexes registers the field index PodContext relies on, before the
// cache starts. The manager calls it once, in controllers.Setup, for the
// controllers and the webhooks alike.
func SetupIndexes(ctx context.Context, idx client.FieldIndexer) error {
	return idx.IndexField(ctx, &corev1.Service{}, IndexServiceType, func(o client.Object) []string {
		return []string{string(o.(*corev1.Service).Spec.Type)}
	})
}
