package state

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dataresidency/operator/internal/residency"
)

// PodContext gathers, from the cache, what egress discovery reads beyond a pod
// spec: the data of the ConfigMaps it references and the ExternalName Services
// of its namespace. Secrets are never read. A missing ConfigMap is left out
// (discovery then finds nothing in it), which is what the kubelet would see.
func PodContext(ctx context.Context, r client.Reader, namespace string, spec *corev1.PodSpec) (residency.PodContext, error) {
	pc := residency.PodContext{Namespace: namespace}
	if spec == nil {
		return pc, nil
	}
	if s, ok := r.(*Stores); ok {
		return s.podContext(namespace, spec)
	}
	for _, name := range residency.ReferencedConfigMaps(spec) {
		var cm corev1.ConfigMap
		if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &cm); err != nil {
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

// IndexServiceType indexes Services by spec.type, so that discovery lists only
// the ExternalName Services of a namespace.
const IndexServiceType = "spec.type"

// SetupIndexes registers the indexes PodContext relies on, before the cache
// starts. Both the workload controller and the admission webhook need them, so
// it is idempotent per indexer: a second call on the same manager's indexer
// does nothing (registering a field twice is an error in controller-runtime).
func SetupIndexes(ctx context.Context, idx client.FieldIndexer) error {
	if _, done := indexed.LoadOrStore(idx, struct{}{}); done {
		return nil
	}
	err := idx.IndexField(ctx, &corev1.Service{}, IndexServiceType, func(o client.Object) []string {
		return []string{string(o.(*corev1.Service).Spec.Type)}
	})
	if err != nil {
		indexed.Delete(idx)
	}
	return err
}

// indexed holds the indexers SetupIndexes has registered with.
var indexed sync.Map
