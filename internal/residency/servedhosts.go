package residency

import (
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ServingKeys are the names under which a host is served: the host itself and
// each wildcard above it ("*.shop.io" and "*.io" for "www.shop.io"), lower
// case. A cluster serves a host when one of its Ingresses (or, in
// residencyctl's input, Gateway API routes) names one of these.
func ServingKeys(host string) []string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	keys := []string{host}
	for rest := host; ; {
		_, parent, ok := strings.Cut(rest, ".")
		if !ok || !strings.Contains(parent, ".") {
			break
		}
		keys = append(keys, "*."+parent)
		rest = parent
	}
	return keys
}

// IngressHosts are the hosts an Ingress serves: those of its rules and its
// TLS sections, lower case.
func IngressHosts(ing *networkingv1.Ingress) []string {
	var hosts []string
	for _, r := range ing.Spec.Rules {
		if r.Host != "" {
			hosts = append(hosts, strings.ToLower(r.Host))
		}
	}
	for _, t := range ing.Spec.TLS {
		for _, h := range t.Hosts {
			if h != "" {
				hosts = append(hosts, strings.ToLower(h))
			}
		}
	}
	return hosts
}

// RouteHostnames are the hosts a Gateway API route serves (spec.hostnames),
// lower case, read from the route as an unstructured object: the Gateway
// API's types are not a dependency.
func RouteHostnames(route map[string]interface{}) ([]string, error) {
	hosts, _, err := unstructured.NestedStringSlice(route, "spec", "hostnames")
	if err != nil {
		return nil, err
	}
	out := hosts[:0]
	for _, h := range hosts {
		if h != "" {
			out = append(out, strings.ToLower(h))
		}
	}
	return out, nil
}

// KnownFacts are ClusterFacts from sets read elsewhere (residencyctl's input).
type KnownFacts struct {
	// Namespaces are the Namespaces known to exist.
	Namespaces map[string]bool
	// Hosts are the served hosts, as ServingKeys spells them ("*.shop.io").
	Hosts map[string]bool
}

// NamespaceExists implements ClusterFacts.
func (f KnownFacts) NamespaceExists(name string) bool { return f.Namespaces[name] }

// ServesHost implements ClusterFacts.
func (f KnownFacts) ServesHost(host string) bool {
	for _, k := range ServingKeys(host) {
		if f.Hosts[k] {
			return true
		}
	}
	return false
}
