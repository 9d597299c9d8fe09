package controllers

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
	"github.com/dataresidency/operator/internal/state"
)

// ProcessingLocationReconciler keeps a ProcessingLocation's classification
// current: EEA, Adequate, PartiallyAdequate or ThirdCountry, with the decision
// behind it and the date it is known to change.
type ProcessingLocationReconciler = catalogReconciler[v1alpha1.ProcessingLocation, *v1alpha1.ProcessingLocation]

// +kubebuilder:rbac:groups=dataresidency.io,resources=processinglocations,verbs=get;list;watch
// +kubebuilder:rbac:groups=dataresidency.io,resources=processinglocations/status,verbs=get;update;patch

// newProcessingLocationReconciler returns the reconciler. count, when set,
// tells how many workloads' data reaches a location; changes carries the
// locations whose count may have moved.
func newProcessingLocationReconciler(mgr ctrl.Manager, st *state.Provider, count func(name string) int32, changes countChanges) *ProcessingLocationReconciler {
	return newCatalogReconciler[v1alpha1.ProcessingLocation](mgr, st, "processinglocation", "residency-processinglocation",
		locationKind{count: count, changes: changes})
}

// locationKind is what is particular to ProcessingLocations.
type locationKind struct {
	count   func(name string) int32
	changes countChanges
}

// evaluate classifies one location.
func (k locationKind) evaluate(ctx context.Context, _ client.Reader, snap *residency.Snapshot, loc *v1alpha1.ProcessingLocation) (catalogOutcome, bool, error) {
	res, ok := snap.Location(loc.Name)
	if !ok {
		return catalogOutcome{}, false, nil
	}
	st := &loc.Status
	prev := st.Classification
	st.ObservedGeneration = loc.Generation
	st.Classification = res.Classification
	st.LegalReference = res.LegalReference
	st.ClassificationValidUntil = date(res.ValidUntil)
	if k.count != nil {
		st.WorkloadCount = k.count(loc.Name)
	}
	msg := fmt.Sprintf("%s is %s", loc.Spec.Country, res.Classification)
	if res.LegalReference != "" {
		msg += " (" + res.LegalReference + ")"
	}
	if !res.ValidUntil.IsZero() {
		msg += fmt.Sprintf(" until %s", date(res.ValidUntil))
	}
	setCondition(&st.Conditions, loc.Generation, v1alpha1.ConditionReady, true, string(res.Classification), msg)
	log.FromContext(ctx).V(1).Info("classified", "location", loc.Name, "classification", res.Classification)

	out := catalogOutcome{next: res.ValidUntil}
	if prev != "" && prev != res.Classification {
		out.event = &catalogEvent{"Normal", "ClassificationChanged", "Classify",
			fmt.Sprintf("classification changed from %s to %s: %s", prev, res.Classification, msg)}
	}
	return out, true, nil
}

// watches: the ResidencyPolicy, whose countryOverrides can reclassify any
// location, and the workload counts.
func (k locationKind) watches(b *builder.Builder, c client.Reader) *builder.Builder {
	return k.changes.watch(b, named).
		Watches(&v1alpha1.ResidencyPolicy{}, everyOne(c, &v1alpha1.ProcessingLocationList{}),
			builder.WithPredicates(predicate.GenerationChangedPredicate{}))
}
