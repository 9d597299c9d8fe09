package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DataAccess says whether a subprocessor may receive personal data at all.
// +kubebuilder:validation:Enum=PersonalData;AnonymousOnly
type DataAccess string

const (
	// DataAccessPersonalData may receive the personal data categories it is approved for.
	DataAccessPersonalData DataAccess = "PersonalData"
	// DataAccessAnonymousOnly may receive no personal data (seed 001: Sentry,
	// anonymous statistics only).
	DataAccessAnonymousOnly DataAccess = "AnonymousOnly"
)

// SubprocessorSpec is a vendor's entry in the data processing agreement.
type SubprocessorSpec struct {
	// legalName is the legal entity that processes the data ("Twilio SendGrid, Inc.").
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	LegalName string `json:"legalName"`

	// registrationNumber is the entity's organisation number, if known.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	RegistrationNumber string `json:"registrationNumber,omitempty"`

	// country is the entity's country of establishment: its jurisdiction, which
	// may differ from where the data is processed (AWS EMEA SARL is in LU but
	// subject to US law through its parent).
	// +required
	Country CountryCode `json:"country"`

	// address is the entity's registered address.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Address string `json:"address,omitempty"`

	// purpose is what the subprocessor does with the data ("E-mail delivery").
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Purpose string `json:"purpose"`

	// dataAccess is PersonalData (the default) or AnonymousOnly.
	// +optional
	// +kubebuilder:default=PersonalData
	DataAccess DataAccess `json:"dataAccess,omitempty"`

	// dataCategories are the fideslang keys the subprocessor is approved to
	// receive; a key covers its descendants. Empty means no category restriction
	// has been recorded.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=128
	DataCategories []DataCategory `json:"dataCategories,omitempty"`

	// processingLocations are the names of the ProcessingLocations where the data
	// is stored or processed.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	ProcessingLocations []ObjectName `json:"processingLocations"`

	// remoteAccessCountries are countries from which the subprocessor's staff can
	// access the data. Remote access from a third country is a transfer
	// (EDPB Guidelines 05/2021).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	RemoteAccessCountries []CountryCode `json:"remoteAccessCountries,omitempty"`

	// transferBases are the names of the TransferBases its third-country routes rest on.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	TransferBases []ObjectName `json:"transferBases,omitempty"`

	// subprocessors are the names of onward Subprocessors this one passes data to;
	// their routes count as this one's, transitively.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	Subprocessors []ObjectName `json:"subprocessors,omitempty"`

	// egress is how the subprocessor is recognised on the wire: the endpoints
	// that workloads talk to when they send it data.
	// +optional
	Egress *Egress `json:"egress,omitempty"`

	// notice records when the controller was told of this subprocessor. No
	// workload may use it before the objection period ends.
	// +optional
	Notice *Notice `json:"notice,omitempty"`

	// objection is set when the controller objected; the subprocessor is then blocked.
	// +optional
	Objection *Objection `json:"objection,omitempty"`
}

// Egress lists the endpoints of a subprocessor.
type Egress struct {
	// hosts are exact host names ("api.sendgrid.com") or leading wildcards
	// ("*.sendgrid.net", which matches any name below sendgrid.net).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Hosts []string `json:"hosts,omitempty"`

	// cidrs are IP ranges ("167.89.0.0/17") or single addresses.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.all(c, isCIDR(c) || isIP(c))",message="each entry must be an IP address or a CIDR such as 167.89.0.0/17"
	CIDRs []string `json:"cidrs,omitempty"`
}

// Notice records the notification of a new subprocessor to the controller.
type Notice struct {
	// notifiedOn is the day the controller was notified.
	// +required
	NotifiedOn Date `json:"notifiedOn"`

	// objectionPeriodDays is how long the controller may object; the
	// subprocessor is PendingObjectionPeriod until notifiedOn plus this many days.
	// +optional
	// +kubebuilder:default=30
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=3650
	ObjectionPeriodDays *int32 `json:"objectionPeriodDays,omitempty"`
}

// Objection records the controller's objection to a subprocessor.
type Objection struct {
	// raisedOn is the day the objection was raised.
	// +required
	RaisedOn Date `json:"raisedOn"`

	// reason is the controller's stated reason.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason,omitempty"`
}

// SubprocessorState is whether a subprocessor may be used.
// +kubebuilder:validation:Enum=Approved;PendingObjectionPeriod;Objected;NonCompliant
type SubprocessorState string

const (
	// SubprocessorApproved may be used: every transfer route is covered.
	SubprocessorApproved SubprocessorState = "Approved"
	// SubprocessorPendingObjectionPeriod may not be used before the objection period ends.
	SubprocessorPendingObjectionPeriod SubprocessorState = "PendingObjectionPeriod"
	// SubprocessorObjected may not be used: the controller objected.
	SubprocessorObjected SubprocessorState = "Objected"
	// SubprocessorNonCompliant has a transfer route without a valid basis, or a
	// reference that cannot be resolved.
	SubprocessorNonCompliant SubprocessorState = "NonCompliant"
)

// Transfer is one route by which a subprocessor's data reaches a country.
type Transfer struct {
	// route is a ProcessingLocation name, "remote-access:<country>", or
	// "<onward subprocessor>/<route>" for routes through onward subprocessors.
	// +required
	Route string `json:"route"`

	// country is the destination country; empty when the route's
	// ProcessingLocation does not exist (reason UnknownLocation).
	// +optional
	Country CountryCode `json:"country,omitempty"`

	// classification is the destination's classification as of now.
	// +optional
	Classification Classification `json:"classification,omitempty"`

	// basis is the TransferBasis that covers the route, if any.
	// +optional
	Basis string `json:"basis,omitempty"`

	// covered is true when the route needs no basis or rests on a valid one.
	// +required
	Covered bool `json:"covered"`

	// reason is a reason code (UncoveredTransfer, BasisNotValid, UnknownLocation...) when not covered.
	// +optional
	Reason string `json:"reason,omitempty"`

	// message explains the route's standing and names its legal ground.
	// +optional
	Message string `json:"message,omitempty"`
}

// SubprocessorStatus is the subprocessor's standing as of now.
type SubprocessorStatus struct {
	// conditions holds Ready, TransfersCovered, ObjectionPeriodElapsed and ReferencesResolved.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// state is Approved, PendingObjectionPeriod, Objected or NonCompliant.
	// +optional
	State SubprocessorState `json:"state,omitempty"`

	// objectionPeriodEndsOn is the day the objection period ends, when there is one.
	// +optional
	ObjectionPeriodEndsOn Date `json:"objectionPeriodEndsOn,omitempty"`

	// transfers has one row per route: each processing location, each
	// remote-access country, and each route of an onward subprocessor.
	// +optional
	// +listType=atomic
	Transfers []Transfer `json:"transfers,omitempty"`

	// uncoveredTransfers is the number of transfers that are not covered.
	// +optional
	UncoveredTransfers int32 `json:"uncoveredTransfers,omitempty"`

	// workloadCount is the number of workloads currently sending data here.
	// +optional
	WorkloadCount int32 `json:"workloadCount,omitempty"`
}

// Subprocessor is a vendor that processes personal data on the organisation's
// behalf, with where it processes it and on what ground.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=subp;subps,categories=residency
// +kubebuilder:printcolumn:name="Legal Name",type=string,JSONPath=`.spec.legalName`
// +kubebuilder:printcolumn:name="Country",type=string,JSONPath=`.spec.country`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Uncovered",type=integer,JSONPath=`.status.uncoveredTransfers`
// +kubebuilder:printcolumn:name="Workloads",type=integer,JSONPath=`.status.workloadCount`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Subprocessor struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's standard metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the subprocessor as the agreement lists it.
	// +required
	Spec SubprocessorSpec `json:"spec"`

	// status is its standing as of now, kept by the operator.
	// +optional
	Status SubprocessorStatus `json:"status,omitempty"`
}

// SubprocessorList is a list of Subprocessors.
// +kubebuilder:object:root=true
type SubprocessorList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Subprocessor `json:"items"`
}
