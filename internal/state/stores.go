package state

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dataresidency/operator/internal/residency"
)

// Stores is the manager's cache as a client.Reader, with what evaluation
// reads besides the workload (Namespaces' labels, ConfigMaps, ExternalName
// Services) taken from the informers' own stores, without copies: the
// cache's reader deep-copies a ConfigMap on every Get and copies every
// Service a List returns, on every admission request and every reconcile.
// PodContext and NamespaceLabels use the stores when given a *Stores. What
// they return is the cache's: read it, never modify it.
type Stores struct {
	client.Reader
	namespaces toolscache.Store
	configMaps toolscache.Store
	services   toolscache.Indexer
}

// indexExternalNames indexes the ExternalName Services by namespace.
const indexExternalNames = "residency.externalNames"

// storesOf holds the Stores built per cache: the webhook and the controllers
// share them, and an index can be added to an informer only once.
var storesOf sync.Map // Cache -> *Stores

// Cache is what NewStores reads: a reader with informers, as ctrlcache.Cache is.
type Cache interface {
	client.Reader
	ctrlcache.Informers
}

// NewStores returns the Stores of a cache (the same for every call with the
// same cache), registering the informers it reads. Call it before the cache
// starts.
func NewStores(ctx context.Context, c Cache) (*Stores, error) {
	if s, ok := storesOf.Load(c); ok {
		return s.(*Stores), nil
	}
	s := &Stores{Reader: c}
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	var siis [3]toolscache.SharedIndexInformer
	for i, obj := range []client.Object{ns, &corev1.ConfigMap{}, &corev1.Service{}} {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return nil, err
		}
		sii, ok := inf.(toolscache.SharedIndexInformer)
		if !ok {
			return nil, fmt.Errorf("state.NewStores: the cache's informer for %T is not a client-go informer", obj)
		}
		siis[i] = sii
	}
	err := siis[2].AddIndexers(toolscache.Indexers{indexExternalNames: func(obj any) ([]string, error) {
		if svc, ok := obj.(*corev1.Service); ok && svc.Spec.Type == corev1.ServiceTypeExternalName && svc.Spec.ExternalName != "" {
			return []string{svc.Namespace}, nil
		}
		return nil, nil
	}})
	if err != nil {
		return nil, err
	}
	s.namespaces, s.configMaps, s.services = siis[0].GetStore(), siis[1].GetStore(), siis[2].GetIndexer()
	actual, _ := storesOf.LoadOrStore(c, s)
	return actual.(*Stores), nil
}

// podContext is PodContext over the stores.
func (s *Stores) podContext(namespace string, spec *corev1.PodSpec) (residency.PodContext, error) {
	pc := residency.PodContext{Namespace: namespace}
	for _, name := range residency.ReferencedConfigMaps(spec) {
		item, ok, err := s.configMaps.GetByKey(namespace + "/" + name)
		if err != nil {
			return pc, err
		}
		cm, isCM := item.(*corev1.ConfigMap)
		if !ok || !isCM {
			continue
		}
		if pc.ConfigMaps == nil {
			pc.ConfigMaps = map[string]map[string]string{}
		}
		pc.ConfigMaps[name] = cm.Data
	}
	items, err := s.services.ByIndex(indexExternalNames, namespace)
	if err != nil {
		return pc, err
	}
	for _, item := range items {
		svc, ok := item.(*corev1.Service)
		if !ok {
			continue
		}
		if pc.ExternalNames == nil {
			pc.ExternalNames = make(map[string]string, len(items))
		}
		pc.ExternalNames[svc.Name+"."+svc.Namespace] = svc.Spec.ExternalName
	}
	return pc, nil
}

// NamespaceLabels returns a Namespace's labels from the cache (the cache's
// own map when r is a *Stores: read-only), and whether the Namespace is there.
func NamespaceLabels(ctx context.Context, r client.Reader, name string) (map[string]string, bool, error) {
	if s, ok := r.(*Stores); ok {
		item, found, err := s.namespaces.GetByKey(name)
		if err != nil || !found {
			return nil, false, err
		}
		if m, ok := item.(metav1.Object); ok {
			return m.GetLabels(), true, nil
		}
		return nil, false, nil
	}
	var m metav1.PartialObjectMetadata
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := r.Get(ctx, client.ObjectKey{Name: name}, &m); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil, false, nil
		}
		return nil, false, err
	}
	return m.Labels, true, nil
}
