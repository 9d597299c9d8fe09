package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
	"github.com/dataresidency/operator/internal/state"
)

// TransferBasisReconciler keeps a TransferBasis's state current: Valid, or why
// not (Invalidated citing the judgment, Expired, NotYetEffective,
// ReviewOverdue, Incomplete), and requeues it on the day that changes.
type TransferBasisReconciler = catalogReconciler[v1alpha1.TransferBasis, *v1alpha1.TransferBasis]

// +kubebuilder:rbac:groups=dataresidency.io,resources=transferbases,verbs=get;list;watch
// +kubebuilder:rbac:groups=dataresidency.io,resources=transferbases/status,verbs=get;update;patch

// newTransferBasisReconciler returns the reconciler.
func newTransferBasisReconciler(mgr ctrl.Manager, st *state.Provider) *TransferBasisReconciler {
	return newCatalogReconciler[v1alpha1.TransferBasis](mgr, st, "transferbasis", "residency-transferbasis", basisKind{})
}

// basisKind is what is particular to TransferBases.
type basisKind struct{}

// evaluate computes one basis's state, and counts the Subprocessors that name it.
func (basisKind) evaluate(ctx context.Context, c client.Reader, snap *residency.Snapshot, tb *v1alpha1.TransferBasis) (catalogOutcome, bool, error) {
	res, ok := snap.Basis(tb.Name)
	if !ok {
		return catalogOutcome{}, false, nil
	}
	var users v1alpha1.SubprocessorList
	if err := c.List(ctx, &users, client.MatchingFields{IndexSubprocessorBases: tb.Name}); err != nil {
		return catalogOutcome{}, false, err
	}

	st := &tb.Status
	prev := st.State
	st.ObservedGeneration = tb.Generation
	st.State = res.State
	st.ValidUntil = date(res.ValidUntil)
	st.Message = res.Message
	st.SubprocessorCount = int32(len(users.Items))
	setCondition(&st.Conditions, tb.Generation, v1alpha1.ConditionReady, res.State == v1alpha1.BasisValid, string(res.State), res.Message)

	out := catalogOutcome{next: res.ValidUntil}
	if prev != res.State {
		kind, reason := "Normal", "Basis"+string(res.State)
		if res.State != v1alpha1.BasisValid {
			kind = "Warning"
		}
		if prev != "" || kind == "Warning" {
			out.event = &catalogEvent{kind, reason, "Evaluate", res.Message}
		}
	}
	return out, true, nil
}

// watches: the ResidencyPolicy (its mechanismOverrides and TIA requirements
// can change any basis), and Subprocessors, for the count of those that name
// each basis.
func (basisKind) watches(b *builder.Builder, c client.Reader) *builder.Builder {
	gen := builder.WithPredicates(predicate.GenerationChangedPredicate{})
	return b.
		Watches(&v1alpha1.ResidencyPolicy{}, everyOne(c, &v1alpha1.TransferBasisList{}), gen).
		Watches(&v1alpha1.Subprocessor{}, basesOfSubprocessor{}, gen)
}

// basesOfSubprocessor enqueues the bases a Subprocessor names, before and
// after an update, so that both gain or lose it in their count.
type basesOfSubprocessor struct{}

func (basesOfSubprocessor) enqueue(q workqueue, objs ...client.Object) {
	for _, o := range objs {
		if s, ok := o.(*v1alpha1.Subprocessor); ok {
			for _, b := range s.Spec.TransferBases {
				q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Name: string(b)}})
			}
		}
	}
}

func (h basesOfSubprocessor) Create(_ context.Context, e event.CreateEvent, q workqueue) {
	h.enqueue(q, e.Object)
}
func (h basesOfSubprocessor) Update(_ context.Context, e event.UpdateEvent, q workqueue) {
	h.enqueue(q, e.ObjectOld, e.ObjectNew)
}
func (h basesOfSubprocessor) Delete(_ context.Context, e event.DeleteEvent, q workqueue) {
	h.enqueue(q, e.Object)
}
func (h basesOfSubprocessor) Generic(_ context.Context, e event.GenericEvent, q workqueue) {
	h.enqueue(q, e.Object)
}
