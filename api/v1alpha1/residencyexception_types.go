package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ExceptionState is where a ResidencyException stands as of now.
// +kubebuilder:validation:Enum=Active;Expired;NotYetApproved;Unused
type ExceptionState string

const (
	// ExceptionActive: approved, not expired, and covering at least one finding.
	ExceptionActive ExceptionState = "Active"
	// ExceptionExpired: its expiresOn (or the policy's maxDays cap) has passed.
	ExceptionExpired ExceptionState = "Expired"
	// ExceptionNotYetApproved: its approvedOn is still to come.
	ExceptionNotYetApproved ExceptionState = "NotYetApproved"
	// ExceptionUnused: in force but matching no finding: a stale grant.
	ExceptionUnused ExceptionState = "Unused"
)

// ExceptedWorkload is a workload by kind and name.
type ExceptedWorkload struct {
	// kind is the workload's kind.
	// +required
	// +kubebuilder:validation:Enum=Pod;Deployment;StatefulSet;DaemonSet;ReplicaSet;ReplicationController;Job;CronJob
	Kind string `json:"kind"`
	// name is the workload's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// ResidencyExceptionSpec is a known non-compliance a DPO accepts for a while.
// +kubebuilder:validation:XValidation:rule="has(self.namespaces) || has(self.namespaceSelector)",message="name the namespaces it applies in: namespaces or namespaceSelector",fieldPath=".namespaces"
// +kubebuilder:validation:XValidation:rule="has(self.subprocessors) || has(self.endpoints) || has(self.reasons)",message="name what it excepts: subprocessors, endpoints or reasons",fieldPath=".subprocessors"
// +kubebuilder:validation:XValidation:rule="self.expiresOn > self.approvedOn",message="expiresOn must be after approvedOn",fieldPath=".expiresOn"
// +kubebuilder:validation:XValidation:rule="timestamp(self.expiresOn + 'T00:00:00Z') - timestamp(self.approvedOn + 'T00:00:00Z') <= duration('87600h')",message="an exception lasts at most 3650 days (the ResidencyPolicy's exceptions.maxDays may cap it lower)",fieldPath=".expiresOn"
type ResidencyExceptionSpec struct {
	// namespaces it applies in, by name.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	Namespaces []string `json:"namespaces,omitempty"`
	// namespaceSelector selects more namespaces by their labels.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// workloads it applies to, by kind and name; with workloadSelector
	// empty too: every workload of those namespaces.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	Workloads []ExceptedWorkload `json:"workloads,omitempty"`
	// workloadSelector selects more workloads by their own labels (a
	// Deployment's, not its Pods').
	// +optional
	WorkloadSelector *metav1.LabelSelector `json:"workloadSelector,omitempty"`
	// subprocessors whose flows it excepts.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	Subprocessors []ObjectName `json:"subprocessors,omitempty"`
	// endpoints (host or host:port, as findings name them) it excepts:
	// unattributed egress.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=260
	Endpoints []string `json:"endpoints,omitempty"`
	// reasons are the reason codes it excepts (BasisNotValid,
	// UncoveredTransfer...); empty: any the policy lets be excepted.
	// InvalidAnnotation never can be.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=64
	Reasons []string `json:"reasons,omitempty"`
	// expiresOn is the first day it no longer applies.
	// +required
	ExpiresOn Date `json:"expiresOn"`
	// justification says why the risk is accepted.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Justification string `json:"justification"`
	// ticket is where the decision is recorded (DPO-142).
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Ticket string `json:"ticket,omitempty"`
	// approvedBy is who accepted the risk.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	ApprovedBy string `json:"approvedBy"`
	// approvedOn is the day it was approved: it applies from then.
	// +required
	ApprovedOn Date `json:"approvedOn"`
}

// ResidencyExceptionStatus is the exception's standing as of now.
type ResidencyExceptionStatus struct {
	// conditions holds Ready, True once the status is computed.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// state is Active, Expired, NotYetApproved or Unused.
	// +optional
	State ExceptionState `json:"state,omitempty"`
	// expiresOn is when it stops applying: spec.expiresOn, or earlier when
	// the ResidencyPolicy's exceptions.maxDays caps it.
	// +optional
	ExpiresOn Date `json:"expiresOn,omitempty"`
	// workloadCount is the number of workloads with a finding it excepts now.
	// +optional
	WorkloadCount int32 `json:"workloadCount,omitempty"`
	// workloads are those workloads ("Deployment shop/checkout"), the first 100.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=100
	Workloads []string `json:"workloads,omitempty"`
}

// ResidencyException accepts a known non-compliance until a date, with the
// approver and the trail an auditor asks for. Cluster-scoped: a tenant with
// rights in one namespace cannot grant itself one.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=rexc,categories=residency
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.expiresOn`
// +kubebuilder:printcolumn:name="Workloads",type=integer,JSONPath=`.status.workloadCount`
// +kubebuilder:printcolumn:name="Approved by",type=string,JSONPath=`.spec.approvedBy`
// +kubebuilder:printcolumn:name="Ticket",type=string,JSONPath=`.spec.ticket`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ResidencyException struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's standard metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what is excepted, where, until when, and on whose approval.
	// +required
	Spec ResidencyExceptionSpec `json:"spec"`

	// status is its standing, kept by the operator.
	// +optional
	Status ResidencyExceptionStatus `json:"status,omitempty"`
}

// ResidencyExceptionList is a list of ResidencyExceptions.
//
// +kubebuilder:object:root=true
type ResidencyExceptionList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the list's standard metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the ResidencyExceptions.
	Items []ResidencyException `json:"items"`
}
