package residency

import (
	"reflect"
	"strings"
	"testing"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

func TestPolicyDefaults(t *testing.T) {
	for name, spec := range map[string]*v1alpha1.ResidencyPolicySpec{"nil": nil, "empty": {}} {
		p, errs := PolicyFrom(spec)
		if len(errs) != 0 {
			t.Fatalf("%s: errors %v", name, errs)
		}
		if p.DefaultEnforcement != v1alpha1.EnforcementAudit ||
			p.SpecialCategoriesOutsideEEA != v1alpha1.RuleDeny ||
			p.UnattributedEgress != v1alpha1.RuleWarn ||
			!reflect.DeepEqual(p.ExcludedNamespaces, []string{"kube-system"}) ||
			len(p.RequireTransferImpactAssessment) != 0 || len(p.MechanismOverrides) != 0 || len(p.CountryOverrides) != 0 {
			t.Errorf("%s: %+v is not the default policy", name, p)
		}
		for _, c := range []v1alpha1.Classification{"EEA", "Adequate", "PartiallyAdequate", "ThirdCountry"} {
			if !p.Allows(c) {
				t.Errorf("%s: default policy does not allow %s", name, c)
			}
		}
	}
}

func TestPolicyFromSpec(t *testing.T) {
	spec := &v1alpha1.ResidencyPolicySpec{
		DefaultEnforcement:              v1alpha1.EnforcementDeny,
		AllowedClassifications:          []v1alpha1.Classification{"EEA", "Adequate"},
		RequireTransferImpactAssessment: []v1alpha1.Mechanism{"StandardContractualClauses", "BindingCorporateRules"},
		SpecialCategoriesOutsideEEA:     v1alpha1.RuleWarn,
		UnattributedEgress:              v1alpha1.RuleIgnore,
		ExcludedNamespaces:              []string{"monitoring"},
		MechanismOverrides: []v1alpha1.MechanismOverride{
			{Mechanism: "DataPrivacyFramework", InvalidFrom: "2027-06-01", Reason: "CJEU C-703/25 P"}},
		CountryOverrides: []v1alpha1.CountryOverride{{Country: "GB", Classification: "ThirdCountry", From: "2032-01-01"}},
	}
	p, errs := PolicyFrom(spec)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if p.DefaultEnforcement != v1alpha1.EnforcementDeny || p.SpecialCategoriesOutsideEEA != v1alpha1.RuleWarn ||
		p.UnattributedEgress != v1alpha1.RuleIgnore {
		t.Errorf("rules not taken: %+v", p)
	}
	if p.Allows("ThirdCountry") || p.Allows("PartiallyAdequate") || !p.Allows("EEA") || !p.Allows("Adequate") {
		t.Errorf("allowedClassifications not taken: %v", p.AllowedClassifications)
	}
	if !p.RequiresTIA("BindingCorporateRules") || p.RequiresTIA("Derogation") {
		t.Error("requireTransferImpactAssessment not taken")
	}
	if p.Excluded("kube-system") || !p.Excluded("monitoring") {
		t.Error("excludedNamespaces must replace the default when set")
	}
	if want := (MechanismOverride{Mechanism: "DataPrivacyFramework", InvalidFrom: utc("2027-06-01"), Reason: "CJEU C-703/25 P"}); !reflect.DeepEqual(p.MechanismOverrides, []MechanismOverride{want}) {
		t.Errorf("mechanismOverrides = %+v", p.MechanismOverrides)
	}
	if want := (CountryOverride{Country: "GB", Classification: "ThirdCountry", From: utc("2032-01-01"), Reason: "ResidencyPolicy countryOverrides"}); !reflect.DeepEqual(p.CountryOverrides, []CountryOverride{want}) {
		t.Errorf("countryOverrides = %+v", p.CountryOverrides)
	}
}

func TestPolicyErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name  string
		spec  v1alpha1.ResidencyPolicySpec
		error string
		check func(t *testing.T, p Policy)
	}{
		{"bad invalidFrom fails closed",
			v1alpha1.ResidencyPolicySpec{MechanismOverrides: []v1alpha1.MechanismOverride{
				{Mechanism: "DataPrivacyFramework", InvalidFrom: "2027-13-01", Reason: "x"}}},
			`spec.mechanismOverrides[0].invalidFrom: "2027-13-01" is not a date`,
			func(t *testing.T, p Policy) {
				if len(p.MechanismOverrides) != 1 || !p.MechanismOverrides[0].InvalidFrom.IsZero() {
					t.Errorf("override with a bad date must apply from the beginning, got %+v", p.MechanismOverrides)
				}
			}},
		{"unknown mechanism",
			v1alpha1.ResidencyPolicySpec{MechanismOverrides: []v1alpha1.MechanismOverride{
				{Mechanism: "Telepathy", InvalidFrom: "2027-01-01", Reason: "x"}}},
			`spec.mechanismOverrides[0].mechanism: "Telepathy" is not a mechanism`, nil},
		{"bad enforcement",
			v1alpha1.ResidencyPolicySpec{DefaultEnforcement: "block"},
			`spec.defaultEnforcement: "block" is not one of deny, warn, audit`,
			func(t *testing.T, p Policy) {
				if p.DefaultEnforcement != v1alpha1.EnforcementAudit {
					t.Errorf("fallback = %s", p.DefaultEnforcement)
				}
			}},
		{"bad classification is dropped, the allow-list stays restrictive",
			v1alpha1.ResidencyPolicySpec{AllowedClassifications: []v1alpha1.Classification{"EEA", "Everywhere"}},
			`spec.allowedClassifications[1]: "Everywhere" is not one of`,
			func(t *testing.T, p Policy) {
				if !reflect.DeepEqual(p.AllowedClassifications, []v1alpha1.Classification{"EEA"}) {
					t.Errorf("allowed = %v", p.AllowedClassifications)
				}
			}},
		{"bad special rule",
			v1alpha1.ResidencyPolicySpec{SpecialCategoriesOutsideEEA: "ignore"},
			`spec.specialCategoriesOutsideEEA: "ignore" is not one of deny, warn, allow`,
			func(t *testing.T, p Policy) {
				if p.SpecialCategoriesOutsideEEA != v1alpha1.RuleDeny {
					t.Errorf("fallback = %s", p.SpecialCategoriesOutsideEEA)
				}
			}},
		{"bad egress rule",
			v1alpha1.ResidencyPolicySpec{UnattributedEgress: "allow"},
			`spec.unattributedEgress: "allow" is not one of deny, warn, ignore`, nil},
		{"bad TIA mechanism",
			v1alpha1.ResidencyPolicySpec{RequireTransferImpactAssessment: []v1alpha1.Mechanism{"SCC"}},
			`spec.requireTransferImpactAssessment[0]: "SCC" is not a mechanism`, nil},
		{"bad country override date is dropped",
			v1alpha1.ResidencyPolicySpec{CountryOverrides: []v1alpha1.CountryOverride{
				{Country: "GB", Classification: "ThirdCountry", From: "2032-02-30"}}},
			`spec.countryOverrides[0].from: "2032-02-30" is not a date`,
			func(t *testing.T, p Policy) {
				if len(p.CountryOverrides) != 0 {
					t.Errorf("kept %+v", p.CountryOverrides)
				}
			}},
		{"until before from",
			v1alpha1.ResidencyPolicySpec{CountryOverrides: []v1alpha1.CountryOverride{
				{Country: "GB", Classification: "ThirdCountry", From: "2032-01-01", Until: "2031-01-01"}}},
			`spec.countryOverrides[0].until: 2031-01-01 is not after from 2032-01-01`, nil},
		{"bad country",
			v1alpha1.ResidencyPolicySpec{CountryOverrides: []v1alpha1.CountryOverride{
				{Country: "gb", Classification: "ThirdCountry"}}},
			`spec.countryOverrides[0].country: "gb" is not an ISO 3166-1 alpha-2 code`, nil},
		{"bad override classification",
			v1alpha1.ResidencyPolicySpec{CountryOverrides: []v1alpha1.CountryOverride{
				{Country: "GB", Classification: "Fine"}}},
			`spec.countryOverrides[0].classification: "Fine" is not one of`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, errs := PolicyFrom(&tt.spec)
			if len(errs) != 1 {
				t.Fatalf("errors = %v, want one", errs)
			}
			if !strings.HasPrefix(errs[0].Error(), tt.error) {
				t.Errorf("error = %q, want prefix %q", errs[0], tt.error)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

func TestPolicyEnforcement(t *testing.T) {
	p, _ := PolicyFrom(&v1alpha1.ResidencyPolicySpec{DefaultEnforcement: v1alpha1.EnforcementWarn})
	tests := []struct {
		labels map[string]string
		want   v1alpha1.Enforcement
		bad    bool
	}{
		{nil, v1alpha1.EnforcementWarn, false},
		{map[string]string{"other": "deny"}, v1alpha1.EnforcementWarn, false},
		{map[string]string{v1alpha1.LabelEnforcement: "deny"}, v1alpha1.EnforcementDeny, false},
		{map[string]string{v1alpha1.LabelEnforcement: "warn"}, v1alpha1.EnforcementWarn, false},
		{map[string]string{v1alpha1.LabelEnforcement: "audit"}, v1alpha1.EnforcementAudit, false},
		{map[string]string{v1alpha1.LabelEnforcement: "Deny"}, v1alpha1.EnforcementWarn, true},
		{map[string]string{v1alpha1.LabelEnforcement: ""}, v1alpha1.EnforcementWarn, true},
	}
	for _, tt := range tests {
		if got := p.Enforcement(tt.labels); got != tt.want {
			t.Errorf("Enforcement(%v) = %s, want %s", tt.labels, got, tt.want)
		}
		if err := EnforcementLabelError(tt.labels); (err != nil) != tt.bad {
			t.Errorf("EnforcementLabelError(%v) = %v, want error %v", tt.labels, err, tt.bad)
		}
	}
	if def := DefaultPolicy(); !def.Excluded("kube-system") || def.Excluded("default") {
		t.Error("default exclusion is kube-system only")
	}
}

func TestParseDate(t *testing.T) {
	for _, s := range []string{"2027-13-01", "2027-02-30", "2027-1-01", "27-01-01", "2027-01-01T00:00:00Z", "", " 2027-01-01"} {
		if _, err := ParseDate(v1alpha1.Date(s)); err == nil {
			t.Errorf("ParseDate(%q) accepted", s)
		}
	}
	d, err := ParseDate("2024-02-29")
	if err != nil || !d.Equal(utc("2024-02-29")) || FormatDate(d) != "2024-02-29" {
		t.Errorf("ParseDate(2024-02-29) = %v, %v", d, err)
	}
}
