package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dataresidency/operator/internal/residency"
)

// The words a DPO acts on, as residencyctl prints them (issue 18).

// cloudflareCatalog: a US location, the DPF (overridden from 2027-06-01), SCCs
// expiring 2027-11-15 and a BCR without the assessment the policy requires.
const cloudflareCatalog = `apiVersion: dataresidency.io/v1alpha1
kind: ResidencyPolicy
metadata: {name: default}
spec:
  requireTransferImpactAssessment: [BindingCorporateRules]
  mechanismOverrides:
  - {mechanism: DataPrivacyFramework, invalidFrom: "2027-06-01", reason: "CJEU C-703/25 P"}
---
apiVersion: dataresidency.io/v1alpha1
kind: ProcessingLocation
metadata: {name: cloudflare-us}
spec: {country: US}
---
apiVersion: dataresidency.io/v1alpha1
kind: TransferBasis
metadata: {name: cloudflare-dpf}
spec: {mechanism: DataPrivacyFramework, countries: [US]}
---
apiVersion: dataresidency.io/v1alpha1
kind: TransferBasis
metadata: {name: cloudflare-scc}
spec: {mechanism: StandardContractualClauses, countries: [US], expiresOn: "2027-11-15"}
---
apiVersion: dataresidency.io/v1alpha1
kind: TransferBasis
metadata: {name: cloudflare-bcr}
spec: {mechanism: BindingCorporateRules, countries: [US]}
---
apiVersion: dataresidency.io/v1alpha1
kind: Subprocessor
metadata: {name: cloudflare}
spec:
  legalName: Cloudflare, Inc.
  country: US
  purpose: CDN
  processingLocations: [cloudflare-us]
  transferBases: [cloudflare-dpf, cloudflare-scc]
---
apiVersion: dataresidency.io/v1alpha1
kind: Subprocessor
metadata: {name: cloudflare-eu}
spec:
  legalName: Cloudflare, Inc.
  country: US
  purpose: CDN
  processingLocations: [cloudflare-us]
  transferBases: [cloudflare-dpf, cloudflare-bcr]
---
apiVersion: dataresidency.io/v1alpha1
kind: ProcessingLocation
metadata: {name: sentry-us}
spec: {country: US}
---
apiVersion: dataresidency.io/v1alpha1
kind: Subprocessor
metadata: {name: sentry}
spec:
  legalName: Functional Software, Inc.
  country: US
  purpose: Error monitoring
  dataAccess: AnonymousOnly
  processingLocations: [sentry-us]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  annotations:
    dataresidency.io/subprocessors: cloudflare-eu
    dataresidency.io/data-categories: user.contact.email
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: registry.example/web:1}]
`

// With none valid, every basis listing the country is in the JSON result,
// each with its state and since when, and in SARIF's properties.
func TestScanListsEveryBasisListingTheCountry(t *testing.T) {
	path := writeTemp(t, "cloudflare.yaml", cloudflareCatalog)
	r := runMain([]string{"scan", "-f", path, "--at", "2027-06-01", "-o", "json"}, nil)
	if r.code != ExitViolations {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var rep struct {
		Results []ScanResult `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	var got *ScanResult
	for i := range rep.Results {
		if rep.Results[i].Reason == string(residency.ReasonBasisNotValid) {
			got = &rep.Results[i]
		}
	}
	if got == nil {
		t.Fatalf("no BasisNotValid result:\n%s", r.stdout)
	}
	want := []residency.RouteBasis{
		{Name: "cloudflare-bcr", Mechanism: "BindingCorporateRules", State: "Incomplete"},
		{Name: "cloudflare-dpf", Mechanism: "DataPrivacyFramework", State: "Invalidated", Since: "2027-06-01"},
	}
	if got.Basis != "cloudflare-bcr" || len(got.Bases) != 2 || got.Bases[0] != want[0] || got.Bases[1] != want[1] {
		t.Errorf("basis %q, bases %+v\nwant %+v", got.Basis, got.Bases, want)
	}
	if !strings.Contains(got.Message, "cloudflare-dpf is DataPrivacyFramework, invalid since 2027-06-01 (CJEU C-703/25 P)") {
		t.Errorf("message: %s", got.Message)
	}
	r = runMain([]string{"scan", "-f", path, "--at", "2027-06-01", "-o", "sarif"}, nil)
	if !strings.Contains(r.stdout, `"bases"`) || !strings.Contains(r.stdout, `"since": "2027-06-01"`) {
		t.Errorf("SARIF properties lack the bases:\n%s", r.stdout)
	}
}

func registerJSON(t *testing.T, path, at string) Register {
	t.Helper()
	r := runMain([]string{"register", "-f", path, "--at", at, "-o", "json"}, nil)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var reg Register
	if err := json.Unmarshal([]byte(r.stdout), &reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

func registerEntry(t *testing.T, reg Register, name string) RegisterSubprocessor {
	t.Helper()
	for _, e := range reg.Subprocessors {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no %s in the register", name)
	return RegisterSubprocessor{}
}

// A covered route's validUntil is the latest date some valid basis covers it;
// the register lists every basis; from the DPF override's date the US is a
// third country in the register too; an AnonymousOnly vendor's US location is
// not a transfer of personal data.
func TestRegisterDatesBasesAndAnonymousOnly(t *testing.T) {
	path := writeTemp(t, "cloudflare.yaml", cloudflareCatalog)
	reg := registerJSON(t, path, "2026-12-06")
	cf := registerEntry(t, reg, "cloudflare")
	if len(cf.Routes) != 1 {
		t.Fatalf("routes %+v", cf.Routes)
	}
	rt := cf.Routes[0]
	if rt.Basis != "cloudflare-scc" || rt.ValidUntil != "2027-11-15" || len(rt.Bases) != 2 || rt.Bases[1].Name != "cloudflare-dpf" ||
		rt.Bases[1].Until != "2027-06-01" {
		t.Errorf("route %+v: want cloudflare-scc, valid until 2027-11-15, the DPF listed too", rt)
	}
	if rt.Classification != "PartiallyAdequate" || cf.CountryClassification != "PartiallyAdequate" {
		t.Errorf("before the override: %s / %s", rt.Classification, cf.CountryClassification)
	}

	sentry := registerEntry(t, reg, "sentry")
	if len(sentry.Routes) != 0 || len(sentry.NotTransfers) != 1 ||
		!strings.Contains(sentry.Note, "sentry-us (US) is not a transfer of personal data") {
		t.Errorf("sentry: routes %+v, not transfers %+v, note %q", sentry.Routes, sentry.NotTransfers, sentry.Note)
	}
	if reg.Summary.ThirdCountryRoutes != 2 {
		t.Errorf("%d routes out of the EEA, want 2 (the AnonymousOnly one is not a transfer)", reg.Summary.ThirdCountryRoutes)
	}

	reg = registerJSON(t, path, "2027-06-01")
	cf = registerEntry(t, reg, "cloudflare")
	ref := "Decision (EU) 2023/1795 (DataPrivacyFramework) invalid since 2027-06-01 (CJEU C-703/25 P)"
	if rt := cf.Routes[0]; rt.Classification != "ThirdCountry" || rt.LegalReference != ref || cf.CountryClassification != "ThirdCountry" {
		t.Errorf("after the override: route %+v, entity %s", rt, cf.CountryClassification)
	}
	if l := cf.Locations[0]; l.Classification != "ThirdCountry" || l.LegalReference != ref {
		t.Errorf("after the override: location %+v", l)
	}

	r := runMain([]string{"register", "-f", path, "--at", "2026-12-06"}, nil)
	for _, w := range []string{
		"sentry receives anonymous data only (spec.dataAccess AnonymousOnly): sentry-us (US) is not a transfer of personal data",
		"cloudflare-scc; also listing US: cloudflare-dpf (DataPrivacyFramework): Valid until 2027-06-01",
		"(covered until 2027-11-15)",
	} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("markdown lacks %q:\n%s", w, r.stdout)
		}
	}
	r = runMain([]string{"register", "-f", path, "--at", "2027-06-01", "-o", "csv"}, nil)
	if !strings.Contains(r.stdout, "cloudflare-bcr (BindingCorporateRules): Incomplete; cloudflare-dpf (DataPrivacyFramework): Invalidated since 2027-06-01") {
		t.Errorf("CSV lacks the bases:\n%s", r.stdout)
	}
}

// A Subprocessor naming an object the CLI rejected is told it was rejected,
// and where, not that it does not exist.
func TestRejectedObjectIsNotMissing(t *testing.T) {
	path := writeTemp(t, "rejected.yaml", `apiVersion: dataresidency.io/v1alpha1
kind: ProcessingLocation
metadata: {name: us-east}
spec: {country: US}
---
apiVersion: dataresidency.io/v1alpha1
kind: TransferBasis
metadata: {name: vendor-scc}
spec: {mechanism: StandardContractualClause, countries: [US]}
---
apiVersion: dataresidency.io/v1alpha1
kind: Subprocessor
metadata: {name: vendor}
spec:
  legalName: Vendor Inc.
  country: US
  purpose: testing
  processingLocations: [us-east]
  transferBases: [vendor-scc]
`)
	r := runMain([]string{"scan", "-f", path}, nil)
	if r.code != ExitBadInput {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	want := "spec.transferBases[0]: TransferBasis vendor-scc is in the input but was rejected (" + path + ": document 2 (line 6)): see the error about it there"
	if !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "vendor-scc does not exist") {
		t.Errorf("stderr:\n%s\nwant %q", r.stderr, want)
	}
	if !strings.Contains(r.stderr, path+": document 2 (line 9): TransferBasis vendor-scc: spec.mechanism") {
		t.Errorf("the rejection itself is not reported where it is:\n%s", r.stderr)
	}
}

// residencyctl catalog cites Brazil's adequacy decision by its number.
func TestCatalogCitesBrazilsDecision(t *testing.T) {
	r := runMain([]string{"catalog", "--at", "2026-12-06"}, nil)
	if !strings.Contains(r.stdout, "Commission Implementing Decision (EU) 2026/179") || strings.Contains(r.stdout, "C(2026) 373") {
		t.Errorf("catalog table:\n%s", r.stdout)
	}
	r = runMain([]string{"catalog", "-o", "json", "--at", "2026-12-06"}, nil)
	var v CatalogView
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatal(err)
	}
	for _, c := range v.Countries {
		if c.Code == "BR" && (c.Classification != "Adequate" || c.LegalReference != "Commission Implementing Decision (EU) 2026/179") {
			t.Errorf("BR: %+v", c)
		}
	}
	for _, d := range v.AdequacyDecisions {
		if d.Country == "BR" && (d.Instrument != "Commission Implementing Decision (EU) 2026/179" || d.Unverified || d.Adopted != "2026-01-26" ||
			!strings.Contains(d.Note, "OJ L, 28.1.2026")) {
			t.Errorf("BR decision: %+v", d)
		}
	}
}
