package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/state"
)

// WorkloadSummary counts workloads by their worst verdict.
type WorkloadSummary struct {
	Workloads, Compliant, Warnings, Violations int32
}

// ResidencyPolicyReconciler keeps the cluster summary on the one
// ResidencyPolicy: subprocessors and bases by state, uncovered transfers,
// and workloads by verdict.
type ResidencyPolicyReconciler struct {
	client.Client
	State    *state.Provider
	Recorder events.EventRecorder
	// Workloads, when set, returns the workload counts (the workload controller's findings).
	Workloads func() WorkloadSummary
	// Counts fires when the workload counts may have changed.
	Counts <-chan event.GenericEvent
	// CountsBatch is how long count changes gather before the summary is
	// written.
	CountsBatch time.Duration
}

// +kubebuilder:rbac:groups=dataresidency.io,resources=residencypolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=dataresidency.io,resources=residencypolicies/status,verbs=get;update;patch

var policyRequest = reconcile.Request{NamespacedName: types.NamespacedName{Name: v1alpha1.PolicyName}}

// Reconcile recomputes the summary.
func (r *ResidencyPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var pol v1alpha1.ResidencyPolicy
	if err := r.Get(ctx, req.NamespacedName, &pol); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	snap, err := r.State.Snapshot(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	var subs v1alpha1.SubprocessorList
	var bases v1alpha1.TransferBasisList
	if err := r.List(ctx, &subs, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.List(ctx, &bases, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, err
	}

	sum := v1alpha1.PolicySummary{
		Subprocessors:        int32(len(subs.Items)),
		SubprocessorsByState: map[string]int32{},
		TransferBasesByState: map[string]int32{},
	}
	for i := range subs.Items {
		res, ok := snap.Subprocessor(subs.Items[i].Name)
		if !ok {
			continue
		}
		sum.SubprocessorsByState[string(res.State)]++
		for _, t := range res.Transfers {
			if !t.Covered {
				sum.UncoveredTransfers++
			}
		}
	}
	for i := range bases.Items {
		if res, ok := snap.Basis(bases.Items[i].Name); ok {
			sum.TransferBasesByState[string(res.State)]++
		}
	}
	if r.Workloads != nil {
		w := r.Workloads()
		sum.Workloads, sum.Compliant, sum.Warnings, sum.Violations = w.Workloads, w.Compliant, w.Warnings, w.Violations
	}

	orig := pol.DeepCopy()
	pol.Status.ObservedGeneration = pol.Generation
	pol.Status.Summary = &sum
	if errs := snap.PolicyErrors(); len(errs) > 0 {
		setCondition(&pol.Status.Conditions, pol.Generation, v1alpha1.ConditionReady, false, "InvalidPolicy", errors.Join(errs...).Error())
	} else {
		setCondition(&pol.Status.Conditions, pol.Generation, v1alpha1.ConditionReady, true, "InForce",
			fmt.Sprintf("policy in force: %d subprocessors, %d uncovered transfers", sum.Subprocessors, sum.UncoveredTransfers))
	}
	if err := patchStatus(ctx, r.Client, orig, &pol, orig.Status, pol.Status); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil // deleted meanwhile
		}
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: state.RequeueAt(r.State.Now(), snap.NextTransition())}, nil
}

// SetupWithManager enqueues the policy on any change of a residency object.
func (r *ResidencyPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	toPolicy := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{policyRequest}
	})
	gen := builder.WithPredicates(predicate.GenerationChangedPredicate{})
	b := ctrl.NewControllerManagedBy(mgr)
	if r.Counts != nil {
		b = b.WatchesRawSource(source.Channel(r.Counts, batched(r.CountsBatch, func(client.Object) reconcile.Request { return policyRequest })))
	}
	return b.
		For(&v1alpha1.ResidencyPolicy{}, gen).
		Watches(&v1alpha1.Subprocessor{}, toPolicy, gen).
		Watches(&v1alpha1.TransferBasis{}, toPolicy, gen).
		Watches(&v1alpha1.ProcessingLocation{}, toPolicy, gen).
		Named("residencypolicy").
		Complete(r)
}
