package state

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dataresidency/operator/internal/residency"
)

// RouteKinds are the Gateway API routes whose spec.hostnames are hosts the
// cluster serves. The Gateway API's types are not a dependency: routes are
// read as unstructured objects, spec.hostnames only.
var RouteKinds = []schema.GroupVersionKind{
	{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"},
	{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "GRPCRoute"},
}

// IndexRouteHost indexes Gateway API routes by their hostnames.
const IndexRouteHost = "residency.routeHost"

// ServedRouteKinds returns the RouteKinds the cluster serves now (their CRDs
// are installed). The cache cannot watch a kind the cluster does not serve,
// so routes whose CRDs come later are read after a restart.
func ServedRouteKinds(m meta.RESTMapper) ([]schema.GroupVersionKind, error) {
	var out []schema.GroupVersionKind
	for _, gvk := range RouteKinds {
		if _, err := m.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			if meta.IsNoMatchError(err) {
				continue
			}
			return nil, fmt.Errorf("asking whether the cluster serves %s: %w", gvk.Kind, err)
		}
		out = append(out, gvk)
	}
	return out, nil
}

// NewRoute returns an empty route object of the kind, for watches and the cache.
func NewRoute(gvk schema.GroupVersionKind) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}

// RouteHosts is the index function behind IndexRouteHost: a route's
// spec.hostnames, lower case.
func RouteHosts(o client.Object) []string {
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return nil
	}
	hosts, _ := residency.RouteHostnames(u.Object)
	return hosts
}

// Routes are the Gateway API route kinds the cluster serves and where to read
// them: a cache (the manager's client does not cache unstructured objects).
type Routes struct {
	Kinds  []schema.GroupVersionKind
	Reader client.Reader
}

// serves reports whether a route of a served kind names one of keys.
func (rs Routes) serves(ctx context.Context, keys []string) bool {
	for _, gvk := range rs.Kinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		for _, k := range keys {
			if err := rs.Reader.List(ctx, list, client.MatchingFields{IndexRouteHost: k}, client.UnsafeDisableDeepCopy); err == nil && len(list.Items) > 0 {
				return true
			}
		}
	}
	return false
}
