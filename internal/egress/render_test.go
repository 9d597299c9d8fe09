package egress

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
)

var owner = Owner{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "checkout", UID: "u-1"}

func plan(backend v1alpha1.EgressBackend, mode v1alpha1.EgressMode, hosts, cidrs []string) *residency.EgressPlan {
	s := residency.DefaultEgressSettings()
	s.Backend = backend
	return &residency.EgressPlan{
		Mode: mode, Settings: s,
		PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}},
		Allowed:     []residency.EgressGrant{{Subprocessor: "mailer", Hosts: hosts, CIDRs: cidrs}},
	}
}

func render(t *testing.T, p *residency.EgressPlan) (*unstructured.Unstructured, []Note) {
	t.Helper()
	objs, notes, err := Render(owner, p)
	if err != nil || len(objs) != 1 {
		t.Fatalf("Render: %v, %d objects", err, len(objs))
	}
	return objs[0], notes
}

func rules(u *unstructured.Unstructured) []any {
	r, _, _ := unstructured.NestedSlice(u.Object, "spec", "egress")
	return r
}

// Audit writes what enforce writes, for the pods labelled LabelTrial only
// (none unless someone opts one in): it changes nothing else, neither by
// denying nor by widening what other policies allow.
func TestAuditSelectsOnlyTrialPods(t *testing.T) {
	hosts, cidrs := []string{"api.mailer.example"}, []string{"192.0.2.0/24"}
	selectorPath := map[v1alpha1.EgressBackend][]string{
		v1alpha1.EgressBackendNetworkPolicy:        {"spec", "podSelector"},
		v1alpha1.EgressBackendCilium:               {"spec", "endpointSelector"},
		v1alpha1.EgressBackendClusterNetworkPolicy: {"spec", "subject", "pods", "podSelector"},
	}
	for backend, path := range selectorPath {
		enforce, _ := render(t, plan(backend, v1alpha1.EgressEnforce, hosts, cidrs))
		audit, _ := render(t, plan(backend, v1alpha1.EgressAudit, hosts, cidrs))
		exprs, _, _ := unstructured.NestedSlice(audit.Object, append(path, "matchExpressions")...)
		if len(exprs) != 1 || fmt.Sprint(exprs[0]) != "map[key:"+LabelTrial+" operator:Exists]" {
			t.Errorf("%s audit selector: %v", backend, exprs)
		}
		if exprs, _, _ := unstructured.NestedSlice(enforce.Object, append(path, "matchExpressions")...); len(exprs) != 0 {
			t.Errorf("%s enforce selector: %v", backend, exprs)
		}
		unstructured.RemoveNestedField(audit.Object, append(path, "matchExpressions")...)
		if a, e := fmt.Sprint(audit.Object["spec"]), fmt.Sprint(enforce.Object["spec"]); a != e {
			t.Errorf("%s: audit writes other rules than enforce:\n%s\n%s", backend, a, e)
		}
		if audit.GetLabels()[LabelMode] != "audit" {
			t.Errorf("%s audit labels %v", backend, audit.GetLabels())
		}
	}
	np, _ := render(t, plan(v1alpha1.EgressBackendNetworkPolicy, v1alpha1.EgressEnforce, hosts, cidrs))
	if s := fmt.Sprint(rules(np)); strings.Contains(s, "0.0.0.0/0") || !strings.Contains(s, "192.0.2.0/24") {
		t.Errorf("NetworkPolicy rules %s", s)
	}
	cnp, _ := render(t, plan(v1alpha1.EgressBackendCilium, v1alpha1.EgressEnforce, hosts, cidrs))
	if deny, _, _ := unstructured.NestedBool(cnp.Object, "spec", "enableDefaultDeny", "egress"); !deny {
		t.Error("Cilium: enableDefaultDeny.egress is off")
	}
	c, _ := render(t, plan(v1alpha1.EgressBackendClusterNetworkPolicy, v1alpha1.EgressEnforce, hosts, cidrs))
	tier, _, _ := unstructured.NestedString(c.Object, "spec", "tier")
	prio, _, _ := unstructured.NestedInt64(c.Object, "spec", "priority")
	last := rules(c)[len(rules(c))-1].(map[string]any)
	if tier != "Admin" || prio != 1000 || last["action"] != "Deny" {
		t.Errorf("ClusterNetworkPolicy: tier %s, priority %d, last rule %v", tier, prio, last)
	}
	if !strings.Contains(fmt.Sprint(rules(c)[1]), "nodes:map[]") {
		t.Errorf("ClusterNetworkPolicy in-cluster rule without nodes: %v", rules(c)[1])
	}
	if _, ok := c.Object["metadata"].(map[string]any)["ownerReferences"]; ok {
		t.Error("a cluster-scoped policy cannot be owned by a namespaced workload")
	}
	if c.GetNamespace() != "" || !strings.HasPrefix(c.GetName(), "dataresidency-egress-shop-deployment-checkout-") {
		t.Errorf("ClusterNetworkPolicy %s/%s", c.GetNamespace(), c.GetName())
	}
}

// Our "*.x" is any name below x: Cilium's "**.x"; network-policy-api's "*.x" already is.
func TestWildcards(t *testing.T) {
	cnp, _ := render(t, plan(v1alpha1.EgressBackendCilium, v1alpha1.EgressEnforce, []string{"*.sendgrid.net", "api.sendgrid.com"}, nil))
	got := fmt.Sprint(rules(cnp))
	if !strings.Contains(got, "matchPattern:**.sendgrid.net") || !strings.Contains(got, "matchName:api.sendgrid.com") {
		t.Errorf("toFQDNs: %s", got)
	}
	c, _ := render(t, plan(v1alpha1.EgressBackendClusterNetworkPolicy, v1alpha1.EgressEnforce, []string{"*.sendgrid.net"}, nil))
	if !strings.Contains(fmt.Sprint(rules(c)), "domainNames:[*.sendgrid.net]") {
		t.Errorf("domainNames: %v", rules(c))
	}
}

// network-policy-api bounds a peer to 25 names and a rule to 25 peers.
func TestClusterNetworkPolicyChunks(t *testing.T) {
	var hosts []string
	for i := range 700 {
		hosts = append(hosts, fmt.Sprintf("h%d.example.com", i))
	}
	c, _ := render(t, plan(v1alpha1.EgressBackendClusterNetworkPolicy, v1alpha1.EgressEnforce, hosts, []string{"192.0.2.1", "2001:db8::/33"}))
	names, nets := 0, 0
	for _, r := range rules(c) {
		peers := r.(map[string]any)["to"].([]any)
		if len(peers) > maxPeers {
			t.Fatalf("%d peers in a rule", len(peers))
		}
		for _, p := range peers {
			dn, _, _ := unstructured.NestedStringSlice(p.(map[string]any), "domainNames")
			nw, _, _ := unstructured.NestedStringSlice(p.(map[string]any), "networks")
			if len(dn) > maxPeers || len(nw) > maxPeers {
				t.Fatalf("peer of %d names, %d networks", len(dn), len(nw))
			}
			names += len(dn)
			if r.(map[string]any)["action"] == "Accept" {
				nets += len(nw)
			}
		}
	}
	if names != 700 || nets != 2 || len(rules(c)) > 25 {
		t.Errorf("%d names, %d networks in %d rules", names, nets, len(rules(c)))
	}
	// Masked ranges only; an address is a /32.
	if s := fmt.Sprint(rules(c)); !strings.Contains(s, "192.0.2.1/32") || !strings.Contains(s, "2001:db8::/33") {
		t.Errorf("networks: %s", s)
	}
}

func TestNotes(t *testing.T) {
	_, notes := render(t, plan(v1alpha1.EgressBackendNetworkPolicy, v1alpha1.EgressEnforce, []string{"api.mailer.example"}, nil))
	if len(notes) != 1 || notes[0].Reason != ReasonNotExpressible || !strings.Contains(notes[0].Message, "api.mailer.example") {
		t.Errorf("NetworkPolicy notes %+v", notes)
	}
	if _, notes := render(t, plan(v1alpha1.EgressBackendCilium, v1alpha1.EgressEnforce, []string{"api.mailer.example"}, nil)); len(notes) != 0 {
		t.Errorf("Cilium notes %+v", notes)
	}
	c, notes := render(t, plan(v1alpha1.EgressBackendClusterNetworkPolicy, v1alpha1.EgressEnforce, []string{"mailhost", "*.internal", "api.mailer.example"}, nil))
	if len(notes) != 1 || fmt.Sprint(notes[0].Hosts) != "[*.internal mailhost]" {
		t.Errorf("ClusterNetworkPolicy notes %+v", notes)
	}
	if s := fmt.Sprint(rules(c)); strings.Contains(s, "internal") || strings.Contains(s, "mailhost") || !strings.Contains(s, "api.mailer.example") {
		t.Errorf("ClusterNetworkPolicy writes what its API refuses: %s", s)
	}
	p := plan(v1alpha1.EgressBackendCilium, v1alpha1.EgressEnforce, nil, nil)
	p.PodSelector = nil
	objs, notes, err := Render(owner, p)
	if err != nil || len(objs) != 0 || len(notes) != 1 || notes[0].Reason != ReasonNoPodSelector {
		t.Errorf("without a selector: %d objects, notes %+v, %v", len(objs), notes, err)
	}
	p = plan(v1alpha1.EgressBackendNetworkPolicy, v1alpha1.EgressEnforce, nil, nil)
	p.HostNetwork = true
	objs, notes, err = Render(owner, p)
	if err != nil || len(objs) != 0 || len(notes) != 1 || notes[0].Reason != ReasonHostNetwork {
		t.Errorf("on the host network: %d objects, notes %+v, %v", len(objs), notes, err)
	}
}

func TestNameFitsAndIsStable(t *testing.T) {
	long := Owner{Kind: "Deployment", Namespace: strings.Repeat("n", 63), Name: strings.Repeat("w", 253)}
	for _, gvk := range GVKs {
		a, b := Name(long, gvk), Name(long, gvk)
		if len(a) > 253 || a != b || strings.HasSuffix(a, "-") {
			t.Errorf("%s: %q (%d)", gvk.Kind, a, len(a))
		}
	}
	other := long
	other.Name = strings.Repeat("w", 252) + "x"
	if Name(long, NetworkPolicyGVK) == Name(other, NetworkPolicyGVK) {
		t.Error("two workloads, one name")
	}
	// Cluster-scoped names hold the namespace: a hash keeps them apart.
	a := Owner{Kind: "Deployment", Namespace: "a-deployment-b", Name: "c"}
	b := Owner{Kind: "Deployment", Namespace: "a", Name: "b-deployment-c"}
	if Name(a, ClusterNetworkPolicyGVK) == Name(b, ClusterNetworkPolicyGVK) {
		t.Error("two workloads of two namespaces, one ClusterNetworkPolicy name")
	}
}
