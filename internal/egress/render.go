// Package egress writes a workload's egress plan (residency.EgressPlan) as
// the network policy of a backend: a NetworkPolicy, a CiliumNetworkPolicy or
// a ClusterNetworkPolicy. It is pure: the operator applies what it returns,
// residencyctl egress prints it.
package egress

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
)

// Labels and annotations of the policies written.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "dataresidency-operator"
	// LabelMode is enforce or audit.
	LabelMode = "dataresidency.io/egress-mode"
	// AnnotationWorkload names the workload a policy is for: "Deployment/shop/checkout".
	AnnotationWorkload = "dataresidency.io/workload"
	// AnnotationAllowed lists the Subprocessors whose claims it allows.
	AnnotationAllowed = "dataresidency.io/allowed-subprocessors"
	// AnnotationCut lists those it leaves out, with the reason.
	AnnotationCut = "dataresidency.io/cut-subprocessors"
	// LabelTrial on a pod puts it under its workload's audit policy: under
	// audit the policies select only pods with this label (none unless
	// someone adds it), so they change nothing until a pod, or enforce, opts in.
	LabelTrial = "dataresidency.io/egress-trial"
)

// The kinds written, one per backend.
var (
	NetworkPolicyGVK        = networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy")
	CiliumNetworkPolicyGVK  = schema.GroupVersionKind{Group: "cilium.io", Version: "v2", Kind: "CiliumNetworkPolicy"}
	ClusterNetworkPolicyGVK = schema.GroupVersionKind{Group: cnpv1beta1.GroupVersion.Group, Version: cnpv1beta1.GroupVersion.Version, Kind: "ClusterNetworkPolicy"}
)

// GVKs are the kinds of every backend.
var GVKs = []schema.GroupVersionKind{NetworkPolicyGVK, CiliumNetworkPolicyGVK, ClusterNetworkPolicyGVK}

// GVKOf is the kind a backend writes.
func GVKOf(b v1alpha1.EgressBackend) schema.GroupVersionKind {
	switch b {
	case v1alpha1.EgressBackendCilium:
		return CiliumNetworkPolicyGVK
	case v1alpha1.EgressBackendClusterNetworkPolicy:
		return ClusterNetworkPolicyGVK
	}
	return NetworkPolicyGVK
}

// Owner is the workload a policy is written for.
type Owner struct {
	APIVersion, Kind, Namespace, Name string
	UID                               types.UID
}

// Key is the owner as AnnotationWorkload writes it ("Deployment/shop/checkout",
// as findings.Key.String does).
func (o Owner) Key() string { return o.Kind + "/" + o.Namespace + "/" + o.Name }

// Note is something the backend cannot express of a plan, stated in the
// workload's Report rather than silently allowed or dropped.
type Note struct {
	// Reason is EgressNotExpressible or EgressNoPodSelector.
	Reason  string
	Message string
	// Hosts are the host names concerned.
	Hosts []string
}

// Note reasons.
const (
	ReasonNotExpressible = "EgressNotExpressible"
	ReasonNoPodSelector  = "EgressNoPodSelector"
	ReasonHostNetwork    = "EgressHostNetwork"
)

// Priority is the ClusterNetworkPolicy priority the operator writes: the
// last of the Admin tier (0 is evaluated first), so that a platform's own
// Admin policies come first, and the in-cluster Pass skips none of them.
const Priority = 1000

// Render writes plan as its backend's policy for owner. It returns no object
// when the workload's pods cannot be selected (a Note says so).
func Render(owner Owner, plan *residency.EgressPlan) ([]*unstructured.Unstructured, []Note, error) {
	if plan == nil {
		return nil, nil, nil
	}
	notes := Notes(owner, plan)
	if !plan.Selectable() {
		return nil, notes, nil
	}
	var obj any
	switch plan.Settings.Backend {
	case v1alpha1.EgressBackendCilium:
		var err error
		if obj, err = cilium(plan); err != nil {
			return nil, nil, err
		}
	case v1alpha1.EgressBackendClusterNetworkPolicy:
		obj = clusterNetworkPolicy(owner, plan)
	default:
		obj = networkPolicy(plan)
	}
	u, err := toUnstructured(obj)
	if err != nil {
		return nil, nil, err
	}
	gvk := GVKOf(plan.Settings.Backend)
	u.SetGroupVersionKind(gvk)
	u.SetName(Name(owner, gvk))
	if gvk != ClusterNetworkPolicyGVK {
		u.SetNamespace(owner.Namespace)
		// Removed with the workload by the garbage collector. A cluster-scoped
		// ClusterNetworkPolicy cannot be owned by a namespaced object: the
		// operator deletes it (AnnotationWorkload names the workload).
		// Offline (residencyctl egress) the UID is unknown and there is none.
		if owner.UID != "" {
			u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: owner.APIVersion, Kind: owner.Kind, Name: owner.Name, UID: owner.UID}})
		}
	}
	u.SetLabels(map[string]string{LabelManagedBy: ManagedBy, LabelMode: string(plan.Mode)})
	ann := map[string]string{AnnotationWorkload: owner.Key()}
	var allowed, cut []string
	for _, g := range plan.Allowed {
		allowed = append(allowed, g.Subprocessor)
	}
	for _, c := range plan.Cut {
		if c.Subprocessor != "" {
			cut = append(cut, c.Subprocessor+" ("+string(c.Reason)+")")
		}
	}
	if len(allowed) > 0 {
		ann[AnnotationAllowed] = strings.Join(allowed, ", ")
	}
	if len(cut) > 0 {
		ann[AnnotationCut] = strings.Join(cut, ", ")
	}
	u.SetAnnotations(ann)
	return []*unstructured.Unstructured{u}, notes, nil
}

// Notes says what plan's backend cannot express of it.
func Notes(owner Owner, plan *residency.EgressPlan) []Note {
	if plan == nil {
		return nil
	}
	if plan.HostNetwork {
		return []Note{{Reason: ReasonHostNetwork, Message: fmt.Sprintf(
			"no egress policy is written: the %s's pods use the node's network (hostNetwork), which network policies do not reach", owner.Kind)}}
	}
	if plan.PodSelector == nil {
		return []Note{{Reason: ReasonNoPodSelector, Message: fmt.Sprintf(
			"no egress policy is written: %s has neither a pod selector nor pod labels to select its pods by", owner.Kind)}}
	}
	var unexpressed []string
	switch plan.Settings.Backend {
	case v1alpha1.EgressBackendCilium:
		return nil
	case v1alpha1.EgressBackendClusterNetworkPolicy:
		for _, h := range plan.AllowedHosts() {
			if !domainName.MatchString(h) {
				unexpressed = append(unexpressed, h)
			}
		}
		if len(unexpressed) > 0 {
			return []Note{{Reason: ReasonNotExpressible, Hosts: unexpressed, Message: fmt.Sprintf(
				"a ClusterNetworkPolicy's domainNames cannot hold %s (a name of one label, or a wildcard over a top-level domain): the policy denies them",
				strings.Join(unexpressed, ", "))}}
		}
		return nil
	}
	hosts := plan.AllowedHosts()
	if len(hosts) == 0 {
		return nil
	}
	verb := "denies"
	if plan.Mode == v1alpha1.EgressAudit {
		verb = "would deny"
	}
	return []Note{{Reason: ReasonNotExpressible, Hosts: hosts, Message: fmt.Sprintf(
		"a NetworkPolicy cannot allow host names: %s; the policy %s them unless their addresses are in a CIDR claim (the Cilium and ClusterNetworkPolicy backends allow names)",
		strings.Join(hosts, ", "), verb)}}
}

// domainName is network-policy-api v1beta1's DomainName pattern.
var domainName = regexp.MustCompile(`^(\*\.)?([a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$`)

// Name is the name of owner's policy of kind gvk: "dataresidency-egress-
// <kind>-<name>" in the workload's namespace (kinds have no hyphen: no two
// workloads share one). A cluster-scoped name holds the namespace too, and
// a hash of the three, since "a-deployment-b" and "a", "b-deployment-c"
// would otherwise meet. Shortened when too long.
func Name(owner Owner, gvk schema.GroupVersionKind) string {
	sum := sha256.Sum256([]byte(owner.Key()))
	h := hex.EncodeToString(sum[:])[:10]
	n := strings.Join([]string{"dataresidency-egress", strings.ToLower(owner.Kind), owner.Name}, "-")
	if gvk == ClusterNetworkPolicyGVK {
		n = strings.Join([]string{"dataresidency-egress", owner.Namespace, strings.ToLower(owner.Kind), owner.Name, h}, "-")
	}
	if len(n) <= validation.DNS1123SubdomainMaxLength {
		return n
	}
	return strings.TrimRight(n[:validation.DNS1123SubdomainMaxLength-11], "-.") + "-" + h
}

// podSelector is the plan's pod selector; under audit it also requires
// LabelTrial, which no pod carries unless someone opts it in.
func podSelector(plan *residency.EgressPlan) *metav1.LabelSelector {
	sel := plan.PodSelector.DeepCopy()
	if plan.Mode == v1alpha1.EgressAudit {
		sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: LabelTrial, Operator: metav1.LabelSelectorOpExists})
	}
	return sel
}

func toUnstructured(obj any) (*unstructured.Unstructured, error) {
	if m, ok := obj.(map[string]any); ok {
		return &unstructured.Unstructured{Object: m}, nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	// Typed objects render an empty creationTimestamp and status: not ours to write.
	unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(m, "status")
	return &unstructured.Unstructured{Object: m}, nil
}

// dnsPort is the cluster DNS port.
const dnsPort = 53

// networkPolicy allows DNS to the cluster DNS, every Pod of the cluster and
// the CIDR claims; a NetworkPolicy has no host names, so host claims are
// noted, not allowed.
func networkPolicy(plan *residency.EgressPlan) *networkingv1.NetworkPolicy {
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	port := intstr.FromInt32(dnsPort)
	s := plan.Settings
	np := &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{
		PodSelector: *podSelector(plan),
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress: []networkingv1.NetworkPolicyEgressRule{
			{
				To: []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: s.DNSNamespace}},
					PodSelector:       &metav1.LabelSelector{MatchLabels: s.DNSPodLabels},
				}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &port}, {Protocol: &tcp, Port: &port}},
			},
			// Every Pod of every namespace: in-cluster traffic is not a transfer.
			{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}},
		},
	}}
	if cidrs := plan.AllowedCIDRs(); len(cidrs) > 0 {
		rule := networkingv1.NetworkPolicyEgressRule{}
		for _, c := range cidrs {
			rule.To = append(rule.To, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}})
		}
		np.Spec.Egress = append(np.Spec.Egress, rule)
	}
	return np
}

// cilium allows DNS to the cluster DNS through Cilium's DNS proxy (which
// is how toFQDNs learns the addresses of names), the cluster entity, the
// host claims as toFQDNs and the CIDR claims as toCIDRSet, and denies the
// rest (enableDefaultDeny).
func cilium(plan *residency.EgressPlan) (map[string]any, error) {
	s := plan.Settings
	dnsLabels := map[string]any{"k8s:io.kubernetes.pod.namespace": s.DNSNamespace}
	for k, v := range s.DNSPodLabels {
		dnsLabels["k8s:"+k] = v
	}
	egress := []any{
		map[string]any{
			"toEndpoints": []any{map[string]any{"matchLabels": dnsLabels}},
			"toPorts": []any{map[string]any{
				"ports": []any{map[string]any{"port": fmt.Sprint(dnsPort), "protocol": "ANY"}},
				"rules": map[string]any{"dns": []any{map[string]any{"matchPattern": "*"}}},
			}},
		},
		map[string]any{"toEntities": []any{"cluster"}},
	}
	if hosts := plan.AllowedHosts(); len(hosts) > 0 {
		var fqdns []any
		for _, h := range hosts {
			if suffix, ok := strings.CutPrefix(h, "*."); ok {
				// Our "*.x" is any name below x: Cilium's "**." (its "*." is one label).
				fqdns = append(fqdns, map[string]any{"matchPattern": "**." + suffix})
			} else {
				fqdns = append(fqdns, map[string]any{"matchName": h})
			}
		}
		egress = append(egress, map[string]any{"toFQDNs": fqdns})
	}
	if cidrs := plan.AllowedCIDRs(); len(cidrs) > 0 {
		var set []any
		for _, c := range cidrs {
			set = append(set, map[string]any{"cidr": c})
		}
		egress = append(egress, map[string]any{"toCIDRSet": set})
	}
	sel, err := runtime.DefaultUnstructuredConverter.ToUnstructured(podSelector(plan))
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"spec": map[string]any{
			"endpointSelector":  sel,
			"enableDefaultDeny": map[string]any{"egress": true, "ingress": false},
			"egress":            egress,
		},
	}, nil
}

// maxPeers is network-policy-api's limit on a rule's peers and on a peer's
// domain names or networks.
const maxPeers = 25

// clusterNetworkPolicy selects the workload's pods in its namespace. Last in
// the Admin tier, it passes DNS and in-cluster traffic (pods and nodes) on
// to the namespace's NetworkPolicies, accepts the claims (domainNames are
// Accept only), and denies the rest.
func clusterNetworkPolicy(owner Owner, plan *residency.EgressPlan) *cnpv1beta1.ClusterNetworkPolicy {
	s := plan.Settings
	udp := cnpv1beta1.ClusterNetworkPolicyProtocol{UDP: &cnpv1beta1.ClusterNetworkPolicyProtocolUDP{DestinationPort: &cnpv1beta1.Port{Number: dnsPort}}}
	tcp := cnpv1beta1.ClusterNetworkPolicyProtocol{TCP: &cnpv1beta1.ClusterNetworkPolicyProtocolTCP{DestinationPort: &cnpv1beta1.Port{Number: dnsPort}}}
	p := &cnpv1beta1.ClusterNetworkPolicy{Spec: cnpv1beta1.ClusterNetworkPolicySpec{
		Tier:     cnpv1beta1.AdminTier,
		Priority: Priority,
		Subject: cnpv1beta1.ClusterNetworkPolicySubject{Pods: &cnpv1beta1.NamespacedPod{
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: owner.Namespace}},
			PodSelector:       *podSelector(plan),
		}},
		Egress: []cnpv1beta1.ClusterNetworkPolicyEgressRule{
			{Name: "cluster-dns", Action: cnpv1beta1.ClusterNetworkPolicyRuleActionPass, Protocols: []cnpv1beta1.ClusterNetworkPolicyProtocol{udp, tcp},
				To: []cnpv1beta1.ClusterNetworkPolicyEgressPeer{{Pods: &cnpv1beta1.NamespacedPod{
					NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: s.DNSNamespace}},
					PodSelector:       metav1.LabelSelector{MatchLabels: s.DNSPodLabels},
				}}}},
			{Name: "in-cluster", Action: cnpv1beta1.ClusterNetworkPolicyRuleActionPass,
				To: []cnpv1beta1.ClusterNetworkPolicyEgressPeer{{Namespaces: &metav1.LabelSelector{}}, {Nodes: &metav1.LabelSelector{}}}},
		},
	}}
	var names []cnpv1beta1.DomainName
	for _, h := range plan.AllowedHosts() {
		if domainName.MatchString(h) { // what it cannot take is noted (Notes)
			names = append(names, cnpv1beta1.DomainName(h))
		}
	}
	var peers []cnpv1beta1.ClusterNetworkPolicyEgressPeer
	for _, chunk := range chunks(names, maxPeers) {
		peers = append(peers, cnpv1beta1.ClusterNetworkPolicyEgressPeer{DomainNames: chunk})
	}
	var nets []cnpv1beta1.CIDR
	for _, c := range plan.AllowedCIDRs() {
		nets = append(nets, cnpv1beta1.CIDR(c))
	}
	for _, chunk := range chunks(nets, maxPeers) {
		peers = append(peers, cnpv1beta1.ClusterNetworkPolicyEgressPeer{Networks: chunk})
	}
	for i, chunk := range chunks(peers, maxPeers) {
		p.Spec.Egress = append(p.Spec.Egress, cnpv1beta1.ClusterNetworkPolicyEgressRule{
			Name: fmt.Sprintf("subprocessors-%d", i+1), Action: cnpv1beta1.ClusterNetworkPolicyRuleActionAccept, To: chunk})
	}
	p.Spec.Egress = append(p.Spec.Egress, cnpv1beta1.ClusterNetworkPolicyEgressRule{
		Name: "deny-other-egress", Action: cnpv1beta1.ClusterNetworkPolicyRuleActionDeny,
		To: []cnpv1beta1.ClusterNetworkPolicyEgressPeer{{Networks: []cnpv1beta1.CIDR{"0.0.0.0/0", "::/0"}}}})
	return p
}

// chunks splits s into slices of at most n.
func chunks[T any](s []T, n int) [][]T {
	var out [][]T
	for len(s) > n {
		out = append(out, s[:n:n])
		s = s[n:]
	}
	if len(s) > 0 {
		out = append(out, s)
	}
	return out
}
