package residency

import (
	"testing"
	"time"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

func TestClassify(t *testing.T) {
	const (
		eea     = v1alpha1.ClassificationEEA
		adq     = v1alpha1.ClassificationAdequate
		partial = v1alpha1.ClassificationPartiallyAdequate
		third   = v1alpha1.ClassificationThirdCountry
	)
	gbOverride := []v1alpha1.CountryOverride{{Country: "GB", Classification: third, From: "2030-01-01", Reason: "EDPB opinion 9/2029"}}
	chWindow := []v1alpha1.CountryOverride{{Country: "CH", Classification: third, From: "2027-01-01", Until: "2028-01-01"}}
	elOverride := []v1alpha1.CountryOverride{{Country: "EL", Classification: third, From: "2030-01-01", Reason: "Grexit"}}
	usSame := []v1alpha1.CountryOverride{{Country: "US", Classification: partial, From: "2027-01-01", Reason: "same"}}
	tests := []struct {
		name       string
		country    string
		at         string
		overrides  []v1alpha1.CountryOverride
		want       v1alpha1.Classification
		ref        string
		validUntil string
	}{
		{"EU member", "SE", "2026-11-22", nil, eea, "EEA member state", ""},
		{"EL alias of GR", "EL", "2026-11-22", nil, eea, "EEA member state", ""},
		{"GR", "GR", "2026-11-22", nil, eea, "EEA member state", ""},
		{"EEA not EU", "NO", "2026-11-22", nil, eea, "EEA member state", ""},
		{"Åland", "AX", "2026-11-22", nil, eea, "EEA (EU territory)", ""},
		{"Réunion", "RE", "2026-11-22", nil, eea, "EEA (EU territory)", ""},
		{"Greenland is not EU", "GL", "2026-11-22", nil, third, "no adequacy decision", ""},
		{"Gibraltar left with the UK", "GI", "2026-11-22", nil, third, "no adequacy decision", ""},
		{"Switzerland adequate, not EEA", "CH", "2026-11-22", nil, adq, "Decision 2000/518/EC", ""},
		{"Faroe Islands", "FO", "2026-11-22", nil, adq, "Decision 2010/146/EU", ""},
		{"Canada partial", "CA", "2026-11-22", nil, partial, "Decision 2002/2/EC", ""},
		{"Japan partial", "JP", "2026-11-22", nil, partial, "Decision (EU) 2019/419", ""},
		{"Korea", "KR", "2026-11-22", nil, adq, "Decision (EU) 2022/254", ""},
		{"Brazil", "BR", "2026-11-22", nil, adq, "Commission Implementing Decision (EU) 2026/179", ""},
		{"Brazil before adoption", "BR", "2026-01-25T23:59:59Z", nil, third, "no adequacy decision", "2026-01-26"},
		{"US partial (DPF)", "US", "2026-11-22", nil, partial, "Decision (EU) 2023/1795", ""},
		{"US before DPF", "US", "2023-07-09T23:59:59Z", nil, third, "Decision (EU) 2016/1250 ended 2020-07-16", "2023-07-10"},
		{"US under Privacy Shield", "US", "2019-06-01", nil, partial, "Decision (EU) 2016/1250", "2020-07-16"},
		{"US after Schrems I", "US", "2016-01-01", nil, third, "Decision 2000/520/EC ended 2015-10-06", "2016-07-12"},
		{"US under Safe Harbor", "US", "2015-10-05T23:59:59Z", nil, partial, "Decision 2000/520/EC", "2015-10-06"},
		{"US on DPF adoption", "US", "2023-07-10T00:00:00Z", nil, partial, "Decision (EU) 2023/1795", ""},
		{"GB last second", "GB", "2031-12-26T23:59:59Z", nil, adq, "Decision (EU) 2021/1772", "2031-12-27"},
		{"GB decision ended", "GB", "2031-12-27T00:00:00Z", nil, third, "Decision (EU) 2021/1772 ended 2031-12-27", ""},
		{"GB today", "GB", "2026-11-22", nil, adq, "Decision (EU) 2021/1772", "2031-12-27"},
		{"China", "CN", "2026-11-22", nil, third, "no adequacy decision", ""},
		{"lower case is malformed", "se", "2026-11-22", nil, third, "not an ISO 3166-1 alpha-2 code", ""},
		{"three letters", "USA", "2026-11-22", nil, third, "not an ISO 3166-1 alpha-2 code", ""},
		{"empty", "", "2026-11-22", nil, third, "not an ISO 3166-1 alpha-2 code", ""},
		{"GB override ahead", "GB", "2026-11-22", gbOverride, adq, "Decision (EU) 2021/1772", "2030-01-01"},
		{"GB override in force", "GB", "2030-01-01", gbOverride, third, "EDPB opinion 9/2029", ""},
		{"CH window before", "CH", "2026-12-31T23:59:59Z", chWindow, adq, "Decision 2000/518/EC", "2027-01-01"},
		{"CH window in force", "CH", "2027-06-01", chWindow, third, "ResidencyPolicy countryOverrides", "2028-01-01"},
		{"CH window over", "CH", "2028-01-01", chWindow, adq, "Decision 2000/518/EC", ""},
		{"override by EL applies to GR", "GR", "2030-01-01", elOverride, third, "Grexit", ""},
		{"override that changes nothing is no transition", "US", "2026-11-22", usSame, partial, "Decision (EU) 2023/1795", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, errs := PolicyFrom(&v1alpha1.ResidencyPolicySpec{CountryOverrides: tt.overrides})
			if len(errs) > 0 {
				t.Fatalf("policy errors: %v", errs)
			}
			got := Classify(DefaultCatalog(), &p, tt.country, utc(tt.at))
			if got.Classification != tt.want || got.LegalReference != tt.ref {
				t.Errorf("Classify(%s, %s) = %s %q, want %s %q", tt.country, tt.at, got.Classification, got.LegalReference, tt.want, tt.ref)
			}
			var until time.Time
			if tt.validUntil != "" {
				until = utc(tt.validUntil)
			}
			if !got.ValidUntil.Equal(until) {
				t.Errorf("ValidUntil = %v, want %v", got.ValidUntil, until)
			}
		})
	}
}

func TestClassifyWithoutPolicyIsCatalog(t *testing.T) {
	got := DefaultCatalog().Classify("CH", today)
	if got.Classification != v1alpha1.ClassificationAdequate {
		t.Fatalf("catalog CH = %s", got.Classification)
	}
	if got := Classify(DefaultCatalog(), nil, "US", today); got.Classification != v1alpha1.ClassificationPartiallyAdequate {
		t.Fatalf("Classify(nil policy, US) = %s", got.Classification)
	}
}

// Classification never panics and is ThirdCountry for anything unknown.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"SE", "EL", "US", "", "é", "ZZ", "se"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, country string) {
		r := Classify(DefaultCatalog(), nil, country, today)
		if _, known := DefaultCatalog().Country(country); !known && len(DefaultCatalog().DecisionsFor(country)) == 0 &&
			r.Classification != v1alpha1.ClassificationThirdCountry {
			t.Fatalf("unknown %q classified %s", country, r.Classification)
		}
	})
}
