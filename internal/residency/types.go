// Package residency is the engine that decides compliance: which country a
// location is in law, whether a transfer basis holds today, whether a
// subprocessor may be used, and what verdict each flow of a workload gets.
//
// It is pure: no client-go, no controller-runtime, no clock of its own. The
// controllers, the admission webhook and residencyctl gather objects, call
// Compile with the time they want the answer for, and read the Snapshot. Every
// answer carries the next instant at which it changes by itself, so callers can
// requeue exactly then instead of polling.
package residency

import (
	"time"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// Verdict is the outcome of one finding.
type Verdict string

const (
	// Compliant flows may proceed.
	Compliant Verdict = "Compliant"
	// Warning flows are admitted with a warning.
	Warning Verdict = "Warning"
	// Violation flows are rejected in deny namespaces and reported everywhere.
	Violation Verdict = "Violation"
)

// Worse reports whether v is more severe than w.
func (v Verdict) Worse(w Verdict) bool { return verdictRank(v) > verdictRank(w) }

func verdictRank(v Verdict) int {
	switch v {
	case Violation:
		return 2
	case Warning:
		return 1
	default:
		return 0
	}
}

// Reason is a stable, CamelCase reason code. The codes of the domain contract
// are what dashboards and tests match on: never rename them.
type Reason string

// Reason codes of findings (domain contract).
const (
	ReasonNone                      Reason = ""
	ReasonUnknownSubprocessor       Reason = "UnknownSubprocessor"
	ReasonUnknownLocation           Reason = "UnknownLocation"
	ReasonObjectionPeriodPending    Reason = "ObjectionPeriodPending"
	ReasonSubprocessorObjected      Reason = "SubprocessorObjected"
	ReasonAnonymousOnly             Reason = "AnonymousOnly"
	ReasonCategoryNotApproved       Reason = "CategoryNotApproved"
	ReasonUncoveredTransfer         Reason = "UncoveredTransfer"
	ReasonBasisNotValid             Reason = "BasisNotValid"
	ReasonClassificationNotAllowed  Reason = "ClassificationNotAllowed"
	ReasonSpecialCategoryOutsideEEA Reason = "SpecialCategoryOutsideEEA"
	ReasonUnattributedEgress        Reason = "UnattributedEgress"
	ReasonDerogationInUse           Reason = "DerogationInUse"
	ReasonInvalidAnnotation         Reason = "InvalidAnnotation"
	// ReasonUndeclared: the workload declares neither the Subprocessors it
	// sends personal data to (or none) nor the data categories it sends, and
	// the policy (or its namespace's label) requires a declaration.
	ReasonUndeclared Reason = "Undeclared"
	// ReasonDiscoveryIncomplete: a bound on egress discovery (endpoints per
	// workload, bytes per value or per workload) kept part of the pod spec or
	// of its ConfigMaps from being read; the message says where and why.
	ReasonDiscoveryIncomplete Reason = "DiscoveryIncomplete"
)

// Reason codes of subprocessor states and routes beyond the findings above.
const (
	// ReasonUnknownTransferBasis: a Subprocessor names a TransferBasis that does not exist.
	ReasonUnknownTransferBasis Reason = "UnknownTransferBasis"
	// ReasonSubprocessorCycle: onward subprocessors refer back to one already on the path.
	ReasonSubprocessorCycle Reason = "SubprocessorCycle"
)

// ResourceRef names the workload a result is about.
type ResourceRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// Finding is one verdict about one flow of one workload.
type Finding struct {
	// Subprocessor is the Subprocessor the flow goes to; empty for an
	// unattributed endpoint or a placement finding.
	Subprocessor string `json:"subprocessor,omitempty"`
	// Endpoint is the endpoint the flow was discovered from, when it was discovered.
	Endpoint string `json:"endpoint,omitempty"`
	// Source says where the flow comes from: "declared: annotation
	// dataresidency.io/subprocessors", "discovered: env SMTP_HOST of container
	// \"app\"", "observed: resolved api.stripe.com 214 times, last
	// 2026-12-06T10:02Z" (flow and unattributed findings).
	Source string `json:"source,omitempty"`
	// Exception is the ResidencyException that accepts this finding, if one
	// does: the verdict and reason stay, the workload's verdict does not
	// count it.
	Exception *FindingException `json:"exception,omitempty"`
	// Route is the transfer route ("sendgrid-us", "remote-access:US",
	// "mailjet/gcp-us-central1"), or "region:<r>" for placement.
	Route string `json:"route,omitempty"`
	// Country is the destination country of the route.
	Country string `json:"country,omitempty"`
	// Basis is the TransferBasis the route rests on, or the one found not valid.
	Basis string `json:"basis,omitempty"`
	// Bases are the TransferBases of the subprocessor that list the route's
	// country, the one named by Basis first, each with its state and since
	// when (route findings only; shared between findings: read-only).
	Bases []RouteBasis `json:"bases,omitempty"`

	Verdict Verdict `json:"verdict"`
	Reason  Reason  `json:"reason,omitempty"`
	// Message says what happened in words a DPO reads, naming the legal ground.
	Message string `json:"message"`
}

// Result is the evaluation of one workload.
type Result struct {
	Resource ResourceRef `json:"resource"`
	// Verdict is the worst verdict of the findings.
	Verdict  Verdict   `json:"verdict"`
	Findings []Finding `json:"findings"`
	// Subprocessors are the Subprocessors the workload sends data to (declared
	// or attributed), sorted: what the controllers count and index.
	Subprocessors []string `json:"subprocessors,omitempty"`
	// Declared is true when the workload says what it sends: a readable
	// dataresidency.io/subprocessors (Subprocessor names, or none) or
	// dataresidency.io/data-categories entry. It does not depend on the policy:
	// the summary and the metrics count declared workloads under any
	// requireDeclaration.
	Declared bool `json:"declared"`
	// Excepted counts the findings a ResidencyException accepts.
	Excepted int `json:"excepted,omitempty"`
}

// LocationResult is a ProcessingLocation's classification at the snapshot's time.
type LocationResult struct {
	Classification v1alpha1.Classification
	LegalReference string
	// ValidUntil is when the classification next changes by itself (zero: not known to).
	ValidUntil time.Time
}

// BasisResult is a TransferBasis's state at the snapshot's time.
type BasisResult struct {
	State v1alpha1.TransferBasisState
	// Since is when the state began (zero: not known, or always).
	Since time.Time
	// ValidUntil is when the state next changes by itself (zero: never).
	ValidUntil time.Time
	// Message says why, citing the legal source when Invalidated.
	Message string
}

// SubprocessorResult is a Subprocessor's standing at the snapshot's time.
type SubprocessorResult struct {
	State v1alpha1.SubprocessorState
	// ObjectionPeriodEndsOn is the end of the objection period (zero: none).
	ObjectionPeriodEndsOn time.Time
	// Transfers has one row per route, onward routes included.
	Transfers []v1alpha1.Transfer
	// Routes has, for each row of Transfers at the same index, what the
	// status row does not hold: until when it stands and every basis listing
	// its country.
	Routes []RouteResult
	// Reason is the reason code of the state, and Message explains it.
	Reason  Reason
	Message string
	// MissingLocations, MissingBases and MissingSubprocessors name references that do not exist.
	MissingLocations     []string
	MissingBases         []string
	MissingSubprocessors []string
	// Cycles lists the onward-subprocessor paths that loop back, each as names.
	Cycles [][]string
	// NextTransition is when any of the above next changes by itself (zero: never).
	NextTransition time.Time
}
