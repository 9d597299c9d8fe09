package residency

import (
	"testing"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// The "next Schrems": the DPO marks the Data Privacy Framework invalid from a
// date. Exactly the US flows that rested on it lose their ground on that date;
// SCC-backed US flows, EEA flows and other partial decisions are untouched, and
// the snapshot says beforehand when to look again.
func TestNextSchremsInvalidatesOnlyDPFFlows(t *testing.T) {
	in := Inputs{
		Policy: &v1alpha1.ResidencyPolicySpec{MechanismOverrides: []v1alpha1.MechanismOverride{
			{Mechanism: v1alpha1.MechanismDataPrivacyFramework, InvalidFrom: "2027-06-01", Reason: "CJEU C-703/25 P"}}},
		Locations: []*v1alpha1.ProcessingLocation{
			mkLoc("us-east", "US", "us-east-1"),
			mkLoc("eu-north", "SE", "eu-north-1"),
			mkLoc("tokyo", "JP", "ap-northeast-1"),
		},
		Bases: []*v1alpha1.TransferBasis{
			mkBasis("acme-dpf", "DataPrivacyFramework", []string{"US"}),
			mkBasis("globex-scc", "StandardContractualClauses", []string{"US"}),
			mkBasis("initech-dpf", "DataPrivacyFramework", []string{"US"}),
			mkBasis("initech-bcr", "BindingCorporateRules", []string{"US"}),
			mkBasis("umbrella-appi", "AdequacyDecision", []string{"JP"}),
		},
		Subprocessors: []*v1alpha1.Subprocessor{
			mkSub("acme", locs("us-east"), bases("acme-dpf")),                      // DPF only: flips
			mkSub("globex", locs("us-east"), bases("globex-scc")),                  // SCC: stays
			mkSub("initech", locs("us-east"), bases("initech-dpf", "initech-bcr")), // DPF and BCR: stays
			mkSub("hooli", locs("eu-north")),                                       // EEA: stays
			mkSub("umbrella", locs("tokyo"), bases("umbrella-appi")),               // JP partial: stays
			mkSub("remote-dpf", locs("eu-north"), remote("US"), bases("acme-dpf")), // remote access on DPF: flips
		},
	}
	workloads := map[string]string{
		"orders": "acme", "billing": "globex", "crm": "initech", "search": "hooli", "jp-shop": "umbrella", "ops": "remote-dpf",
	}
	verdicts := func(s *Snapshot) map[string]Verdict {
		out := map[string]Verdict{}
		for w, sub := range workloads {
			out[w] = evalDeployment(t, s, deployment(w, flowAnn(sub, "user.contact.email"))).Verdict
		}
		return out
	}

	before := Compile(nil, in, today)
	if got := before.NextTransition(); !got.Equal(utc("2027-06-01")) {
		t.Errorf("NextTransition = %v, want 2027-06-01", got)
	}
	for w, v := range verdicts(before) {
		if v != Compliant {
			t.Errorf("before: %s = %s", w, v)
		}
	}
	if b, _ := before.Basis("acme-dpf"); b.State != v1alpha1.BasisValid || !b.ValidUntil.Equal(utc("2027-06-01")) {
		t.Errorf("acme-dpf before = %+v", b)
	}

	lastSecond := Compile(nil, in, utc("2027-05-31T23:59:59Z"))
	for w, v := range verdicts(lastSecond) {
		if v != Compliant {
			t.Errorf("2027-05-31T23:59:59Z: %s = %s", w, v)
		}
	}

	after := Compile(nil, in, utc("2027-06-01T00:00:00Z"))
	want := map[string]Verdict{"orders": Violation, "billing": Compliant, "crm": Compliant, "search": Compliant,
		"jp-shop": Compliant, "ops": Violation}
	got := verdicts(after)
	for w, v := range want {
		if got[w] != v {
			t.Errorf("after: %s = %s, want %s", w, got[w], v)
		}
	}
	r := evalDeployment(t, after, deployment("orders", flowAnn("acme", "user.contact.email")))
	f := mustFinding(t, r, ReasonBasisNotValid)
	if f.Basis != "acme-dpf" || f.Route != "us-east" {
		t.Errorf("finding = %+v", f)
	}
	if want := "transfer to US via us-east has no valid basis: acme-dpf is DataPrivacyFramework, invalid since 2027-06-01 (CJEU C-703/25 P)"; f.Message != want {
		t.Errorf("message = %q\n   want %q", f.Message, want)
	}
	crm, _ := after.Subprocessor("initech")
	if tr, _ := transferByRoute(crm, "us-east"); tr.Basis != "initech-bcr" {
		t.Errorf("initech falls back to %q, want initech-bcr", tr.Basis)
	}
	for name, state := range map[string]v1alpha1.SubprocessorState{"acme": "NonCompliant", "remote-dpf": "NonCompliant",
		"globex": "Approved", "initech": "Approved", "hooli": "Approved", "umbrella": "Approved"} {
		if r, _ := after.Subprocessor(name); r.State != state {
			t.Errorf("after: %s = %s, want %s", name, r.State, state)
		}
	}
	if !after.NextTransition().IsZero() {
		t.Errorf("after: NextTransition = %v, want none", after.NextTransition())
	}
}
