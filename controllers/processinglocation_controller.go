package controllers

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/state"
)

// ProcessingLocationReconciler keeps a ProcessingLocation's classification
// current: EEA, Adequate, PartiallyAdequate or ThirdCountry, with the decision
// behind it and the date it is known to change.
type ProcessingLocationReconciler struct {
	client.Client
	State    *state.Provider
	Recorder events.EventRecorder
	// WorkloadCount, when set, tells how many workloads' data reaches a location.
	WorkloadCount func(name string) int32
	// Counts carries the locations whose workload count may have changed.
	Counts <-chan event.GenericEvent
	// CountsBatch is how long count changes gather before the status is
	// written (a rollout of many workloads moves the counts many times).
	CountsBatch time.Duration
}

// +kubebuilder:rbac:groups=dataresidency.io,resources=processinglocations,verbs=get;list;watch
// +kubebuilder:rbac:groups=dataresidency.io,resources=processinglocations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile classifies one location.
func (r *ProcessingLocationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var loc v1alpha1.ProcessingLocation
	if err := r.Get(ctx, req.NamespacedName, &loc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	snap, err := r.State.Snapshot(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	res, ok := snap.Location(loc.Name)
	if !ok {
		// The object left the cache between the read and the snapshot: its
		// deletion event follows.
		return ctrl.Result{}, nil
	}
	orig := loc.DeepCopy()
	st := &loc.Status
	prev := st.Classification
	st.ObservedGeneration = loc.Generation
	st.Classification = res.Classification
	st.LegalReference = res.LegalReference
	st.ClassificationValidUntil = date(res.ValidUntil)
	if r.WorkloadCount != nil {
		st.WorkloadCount = r.WorkloadCount(loc.Name)
	}
	msg := fmt.Sprintf("%s is %s", loc.Spec.Country, res.Classification)
	if res.LegalReference != "" {
		msg += " (" + res.LegalReference + ")"
	}
	if !res.ValidUntil.IsZero() {
		msg += fmt.Sprintf(" until %s", date(res.ValidUntil))
	}
	setCondition(&st.Conditions, loc.Generation, v1alpha1.ConditionReady, true, string(res.Classification), msg)
	if err := patchStatus(ctx, r.Client, orig, &loc, orig.Status, loc.Status); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil // deleted meanwhile
		}
		return ctrl.Result{}, err
	}
	if prev != "" && prev != res.Classification {
		r.Recorder.Eventf(&loc, nil, "Normal", "ClassificationChanged", "Classify", "classification changed from %s to %s: %s", prev, res.Classification, msg)
	}
	log.FromContext(ctx).V(1).Info("classified", "location", loc.Name, "classification", res.Classification)
	return ctrl.Result{RequeueAfter: state.RequeueAt(r.State.Now(), res.ValidUntil)}, nil
}

// SetupWithManager watches ProcessingLocations, and the ResidencyPolicy whose
// countryOverrides can reclassify any of them.
func (r *ProcessingLocationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr)
	if r.Counts != nil {
		b = b.WatchesRawSource(source.Channel(r.Counts, batched(r.CountsBatch, named)))
	}
	return b.
		For(&v1alpha1.ProcessingLocation{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.ResidencyPolicy{}, handler.EnqueueRequestsFromMapFunc(
			func(ctx context.Context, _ client.Object) []reconcile.Request {
				return allOf(ctx, r.Client, &v1alpha1.ProcessingLocationList{})
			}), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("processinglocation").
		Complete(r)
}
