// Package report publishes workload findings where dashboards and people
// look: OpenReports Reports (openreports.io/v1alpha1, read by Policy Reporter
// and the tools that read Kyverno's reports) and Prometheus metrics.
package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/egress"
	"github.com/dataresidency/operator/internal/findings"
	"github.com/dataresidency/operator/internal/residency"
)

const (
	// Source is the report source, and Policy the policy name of every result.
	Source = "dataresidency.io"
	Policy = "data-residency"
	// Name is the name of a namespace's first Report; further parts are Name-2, Name-3...
	Name = "data-residency"
	// LabelManagedBy marks the Reports this operator owns.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "dataresidency-operator"
	// AnnotationContentHash records a digest of what the operator wrote, so
	// that it can tell an up-to-date Report from metadata alone.
	AnnotationContentHash = "dataresidency.io/content-hash"
	// LabelPart numbers the parts of a namespace's report.
	LabelPart = "dataresidency.io/report-part"

	// MaxResultsPerReport bounds one Report. A result serialises to at most
	// about 1.2 KiB (messages are cut at 700 bytes), so 500 results stay under
	// 600 KiB, far below etcd's 1.5 MiB object limit, where Kyverno's single
	// reports broke at about 2,000 pods in a namespace. Larger namespaces get
	// more parts (data-residency, data-residency-2, ...).
	MaxResultsPerReport = 500
	maxMessage          = 700
	// maxPassMessage bounds the message of a passing result: the legal ground
	// in brief; the Subprocessor's status has every route in full.
	maxPassMessage = 240
	// maxBasesProperty bounds the bases property (a handful of bases).
	maxBasesProperty = 400
)

// Build returns the Reports a namespace should have for its entries: one per
// MaxResultsPerReport results, with one result per workload and flow, none
// when the namespace has no evaluated workloads.
func Build(namespace string, entries []findings.Entry, maxPerReport int) []*openreports.Report {
	if maxPerReport <= 0 {
		maxPerReport = MaxResultsPerReport
	}
	var results []openreports.ReportResult
	for i := range entries {
		results = append(results, resultsOf(&entries[i])...)
	}
	if len(results) == 0 {
		return nil
	}
	var out []*openreports.Report
	for part := 0; part*maxPerReport < len(results); part++ {
		end := min((part+1)*maxPerReport, len(results))
		name := Name
		if part > 0 {
			name = fmt.Sprintf("%s-%d", Name, part+1)
		}
		r := &openreports.Report{
			TypeMeta: metav1.TypeMeta{APIVersion: openreports.SchemeGroupVersion.String(), Kind: "Report"},
			ObjectMeta: metav1.ObjectMeta{
				Name: name, Namespace: namespace,
				Labels: map[string]string{LabelManagedBy: ManagedBy, LabelPart: strconv.Itoa(part + 1)},
			},
			Source:  Source,
			Results: results[part*maxPerReport : end],
		}
		for _, res := range r.Results {
			switch res.Result {
			case "pass":
				r.Summary.Pass++
			case "warn":
				r.Summary.Warn++
			case "fail":
				r.Summary.Fail++
			case "skip":
				r.Summary.Skip++
			}
		}
		out = append(out, r)
	}
	return out
}

func resultsOf(e *findings.Entry) []openreports.ReportResult {
	subject := corev1.ObjectReference{
		APIVersion: e.Result.Resource.APIVersion, Kind: e.Key.Kind,
		Namespace: e.Key.Namespace, Name: e.Key.Name, UID: e.UID,
	}
	out := make([]openreports.ReportResult, 0, len(e.Result.Findings))
	for _, f := range e.Result.Findings {
		rule := string(f.Reason)
		if rule == "" {
			rule = string(residency.Compliant)
		}
		props := map[string]string{}
		set := func(k, v string) {
			if v != "" {
				props[k] = v
			}
		}
		set("subprocessor", f.Subprocessor)
		set("route", f.Route)
		set("country", f.Country)
		set("basis", f.Basis)
		// Every basis listing the route's country, each with its state and
		// since when: "a-dpf (DataPrivacyFramework): Invalidated since
		// 2027-06-01; a-bcr (BindingCorporateRules): Incomplete".
		set("bases", truncate(residency.RouteBasesText(f.Bases), maxBasesProperty))
		set("endpoint", f.Endpoint)
		// declared, discovered (and where) or observed (how often, when last).
		set("source", f.Source)
		result := outcome(f.Verdict)
		description := f.Message
		if x := f.Exception; x != nil {
			// An accepted risk: skipped, its verdict and reason kept, the
			// exception and its trail named.
			result = "skip"
			set("exception", x.Name)
			set("exceptionExpiresOn", string(x.ExpiresOn))
			set("exceptionApprovedBy", x.ApprovedBy)
			set("exceptionTicket", x.Ticket)
			set("verdict", string(f.Verdict))
			description = f.Message + "; " + x.String()
		}
		set("enforcement", e.Enforcement)
		limit := maxMessage
		if f.Verdict == residency.Compliant {
			limit = maxPassMessage
		}
		out = append(out, openreports.ReportResult{
			Source:      Source,
			Policy:      Policy,
			Rule:        rule,
			Severity:    severity(f.Verdict),
			Timestamp:   metav1.Timestamp{Seconds: e.Since.Unix()},
			Result:      result,
			Scored:      true,
			Subjects:    []corev1.ObjectReference{subject},
			Description: truncate(description, limit),
			Properties:  props,
		})
	}
	return append(out, egressResults(e, subject)...)
}

// Rules of the egress results.
const (
	// RuleEgressDenied is a flow the workload's egress policy leaves out
	// under enforce; RuleEgressWouldBeDenied the same under audit.
	RuleEgressDenied        = "EgressDenied"
	RuleEgressWouldBeDenied = "EgressWouldBeDenied"
)

// egressResults state, for a workload under an egress policy, every flow the
// policy leaves out and everything its backend cannot express.
func egressResults(e *findings.Entry, subject corev1.ObjectReference) []openreports.ReportResult {
	plan := e.Egress
	if plan == nil {
		return nil
	}
	result := func(rule, description string, props map[string]string) openreports.ReportResult {
		props["egressMode"], props["egressBackend"] = string(plan.Mode), string(plan.Settings.Backend)
		return openreports.ReportResult{
			Source: Source, Policy: Policy, Rule: rule, Severity: "medium", Result: "warn", Scored: true,
			Timestamp: metav1.Timestamp{Seconds: e.Since.Unix()}, Subjects: []corev1.ObjectReference{subject},
			Description: truncate(description, maxMessage), Properties: props,
		}
	}
	rule, verb := RuleEgressDenied, "denies"
	if plan.Mode == v1alpha1.EgressAudit {
		rule, verb = RuleEgressWouldBeDenied, "would deny"
	}
	var out []openreports.ReportResult
	cuts := plan.Cut
	if !plan.Selectable() {
		cuts = nil // no policy is written: nothing is cut (the note below says why)
	}
	for _, c := range cuts {
		what := c.Endpoint
		props := map[string]string{"reason": string(c.Reason)}
		if c.Subprocessor != "" {
			what = c.Subprocessor
			props["subprocessor"] = c.Subprocessor
		} else {
			props["endpoint"] = c.Endpoint
		}
		if c.Source != "" {
			props["source"] = c.Source
		}
		targets := append(append([]string(nil), c.Hosts...), c.CIDRs...)
		if len(targets) > 0 {
			props["hosts"] = truncate(strings.Join(targets, ", "), maxBasesProperty)
		}
		out = append(out, result(rule, fmt.Sprintf("the egress policy %s traffic to %s (%s): %s", verb, what, c.Reason, c.Message), props))
	}
	owner := egress.Owner{Kind: e.Key.Kind, Namespace: e.Key.Namespace, Name: e.Key.Name}
	for _, n := range egress.Notes(owner, plan) {
		props := map[string]string{}
		if len(n.Hosts) > 0 {
			props["hosts"] = truncate(strings.Join(n.Hosts, ", "), maxBasesProperty)
		}
		out = append(out, result(n.Reason, n.Message, props))
	}
	return out
}

func outcome(v residency.Verdict) openreports.Result {
	switch v {
	case residency.Violation:
		return "fail"
	case residency.Warning:
		return "warn"
	}
	return "pass"
}

func severity(v residency.Verdict) openreports.ResultSeverity {
	switch v {
	case residency.Violation:
		return "high"
	case residency.Warning:
		return "medium"
	}
	return "info"
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// ContentHash digests what the operator writes into a Report: labels, source,
// summary and results.
func ContentHash(r *openreports.Report) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	_ = enc.Encode(r.Labels)
	_ = enc.Encode(r.Source)
	_ = enc.Encode(r.Summary)
	_ = enc.Encode(r.Results)
	return hex.EncodeToString(h.Sum(nil)[:16])
}
