// Package v1alpha1 contains the API types of the dataresidency.io group: the
// organisation's data processing agreements (Subprocessor, TransferBasis,
// ProcessingLocation) and its rules (ResidencyPolicy), as cluster-scoped objects.
//
// +kubebuilder:object:generate=true
// +groupName=dataresidency.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the group and version of every kind in this package.
var GroupVersion = schema.GroupVersion{Group: "dataresidency.io", Version: "v1alpha1"}

var (
	// SchemeBuilder registers the kinds of this package.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the kinds of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion,
		&ProcessingLocation{}, &ProcessingLocationList{},
		&TransferBasis{}, &TransferBasisList{},
		&Subprocessor{}, &SubprocessorList{},
		&ResidencyPolicy{}, &ResidencyPolicyList{},
		&ObservedEgress{}, &ObservedEgressList{},
		&ResidencyException{}, &ResidencyExceptionList{},
	)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
