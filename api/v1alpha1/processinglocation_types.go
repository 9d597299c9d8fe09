package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ProcessingLocationSpec says where personal data is stored or processed.
type ProcessingLocationSpec struct {
	// country is the ISO 3166-1 alpha-2 code of the country the data sits in
	// ("EL" is accepted as Greece). It decides the location's classification.
	// +required
	Country CountryCode `json:"country"`

	// city is where the data centre is, for the register.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	City string `json:"city,omitempty"`

	// provider runs the data centre (AWS, Google Cloud, Azure, Deploi...).
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Provider string `json:"provider,omitempty"`

	// providerRegion is the provider's region code (eu-north-1, europe-west3).
	// It is also matched against the node label topology.kubernetes.io/region,
	// so that pods pinned to a region are checked against its location.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	ProviderRegion string `json:"providerRegion,omitempty"`

	// description is free text, for example the clause of the agreement that names it.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`
}

// ProcessingLocationStatus is the location's classification as of now.
type ProcessingLocationStatus struct {
	// conditions holds Ready, True once the location is classified.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// classification is EEA, Adequate, PartiallyAdequate or ThirdCountry.
	// +optional
	Classification Classification `json:"classification,omitempty"`

	// legalReference names the instrument behind the classification, such as
	// "Decision (EU) 2023/1795" for an adequacy decision.
	// +optional
	LegalReference string `json:"legalReference,omitempty"`

	// classificationValidUntil is the date the classification is known to change
	// (GB: 2031-12-27), empty when no change is known.
	// +optional
	ClassificationValidUntil Date `json:"classificationValidUntil,omitempty"`

	// workloadCount is the number of workloads currently sending personal data here.
	// +optional
	WorkloadCount int32 `json:"workloadCount,omitempty"`
}

// ProcessingLocation is a place where personal data is stored or processed: a
// cloud region, a data centre, a country.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=ploc;plocs,categories=residency
// +kubebuilder:printcolumn:name="Country",type=string,JSONPath=`.spec.country`
// +kubebuilder:printcolumn:name="Classification",type=string,JSONPath=`.status.classification`
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.provider`
// +kubebuilder:printcolumn:name="Region",type=string,JSONPath=`.spec.providerRegion`
// +kubebuilder:printcolumn:name="Until",type=string,JSONPath=`.status.classificationValidUntil`
// +kubebuilder:printcolumn:name="Workloads",type=integer,JSONPath=`.status.workloadCount`
// +kubebuilder:printcolumn:name="Reference",type=string,JSONPath=`.status.legalReference`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ProcessingLocation struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's standard metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says where the location is.
	// +required
	Spec ProcessingLocationSpec `json:"spec"`

	// status is the location's classification, kept by the operator.
	// +optional
	Status ProcessingLocationStatus `json:"status,omitempty"`
}

// ProcessingLocationList is a list of ProcessingLocations.
// +kubebuilder:object:root=true
type ProcessingLocationList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ProcessingLocation `json:"items"`
}
