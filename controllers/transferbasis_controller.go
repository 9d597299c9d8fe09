package controllers

import (
	"context"

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

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/state"
)

// TransferBasisReconciler keeps a TransferBasis's state current: Valid, or why
// not (Invalidated citing the judgment, Expired, NotYetEffective,
// ReviewOverdue, Incomplete), and requeues it on the day that changes.
type TransferBasisReconciler struct {
	client.Client
	State    *state.Provider
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups=dataresidency.io,resources=transferbases,verbs=get;list;watch
// +kubebuilder:rbac:groups=dataresidency.io,resources=transferbases/status,verbs=get;update;patch

// Reconcile computes one basis's state.
func (r *TransferBasisReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var tb v1alpha1.TransferBasis
	if err := r.Get(ctx, req.NamespacedName, &tb); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	snap, err := r.State.Snapshot(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	res, ok := snap.Basis(tb.Name)
	if !ok {
		// The object left the cache between the read and the snapshot: its
		// deletion event follows.
		return ctrl.Result{}, nil
	}
	var users v1alpha1.SubprocessorList
	if err := r.List(ctx, &users, client.MatchingFields{IndexSubprocessorBases: tb.Name}); err != nil {
		return ctrl.Result{}, err
	}

	orig := tb.DeepCopy()
	st := &tb.Status
	prev := st.State
	st.ObservedGeneration = tb.Generation
	st.State = res.State
	st.ValidUntil = date(res.ValidUntil)
	st.Message = res.Message
	st.SubprocessorCount = int32(len(users.Items))
	setCondition(&st.Conditions, tb.Generation, v1alpha1.ConditionReady, res.State == v1alpha1.BasisValid, string(res.State), res.Message)
	if err := patchStatus(ctx, r.Client, orig, &tb, orig.Status, tb.Status); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil // deleted meanwhile
		}
		return ctrl.Result{}, err
	}
	if prev != res.State {
		kind, reason := "Normal", "Basis"+string(res.State)
		if res.State != v1alpha1.BasisValid {
			kind = "Warning"
		}
		if prev != "" || kind == "Warning" {
			r.Recorder.Eventf(&tb, nil, kind, reason, "Evaluate", "%s", res.Message)
		}
	}
	return ctrl.Result{RequeueAfter: state.RequeueAt(r.State.Now(), res.ValidUntil)}, nil
}

// SetupWithManager watches TransferBases; the ResidencyPolicy (its
// mechanismOverrides and TIA requirements can change any basis); and
// Subprocessors, for the count of those that name each basis.
func (r *TransferBasisReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.TransferBasis{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.ResidencyPolicy{}, handler.EnqueueRequestsFromMapFunc(
			func(ctx context.Context, _ client.Object) []reconcile.Request {
				return allOf(ctx, r.Client, &v1alpha1.TransferBasisList{})
			}), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.Subprocessor{}, basesOfSubprocessor{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("transferbasis").
		Complete(r)
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
