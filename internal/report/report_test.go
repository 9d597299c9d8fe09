package report

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dataresidency/operator/internal/findings"
	"github.com/dataresidency/operator/internal/residency"
)

func entry(i int, verdict residency.Verdict, reason residency.Reason) findings.Entry {
	return findings.Entry{
		Key:   findings.Key{Kind: "Deployment", Namespace: "big", Name: fmt.Sprintf("app-%05d", i)},
		Since: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC),
		Result: residency.Result{
			Resource: residency.ResourceRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "big", Name: fmt.Sprintf("app-%05d", i)},
			Verdict:  verdict,
			Findings: []residency.Finding{{
				Subprocessor: "twilio-sendgrid", Route: "sendgrid-us", Country: "US", Basis: "sendgrid-ps",
				Bases: []residency.RouteBasis{
					{Name: "sendgrid-ps", Mechanism: "PrivacyShield", State: "Invalidated", Since: "2020-07-16"},
					{Name: "sendgrid-dpf", Mechanism: "DataPrivacyFramework", State: "Invalidated", Since: "2027-06-01"},
				},
				Verdict: verdict, Reason: reason,
				Message: strings.Repeat("transfer to US via sendgrid-us has no valid basis: sendgrid-ps is PrivacyShield, invalid since 2020-07-16 (CJEU C-311/18). ", 10),
			}},
		},
		Enforcement: "deny",
	}
}

// TestReportsStayUnderTheEtcdLimit: 5,000 workloads with long messages in one
// namespace (past where Kyverno's single report hit etcd's 1.5 MiB) split into
// parts that each stay well under it.
func TestReportsStayUnderTheEtcdLimit(t *testing.T) {
	var es []findings.Entry
	for i := 0; i < 5000; i++ {
		es = append(es, entry(i, residency.Violation, residency.ReasonBasisNotValid))
	}
	reports := Build("big", es, 0)
	if len(reports) != 10 {
		t.Fatalf("%d reports, want 5 parts of %d", len(reports), MaxResultsPerReport)
	}
	total := 0
	for i, r := range reports {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 768*1024 {
			t.Errorf("part %d is %d bytes, want under 768 KiB (etcd's limit is 1.5 MiB)", i+1, len(b))
		}
		total += len(r.Results)
		if r.Summary.Fail != len(r.Results) {
			t.Errorf("part %d summary %+v for %d failing results", i+1, r.Summary, len(r.Results))
		}
	}
	if total != 5000 {
		t.Errorf("%d results in all parts, want 5000", total)
	}
	if reports[0].Name != Name || reports[1].Name != Name+"-2" {
		t.Errorf("part names %s, %s", reports[0].Name, reports[1].Name)
	}
}

func TestResultShape(t *testing.T) {
	rs := Build("ns", []findings.Entry{entry(1, residency.Warning, residency.ReasonDerogationInUse), entry(2, residency.Compliant, "")}, 0)
	if len(rs) != 1 || len(rs[0].Results) != 2 {
		t.Fatalf("got %+v", rs)
	}
	w, p := rs[0].Results[0], rs[0].Results[1]
	if w.Policy != "data-residency" || w.Rule != "DerogationInUse" || w.Result != "warn" || w.Properties["subprocessor"] != "twilio-sendgrid" ||
		w.Properties["route"] != "sendgrid-us" || w.Properties["country"] != "US" || w.Properties["basis"] != "sendgrid-ps" {
		t.Errorf("warning result = %+v", w)
	}
	if p.Result != "pass" || p.Rule != "Compliant" {
		t.Errorf("compliant result = %+v", p)
	}
	if len(w.Description) > maxMessage {
		t.Errorf("message of %d bytes, want at most %d", len(w.Description), maxMessage)
	}
	if Build("ns", nil, 0) != nil {
		t.Errorf("an empty namespace gets a Report")
	}
}

// Every basis listing the route's country is in the result's properties,
// each with its state and since when: a dashboard filtering on the DPF finds
// a route reported against another basis.
func TestResultListsEveryBasis(t *testing.T) {
	rs := Build("ns", []findings.Entry{entry(1, residency.Violation, residency.ReasonBasisNotValid)}, 0)
	got := rs[0].Results[0].Properties["bases"]
	want := "sendgrid-ps (PrivacyShield): Invalidated since 2020-07-16; sendgrid-dpf (DataPrivacyFramework): Invalidated since 2027-06-01"
	if got != want {
		t.Errorf("bases property = %q\nwant %q", got, want)
	}
	if rs[0].Results[0].Properties["basis"] != "sendgrid-ps" {
		t.Errorf("basis property = %q", rs[0].Results[0].Properties["basis"])
	}
}
