package residency

import (
	"sort"
	"sync"
	"time"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// The built-in legal catalog: which countries are in the EEA, which have an
// adequacy decision and from when until when, which transfer mechanisms a court
// struck down, and which GDPR article each mechanism rests on. It is data, kept
// in the tables below with a legal reference per row, so that a change of law is
// a change of one row (and, before a release, a ResidencyPolicy override).
// Sources: /shared/reference/legal-catalog.md (EUR-Lex, EDPB, Commission pages).

// Membership says why a country is (or is not) in the EEA.
type Membership string

const (
	// MemberEU is one of the 27 EU member states.
	MemberEU Membership = "EU"
	// MemberEEA is an EEA state outside the EU (IS, LI, NO).
	MemberEEA Membership = "EEA"
	// MemberEUTerritory is a part of an EU member state with its own ISO code
	// (Åland, the French outermost regions): EU law applies there.
	MemberEUTerritory Membership = "EUTerritory"
	// MemberNone is any other country.
	MemberNone Membership = ""
)

// CountryInfo is one country the catalog knows by name.
type CountryInfo struct {
	// Code is the ISO 3166-1 alpha-2 code ("EL" is listed as an alias of "GR").
	Code string
	Name string
	// Membership is EU, EEA, EUTerritory or empty.
	Membership Membership
	// EEA is true for every EU member state, EEA state and EU territory.
	EEA bool
	// Of is the member state a territory belongs to (AX: FI).
	Of string
	// AliasOf is set for an alternative code: EL is GR in EU texts.
	AliasOf string
}

// AdequacyScope is whether an adequacy decision covers every recipient in a
// country or only some.
type AdequacyScope string

const (
	// ScopeFull decisions make the country Adequate.
	ScopeFull AdequacyScope = "Full"
	// ScopePartial decisions make it PartiallyAdequate: only recipients inside
	// the decision's scope (DPF-certified, PIPEDA, APPI) are covered.
	ScopePartial AdequacyScope = "Partial"
)

// AdequacyDecision is a Commission decision under GDPR Art. 45 (or Directive
// 95/46/EC Art. 25(6), still in force under GDPR Art. 45(9)).
type AdequacyDecision struct {
	// Country is the ISO code; empty for an international organisation.
	Country string
	// Entity names the country or organisation.
	Entity string
	// Instrument is the legal reference, such as "Decision (EU) 2023/1795".
	Instrument string
	// Adopted is the day of adoption: the country is (partially) adequate from then on.
	Adopted time.Time
	// Until is the first day the decision no longer applies; zero: open-ended.
	Until time.Time
	// Scope is Full or Partial.
	Scope AdequacyScope
	// ScopeNote says who the decision covers.
	ScopeNote string
	// ScopeMechanism, for a partial decision, is the TransferBasis mechanism that
	// records a recipient inside its scope (US: DataPrivacyFramework; CA, JP:
	// AdequacyDecision).
	ScopeMechanism v1alpha1.Mechanism
	// Note is anything else a DPO should know (pending appeals, renewals).
	Note string
	// Unverified rows come from secondary sources only.
	Unverified bool
}

// Reference is the instrument as messages cite it, marked when unverified.
func (d AdequacyDecision) Reference() string {
	if d.Unverified {
		return d.Instrument + " (unverified)"
	}
	return d.Instrument
}

// inForce reports whether the decision applies at t.
func (d AdequacyDecision) inForce(t time.Time) bool {
	return !t.Before(d.Adopted) && (d.Until.IsZero() || t.Before(d.Until))
}

// DeadMechanism is a transfer mechanism that a court or the Commission ended.
type DeadMechanism struct {
	Mechanism v1alpha1.Mechanism
	// State is Invalidated (struck down) or Expired (ran out).
	State v1alpha1.TransferBasisState
	// From is the first day the mechanism no longer carries transfers.
	From time.Time
	// Source is what ended it, as messages cite it ("CJEU C-311/18").
	Source string
	// Known is the name the judgment is known by ("Schrems II"), if any.
	Known string
	// Instrument is the decision the mechanism rested on.
	Instrument string
}

// Citation is the source with the name it is known by: "CJEU C-311/18 (Schrems II)".
func (d DeadMechanism) Citation() string {
	if d.Known == "" {
		return d.Source
	}
	return d.Source + " (" + d.Known + ")"
}

// MechanismInfo is the place of a transfer mechanism in GDPR Chapter V.
type MechanismInfo struct {
	Mechanism v1alpha1.Mechanism
	// Article is the legal ground, such as "GDPR Art. 46(2)(c)".
	Article string
	// Art46 mechanisms are appropriate safeguards; after Schrems II they need a
	// transfer impact assessment and supplementary measures.
	Art46 bool
}

// CloudRegion is a provider region the catalog knows the country of.
type CloudRegion struct {
	Provider   string
	Region     string
	City       string
	Country    string
	Unverified bool
}

// Catalog is the built-in legal catalog. It is immutable once built and safe
// for concurrent use.
type Catalog struct {
	countries  []CountryInfo
	byCode     map[string]CountryInfo
	decisions  []AdequacyDecision
	byCountry  map[string][]AdequacyDecision
	dead       []DeadMechanism
	deadBy     map[v1alpha1.Mechanism]DeadMechanism
	mechanisms []MechanismInfo
	mechBy     map[v1alpha1.Mechanism]MechanismInfo
	regions    []CloudRegion
}

var (
	defaultCatalogOnce sync.Once
	defaultCatalog     *Catalog
)

// DefaultCatalog returns the built-in catalog, built once.
func DefaultCatalog() *Catalog {
	defaultCatalogOnce.Do(func() { defaultCatalog = buildCatalog() })
	return defaultCatalog
}

// catalogDate reads a date of the tables below; they are constants, so a bad
// one is a programming error caught by the tests.
func catalogDate(s string) time.Time {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		panic("residency: bad catalog date " + s)
	}
	return t
}

// countryTable lists the EEA and the countries the other tables name.
var countryTable = []CountryInfo{
	// EU27.
	{Code: "AT", Name: "Austria", Membership: MemberEU},
	{Code: "BE", Name: "Belgium", Membership: MemberEU},
	{Code: "BG", Name: "Bulgaria", Membership: MemberEU},
	{Code: "HR", Name: "Croatia", Membership: MemberEU},
	{Code: "CY", Name: "Cyprus", Membership: MemberEU},
	{Code: "CZ", Name: "Czechia", Membership: MemberEU},
	{Code: "DK", Name: "Denmark", Membership: MemberEU},
	{Code: "EE", Name: "Estonia", Membership: MemberEU},
	{Code: "FI", Name: "Finland", Membership: MemberEU},
	{Code: "FR", Name: "France", Membership: MemberEU},
	{Code: "DE", Name: "Germany", Membership: MemberEU},
	{Code: "GR", Name: "Greece", Membership: MemberEU},
	{Code: "HU", Name: "Hungary", Membership: MemberEU},
	{Code: "IE", Name: "Ireland", Membership: MemberEU},
	{Code: "IT", Name: "Italy", Membership: MemberEU},
	{Code: "LV", Name: "Latvia", Membership: MemberEU},
	{Code: "LT", Name: "Lithuania", Membership: MemberEU},
	{Code: "LU", Name: "Luxembourg", Membership: MemberEU},
	{Code: "MT", Name: "Malta", Membership: MemberEU},
	{Code: "NL", Name: "Netherlands", Membership: MemberEU},
	{Code: "PL", Name: "Poland", Membership: MemberEU},
	{Code: "PT", Name: "Portugal", Membership: MemberEU},
	{Code: "RO", Name: "Romania", Membership: MemberEU},
	{Code: "SK", Name: "Slovakia", Membership: MemberEU},
	{Code: "SI", Name: "Slovenia", Membership: MemberEU},
	{Code: "ES", Name: "Spain", Membership: MemberEU},
	{Code: "SE", Name: "Sweden", Membership: MemberEU},
	// EU texts write Greece as EL.
	{Code: "EL", Name: "Greece (EU spelling)", Membership: MemberEU, AliasOf: "GR"},
	// EEA, outside the EU.
	{Code: "IS", Name: "Iceland", Membership: MemberEEA},
	{Code: "LI", Name: "Liechtenstein", Membership: MemberEEA},
	{Code: "NO", Name: "Norway", Membership: MemberEEA},
	// EU territories with their own ISO codes.
	{Code: "AX", Name: "Åland Islands", Membership: MemberEUTerritory, Of: "FI"},
	{Code: "GF", Name: "French Guiana", Membership: MemberEUTerritory, Of: "FR"},
	{Code: "GP", Name: "Guadeloupe", Membership: MemberEUTerritory, Of: "FR"},
	{Code: "MQ", Name: "Martinique", Membership: MemberEUTerritory, Of: "FR"},
	{Code: "RE", Name: "Réunion", Membership: MemberEUTerritory, Of: "FR"},
	{Code: "YT", Name: "Mayotte", Membership: MemberEUTerritory, Of: "FR"},
	{Code: "MF", Name: "Saint Martin", Membership: MemberEUTerritory, Of: "FR"},
	// Outside the EEA: named by the adequacy table or the region table, or
	// worth naming because they are often mistaken for EEA (CH, GB, GL, GI).
	{Code: "CH", Name: "Switzerland"},
	{Code: "GB", Name: "United Kingdom"},
	{Code: "GL", Name: "Greenland"},
	{Code: "GI", Name: "Gibraltar"},
	{Code: "FO", Name: "Faroe Islands"},
	{Code: "GG", Name: "Guernsey"},
	{Code: "JE", Name: "Jersey"},
	{Code: "IM", Name: "Isle of Man"},
	{Code: "AD", Name: "Andorra"},
	{Code: "AR", Name: "Argentina"},
	{Code: "CA", Name: "Canada"},
	{Code: "IL", Name: "Israel"},
	{Code: "UY", Name: "Uruguay"},
	{Code: "NZ", Name: "New Zealand"},
	{Code: "JP", Name: "Japan"},
	{Code: "KR", Name: "South Korea"},
	{Code: "US", Name: "United States"},
	{Code: "BR", Name: "Brazil"},
	{Code: "SG", Name: "Singapore"},
	{Code: "AU", Name: "Australia"},
	{Code: "IN", Name: "India"},
	{Code: "AE", Name: "United Arab Emirates"},
	{Code: "ZA", Name: "South Africa"},
}

// adequacyRow is a row of the adequacy table, dates as written.
type adequacyRow struct {
	country, entity, instrument, adopted, until string
	scope                                       AdequacyScope
	scopeNote                                   string
	scopeMechanism                              v1alpha1.Mechanism
	note                                        string
	unverified                                  bool
}

// adequacyTable: GDPR Art. 45 decisions and those carried over from Directive 95/46/EC.
var adequacyTable = []adequacyRow{
	{country: "CH", entity: "Switzerland", instrument: "Decision 2000/518/EC", adopted: "2000-07-26", scope: ScopeFull},
	{country: "CA", entity: "Canada", instrument: "Decision 2002/2/EC", adopted: "2001-12-20", scope: ScopePartial,
		scopeNote:      "only recipients subject to PIPEDA (commercial organisations)",
		scopeMechanism: v1alpha1.MechanismAdequacyDecision},
	{country: "AR", entity: "Argentina", instrument: "Decision 2003/490/EC", adopted: "2003-06-30", scope: ScopeFull},
	{country: "GG", entity: "Guernsey", instrument: "Decision 2003/821/EC", adopted: "2003-11-21", scope: ScopeFull},
	{country: "IM", entity: "Isle of Man", instrument: "Decision 2004/411/EC", adopted: "2004-04-28", scope: ScopeFull},
	{country: "JE", entity: "Jersey", instrument: "Decision 2008/393/EC", adopted: "2008-05-08", scope: ScopeFull},
	{country: "FO", entity: "Faroe Islands", instrument: "Decision 2010/146/EU", adopted: "2010-03-05", scope: ScopeFull,
		scopeNote: "recipients under the Faroese Act on processing of personal data"},
	{country: "AD", entity: "Andorra", instrument: "Decision 2010/625/EU", adopted: "2010-10-19", scope: ScopeFull},
	{country: "IL", entity: "Israel", instrument: "Decision 2011/61/EU", adopted: "2011-01-31", scope: ScopeFull,
		scopeNote: "automated processing (scope unverified)"},
	{country: "UY", entity: "Uruguay", instrument: "Decision 2012/484/EU", adopted: "2012-08-21", scope: ScopeFull},
	{country: "NZ", entity: "New Zealand", instrument: "Decision 2013/65/EU", adopted: "2012-12-19", scope: ScopeFull},
	{country: "JP", entity: "Japan", instrument: "Decision (EU) 2019/419", adopted: "2019-01-23", scope: ScopePartial,
		scopeNote:      "only businesses under the APPI bound by the Supplementary Rules",
		scopeMechanism: v1alpha1.MechanismAdequacyDecision},
	{country: "GB", entity: "United Kingdom", instrument: "Decision (EU) 2021/1772", adopted: "2021-06-28", until: "2031-12-27",
		scope: ScopeFull, note: "renewed in December 2025, valid until 2031-12-27"},
	{country: "KR", entity: "South Korea", instrument: "Decision (EU) 2022/254", adopted: "2021-12-17", scope: ScopeFull,
		scopeNote: "PIPA-regulated recipients (some sector exclusions)"},
	// The US decisions before the DPF, kept so that an evaluation as of a past
	// date (residencyctl --at) reads the law of that date; the dead-mechanism
	// table below ends them on the days the CJEU struck them down.
	{country: "US", entity: "United States", instrument: "Decision 2000/520/EC", adopted: "2000-07-26", until: "2015-10-06",
		scope: ScopePartial, scopeNote: "only organisations self-certified under the Safe Harbor principles",
		scopeMechanism: v1alpha1.MechanismSafeHarbor, note: "invalidated by CJEU C-362/14 (Schrems I)"},
	{country: "US", entity: "United States", instrument: "Decision (EU) 2016/1250", adopted: "2016-07-12", until: "2020-07-16",
		scope: ScopePartial, scopeNote: "only organisations certified under the EU-US Privacy Shield",
		scopeMechanism: v1alpha1.MechanismPrivacyShield, note: "invalidated by CJEU C-311/18 (Schrems II)"},
	{country: "US", entity: "United States", instrument: "Decision (EU) 2023/1795", adopted: "2023-07-10", scope: ScopePartial,
		scopeNote:      "only organisations certified under the EU-US Data Privacy Framework",
		scopeMechanism: v1alpha1.MechanismDataPrivacyFramework,
		note:           "in force; General Court dismissed Latombe (T-553/23) on 2025-09-03; appeal C-703/25 P pending"},
	{country: "BR", entity: "Brazil", instrument: "Commission Implementing Decision (EU) 2026/179", adopted: "2026-01-26", scope: ScopeFull,
		scopeNote: "LGPD-regulated recipients",
		note:      "OJ L, 28.1.2026; EDPB Opinion 28/2025 preceded it"},
	// Not a country: listed for the register, never used to classify a location.
	{entity: "European Patent Organisation", instrument: "Decision C(2025) 4626", adopted: "2025-07-15", scope: ScopeFull,
		scopeNote: "an international organisation, not a country", unverified: true},
}

// deadTable: mechanisms that no longer carry transfers.
var deadTable = []struct {
	mechanism                       v1alpha1.Mechanism
	state                           v1alpha1.TransferBasisState
	from, source, known, instrument string
}{
	{v1alpha1.MechanismSafeHarbor, v1alpha1.BasisInvalidated, "2015-10-06", "CJEU C-362/14", "Schrems I", "Decision 2000/520/EC"},
	{v1alpha1.MechanismPrivacyShield, v1alpha1.BasisInvalidated, "2020-07-16", "CJEU C-311/18", "Schrems II", "Decision (EU) 2016/1250"},
	{v1alpha1.MechanismLegacyStandardContractualClauses, v1alpha1.BasisExpired, "2022-12-27", "Decision (EU) 2021/914, Art. 4", "",
		"Decisions 2001/497/EC, 2004/915/EC, 2010/87/EU"},
}

// mechanismTable: GDPR Chapter V in one table.
var mechanismTable = []MechanismInfo{
	{Mechanism: v1alpha1.MechanismAdequacyDecision, Article: "GDPR Art. 45"},
	{Mechanism: v1alpha1.MechanismDataPrivacyFramework, Article: "GDPR Art. 45 (Decision (EU) 2023/1795)"},
	{Mechanism: v1alpha1.MechanismBindingCorporateRules, Article: "GDPR Art. 46(2)(b), Art. 47", Art46: true},
	{Mechanism: v1alpha1.MechanismStandardContractualClauses, Article: "GDPR Art. 46(2)(c)", Art46: true},
	{Mechanism: v1alpha1.MechanismCodeOfConduct, Article: "GDPR Art. 46(2)(e)", Art46: true},
	{Mechanism: v1alpha1.MechanismCertification, Article: "GDPR Art. 46(2)(f)", Art46: true},
	{Mechanism: v1alpha1.MechanismAdHocContractualClauses, Article: "GDPR Art. 46(3)(a)", Art46: true},
	{Mechanism: v1alpha1.MechanismDerogation, Article: "GDPR Art. 49(1)"},
	{Mechanism: v1alpha1.MechanismPrivacyShield, Article: "Directive 95/46/EC Art. 25(6) (Decision (EU) 2016/1250)"},
	{Mechanism: v1alpha1.MechanismSafeHarbor, Article: "Directive 95/46/EC Art. 25(6) (Decision 2000/520/EC)"},
	// The old SCCs were Art. 46 safeguards (kept in force by Art. 46(5)) until they expired.
	{Mechanism: v1alpha1.MechanismLegacyStandardContractualClauses,
		Article: "GDPR Art. 46(5) (Directive 95/46/EC Art. 26(4); Decisions 2001/497/EC, 2004/915/EC, 2010/87/EU)", Art46: true},
}

// derogationArticle: the point of GDPR Art. 49(1) each derogation is.
var derogationArticle = map[v1alpha1.Derogation]string{
	"ExplicitConsent":               "GDPR Art. 49(1)(a)",
	"ContractWithDataSubject":       "GDPR Art. 49(1)(b)",
	"ContractInDataSubjectInterest": "GDPR Art. 49(1)(c)",
	"PublicInterest":                "GDPR Art. 49(1)(d)",
	"LegalClaims":                   "GDPR Art. 49(1)(e)",
	"VitalInterests":                "GDPR Art. 49(1)(f)",
	"PublicRegister":                "GDPR Art. 49(1)(g)",
	"CompellingLegitimateInterests": "GDPR Art. 49(1), second subparagraph",
}

// regionTable: cloud regions and their countries, for default ProcessingLocations.
var regionTable = []CloudRegion{
	{"AWS", "eu-central-1", "Frankfurt", "DE", false},
	{"AWS", "eu-west-1", "Dublin", "IE", false},
	{"AWS", "eu-west-3", "Paris", "FR", false},
	{"AWS", "eu-south-1", "Milan", "IT", false},
	{"AWS", "eu-south-2", "Aragón", "ES", false},
	{"AWS", "eu-north-1", "Stockholm", "SE", false},
	{"AWS", "eusc-de-east-1", "Brandenburg", "DE", false},
	{"AWS", "eu-central-2", "Zurich", "CH", false},
	{"AWS", "eu-west-2", "London", "GB", false},
	{"AWS", "us-east-1", "", "US", false},
	{"AWS", "us-east-2", "", "US", false},
	{"AWS", "us-west-1", "", "US", false},
	{"AWS", "us-west-2", "", "US", false},
	{"AWS", "ca-central-1", "", "CA", false},
	{"AWS", "sa-east-1", "", "BR", false},
	{"AWS", "il-central-1", "", "IL", false},
	{"AWS", "ap-northeast-1", "Tokyo", "JP", false},
	{"AWS", "ap-northeast-2", "Seoul", "KR", false},
	{"AWS", "ap-southeast-1", "Singapore", "SG", false},
	{"AWS", "ap-southeast-2", "Sydney", "AU", false},
	{"AWS", "ap-south-1", "Mumbai", "IN", false},
	{"AWS", "me-central-1", "", "AE", false},
	{"AWS", "af-south-1", "", "ZA", false},
	{"Google Cloud", "europe-west1", "", "BE", false},
	{"Google Cloud", "europe-west3", "Frankfurt", "DE", false},
	{"Google Cloud", "europe-west10", "Berlin", "DE", false},
	{"Google Cloud", "europe-west4", "", "NL", false},
	{"Google Cloud", "europe-west9", "Paris", "FR", false},
	{"Google Cloud", "europe-west8", "Milan", "IT", false},
	{"Google Cloud", "europe-west12", "Turin", "IT", false},
	{"Google Cloud", "europe-southwest1", "Madrid", "ES", false},
	{"Google Cloud", "europe-central2", "Warsaw", "PL", false},
	{"Google Cloud", "europe-north1", "Hamina", "FI", false},
	{"Google Cloud", "europe-north2", "Stockholm", "SE", true},
	{"Google Cloud", "europe-west6", "Zurich", "CH", false},
	{"Google Cloud", "europe-west2", "London", "GB", false},
	{"Google Cloud", "me-west1", "", "IL", false},
	{"Google Cloud", "us-central1", "", "US", false},
	{"Google Cloud", "us-east1", "", "US", false},
	{"Google Cloud", "us-east4", "", "US", false},
	{"Google Cloud", "us-east5", "", "US", false},
	{"Google Cloud", "us-south1", "", "US", false},
	{"Google Cloud", "us-west1", "", "US", false},
	{"Google Cloud", "us-west2", "", "US", false},
	{"Google Cloud", "us-west3", "", "US", false},
	{"Google Cloud", "us-west4", "", "US", false},
	{"Google Cloud", "asia-northeast1", "", "JP", false},
	{"Google Cloud", "asia-northeast3", "", "KR", false},
	{"Google Cloud", "asia-southeast1", "", "SG", false},
	{"Azure", "northeurope", "", "IE", false},
	{"Azure", "westeurope", "", "NL", false},
	{"Azure", "francecentral", "", "FR", false},
	{"Azure", "germanywestcentral", "", "DE", false},
	{"Azure", "swedencentral", "", "SE", false},
	{"Azure", "norwayeast", "", "NO", false},
	{"Azure", "polandcentral", "", "PL", false},
	{"Azure", "italynorth", "", "IT", false},
	{"Azure", "spaincentral", "", "ES", false},
	{"Azure", "austriaeast", "", "AT", false},
	{"Azure", "belgiumcentral", "", "BE", false},
	{"Azure", "switzerlandnorth", "", "CH", false},
	{"Azure", "uksouth", "", "GB", false},
	{"Azure", "ukwest", "", "GB", false},
	{"Azure", "eastus", "", "US", false},
	{"Azure", "eastus2", "", "US", false},
	{"Azure", "centralus", "", "US", false},
	{"Azure", "westus", "", "US", false},
	{"Azure", "westus2", "", "US", false},
	{"Azure", "westus3", "", "US", false},
}

func buildCatalog() *Catalog {
	c := &Catalog{
		byCode:    make(map[string]CountryInfo, len(countryTable)),
		byCountry: make(map[string][]AdequacyDecision),
		deadBy:    make(map[v1alpha1.Mechanism]DeadMechanism, len(deadTable)),
		mechBy:    make(map[v1alpha1.Mechanism]MechanismInfo, len(mechanismTable)),
	}
	for _, ci := range countryTable {
		ci.EEA = ci.Membership != MemberNone
		c.countries = append(c.countries, ci)
		c.byCode[ci.Code] = ci
	}
	for _, r := range adequacyTable {
		d := AdequacyDecision{
			Country: r.country, Entity: r.entity, Instrument: r.instrument,
			Adopted: catalogDate(r.adopted), Scope: r.scope, ScopeNote: r.scopeNote,
			ScopeMechanism: r.scopeMechanism, Note: r.note, Unverified: r.unverified,
		}
		if r.until != "" {
			d.Until = catalogDate(r.until)
		}
		c.decisions = append(c.decisions, d)
	}
	sort.SliceStable(c.decisions, func(i, j int) bool { return c.decisions[i].Adopted.Before(c.decisions[j].Adopted) })
	for _, d := range c.decisions {
		if d.Country != "" {
			c.byCountry[d.Country] = append(c.byCountry[d.Country], d)
		}
	}
	for _, r := range deadTable {
		d := DeadMechanism{Mechanism: r.mechanism, State: r.state, From: catalogDate(r.from),
			Source: r.source, Known: r.known, Instrument: r.instrument}
		c.dead = append(c.dead, d)
		c.deadBy[d.Mechanism] = d
	}
	for _, m := range mechanismTable {
		c.mechanisms = append(c.mechanisms, m)
		c.mechBy[m.Mechanism] = m
	}
	c.regions = append(c.regions, regionTable...)
	sort.SliceStable(c.countries, func(i, j int) bool { return c.countries[i].Code < c.countries[j].Code })
	return c
}

// Countries lists the countries the catalog knows, sorted by code; EL appears
// as an alias of GR.
func (c *Catalog) Countries() []CountryInfo { return append([]CountryInfo(nil), c.countries...) }

// Country looks a code up, resolving the EL alias.
func (c *Catalog) Country(code string) (CountryInfo, bool) {
	ci, ok := c.byCode[CanonicalCountry(code)]
	return ci, ok
}

// Decisions lists the adequacy decisions in the order of adoption, the
// European Patent Organisation's (no country) included.
func (c *Catalog) Decisions() []AdequacyDecision {
	return append([]AdequacyDecision(nil), c.decisions...)
}

// DecisionsFor lists the adequacy decisions for a country (any time, in the
// order of adoption: the US has had three).
func (c *Catalog) DecisionsFor(country string) []AdequacyDecision {
	return append([]AdequacyDecision(nil), c.byCountry[CanonicalCountry(country)]...)
}

// DeadMechanisms lists the mechanisms that no longer carry transfers.
func (c *Catalog) DeadMechanisms() []DeadMechanism { return append([]DeadMechanism(nil), c.dead...) }

// Dead returns the catalog's entry for a mechanism that died (at any time).
func (c *Catalog) Dead(m v1alpha1.Mechanism) (DeadMechanism, bool) {
	d, ok := c.deadBy[m]
	return d, ok
}

// Mechanisms lists every mechanism with its article.
func (c *Catalog) Mechanisms() []MechanismInfo { return append([]MechanismInfo(nil), c.mechanisms...) }

// Article is the legal ground of a mechanism ("GDPR Art. 46(2)(c)"); empty
// for a value outside the enum.
func (c *Catalog) Article(m v1alpha1.Mechanism) string { return c.mechBy[m].Article }

// IsArt46 reports whether a mechanism is an appropriate safeguard of GDPR Art. 46
// (SCC, BCR, ad hoc clauses, code of conduct, certification; and the old SCCs,
// which Art. 46(5) kept in force until they expired on 2022-12-27).
func (c *Catalog) IsArt46(m v1alpha1.Mechanism) bool { return c.mechBy[m].Art46 }

// DerogationArticle is the point of Art. 49(1) a derogation is.
func (c *Catalog) DerogationArticle(d v1alpha1.Derogation) string { return derogationArticle[d] }

// Regions lists the cloud regions the catalog knows the country of.
func (c *Catalog) Regions() []CloudRegion { return append([]CloudRegion(nil), c.regions...) }

// CanonicalCountry maps the EU's "EL" to ISO's "GR"; other values are returned as they are.
func CanonicalCountry(code string) string {
	if code == "EL" {
		return "GR"
	}
	return code
}

// validCountryCode reports whether s is two upper-case ASCII letters.
func validCountryCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
