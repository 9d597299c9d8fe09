package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TransferBasisSpec is the legal ground for transfers of personal data to the
// countries it lists (GDPR Chapter V).
//
// +kubebuilder:validation:XValidation:rule="has(self.derogation) == (self.mechanism == 'Derogation')",message="derogation is required when mechanism is Derogation and must not be set otherwise",fieldPath=".derogation"
// +kubebuilder:validation:XValidation:rule="!has(self.expiresOn) || !has(self.effectiveFrom) || self.expiresOn > self.effectiveFrom",message="expiresOn must be after effectiveFrom",fieldPath=".expiresOn"
// +kubebuilder:validation:XValidation:rule="!has(self.sccModule) || self.mechanism in ['StandardContractualClauses', 'LegacyStandardContractualClauses']",message="sccModule applies only to mechanism StandardContractualClauses or LegacyStandardContractualClauses",fieldPath=".sccModule"
type TransferBasisSpec struct {
	// mechanism is the legal instrument. PrivacyShield, SafeHarbor and
	// LegacyStandardContractualClauses are accepted because old contracts still
	// name them; the operator reports them as Invalidated or Expired.
	// +required
	Mechanism Mechanism `json:"mechanism"`

	// countries are the destination countries this basis covers.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=250
	// +listType=set
	Countries []CountryCode `json:"countries"`

	// reference says where the document is ("Twilio BCR; DPA C.6").
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Reference string `json:"reference,omitempty"`

	// effectiveFrom is the first day the basis applies; before it the basis is NotYetEffective.
	// +optional
	EffectiveFrom Date `json:"effectiveFrom,omitempty"`

	// expiresOn is the first day the basis no longer applies; from it the basis is Expired.
	// +optional
	ExpiresOn Date `json:"expiresOn,omitempty"`

	// derogation is the Art. 49(1) ground; required if and only if mechanism is Derogation.
	// +optional
	Derogation Derogation `json:"derogation,omitempty"`

	// sccModule is the module of the 2021 SCCs, for StandardContractualClauses.
	// +optional
	SCCModule SCCModule `json:"sccModule,omitempty"`

	// transferImpactAssessment records the assessment of the destination's law
	// that Schrems II requires for Art. 46 mechanisms.
	// +optional
	TransferImpactAssessment *TransferImpactAssessment `json:"transferImpactAssessment,omitempty"`

	// supplementaryMeasures are the measures taken on top of the mechanism.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	SupplementaryMeasures []SupplementaryMeasure `json:"supplementaryMeasures,omitempty"`
}

// TransferImpactAssessment is the record of a transfer impact assessment.
// +kubebuilder:validation:XValidation:rule="!has(self.nextReviewOn) || !has(self.completedOn) || self.nextReviewOn > self.completedOn",message="nextReviewOn must be after completedOn",fieldPath=".nextReviewOn"
type TransferImpactAssessment struct {
	// completedOn is the day the assessment was completed.
	// +required
	CompletedOn Date `json:"completedOn"`

	// nextReviewOn is the day it must be reviewed by; from it the basis is ReviewOverdue.
	// +optional
	NextReviewOn Date `json:"nextReviewOn,omitempty"`

	// reference says where the assessment is ("TIA-2024-03").
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Reference string `json:"reference,omitempty"`
}

// TransferBasisState is whether a basis can carry transfers today, and if not why.
// +kubebuilder:validation:Enum=Valid;NotYetEffective;Expired;Invalidated;ReviewOverdue;Incomplete
type TransferBasisState string

const (
	// BasisValid can carry transfers.
	BasisValid TransferBasisState = "Valid"
	// BasisNotYetEffective starts on effectiveFrom.
	BasisNotYetEffective TransferBasisState = "NotYetEffective"
	// BasisExpired passed expiresOn, or its mechanism expired (old SCCs).
	BasisExpired TransferBasisState = "Expired"
	// BasisInvalidated rests on a mechanism a court or the policy struck down.
	BasisInvalidated TransferBasisState = "Invalidated"
	// BasisReviewOverdue has a transfer impact assessment past its nextReviewOn.
	BasisReviewOverdue TransferBasisState = "ReviewOverdue"
	// BasisIncomplete lacks the transfer impact assessment the policy requires.
	BasisIncomplete TransferBasisState = "Incomplete"
)

// TransferBasisStatus is the state of the basis as of now.
type TransferBasisStatus struct {
	// conditions holds Ready, True when the state is Valid.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// state is Valid, NotYetEffective, Expired, Invalidated, ReviewOverdue or Incomplete.
	// +optional
	State TransferBasisState `json:"state,omitempty"`

	// validUntil is the next date on which the state changes by itself, if any.
	// +optional
	ValidUntil Date `json:"validUntil,omitempty"`

	// message says why, citing the legal source when the basis is Invalidated.
	// +optional
	Message string `json:"message,omitempty"`

	// subprocessorCount is the number of Subprocessors that name this basis.
	// +optional
	SubprocessorCount int32 `json:"subprocessorCount,omitempty"`
}

// TransferBasis is a legal ground for transferring personal data to third
// countries: SCCs, BCRs, a DPF certification, a derogation...
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=transferbases,singular=transferbasis,scope=Cluster,shortName=tb;tbs,categories=residency
// +kubebuilder:printcolumn:name="Mechanism",type=string,JSONPath=`.spec.mechanism`
// +kubebuilder:printcolumn:name="Countries",type=string,JSONPath=`.spec.countries`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Until",type=string,JSONPath=`.status.validUntil`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TransferBasis struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's standard metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the basis as the agreement states it.
	// +required
	Spec TransferBasisSpec `json:"spec"`

	// status is the basis's state as of now, kept by the operator.
	// +optional
	Status TransferBasisStatus `json:"status,omitempty"`
}

// TransferBasisList is a list of TransferBases.
// +kubebuilder:object:root=true
type TransferBasisList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TransferBasis `json:"items"`
}
