package residency

import (
	"testing"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// The words a DPO acts on: every date, basis and citation of a message is the
// one that matters (issue 18). One test per defect found by a DPO.

// dpfFalls is a policy that marks the DPF invalid from 2027-06-01 and
// requires a transfer impact assessment for BCRs.
func dpfFalls() *v1alpha1.ResidencyPolicySpec {
	return &v1alpha1.ResidencyPolicySpec{
		RequireTransferImpactAssessment: []v1alpha1.Mechanism{v1alpha1.MechanismBindingCorporateRules},
		MechanismOverrides: []v1alpha1.MechanismOverride{{
			Mechanism: v1alpha1.MechanismDataPrivacyFramework, InvalidFrom: "2027-06-01", Reason: "CJEU C-703/25 P"}},
	}
}

func routeOf(t *testing.T, s *Snapshot, sub, route string) (v1alpha1.Transfer, RouteResult) {
	t.Helper()
	r, ok := s.Subprocessor(sub)
	if !ok {
		t.Fatalf("subprocessor %s missing", sub)
	}
	if len(r.Routes) != len(r.Transfers) {
		t.Fatalf("%d routes for %d transfers", len(r.Routes), len(r.Transfers))
	}
	for i, tr := range r.Transfers {
		if tr.Route == route {
			return tr, r.Routes[i]
		}
	}
	t.Fatalf("route %s missing in %+v", route, r.Transfers)
	return v1alpha1.Transfer{}, RouteResult{}
}

// A route covered by the DPF (overridden from 2027-06-01) and by SCCs
// (expiring 2027-11-15) is covered until 2027-11-15: it rests on the SCCs and
// names the DPF too.
func TestCoveredRouteRestsOnTheBasisThatCarriesItLongest(t *testing.T) {
	in := Inputs{
		Policy:    dpfFalls(),
		Locations: []*v1alpha1.ProcessingLocation{mkLoc("cloudflare-us", "US", "")},
		Bases: []*v1alpha1.TransferBasis{
			mkBasis("cloudflare-dpf", "DataPrivacyFramework", []string{"US"}),
			mkBasis("cloudflare-scc", "StandardContractualClauses", []string{"US"}, expires("2027-11-15")),
		},
		Subprocessors: []*v1alpha1.Subprocessor{mkSub("cloudflare", locs("cloudflare-us"), bases("cloudflare-dpf", "cloudflare-scc"))},
	}
	s := Compile(nil, in, utc("2026-12-06"))
	tr, rr := routeOf(t, s, "cloudflare", "cloudflare-us")
	if !tr.Covered || tr.Basis != "cloudflare-scc" {
		t.Errorf("transfer = %+v, want covered by cloudflare-scc", tr)
	}
	wantContains(t, "message", tr.Message,
		"transfer to US via cloudflare-us rests on cloudflare-scc (StandardContractualClauses, GDPR Art. 46(2)(c)), valid until 2027-11-15 (expiresOn)",
		"also on cloudflare-dpf (DataPrivacyFramework, GDPR Art. 45 (Decision (EU) 2023/1795)), valid until 2027-06-01 (CJEU C-703/25 P)")
	if !rr.ValidUntil.Equal(utc("2027-11-15")) {
		t.Errorf("route valid until %s, want 2027-11-15", day(rr.ValidUntil))
	}
	want := []RouteBasis{
		{Name: "cloudflare-scc", Mechanism: "StandardContractualClauses", State: v1alpha1.BasisValid, Until: "2027-11-15", Covers: true},
		{Name: "cloudflare-dpf", Mechanism: "DataPrivacyFramework", State: v1alpha1.BasisValid, Until: "2027-06-01", Covers: true},
	}
	if !equalBases(rr.Bases, want) {
		t.Errorf("bases = %+v\nwant %+v", rr.Bases, want)
	}
	// The snapshot still changes when the DPF falls (the message does).
	if !s.NextTransition().Equal(utc("2027-06-01")) {
		t.Errorf("next transition %s, want 2027-06-01", s.NextTransition())
	}
	// After the DPF falls the SCCs alone carry it, still until 2027-11-15.
	s = Compile(nil, in, utc("2027-06-01"))
	tr, rr = routeOf(t, s, "cloudflare", "cloudflare-us")
	if !tr.Covered || tr.Basis != "cloudflare-scc" || !rr.ValidUntil.Equal(utc("2027-11-15")) {
		t.Errorf("2027-06-01: %+v until %s", tr, day(rr.ValidUntil))
	}
	if len(rr.Bases) != 2 || rr.Bases[1].State != v1alpha1.BasisInvalidated || rr.Bases[1].Since != "2027-06-01" || rr.Bases[1].Covers {
		t.Errorf("2027-06-01: bases = %+v", rr.Bases)
	}
}

func equalBases(a, b []RouteBasis) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// With several bases listing the country and none valid, every one of them is
// named with its state and since when, in the message and in the finding's
// Bases; Basis stays the one closest to covering the route.
func TestBasisNotValidNamesEveryBasis(t *testing.T) {
	in := Inputs{
		Policy:    dpfFalls(),
		Locations: []*v1alpha1.ProcessingLocation{mkLoc("cloudflare-us", "US", "")},
		Bases: []*v1alpha1.TransferBasis{
			mkBasis("cloudflare-dpf", "DataPrivacyFramework", []string{"US"}),
			mkBasis("cloudflare-bcr", "BindingCorporateRules", []string{"US"}),
		},
		Subprocessors: []*v1alpha1.Subprocessor{mkSub("cloudflare", locs("cloudflare-us"), bases("cloudflare-dpf", "cloudflare-bcr"),
			hosts("api.cloudflare.example"))},
	}
	s := Compile(nil, in, utc("2027-06-01"))
	r := evalDeployment(t, s, deployment("web", flowAnn("cloudflare", "user.contact.email")))
	f := mustFinding(t, r, ReasonBasisNotValid)
	if f.Verdict != Violation || f.Basis != "cloudflare-bcr" {
		t.Errorf("finding = %+v", f)
	}
	wantContains(t, "message", f.Message,
		"transfer to US via cloudflare-us has no valid basis: none of the 2 TransferBases of cloudflare listing US is: ",
		"cloudflare-bcr is BindingCorporateRules and the ResidencyPolicy requires a transfer impact assessment for it: none is recorded",
		"cloudflare-dpf is DataPrivacyFramework, invalid since 2027-06-01 (CJEU C-703/25 P)")
	want := []RouteBasis{
		{Name: "cloudflare-bcr", Mechanism: "BindingCorporateRules", State: v1alpha1.BasisIncomplete},
		{Name: "cloudflare-dpf", Mechanism: "DataPrivacyFramework", State: v1alpha1.BasisInvalidated, Since: "2027-06-01"},
	}
	if !equalBases(f.Bases, want) {
		t.Errorf("bases = %+v\nwant %+v", f.Bases, want)
	}
}

// A basis's state carries since when it holds.
func TestBasisSince(t *testing.T) {
	p, _ := PolicyFrom(dpfFalls())
	tests := []struct {
		name  string
		basis *v1alpha1.TransferBasis
		at    string
		state v1alpha1.TransferBasisState
		since string
	}{
		{"privacy shield", mkBasis("ps", "PrivacyShield", []string{"US"}), "2026-12-06", v1alpha1.BasisInvalidated, "2020-07-16"},
		{"dpf before the override", mkBasis("dpf", "DataPrivacyFramework", []string{"US"}), "2027-05-31", v1alpha1.BasisValid, ""},
		{"dpf after the override", mkBasis("dpf", "DataPrivacyFramework", []string{"US"}), "2027-07-01", v1alpha1.BasisInvalidated, "2027-06-01"},
		{"expired", mkBasis("scc", "StandardContractualClauses", []string{"US"}, expires("2026-01-01")), "2026-12-06", v1alpha1.BasisExpired, "2026-01-01"},
		{"valid since effective", mkBasis("scc", "StandardContractualClauses", []string{"US"}, effective("2025-03-01")), "2026-12-06", v1alpha1.BasisValid, "2025-03-01"},
		{"review overdue", mkBasis("scc", "StandardContractualClauses", []string{"US"}, tia("2024-01-10", "2025-01-10")), "2026-12-06", v1alpha1.BasisReviewOverdue, "2025-01-10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := EvaluateBasis(DefaultCatalog(), &p, tt.basis.Name, &tt.basis.Spec, utc(tt.at))
			if r.State != tt.state || string(FormatDate(r.Since)) != tt.since {
				t.Errorf("%s since %q, want %s since %q (%s)", r.State, FormatDate(r.Since), tt.state, tt.since, r.Message)
			}
		})
	}
}

// The US partial adequacy is the DPF: overriding the DPF ends it, in the
// classification and in every message built on it, from the override's date.
func TestDPFOverrideEndsTheUSPartialAdequacy(t *testing.T) {
	p, errs := PolicyFrom(dpfFalls())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	before := Classify(DefaultCatalog(), &p, "US", utc("2027-05-31"))
	if before.Classification != v1alpha1.ClassificationPartiallyAdequate || !before.ValidUntil.Equal(utc("2027-06-01")) {
		t.Errorf("before: %+v, want PartiallyAdequate until 2027-06-01", before)
	}
	after := Classify(DefaultCatalog(), &p, "US", utc("2027-06-01"))
	wantRef := "Decision (EU) 2023/1795 (DataPrivacyFramework) invalid since 2027-06-01 (CJEU C-703/25 P)"
	if after.Classification != v1alpha1.ClassificationThirdCountry || after.LegalReference != wantRef || !after.ValidUntil.IsZero() {
		t.Errorf("after: %+v, want ThirdCountry %q", after, wantRef)
	}
	// Without the override nothing changes; an AdequacyDecision override
	// (which records the scope of the CA and JP decisions) ends no decision.
	if c := DefaultCatalog().Classify("US", utc("2027-06-01")); c.Classification != v1alpha1.ClassificationPartiallyAdequate {
		t.Errorf("no override: %+v", c)
	}
	adq, _ := PolicyFrom(&v1alpha1.ResidencyPolicySpec{MechanismOverrides: []v1alpha1.MechanismOverride{{
		Mechanism: v1alpha1.MechanismAdequacyDecision, InvalidFrom: "2027-01-01"}}})
	if c := Classify(DefaultCatalog(), &adq, "JP", utc("2027-06-01")); c.Classification != v1alpha1.ClassificationPartiallyAdequate {
		t.Errorf("AdequacyDecision override: JP %+v", c)
	}

	in := Inputs{
		Policy:        dpfFalls(),
		Locations:     []*v1alpha1.ProcessingLocation{mkLoc("us-east", "US", "")},
		Subprocessors: []*v1alpha1.Subprocessor{mkSub("mailer", locs("us-east"))},
	}
	tr, _ := routeOf(t, Compile(nil, in, utc("2027-06-01")), "mailer", "us-east")
	wantContains(t, "message", tr.Message, "US is a third country ("+wantRef+")")
	if tr.Classification != v1alpha1.ClassificationThirdCountry || tr.Reason != string(ReasonUncoveredTransfer) {
		t.Errorf("transfer = %+v", tr)
	}
	s := Compile(nil, in, utc("2027-05-01"))
	if !s.NextTransition().Equal(utc("2027-06-01")) {
		t.Errorf("next transition %s, want the override's date", s.NextTransition())
	}
}

// Every adequacy message names the decision: Canada's and Japan's partial
// ones with their scope, Brazil's by its number.
func TestAdequacyMessagesNameTheDecision(t *testing.T) {
	in := Inputs{
		Locations: []*v1alpha1.ProcessingLocation{mkLoc("aws-ca-central-1", "CA", ""), mkLoc("aws-sa-east-1", "BR", "")},
		Bases:     []*v1alpha1.TransferBasis{mkBasis("pipeda", "AdequacyDecision", []string{"CA"})},
		Subprocessors: []*v1alpha1.Subprocessor{
			mkSub("ca-vendor", locs("aws-ca-central-1"), bases("pipeda")),
			mkSub("br-vendor", locs("aws-sa-east-1")),
		},
	}
	s := Compile(nil, in, utc("2026-12-06"))
	tr, _ := routeOf(t, s, "ca-vendor", "aws-ca-central-1")
	wantContains(t, "message", tr.Message,
		"rests on pipeda (AdequacyDecision, GDPR Art. 45, Decision 2002/2/EC: only recipients subject to PIPEDA (commercial organisations))")
	b, _ := s.Basis("pipeda")
	wantContains(t, "basis message", b.Message, "pipeda is AdequacyDecision (GDPR Art. 45; Decision 2002/2/EC for CA), valid")
	tr, _ = routeOf(t, s, "br-vendor", "aws-sa-east-1")
	wantContains(t, "message", tr.Message, "rests on adequacy: Commission Implementing Decision (EU) 2026/179 (GDPR Art. 45)")
	for _, d := range DefaultCatalog().DecisionsFor("BR") {
		if d.Unverified {
			t.Errorf("%s is marked unverified", d.Instrument)
		}
	}
}

// An AnonymousOnly vendor's location outside the EEA is not a transfer of
// personal data, and says so.
func TestAnonymousOnlyRouteIsNotATransfer(t *testing.T) {
	in := Inputs{
		Locations:     []*v1alpha1.ProcessingLocation{mkLoc("sentry-us", "US", "")},
		Subprocessors: []*v1alpha1.Subprocessor{mkSub("sentry", locs("sentry-us"), anonymousOnly())},
	}
	tr, rr := routeOf(t, Compile(nil, in, today), "sentry", "sentry-us")
	if !tr.Covered || tr.Basis != "" || !rr.AnonymousOnly {
		t.Errorf("transfer = %+v, route = %+v", tr, rr)
	}
	wantContains(t, "message", tr.Message,
		"sentry-us (US) is not a transfer of personal data: sentry receives anonymous data only (spec.dataAccess AnonymousOnly)")
}

// InvalidAnnotation messages count entries from 1, as people do.
func TestInvalidAnnotationCountsEntriesFromOne(t *testing.T) {
	in := Inputs{Subprocessors: []*v1alpha1.Subprocessor{mkSub("stripe")}}
	r := evalDeployment(t, Compile(nil, in, today), deployment("pay", flowAnn("stripe, Bad_Name", "user.name,,User.Health")))
	var msgs []string
	for _, f := range findingsWith(r, ReasonInvalidAnnotation) {
		msgs = append(msgs, f.Message)
	}
	if len(msgs) != 2 {
		t.Fatalf("InvalidAnnotation findings: %q", msgs)
	}
	wantContains(t, "message", msgs[0], `annotation dataresidency.io/subprocessors, entry 2 "Bad_Name"`)
	wantContains(t, "message", msgs[1], `annotation dataresidency.io/data-categories, entry 3 "User.Health"`)
}
