package residency

import (
	"maps"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// EgressSettings is the ResidencyPolicy's egressPolicy, defaults filled in.
type EgressSettings struct {
	Backend v1alpha1.EgressBackend
	// AlwaysAllowHosts and AlwaysAllowCIDRs every policy allows.
	AlwaysAllowHosts, AlwaysAllowCIDRs []string
	// DNSNamespace and DNSPodLabels select the cluster DNS Pods.
	DNSNamespace string
	DNSPodLabels map[string]string
}

// DefaultEgressSettings are the settings of a policy without egressPolicy.
func DefaultEgressSettings() EgressSettings {
	return EgressSettings{
		Backend:      v1alpha1.EgressBackendNetworkPolicy,
		DNSNamespace: "kube-system",
		DNSPodLabels: map[string]string{"k8s-app": "kube-dns"},
	}
}

// egressSettingsFrom reads spec.egressPolicy onto the defaults.
func egressSettingsFrom(spec *v1alpha1.EgressPolicy, fail func(string, ...any)) EgressSettings {
	s := DefaultEgressSettings()
	if spec == nil {
		return s
	}
	switch spec.Backend {
	case "":
	case v1alpha1.EgressBackendNetworkPolicy, v1alpha1.EgressBackendCilium, v1alpha1.EgressBackendClusterNetworkPolicy:
		s.Backend = spec.Backend
	default:
		fail("spec.egressPolicy.backend: %q is not one of NetworkPolicy, Cilium, ClusterNetworkPolicy; NetworkPolicy applies", spec.Backend)
	}
	if a := spec.AlwaysAllow; a != nil {
		s.AlwaysAllowHosts, s.AlwaysAllowCIDRs = slices.Clone(a.Hosts), slices.Clone(a.CIDRs)
	}
	if d := spec.ClusterDNS; d != nil {
		if d.Namespace != "" {
			s.DNSNamespace = d.Namespace
		}
		if len(d.PodLabels) > 0 {
			s.DNSPodLabels = d.PodLabels
		}
	}
	return s
}

var egressLabel = namespaceOverride{v1alpha1.LabelEgress, []string{string(v1alpha1.EgressEnforce), string(v1alpha1.EgressAudit)},
	"no egress policy is written"}

// EgressMode is the egress mode of a namespace: its dataresidency.io/egress
// label when it is enforce or audit, else "" (no egress policy). Excluded
// namespaces (kube-system by default) never get one.
func (p Policy) EgressMode(namespace string, namespaceLabels map[string]string) v1alpha1.EgressMode {
	if p.Excluded(namespace) {
		return ""
	}
	if v, ok := egressLabel.value(namespaceLabels); ok {
		return v1alpha1.EgressMode(v)
	}
	return ""
}

// EgressPlan is what a workload's egress policy allows, and what it leaves
// out, derived from the workload's evaluation: everything a backend writes
// comes from here, so the operator and residencyctl write the same policy.
type EgressPlan struct {
	Mode     v1alpha1.EgressMode
	Settings EgressSettings
	// PodSelector selects the workload's pods (nil: none can be, and no
	// policy is written).
	PodSelector *metav1.LabelSelector
	// HostNetwork is true when the pods use the node's network: no network
	// policy applies to them, and none is written.
	HostNetwork bool
	// Allowed are the Subprocessors whose flows from the workload are not
	// Violations (an accepted risk counts as allowed), with their claims.
	Allowed []EgressGrant
	// Cut are the flows the policy leaves out: under enforce the network
	// denies them.
	Cut []EgressCut
}

// EgressGrant is one Subprocessor's egress claims, allowed.
type EgressGrant struct {
	Subprocessor string
	Hosts, CIDRs []string
}

// EgressCut is a flow an egress policy leaves out: a Subprocessor's claims
// (Subprocessor set) or an endpoint nobody claims (Endpoint set).
type EgressCut struct {
	Subprocessor string
	Endpoint     string
	// Hosts and CIDRs are what is left out.
	Hosts, CIDRs []string
	// Reason is the finding's reason code; Message says why in its words.
	Reason  Reason
	Message string
	// Source is where the flow was found (declared, discovered, observed).
	Source string
}

// EgressPlan derives a workload's egress policy from its evaluation res under
// mode; nil when mode is "".
func (s *Snapshot) EgressPlan(w *Workload, res Result, mode v1alpha1.EgressMode) *EgressPlan {
	if mode == "" {
		return nil
	}
	plan := &EgressPlan{Mode: mode, Settings: s.policy.Egress, PodSelector: w.PodSelector,
		HostNetwork: w.PodSpec != nil && w.PodSpec.HostNetwork}
	// The first blocking finding of each Subprocessor, in finding order.
	blocked := map[string]*Finding{}
	for i := range res.Findings {
		f := &res.Findings[i]
		if f.Subprocessor != "" && f.Verdict == Violation && f.Exception == nil && blocked[f.Subprocessor] == nil {
			blocked[f.Subprocessor] = f
		}
	}
	for _, name := range res.Subprocessors {
		var hosts, cidrs []string
		if cs, ok := s.subs[name]; ok {
			hosts, cidrs = cs.facts.hosts, cs.facts.cidrs
		}
		if f := blocked[name]; f != nil {
			plan.Cut = append(plan.Cut, EgressCut{Subprocessor: name, Hosts: hosts, CIDRs: cidrs,
				Reason: f.Reason, Message: f.Message, Source: f.Source})
			continue
		}
		plan.Allowed = append(plan.Allowed, EgressGrant{Subprocessor: name, Hosts: hosts, CIDRs: cidrs})
	}
	// Endpoints nobody claims are in no grant: cut unless alwaysAllow covers them.
	seen := map[string]bool{}
	for i := range res.Findings {
		f := &res.Findings[i]
		if f.Subprocessor != "" || f.Endpoint == "" || seen[f.Endpoint] {
			continue
		}
		seen[f.Endpoint] = true
		ep, err := ParseEndpoint(f.Endpoint)
		if err == nil {
			if _, ok := s.alwaysAllow.Match(ep); ok {
				continue
			}
		}
		cut := EgressCut{Endpoint: f.Endpoint, Reason: f.Reason, Message: f.Message, Source: f.Source}
		switch {
		case err != nil:
		case ep.Host != "":
			cut.Hosts = []string{ep.Host}
		case ep.Addr.IsValid():
			cut.CIDRs = []string{ep.Addr.String()}
		case ep.Prefix.IsValid():
			cut.CIDRs = []string{ep.Prefix.String()}
		}
		plan.Cut = append(plan.Cut, cut)
	}
	plan.Cut = stillCut(plan)
	sort.SliceStable(plan.Cut, func(i, j int) bool {
		a, b := plan.Cut[i], plan.Cut[j]
		if a.Subprocessor != b.Subprocessor {
			return a.Subprocessor < b.Subprocessor
		}
		return a.Endpoint < b.Endpoint
	})
	return plan
}

// claimsMatcher matches the given claims as one Subprocessor's.
func claimsMatcher(name string, hosts, cidrs []string) *EgressMatcher {
	return NewEgressMatcher([]*v1alpha1.Subprocessor{{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.SubprocessorSpec{Egress: &v1alpha1.Egress{Hosts: hosts, CIDRs: cidrs}},
	}})
}

// stillCut drops from each cut what the plan allows anyway (a host another
// allowed vendor or alwaysAllow claims too), and the cuts left with nothing:
// the network does not deny those.
func stillCut(plan *EgressPlan) []EgressCut {
	allowed := claimsMatcher("allowed", plan.AllowedHosts(), plan.AllowedCIDRs())
	out := plan.Cut[:0]
	for _, c := range plan.Cut {
		had := len(c.Hosts) + len(c.CIDRs)
		c.Hosts = slices.DeleteFunc(slices.Clone(c.Hosts), func(h string) bool {
			if rest, ok := strings.CutPrefix(h, "*."); ok {
				// Every name below rest is allowed when a wildcard covers one
				// no exact claim can name ("_" is no claim's).
				h = "_." + rest
			}
			_, ok := allowed.MatchHost(h)
			return ok
		})
		c.CIDRs = slices.DeleteFunc(slices.Clone(c.CIDRs), func(x string) bool {
			p, ok := parseClaimPrefix(x)
			if !ok {
				return false
			}
			_, covered := allowed.Match(Endpoint{Prefix: p}) // a prefix as wide or wider holds it
			return covered
		})
		if had > 0 && len(c.Hosts)+len(c.CIDRs) == 0 {
			continue
		}
		out = append(out, c)
	}
	return out
}

// Selectable reports whether a network policy can reach the workload's
// pods: they can be selected and do not use the node's network.
func (p *EgressPlan) Selectable() bool { return p.PodSelector != nil && !p.HostNetwork }

// AllowedHosts are the host names the plan allows (grants and alwaysAllow),
// sorted and deduplicated.
func (p *EgressPlan) AllowedHosts() []string {
	out := slices.Clone(p.Settings.AlwaysAllowHosts)
	for _, g := range p.Allowed {
		out = append(out, g.Hosts...)
	}
	return sortedUnique(out)
}

// AllowedCIDRs are the address ranges the plan allows, sorted and
// deduplicated, masked; single addresses are written as /32 or /128 ranges.
func (p *EgressPlan) AllowedCIDRs() []string {
	out := slices.Clone(p.Settings.AlwaysAllowCIDRs)
	for _, g := range p.Allowed {
		out = append(out, g.CIDRs...)
	}
	// Read as the engine matches them (parseClaimPrefix): masked, IPv4-mapped
	// forms as IPv4; what it cannot read it does not match, nor allow.
	ps := out[:0]
	for _, c := range out {
		if p, ok := parseClaimPrefix(c); ok {
			ps = append(ps, p.String())
		}
	}
	return sortedUnique(ps)
}

// Equal reports whether two plans (either may be nil) are the same.
func (p *EgressPlan) Equal(q *EgressPlan) bool {
	if p == nil || q == nil {
		return p == q
	}
	return p.Mode == q.Mode && p.HostNetwork == q.HostNetwork && equalSettings(p.Settings, q.Settings) &&
		equalSelector(p.PodSelector, q.PodSelector) &&
		slices.EqualFunc(p.Allowed, q.Allowed, func(a, b EgressGrant) bool {
			return a.Subprocessor == b.Subprocessor && slices.Equal(a.Hosts, b.Hosts) && slices.Equal(a.CIDRs, b.CIDRs)
		}) &&
		slices.EqualFunc(p.Cut, q.Cut, func(a, b EgressCut) bool {
			return a.Subprocessor == b.Subprocessor && a.Endpoint == b.Endpoint && a.Reason == b.Reason &&
				a.Message == b.Message && a.Source == b.Source && slices.Equal(a.Hosts, b.Hosts) && slices.Equal(a.CIDRs, b.CIDRs)
		})
}

func equalSettings(a, b EgressSettings) bool {
	return a.Backend == b.Backend && slices.Equal(a.AlwaysAllowHosts, b.AlwaysAllowHosts) &&
		slices.Equal(a.AlwaysAllowCIDRs, b.AlwaysAllowCIDRs) && a.DNSNamespace == b.DNSNamespace &&
		maps.Equal(a.DNSPodLabels, b.DNSPodLabels)
}

func equalSelector(a, b *metav1.LabelSelector) bool {
	if a == nil || b == nil {
		return a == b
	}
	return maps.Equal(a.MatchLabels, b.MatchLabels) &&
		slices.EqualFunc(a.MatchExpressions, b.MatchExpressions, func(x, y metav1.LabelSelectorRequirement) bool {
			return x.Key == y.Key && x.Operator == y.Operator && slices.Equal(x.Values, y.Values)
		})
}
