package state

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
//
// routes are the Gateway API routes the cluster serves (Provider.Routes).
func PodContext(ctx context.Context, r client.Reader, routes Routes, namespace string, spec *residency.PodSpec) (residency.PodContext, error) {
	pc := residency.PodContext{Namespace: namespace, Cluster: ClusterFacts{ctx: ctx, r: r, routes: routes, relied: new(bool)}}
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

// IndexIngressHost indexes Ingresses by the hosts of their rules and TLS
// sections, so that discovery knows the cluster's own public names.
const IndexIngressHost = "residency.host"

// ClusterFacts answers discovery's questions about the cluster from the cache:
// which Namespaces exist ("kafka.events:9092" names a Service when a
// Namespace "events" exists, not a host under .events) and which hosts the
// cluster's Ingresses and Gateway API routes serve (the workload's own public
// name is not egress).
type ClusterFacts struct {
	ctx    context.Context
	r      client.Reader
	routes Routes
	// relied records that an answer was yes: discovery then left a name out
	// because of the cluster, and a change of the facts can move the verdict.
	relied *bool
}

// Relied reports whether any answer of f was yes (see ReliedOnCluster).
func Relied(f residency.ClusterFacts) bool {
	cf, ok := f.(ClusterFacts)
	return ok && cf.relied != nil && *cf.relied
}

// NamespaceExists reports whether the Namespace is in the cache.
func (f ClusterFacts) NamespaceExists(name string) bool {
	_, ok, err := NamespaceLabels(f.ctx, f.r, name)
	return f.note(err == nil && ok)
}

func (f ClusterFacts) note(yes bool) bool {
	if yes && f.relied != nil {
		*f.relied = true
	}
	return yes
}

// ServesHost reports whether an Ingress or a Gateway API route of the
// cluster serves host, by name or by a wildcard above it
// (residency.ServingKeys).
func (f ClusterFacts) ServesHost(host string) bool {
	keys := residency.ServingKeys(host)
	for _, k := range keys {
		var list networkingv1.IngressList
		if err := f.r.List(f.ctx, &list, client.MatchingFields{IndexIngressHost: k}, client.UnsafeDisableDeepCopy); err == nil && len(list.Items) > 0 {
			return f.note(true)
		}
	}
	return f.note(f.routes.serves(f.ctx, keys))
}

// IngressHosts is the index function behind IndexIngressHost.
func IngressHosts(o client.Object) []string {
	ing, ok := o.(*networkingv1.Ingress)
	if !ok {
		return nil
	}
	return residency.IngressHosts(ing)
}

// SetupIndexes registers the field indexes PodContext relies on, before the
// cache starts, and returns the Gateway API route kinds the cluster serves
// (indexed too; pass them to PodContext). The manager calls it once, in
// controllers.Setup, for the controllers and the webhooks alike.
func SetupIndexes(ctx context.Context, idx client.FieldIndexer, mapper meta.RESTMapper) ([]schema.GroupVersionKind, error) {
	if err := idx.IndexField(ctx, &corev1.Service{}, IndexServiceType, func(o client.Object) []string {
		return []string{string(o.(*corev1.Service).Spec.Type)}
	}); err != nil {
		return nil, err
	}
	if err := idx.IndexField(ctx, &networkingv1.Ingress{}, IndexIngressHost, IngressHosts); err != nil {
		return nil, err
	}
	routes, err := ServedRouteKinds(mapper)
	if err != nil {
		return nil, err
	}
	for _, gvk := range routes {
		if err := idx.IndexField(ctx, NewRoute(gvk), IndexRouteHost, RouteHosts); err != nil {
			return nil, err
		}
	}
	return routes, nil
}
