package residency

import (
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

func TestCatalogMembership(t *testing.T) {
	cat := DefaultCatalog()
	eu27 := strings.Fields("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE")
	var gotEU []string
	for _, c := range cat.Countries() {
		if c.Membership == MemberEU && c.AliasOf == "" {
			gotEU = append(gotEU, c.Code)
		}
	}
	sort.Strings(eu27)
	if strings.Join(gotEU, " ") != strings.Join(eu27, " ") {
		t.Errorf("EU members = %v, want %v", gotEU, eu27)
	}
	tests := []struct {
		code       string
		membership Membership
		eea        bool
	}{
		{"IS", MemberEEA, true}, {"LI", MemberEEA, true}, {"NO", MemberEEA, true},
		{"AX", MemberEUTerritory, true}, {"GF", MemberEUTerritory, true}, {"GP", MemberEUTerritory, true},
		{"MQ", MemberEUTerritory, true}, {"RE", MemberEUTerritory, true}, {"YT", MemberEUTerritory, true},
		{"MF", MemberEUTerritory, true},
		{"EL", MemberEU, true}, // resolves to GR
		{"CH", MemberNone, false}, {"GB", MemberNone, false}, {"GL", MemberNone, false}, {"GI", MemberNone, false},
		{"FO", MemberNone, false}, {"GG", MemberNone, false}, {"JE", MemberNone, false}, {"IM", MemberNone, false},
	}
	for _, tt := range tests {
		ci, ok := cat.Country(tt.code)
		if !ok {
			t.Errorf("Country(%s) not found", tt.code)
			continue
		}
		if ci.Membership != tt.membership || ci.EEA != tt.eea {
			t.Errorf("Country(%s) = %s/EEA=%v, want %s/EEA=%v", tt.code, ci.Membership, ci.EEA, tt.membership, tt.eea)
		}
	}
	if ci, _ := cat.Country("EL"); ci.Code != "GR" {
		t.Errorf("Country(EL).Code = %s, want GR", ci.Code)
	}
}

func TestCatalogDecisions(t *testing.T) {
	cat := DefaultCatalog()
	tests := []struct {
		country, instrument, adopted, until string
		scope                               AdequacyScope
		mechanism                           v1alpha1.Mechanism
		unverified                          bool
	}{
		{"CH", "Decision 2000/518/EC", "2000-07-26", "", ScopeFull, "", false},
		{"CA", "Decision 2002/2/EC", "2001-12-20", "", ScopePartial, v1alpha1.MechanismAdequacyDecision, false},
		{"AR", "Decision 2003/490/EC", "2003-06-30", "", ScopeFull, "", false},
		{"GG", "Decision 2003/821/EC", "2003-11-21", "", ScopeFull, "", false},
		{"IM", "Decision 2004/411/EC", "2004-04-28", "", ScopeFull, "", false},
		{"JE", "Decision 2008/393/EC", "2008-05-08", "", ScopeFull, "", false},
		{"FO", "Decision 2010/146/EU", "2010-03-05", "", ScopeFull, "", false},
		{"AD", "Decision 2010/625/EU", "2010-10-19", "", ScopeFull, "", false},
		{"IL", "Decision 2011/61/EU", "2011-01-31", "", ScopeFull, "", false},
		{"UY", "Decision 2012/484/EU", "2012-08-21", "", ScopeFull, "", false},
		{"NZ", "Decision 2013/65/EU", "2012-12-19", "", ScopeFull, "", false},
		{"JP", "Decision (EU) 2019/419", "2019-01-23", "", ScopePartial, v1alpha1.MechanismAdequacyDecision, false},
		{"GB", "Decision (EU) 2021/1772", "2021-06-28", "2031-12-27", ScopeFull, "", false},
		{"KR", "Decision (EU) 2022/254", "2021-12-17", "", ScopeFull, "", false},
		{"US", "Decision 2000/520/EC", "2000-07-26", "2015-10-06", ScopePartial, v1alpha1.MechanismSafeHarbor, false},
		{"US", "Decision (EU) 2016/1250", "2016-07-12", "2020-07-16", ScopePartial, v1alpha1.MechanismPrivacyShield, false},
		{"US", "Decision (EU) 2023/1795", "2023-07-10", "", ScopePartial, v1alpha1.MechanismDataPrivacyFramework, false},
		// Commission Implementing Decision (EU) 2026/179 of 26 January 2026 (OJ L, 28.1.2026).
		{"BR", "Commission Implementing Decision (EU) 2026/179", "2026-01-26", "", ScopeFull, "", false},
	}
	for _, tt := range tests {
		var d AdequacyDecision
		for _, x := range cat.DecisionsFor(tt.country) {
			if x.Instrument == tt.instrument {
				d = x
			}
		}
		if d.Instrument == "" {
			t.Errorf("DecisionsFor(%s) has no %s", tt.country, tt.instrument)
			continue
		}
		var until time.Time
		if tt.until != "" {
			until = utc(tt.until)
		}
		if d.Instrument != tt.instrument || !d.Adopted.Equal(utc(tt.adopted)) || !d.Until.Equal(until) ||
			d.Scope != tt.scope || d.ScopeMechanism != tt.mechanism || d.Unverified != tt.unverified {
			t.Errorf("decision %s = %+v, want %+v", tt.country, d, tt)
		}
		if d.Adopted.Location() != time.UTC || d.Adopted.Hour() != 0 {
			t.Errorf("decision %s adopted %v, want UTC midnight", tt.country, d.Adopted)
		}
	}
	if n := len(cat.DecisionsFor("US")); n != 3 {
		t.Errorf("US has %d decisions, want Safe Harbor, Privacy Shield and the DPF", n)
	}
	var epo bool
	for i, d := range cat.Decisions() {
		if i > 0 && d.Adopted.Before(cat.Decisions()[i-1].Adopted) {
			t.Errorf("Decisions() not in the order of adoption at %s", d.Instrument)
		}
		if d.Country == "" && strings.Contains(d.Entity, "European Patent Organisation") {
			epo = true
		}
	}
	if !epo {
		t.Error("the European Patent Organisation decision is missing from Decisions()")
	}
}

func TestCatalogDeadMechanisms(t *testing.T) {
	cat := DefaultCatalog()
	want := map[v1alpha1.Mechanism]struct {
		state            v1alpha1.TransferBasisState
		from, citation   string
		instrumentSubstr string
	}{
		v1alpha1.MechanismSafeHarbor:    {v1alpha1.BasisInvalidated, "2015-10-06", "CJEU C-362/14 (Schrems I)", "2000/520/EC"},
		v1alpha1.MechanismPrivacyShield: {v1alpha1.BasisInvalidated, "2020-07-16", "CJEU C-311/18 (Schrems II)", "2016/1250"},
		v1alpha1.MechanismLegacyStandardContractualClauses: {v1alpha1.BasisExpired, "2022-12-27",
			"Decision (EU) 2021/914, Art. 4", "2010/87/EU"},
	}
	got := cat.DeadMechanisms()
	if len(got) != len(want) {
		t.Fatalf("DeadMechanisms() has %d entries, want %d", len(got), len(want))
	}
	for _, d := range got {
		w, ok := want[d.Mechanism]
		if !ok {
			t.Errorf("unexpected dead mechanism %s", d.Mechanism)
			continue
		}
		if d.State != w.state || !d.From.Equal(utc(w.from)) || d.Citation() != w.citation ||
			!strings.Contains(d.Instrument, w.instrumentSubstr) {
			t.Errorf("dead %s = %+v (citation %q), want %+v", d.Mechanism, d, d.Citation(), w)
		}
	}
	if _, ok := cat.Dead(v1alpha1.MechanismDataPrivacyFramework); ok {
		t.Error("DataPrivacyFramework is in force; it must not be dead in the built-in catalog")
	}
}

func TestCatalogArticles(t *testing.T) {
	cat := DefaultCatalog()
	tests := []struct {
		m       v1alpha1.Mechanism
		article string
		art46   bool
	}{
		{v1alpha1.MechanismAdequacyDecision, "GDPR Art. 45", false},
		{v1alpha1.MechanismDataPrivacyFramework, "GDPR Art. 45 (Decision (EU) 2023/1795)", false},
		{v1alpha1.MechanismBindingCorporateRules, "GDPR Art. 46(2)(b), Art. 47", true},
		{v1alpha1.MechanismStandardContractualClauses, "GDPR Art. 46(2)(c)", true},
		{v1alpha1.MechanismCodeOfConduct, "GDPR Art. 46(2)(e)", true},
		{v1alpha1.MechanismCertification, "GDPR Art. 46(2)(f)", true},
		{v1alpha1.MechanismAdHocContractualClauses, "GDPR Art. 46(3)(a)", true},
		{v1alpha1.MechanismDerogation, "GDPR Art. 49(1)", false},
		{v1alpha1.MechanismPrivacyShield, "Directive 95/46/EC Art. 25(6) (Decision (EU) 2016/1250)", false},
		{v1alpha1.MechanismSafeHarbor, "Directive 95/46/EC Art. 25(6) (Decision 2000/520/EC)", false},
		{v1alpha1.MechanismLegacyStandardContractualClauses,
			"GDPR Art. 46(5) (Directive 95/46/EC Art. 26(4); Decisions 2001/497/EC, 2004/915/EC, 2010/87/EU)", true},
		{"Telepathy", "", false},
	}
	for _, tt := range tests {
		if got := cat.Article(tt.m); got != tt.article {
			t.Errorf("Article(%s) = %q, want %q", tt.m, got, tt.article)
		}
		if got := cat.IsArt46(tt.m); got != tt.art46 {
			t.Errorf("IsArt46(%s) = %v, want %v", tt.m, got, tt.art46)
		}
	}
	if len(cat.Mechanisms()) != 11 {
		t.Errorf("Mechanisms() = %d entries, want the 11 of the enum", len(cat.Mechanisms()))
	}
	if got := cat.DerogationArticle("ExplicitConsent"); got != "GDPR Art. 49(1)(a)" {
		t.Errorf("DerogationArticle(ExplicitConsent) = %q", got)
	}
}

func TestCatalogAccessorsReturnCopies(t *testing.T) {
	cat := DefaultCatalog()
	cs := cat.Countries()
	cs[0].Code = "XX"
	ds := cat.Decisions()
	ds[0].Instrument = "forged"
	dm := cat.DeadMechanisms()
	dm[0].From = time.Time{}
	if cat.Countries()[0].Code == "XX" || cat.Decisions()[0].Instrument == "forged" || cat.DeadMechanisms()[0].From.IsZero() {
		t.Fatal("catalog accessors must return copies")
	}
}

func TestCatalogRegionsNameKnownCountries(t *testing.T) {
	cat := DefaultCatalog()
	seen := map[string]bool{}
	for _, r := range cat.Regions() {
		if _, ok := cat.Country(r.Country); !ok {
			t.Errorf("region %s/%s names unknown country %s", r.Provider, r.Region, r.Country)
		}
		key := r.Provider + "/" + r.Region
		if seen[key] {
			t.Errorf("region %s listed twice", key)
		}
		seen[key] = true
	}
	for _, want := range []string{"AWS/eu-north-1", "Google Cloud/europe-west3", "Google Cloud/europe-west6", "Azure/norwayeast"} {
		if !seen[want] {
			t.Errorf("region %s missing", want)
		}
	}
}

func TestDefaultCatalogConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	results := make([]v1alpha1.Classification, 16)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = DefaultCatalog().Classify("US", today).Classification
		}(i)
	}
	wg.Wait()
	for i, r := range results {
		if r != v1alpha1.ClassificationPartiallyAdequate {
			t.Errorf("goroutine %d: US = %s", i, r)
		}
	}
	if first, second := DefaultCatalog(), DefaultCatalog(); first != second {
		t.Error("DefaultCatalog must be built once")
	}
}
