package residency

import (
	"testing"
	"time"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

func TestEvaluateBasis(t *testing.T) {
	const (
		valid      = v1alpha1.BasisValid
		notYet     = v1alpha1.BasisNotYetEffective
		expired    = v1alpha1.BasisExpired
		invalid    = v1alpha1.BasisInvalidated
		overdue    = v1alpha1.BasisReviewOverdue
		incomplete = v1alpha1.BasisIncomplete
	)
	var (
		scc  = v1alpha1.MechanismStandardContractualClauses
		bcr  = v1alpha1.MechanismBindingCorporateRules
		dpf  = v1alpha1.MechanismDataPrivacyFramework
		ps   = v1alpha1.MechanismPrivacyShield
		sh   = v1alpha1.MechanismSafeHarbor
		old  = v1alpha1.MechanismLegacyStandardContractualClauses
		drg  = v1alpha1.MechanismDerogation
		us   = []string{"US"}
		tia2 = &v1alpha1.ResidencyPolicySpec{RequireTransferImpactAssessment: []v1alpha1.Mechanism{scc, bcr}}
		dpfX = &v1alpha1.ResidencyPolicySpec{MechanismOverrides: []v1alpha1.MechanismOverride{
			{Mechanism: dpf, InvalidFrom: "2027-06-01", Reason: "CJEU C-703/25 P"}}}
	)
	tests := []struct {
		name       string
		basis      *v1alpha1.TransferBasis
		policy     *v1alpha1.ResidencyPolicySpec
		at         string
		state      v1alpha1.TransferBasisState
		message    string // exact when set
		contains   string
		validUntil string
	}{
		{name: "Privacy Shield the last second", basis: mkBasis("sendgrid-ps", ps, us), at: "2020-07-15T23:59:59Z",
			state: valid, validUntil: "2020-07-16",
			message: "sendgrid-ps is PrivacyShield (Directive 95/46/EC Art. 25(6) (Decision (EU) 2016/1250)), valid until 2020-07-16 (CJEU C-311/18)"},
		{name: "Privacy Shield invalidated", basis: mkBasis("sendgrid-ps", ps, us), at: "2020-07-16T00:00:00Z",
			state: invalid, message: "sendgrid-ps is PrivacyShield, invalid since 2020-07-16 (CJEU C-311/18)"},
		{name: "Safe Harbor the day before", basis: mkBasis("sh", sh, us), at: "2015-10-05T23:59:59Z",
			state: valid, validUntil: "2015-10-06", contains: "valid until 2015-10-06 (CJEU C-362/14)"},
		{name: "Safe Harbor invalidated", basis: mkBasis("sh", sh, us), at: "2015-10-06T00:00:00Z",
			state: invalid, message: "sh is SafeHarbor, invalid since 2015-10-06 (CJEU C-362/14)"},
		{name: "old SCCs on 2022-12-26", basis: mkBasis("old", old, us), at: "2022-12-26T23:59:59Z",
			state: valid, validUntil: "2022-12-27"},
		{name: "old SCCs expired", basis: mkBasis("old", old, us), at: "2022-12-27T00:00:00Z",
			state: expired, message: "old is LegacyStandardContractualClauses, expired since 2022-12-27 (Decision (EU) 2021/914, Art. 4)"},
		{name: "catalog death before own expiry", basis: mkBasis("old", old, us, expires("2021-01-01")), at: "2026-11-22",
			state: expired, contains: "Decision (EU) 2021/914, Art. 4"},
		{name: "not yet effective", basis: mkBasis("scc", scc, us, effective("2027-01-01")), at: "2026-11-22",
			state: notYet, message: "scc is StandardContractualClauses, not effective until 2027-01-01 (effectiveFrom)", validUntil: "2027-01-01"},
		{name: "effective on the day", basis: mkBasis("scc", scc, us, effective("2027-01-01")), at: "2027-01-01",
			state: valid, message: "scc is StandardContractualClauses (GDPR Art. 46(2)(c)), valid"},
		{name: "valid until expiry", basis: mkBasis("sendgrid-scc", scc, us, expires("2027-03-05")), at: "2027-03-04T23:59:59Z",
			state: valid, validUntil: "2027-03-05", contains: "valid until 2027-03-05 (expiresOn)"},
		{name: "expired on the day", basis: mkBasis("sendgrid-scc", scc, us, expires("2027-03-05")), at: "2027-03-05",
			state: expired, message: "sendgrid-scc is StandardContractualClauses, expired since 2027-03-05 (expiresOn)"},
		{name: "TIA required, none", basis: mkBasis("bcr", bcr, us), policy: tia2, at: "2026-11-22",
			state: incomplete, contains: "requires a transfer impact assessment"},
		{name: "TIA required, present", basis: mkBasis("bcr", bcr, us, tia("2024-01-10", "")), policy: tia2, at: "2026-11-22",
			state: valid},
		{name: "TIA not required", basis: mkBasis("bcr", bcr, us), at: "2026-11-22", state: valid},
		{name: "TIA review ahead", basis: mkBasis("bcr", bcr, us, tia("2024-01-10", "2027-01-10")), policy: tia2, at: "2026-11-22",
			state: valid, validUntil: "2027-01-10", contains: "valid until 2027-01-10 (transferImpactAssessment.nextReviewOn)"},
		{name: "TIA review overdue", basis: mkBasis("bcr", bcr, us, tia("2024-01-10", "2025-01-10")), at: "2026-11-22",
			state: overdue, message: "bcr is BindingCorporateRules, transfer impact assessment TIA-1 review overdue since 2025-01-10 (nextReviewOn)"},
		{name: "expiry wins over overdue review", basis: mkBasis("bcr", bcr, us, expires("2026-01-01"), tia("2024-01-10", "2025-01-10")),
			at: "2026-11-22", state: expired},
		{name: "review during not-yet-effective is no transition", at: "2026-11-22",
			basis: mkBasis("scc", scc, us, effective("2027-01-01"), tia("2024-01-10", "2026-12-01")),
			state: notYet, validUntil: "2027-01-01"},
		{name: "then effective but overdue", at: "2027-01-01",
			basis: mkBasis("scc", scc, us, effective("2027-01-01"), tia("2024-01-10", "2026-12-01")), state: overdue},
		{name: "expired is final", basis: mkBasis("scc", scc, us, expires("2027-01-01"), tia("2024-01-10", "2028-01-01")),
			at: "2027-06-01", state: expired, validUntil: ""},
		{name: "DPF before the override", basis: mkBasis("dpf", dpf, us), policy: dpfX, at: "2027-05-31T23:59:59Z",
			state: valid, validUntil: "2027-06-01", contains: "valid until 2027-06-01 (CJEU C-703/25 P)"},
		{name: "DPF invalidated by override", basis: mkBasis("dpf", dpf, us), policy: dpfX, at: "2027-06-01",
			state: invalid, message: "dpf is DataPrivacyFramework, invalid since 2027-06-01 (CJEU C-703/25 P)"},
		{name: "override does not touch other mechanisms", basis: mkBasis("scc", scc, us), policy: dpfX, at: "2027-06-01",
			state: valid},
		{name: "malformed expiresOn", basis: mkBasis("scc", scc, us, expires("2027-13-01")), at: "2026-11-22",
			state: incomplete, message: `scc: spec.expiresOn: "2027-13-01" is not a date (YYYY-MM-DD)`},
		{name: "malformed TIA date", basis: mkBasis("scc", scc, us, tia("someday", "")), at: "2026-11-22",
			state: incomplete, contains: "spec.transferImpactAssessment.completedOn"},
		{name: "dead mechanism wins over malformed dates", basis: mkBasis("ps", ps, us, effective("soon")), at: "2026-11-22",
			state: invalid},
		{name: "unknown mechanism", basis: mkBasis("x", "Telepathy", us), at: "2026-11-22",
			state: incomplete, contains: `spec.mechanism "Telepathy" is not a transfer mechanism`},
		{name: "derogation cites Art. 49(1)(a)", basis: mkBasis("consent", drg, us), at: "2026-11-22",
			state: valid, message: "consent is Derogation (GDPR Art. 49(1)(a), ExplicitConsent), valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, errs := PolicyFrom(tt.policy)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			got := EvaluateBasis(DefaultCatalog(), &p, tt.basis.Name, &tt.basis.Spec, utc(tt.at))
			if got.State != tt.state {
				t.Errorf("state = %s, want %s (%s)", got.State, tt.state, got.Message)
			}
			if tt.message != "" && got.Message != tt.message {
				t.Errorf("message = %q\n         want %q", got.Message, tt.message)
			}
			if tt.contains != "" {
				wantContains(t, "message", got.Message, tt.contains)
			}
			var until time.Time
			if tt.validUntil != "" {
				until = utc(tt.validUntil)
			}
			if (tt.validUntil != "" || tt.state != valid) && !got.ValidUntil.Equal(until) {
				t.Errorf("ValidUntil = %v, want %v", got.ValidUntil, until)
			}
		})
	}
}

// Every state has a test above; this one makes sure of it.
func TestEvaluateBasisEveryState(t *testing.T) {
	p, _ := PolicyFrom(&v1alpha1.ResidencyPolicySpec{RequireTransferImpactAssessment: []v1alpha1.Mechanism{"BindingCorporateRules"}})
	now := today
	got := map[v1alpha1.TransferBasisState]bool{}
	for _, b := range []*v1alpha1.TransferBasis{
		mkBasis("a", "StandardContractualClauses", []string{"US"}),
		mkBasis("b", "StandardContractualClauses", []string{"US"}, effective("2099-01-01")),
		mkBasis("c", "StandardContractualClauses", []string{"US"}, expires("2020-01-01")),
		mkBasis("d", "PrivacyShield", []string{"US"}),
		mkBasis("e", "StandardContractualClauses", []string{"US"}, tia("2020-01-01", "2021-01-01")),
		mkBasis("f", "BindingCorporateRules", []string{"US"}),
	} {
		got[EvaluateBasis(DefaultCatalog(), &p, b.Name, &b.Spec, now).State] = true
	}
	for _, s := range []v1alpha1.TransferBasisState{"Valid", "NotYetEffective", "Expired", "Invalidated", "ReviewOverdue", "Incomplete"} {
		if !got[s] {
			t.Errorf("state %s not produced", s)
		}
	}
	if r := EvaluateBasis(DefaultCatalog(), nil, "nil", nil, now); r.State != v1alpha1.BasisIncomplete {
		t.Errorf("nil spec = %s", r.State)
	}
}
