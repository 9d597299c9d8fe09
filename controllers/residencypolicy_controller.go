package controllers

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/findings"
	"github.com/dataresidency/operator/internal/residency"
	"github.com/dataresidency/operator/internal/state"
)

// ResidencyPolicyReconciler keeps the cluster summary on the one
// ResidencyPolicy: subprocessors and bases by state, uncovered transfers,
// workloads by verdict and those that declare nothing.
type ResidencyPolicyReconciler = catalogReconciler[v1alpha1.ResidencyPolicy, *v1alpha1.ResidencyPolicy]

// +kubebuilder:rbac:groups=dataresidency.io,resources=residencypolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=dataresidency.io,resources=residencypolicies/status,verbs=get;update;patch

var policyRequest = reconcile.Request{NamespacedName: types.NamespacedName{Name: v1alpha1.PolicyName}}

// newResidencyPolicyReconciler returns the reconciler. workloads, when set,
// counts the workloads by verdict; changes fires when those counts may have
// moved.
func newResidencyPolicyReconciler(mgr ctrl.Manager, st *state.Provider, workloads func() findings.Summary, changes countChanges) *ResidencyPolicyReconciler {
	return newCatalogReconciler[v1alpha1.ResidencyPolicy](mgr, st, "residencypolicy", "residency-policy",
		policyKind{workloads: workloads, changes: changes})
}

// policyKind is what is particular to the ResidencyPolicy.
type policyKind struct {
	workloads func() findings.Summary
	changes   countChanges
}

// evaluate recomputes the summary.
func (k policyKind) evaluate(ctx context.Context, c client.Reader, snap *residency.Snapshot, pol *v1alpha1.ResidencyPolicy) (catalogOutcome, bool, error) {
	var subs v1alpha1.SubprocessorList
	var bases v1alpha1.TransferBasisList
	if err := c.List(ctx, &subs, client.UnsafeDisableDeepCopy); err != nil {
		return catalogOutcome{}, false, err
	}
	if err := c.List(ctx, &bases, client.UnsafeDisableDeepCopy); err != nil {
		return catalogOutcome{}, false, err
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
	if k.workloads != nil {
		w := k.workloads()
		sum.Workloads, sum.Compliant, sum.Warnings, sum.Violations = w.Workloads, w.Compliant, w.Warnings, w.Violations
		sum.Undeclared = w.Undeclared
		sum.Excepted = w.Excepted
	}

	pol.Status.ObservedGeneration = pol.Generation
	pol.Status.Summary = &sum
	if errs := snap.PolicyErrors(); len(errs) > 0 {
		setCondition(&pol.Status.Conditions, pol.Generation, v1alpha1.ConditionReady, false, "InvalidPolicy", errors.Join(errs...).Error())
	} else {
		setCondition(&pol.Status.Conditions, pol.Generation, v1alpha1.ConditionReady, true, "InForce",
			fmt.Sprintf("policy in force: %d subprocessors, %d uncovered transfers", sum.Subprocessors, sum.UncoveredTransfers))
	}
	return catalogOutcome{next: snap.NextTransition()}, true, nil
}

// watches: any change of a residency object, and of the workload counts,
// enqueues the policy.
func (k policyKind) watches(b *builder.Builder, _ client.Reader) *builder.Builder {
	policyOf := func(client.Object) reconcile.Request { return policyRequest }
	toPolicy := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		return []reconcile.Request{policyOf(o)}
	})
	gen := builder.WithPredicates(predicate.GenerationChangedPredicate{})
	return k.changes.watch(b, policyOf).
		Watches(&v1alpha1.Subprocessor{}, toPolicy, gen).
		Watches(&v1alpha1.TransferBasis{}, toPolicy, gen).
		Watches(&v1alpha1.ProcessingLocation{}, toPolicy, gen)
}
