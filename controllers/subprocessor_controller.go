package controllers

import (
	"context"
	"fmt"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
	"github.com/dataresidency/operator/internal/state"
)

// SubprocessorReconciler keeps a Subprocessor's standing current: every
// transfer route with the basis that covers it, the objection period, and
// whether it may be used (Approved) or not.
type SubprocessorReconciler = catalogReconciler[v1alpha1.Subprocessor, *v1alpha1.Subprocessor]

// +kubebuilder:rbac:groups=dataresidency.io,resources=subprocessors,verbs=get;list;watch
// +kubebuilder:rbac:groups=dataresidency.io,resources=subprocessors/status,verbs=get;update;patch

// newSubprocessorReconciler returns the reconciler. count, when set, tells
// how many workloads send data to a subprocessor; changes carries the
// subprocessors whose count may have moved.
func newSubprocessorReconciler(mgr ctrl.Manager, st *state.Provider, count func(name string) int32, changes countChanges) *SubprocessorReconciler {
	return newCatalogReconciler[v1alpha1.Subprocessor](mgr, st, "subprocessor", "residency-subprocessor",
		subprocessorKind{count: count, changes: changes})
}

// subprocessorKind is what is particular to Subprocessors.
type subprocessorKind struct {
	count   func(name string) int32
	changes countChanges
}

// evaluate evaluates one subprocessor.
func (k subprocessorKind) evaluate(_ context.Context, _ client.Reader, snap *residency.Snapshot, sp *v1alpha1.Subprocessor) (catalogOutcome, bool, error) {
	res, ok := snap.Subprocessor(sp.Name)
	if !ok {
		return catalogOutcome{}, false, nil
	}

	st := &sp.Status
	prev := st.State
	gen := sp.Generation
	st.ObservedGeneration = gen
	st.State = res.State
	st.ObjectionPeriodEndsOn = date(res.ObjectionPeriodEndsOn)
	st.Transfers = res.Transfers
	st.UncoveredTransfers = 0
	var uncovered []string
	// The condition's reason is the routes' own (BasisNotValid, UnknownLocation...)
	// when they share one, UncoveredTransfer otherwise.
	uncoveredReason := ""
	for _, t := range res.Transfers {
		if !t.Covered {
			st.UncoveredTransfers++
			uncovered = append(uncovered, t.Route)
			switch r := string(t.Reason); {
			case uncoveredReason == "":
				uncoveredReason = r
			case uncoveredReason != r:
				uncoveredReason = string(residency.ReasonUncoveredTransfer)
			}
		}
	}
	if uncoveredReason == "" {
		uncoveredReason = string(residency.ReasonUncoveredTransfer)
	}
	if k.count != nil {
		st.WorkloadCount = k.count(sp.Name)
	}

	// Specific conditions first, then the summary.
	missing := missingRefs(res)
	if missing == "" {
		setCondition(&st.Conditions, gen, v1alpha1.ConditionReferencesResolved, true, "Resolved", "every referenced object exists")
	} else {
		setCondition(&st.Conditions, gen, v1alpha1.ConditionReferencesResolved, false, "MissingReferences", missing)
	}
	if len(uncovered) == 0 {
		setCondition(&st.Conditions, gen, v1alpha1.ConditionTransfersCovered, true, "Covered",
			fmt.Sprintf("all %d transfer routes are covered", len(res.Transfers)))
	} else {
		setCondition(&st.Conditions, gen, v1alpha1.ConditionTransfersCovered, false, uncoveredReason,
			fmt.Sprintf("%d of %d transfer routes are not covered: %s", len(uncovered), len(res.Transfers), strings.Join(uncovered, ", ")))
	}
	switch {
	case sp.Spec.Objection != nil:
		setCondition(&st.Conditions, gen, v1alpha1.ConditionObjectionPeriodElapsed, false, string(residency.ReasonSubprocessorObjected),
			fmt.Sprintf("the controller objected on %s", sp.Spec.Objection.RaisedOn))
	case res.State == v1alpha1.SubprocessorPendingObjectionPeriod || (!res.ObjectionPeriodEndsOn.IsZero() && snap.At().Before(res.ObjectionPeriodEndsOn)):
		setCondition(&st.Conditions, gen, v1alpha1.ConditionObjectionPeriodElapsed, false, string(residency.ReasonObjectionPeriodPending),
			fmt.Sprintf("the objection period ends on %s", date(res.ObjectionPeriodEndsOn)))
	default:
		setCondition(&st.Conditions, gen, v1alpha1.ConditionObjectionPeriodElapsed, true, "Elapsed", "no objection period is running")
	}
	reason := string(res.Reason)
	if reason == "" {
		reason = string(res.State)
	}
	setCondition(&st.Conditions, gen, v1alpha1.ConditionReady, res.State == v1alpha1.SubprocessorApproved, reason, res.Message)

	out := catalogOutcome{next: res.NextTransition}
	if prev != res.State && (prev != "" || res.State != v1alpha1.SubprocessorApproved) {
		kind := "Warning"
		if res.State == v1alpha1.SubprocessorApproved {
			kind = "Normal"
		}
		out.event = &catalogEvent{kind, string(res.State), "Evaluate", res.Message}
	}
	return out, true, nil
}

func missingRefs(res residency.SubprocessorResult) string {
	var parts []string
	add := func(kind string, names []string) {
		if len(names) > 0 {
			parts = append(parts, fmt.Sprintf("%s %s not found", kind, strings.Join(names, ", ")))
		}
	}
	add("ProcessingLocation", res.MissingLocations)
	add("TransferBasis", res.MissingBases)
	add("Subprocessor", res.MissingSubprocessors)
	return strings.Join(parts, "; ")
}

// watches: a ProcessingLocation or TransferBasis enqueues exactly the
// Subprocessors that name it (and, transitively, those that use them as
// onward subprocessors); a Subprocessor enqueues those that name it as onward;
// the ResidencyPolicy enqueues all; and the workload counts.
func (k subprocessorKind) watches(b *builder.Builder, c client.Reader) *builder.Builder {
	gen := builder.WithPredicates(predicate.GenerationChangedPredicate{})
	naming := func(index string) handler.EventHandler {
		return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return subprocessorsNaming(ctx, c, index, o.GetName())
		})
	}
	return k.changes.watch(b, named).
		Watches(&v1alpha1.ProcessingLocation{}, naming(IndexSubprocessorLocations), gen).
		Watches(&v1alpha1.TransferBasis{}, naming(IndexSubprocessorBases), gen).
		Watches(&v1alpha1.Subprocessor{}, naming(IndexSubprocessorSubprocessors), gen).
		Watches(&v1alpha1.ResidencyPolicy{}, everyOne(c, &v1alpha1.SubprocessorList{}), gen)
}
