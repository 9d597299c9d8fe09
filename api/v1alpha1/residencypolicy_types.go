package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PolicyName is the only name a ResidencyPolicy may have.
const PolicyName = "default"

// ResidencyPolicySpec is the organisation's rules for personal data flows.
type ResidencyPolicySpec struct {
	// defaultEnforcement applies to namespaces without the
	// dataresidency.io/enforcement label: deny, warn or audit (the default).
	// +optional
	// +kubebuilder:default=audit
	DefaultEnforcement Enforcement `json:"defaultEnforcement,omitempty"`

	// allowedClassifications are the classifications personal data may go to.
	// ThirdCountry, when allowed, still needs a valid TransferBasis per route.
	// Defaults to all four.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=4
	AllowedClassifications []Classification `json:"allowedClassifications,omitempty"`

	// requireTransferImpactAssessment lists the mechanisms whose bases are
	// Incomplete without a transferImpactAssessment.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=11
	RequireTransferImpactAssessment []Mechanism `json:"requireTransferImpactAssessment,omitempty"`

	// specialCategoriesOutsideEEA is what a flow of GDPR Art. 9 or Art. 10 data
	// (health, biometrics, criminal history...) to a destination outside the EEA
	// is: deny (the default), warn or allow.
	// +optional
	// +kubebuilder:default=deny
	// +kubebuilder:validation:Enum=deny;warn;allow
	SpecialCategoriesOutsideEEA RuleAction `json:"specialCategoriesOutsideEEA,omitempty"`

	// unattributedEgress is what an endpoint no Subprocessor claims is: deny,
	// warn (the default) or ignore.
	// +optional
	// +kubebuilder:default=warn
	// +kubebuilder:validation:Enum=deny;warn;ignore
	UnattributedEgress RuleAction `json:"unattributedEgress,omitempty"`

	// requireDeclaration is what a workload that declares neither the
	// Subprocessors it sends personal data to (dataresidency.io/subprocessors,
	// or "none" when no personal data leaves it) nor the data categories it
	// sends (dataresidency.io/data-categories) is: ignore (the default: such a
	// workload is judged on what is discovered only), warn or deny (an
	// Undeclared finding). A Namespace's dataresidency.io/require-declaration
	// label overrides it for that namespace.
	// +optional
	// +kubebuilder:default=ignore
	// +kubebuilder:validation:Enum=ignore;warn;deny
	RequireDeclaration RuleAction `json:"requireDeclaration,omitempty"`

	// observedEgress configures how the names workloads resolve (reported by
	// the cluster DNS through dnstap) are kept.
	// +optional
	ObservedEgress *ObservedEgressPolicy `json:"observedEgress,omitempty"`
	// exceptions bounds the ResidencyExceptions that may be granted.
	// +optional
	Exceptions *ExceptionsPolicy `json:"exceptions,omitempty"`
	// egressPolicy configures the network policies the operator writes for
	// the workloads of namespaces labelled dataresidency.io/egress (enforce
	// or audit): each may reach its compliant Subprocessors' egress claims,
	// the cluster DNS, the cluster itself and alwaysAllow, nothing else.
	// +optional
	EgressPolicy *EgressPolicy `json:"egressPolicy,omitempty"`
	// excludedNamespaces are never evaluated nor blocked.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	ExcludedNamespaces []string `json:"excludedNamespaces,omitempty"`

	// mechanismOverrides mark a mechanism invalid from a date, without waiting
	// for a release: the "next Schrems" switch.
	// +optional
	// +listType=map
	// +listMapKey=mechanism
	// +kubebuilder:validation:MaxItems=11
	MechanismOverrides []MechanismOverride `json:"mechanismOverrides,omitempty"`

	// countryOverrides reclassify a country from a date (and optionally until
	// one), overriding the built-in catalog.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	CountryOverrides []CountryOverride `json:"countryOverrides,omitempty"`
}

// ExceptionsPolicy bounds ResidencyExceptions.
type ExceptionsPolicy struct {
	// maxDays caps how long after its approval an exception applies (365 by
	// default): a longer expiresOn stops at approvedOn + maxDays.
	// +optional
	// +kubebuilder:default=365
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3650
	MaxDays int32 `json:"maxDays,omitempty"`
	// neverExcept are reason codes no exception may cover, beside
	// InvalidAnnotation (a declaration that cannot be read cannot be accepted).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=64
	NeverExcept []string `json:"neverExcept,omitempty"`
}

// EgressPolicy configures the egress policies written per workload.
type EgressPolicy struct {
	// backend is the kind of policy written: NetworkPolicy (the default:
	// CIDR claims only, any CNI that enforces NetworkPolicy), Cilium
	// (CiliumNetworkPolicy: host names through toFQDNs) or
	// ClusterNetworkPolicy (sigs.k8s.io/network-policy-api v1beta1:
	// host names through domainNames, experimental upstream).
	// +optional
	// +kubebuilder:default=NetworkPolicy
	Backend EgressBackend `json:"backend,omitempty"`
	// alwaysAllow are endpoints every workload under egress enforcement may
	// reach whatever its flows: image registries, telemetry, the API
	// server's address when the CNI does not count it as in-cluster.
	// +optional
	AlwaysAllow *Egress `json:"alwaysAllow,omitempty"`
	// clusterDNS selects the cluster DNS Pods the policies let workloads
	// query (in kube-system, k8s-app=kube-dns by default).
	// +optional
	ClusterDNS *ClusterDNS `json:"clusterDNS,omitempty"`
}

// EgressBackend is the kind of network policy the operator writes.
// +kubebuilder:validation:Enum=NetworkPolicy;Cilium;ClusterNetworkPolicy
type EgressBackend string

const (
	// EgressBackendNetworkPolicy writes networking.k8s.io/v1 NetworkPolicies.
	EgressBackendNetworkPolicy EgressBackend = "NetworkPolicy"
	// EgressBackendCilium writes cilium.io/v2 CiliumNetworkPolicies.
	EgressBackendCilium EgressBackend = "Cilium"
	// EgressBackendClusterNetworkPolicy writes policy.networking.k8s.io/v1beta1 ClusterNetworkPolicies.
	EgressBackendClusterNetworkPolicy EgressBackend = "ClusterNetworkPolicy"
)

// ClusterDNS selects the cluster DNS Pods.
type ClusterDNS struct {
	// namespace of the cluster DNS Pods: kube-system by default.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
	// podLabels the cluster DNS Pods carry: k8s-app=kube-dns by default.
	// +optional
	// +kubebuilder:validation:MaxProperties=8
	PodLabels map[string]string `json:"podLabels,omitempty"`
}

// ObservedEgressPolicy configures observed egress.
type ObservedEgressPolicy struct {
	// retention is how long after a name was last resolved it still counts
	// (and is kept in its ObservedEgress): 168h (7 days) by default, at
	// least 1m.
	// +optional
	// +kubebuilder:default="168h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="retention must be at least 1m"
	Retention *metav1.Duration `json:"retention,omitempty"` //nolint:kubeapilinter // nodurations: a duration string ("168h"), as cert-manager's and Flux's CRDs take theirs
}

// MechanismOverride marks a transfer mechanism invalid from a date.
type MechanismOverride struct {
	// mechanism is the mechanism to invalidate.
	// +required
	Mechanism Mechanism `json:"mechanism"`

	// invalidFrom is the first day the mechanism can no longer carry transfers.
	// +required
	InvalidFrom Date `json:"invalidFrom"`

	// reason is the legal source, cited in every message ("CJEU C-703/25 P").
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Reason string `json:"reason"`
}

// CountryOverride reclassifies a country.
// +kubebuilder:validation:XValidation:rule="!has(self.until) || !has(self.from) || self.until > self.from",message="until must be after from",fieldPath=".until"
type CountryOverride struct {
	// country is the country to reclassify.
	// +required
	Country CountryCode `json:"country"`

	// classification is the country's classification while the override applies.
	// +required
	Classification Classification `json:"classification"`

	// from is the first day the override applies; empty means always.
	// +optional
	From Date `json:"from,omitempty"`

	// until is the first day it no longer applies; empty means open-ended.
	// +optional
	Until Date `json:"until,omitempty"`

	// reason is the legal source, cited in messages.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Reason string `json:"reason,omitempty"`
}

// PolicySummary counts what the operator sees across the cluster.
type PolicySummary struct {
	// workloads is the number of workloads evaluated.
	// +required
	Workloads int32 `json:"workloads"`
	// compliant is the number of workloads whose every flow is Compliant.
	// +required
	Compliant int32 `json:"compliant"`
	// warnings is the number of workloads whose worst finding is a Warning.
	// +required
	Warnings int32 `json:"warnings"`
	// violations is the number of workloads with at least one Violation.
	// +required
	Violations int32 `json:"violations"`
	// undeclared is the number of workloads that declare neither the
	// Subprocessors they send personal data to (or none) nor the data
	// categories they send, whatever the policy's requireDeclaration.
	// +required
	Undeclared int32 `json:"undeclared"`
	// excepted is the number of workloads with a finding a
	// ResidencyException accepts: those findings do not count as
	// violations or warnings above.
	// +optional
	Excepted int32 `json:"excepted,omitempty"`
	// subprocessors is the number of Subprocessors.
	// +required
	Subprocessors int32 `json:"subprocessors"`
	// uncoveredTransfers is the number of Subprocessor transfer routes not covered.
	// +required
	UncoveredTransfers int32 `json:"uncoveredTransfers"`
	// subprocessorsByState counts Subprocessors by state.
	// +optional
	SubprocessorsByState map[string]int32 `json:"subprocessorsByState,omitempty"`
	// transferBasesByState counts TransferBases by state.
	// +optional
	TransferBasesByState map[string]int32 `json:"transferBasesByState,omitempty"`
}

// ResidencyPolicyStatus is the cluster's compliance summary.
type ResidencyPolicyStatus struct {
	// conditions holds Ready, True when the policy is in force.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// summary counts workloads, subprocessors and transfers.
	// +optional
	Summary *PolicySummary `json:"summary,omitempty"`
}

// ResidencyPolicy holds the organisation's residency rules. There is one, named "default".
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=rpol,categories=residency
// +kubebuilder:validation:XValidation:rule="self.metadata.name == 'default'",message="there is one ResidencyPolicy and it must be named 'default'"
// +kubebuilder:printcolumn:name="Enforcement",type=string,JSONPath=`.spec.defaultEnforcement`
// +kubebuilder:printcolumn:name="Workloads",type=integer,JSONPath=`.status.summary.workloads`
// +kubebuilder:printcolumn:name="Violations",type=integer,JSONPath=`.status.summary.violations`
// +kubebuilder:printcolumn:name="Warnings",type=integer,JSONPath=`.status.summary.warnings`
// +kubebuilder:printcolumn:name="Undeclared",type=integer,JSONPath=`.status.summary.undeclared`
// +kubebuilder:printcolumn:name="Uncovered",type=integer,JSONPath=`.status.summary.uncoveredTransfers`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ResidencyPolicy struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's standard metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the organisation's rules.
	// +optional
	Spec ResidencyPolicySpec `json:"spec,omitempty"`

	// status is the cluster's compliance summary, kept by the operator.
	// +optional
	Status ResidencyPolicyStatus `json:"status,omitempty"`
}

// ResidencyPolicyList is a list of ResidencyPolicies.
// +kubebuilder:object:root=true
type ResidencyPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ResidencyPolicy `json:"items"`
}
