package residency

import (
	"fmt"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// A workload's plan allows the claims of its compliant and warned flows,
// cuts those of its violations and the endpoints nobody claims, unless
// alwaysAllow covers them.
func TestEgressPlan(t *testing.T) {
	s := evalWorld(&v1alpha1.ResidencyPolicySpec{EgressPolicy: &v1alpha1.EgressPolicy{
		Backend:     v1alpha1.EgressBackendCilium,
		AlwaysAllow: &v1alpha1.Egress{Hosts: []string{"*.registry.eu"}, CIDRs: []string{"198.51.100.0/24"}},
	}})
	d := deployment("checkout", flowAnn("eu-mail,sendgrid-ps", "user.contact.email"),
		"PAYMENTS", "https://api.unknown-psp.eu/v1", "MIRROR", "https://eu.registry.eu/x", "METRICS", "198.51.100.9:9000")
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}}
	w, _ := WorkloadOf(d)
	res := s.Evaluate(w)
	if s.EgressPlan(w, res, "") != nil {
		t.Fatal("a plan without a mode")
	}
	p := s.EgressPlan(w, res, v1alpha1.EgressEnforce)
	if p.Mode != v1alpha1.EgressEnforce || p.Settings.Backend != v1alpha1.EgressBackendCilium || p.PodSelector.MatchLabels["app"] != "checkout" {
		t.Fatalf("plan %+v", p)
	}
	if len(p.Allowed) != 1 || p.Allowed[0].Subprocessor != "eu-mail" || !slices.Equal(p.Allowed[0].Hosts, []string{"smtp.eu-mail.eu"}) {
		t.Errorf("allowed %+v", p.Allowed)
	}
	var cut []string
	for _, c := range p.Cut {
		cut = append(cut, c.Subprocessor+c.Endpoint+":"+string(c.Reason))
	}
	want := []string{"api.unknown-psp.eu:" + string(ReasonUnattributedEgress), "sendgrid-ps:" + string(ReasonBasisNotValid)}
	if !slices.Equal(cut, want) {
		t.Errorf("cut %v, want %v", cut, want)
	}
	if got := p.AllowedHosts(); !slices.Equal(got, []string{"*.registry.eu", "smtp.eu-mail.eu"}) {
		t.Errorf("hosts %v", got)
	}
	if got := p.AllowedCIDRs(); !slices.Equal(got, []string{"198.51.100.0/24"}) {
		t.Errorf("cidrs %v", got)
	}

	// An accepted risk is allowed: the exception, not the network, decides.
	for i := range res.Findings {
		if res.Findings[i].Subprocessor == "sendgrid-ps" {
			res.Findings[i].Exception = &FindingException{Name: "psp-migration"}
		}
	}
	p2 := s.EgressPlan(w, res, v1alpha1.EgressEnforce)
	if len(p2.Allowed) != 2 || len(p2.Cut) != 1 || p2.Equal(p) {
		t.Errorf("excepted flow not allowed: %+v, cut %+v", p2.Allowed, p2.Cut)
	}

	if got := s.EgressPlan(w, res, v1alpha1.EgressEnforce); got.Selectable() != true {
		t.Error("a Deployment with a selector is not selectable")
	}
	ws := *w
	ws.PodSpec = &PodSpec{HostNetwork: true}
	if s.EgressPlan(&ws, res, v1alpha1.EgressEnforce).Selectable() {
		t.Error("hostNetwork pods are selectable")
	}
	if !p.Equal(s.EgressPlan(w, s.Evaluate(w), v1alpha1.EgressEnforce)) {
		t.Error("the same evaluation gives another plan")
	}
}

func TestEgressMode(t *testing.T) {
	p := DefaultPolicy()
	label := func(v string) map[string]string { return map[string]string{v1alpha1.LabelEgress: v} }
	for _, tc := range []struct {
		ns, label string
		want      v1alpha1.EgressMode
	}{
		{"shop", "enforce", v1alpha1.EgressEnforce},
		{"shop", "audit", v1alpha1.EgressAudit},
		{"shop", "Enforce", ""},
		{"kube-system", "enforce", ""},
	} {
		if got := p.EgressMode(tc.ns, label(tc.label)); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.ns, tc.label, got, tc.want)
		}
	}
	if got := p.EgressMode("shop", nil); got != "" {
		t.Errorf("no label: %q", got)
	}
	errs := NamespaceLabelErrors(label("enforced"))
	if len(errs) != 1 || errs[0].Label != v1alpha1.LabelEgress || errs[0].Fallback != "no egress policy is written" {
		t.Errorf("label errors %+v", errs)
	}
	if _, errs := PolicyFrom(&v1alpha1.ResidencyPolicySpec{EgressPolicy: &v1alpha1.EgressPolicy{Backend: "Calico"}}); len(errs) != 1 {
		t.Errorf("an unknown backend: %v", errs)
	}
}

// What another allowed vendor or alwaysAllow claims too is not cut: the
// network lets that traffic through.
func TestStillCut(t *testing.T) {
	p := &EgressPlan{
		Settings: EgressSettings{AlwaysAllowCIDRs: []string{"198.51.100.0/24"}},
		Allowed:  []EgressGrant{{Subprocessor: "a", Hosts: []string{"x.example.eu"}}},
		Cut: []EgressCut{
			{Subprocessor: "b", Hosts: []string{"x.example.eu", "y.example.eu"}, CIDRs: []string{"198.51.100.7"}},
			{Subprocessor: "c", Hosts: []string{"x.example.eu"}, CIDRs: []string{"::ffff:198.51.100.0/120"}},
			{Subprocessor: "d"}, // no claims: still reported
			{Subprocessor: "e", Hosts: []string{"*.x.example.eu"}},
		},
	}
	var got []string
	for _, c := range stillCut(p) {
		got = append(got, fmt.Sprint(c.Subprocessor, c.Hosts, c.CIDRs))
	}
	if want := []string{"b[y.example.eu] []", "d[] []", "e[*.x.example.eu] []"}; !slices.Equal(got, want) {
		t.Errorf("stillCut: %q, want %q", got, want)
	}
	// A wildcard covers the names and wildcards below it.
	p.Allowed[0].Hosts = []string{"*.example.eu"}
	p.Cut = []EgressCut{{Subprocessor: "e", Hosts: []string{"*.x.example.eu", "y.example.eu"}}, {Subprocessor: "f", Hosts: []string{"example.eu"}}}
	if got := stillCut(p); len(got) != 1 || got[0].Subprocessor != "f" {
		t.Errorf("stillCut under a wildcard: %+v", got)
	}
}
