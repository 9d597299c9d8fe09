package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	"github.com/dataresidency/operator/internal/residency"
	"github.com/dataresidency/operator/internal/state"
)

// SubprocessorReconciler keeps a Subprocessor's standing current: every
// transfer route with the basis that covers it, the objection period, and
// whether it may be used (Approved) or not.
type SubprocessorReconciler struct {
	client.Client
	State    *state.Provider
	Recorder events.EventRecorder
	// WorkloadCount, when set, tells how many workloads send data to a
	// subprocessor (the workload controller's findings).
	WorkloadCount func(name string) int32
	// Counts carries the subprocessors whose workload count may have changed.
	Counts <-chan event.GenericEvent
	// CountsBatch is how long count changes gather before the status is
	// written (a rollout of many workloads moves the counts many times).
	CountsBatch time.Duration
}

// +kubebuilder:rbac:groups=dataresidency.io,resources=subprocessors,verbs=get;list;watch
// +kubebuilder:rbac:groups=dataresidency.io,resources=subprocessors/status,verbs=get;update;patch

// Reconcile evaluates one subprocessor.
func (r *SubprocessorReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var sp v1alpha1.Subprocessor
	if err := r.Get(ctx, req.NamespacedName, &sp); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	snap, err := r.State.Snapshot(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	res, ok := snap.Subprocessor(sp.Name)
	if !ok {
		// The object left the cache between the read and the snapshot: its
		// deletion event follows.
		return ctrl.Result{}, nil
	}

	orig := sp.DeepCopy()
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
	if r.WorkloadCount != nil {
		st.WorkloadCount = r.WorkloadCount(sp.Name)
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

	if err := patchStatus(ctx, r.Client, orig, &sp, orig.Status, sp.Status); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil // deleted meanwhile
		}
		return ctrl.Result{}, err
	}
	if prev != res.State && (prev != "" || res.State != v1alpha1.SubprocessorApproved) {
		kind := "Warning"
		if res.State == v1alpha1.SubprocessorApproved {
			kind = "Normal"
		}
		r.Recorder.Eventf(&sp, nil, kind, string(res.State), "Evaluate", "%s", res.Message)
	}
	return ctrl.Result{RequeueAfter: state.RequeueAt(r.State.Now(), res.NextTransition)}, nil
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

// SetupWithManager wires the watches: a ProcessingLocation or TransferBasis
// enqueues exactly the Subprocessors that name it (and, transitively, those
// that use them as onward subprocessors); a Subprocessor enqueues those that
// name it as onward; the ResidencyPolicy enqueues all.
func (r *SubprocessorReconciler) SetupWithManager(mgr ctrl.Manager) error {
	gen := builder.WithPredicates(predicate.GenerationChangedPredicate{})
	b := ctrl.NewControllerManagedBy(mgr)
	if r.Counts != nil {
		b = b.WatchesRawSource(source.Channel(r.Counts, batched(r.CountsBatch, named)))
	}
	return b.
		For(&v1alpha1.Subprocessor{}, gen).
		Watches(&v1alpha1.ProcessingLocation{}, handler.EnqueueRequestsFromMapFunc(
			func(ctx context.Context, o client.Object) []reconcile.Request {
				return subprocessorsNaming(ctx, r.Client, IndexSubprocessorLocations, o.GetName())
			}), gen).
		Watches(&v1alpha1.TransferBasis{}, handler.EnqueueRequestsFromMapFunc(
			func(ctx context.Context, o client.Object) []reconcile.Request {
				return subprocessorsNaming(ctx, r.Client, IndexSubprocessorBases, o.GetName())
			}), gen).
		Watches(&v1alpha1.Subprocessor{}, handler.EnqueueRequestsFromMapFunc(
			func(ctx context.Context, o client.Object) []reconcile.Request {
				return subprocessorsNaming(ctx, r.Client, IndexSubprocessorSubprocessors, o.GetName())
			}), gen).
		Watches(&v1alpha1.ResidencyPolicy{}, handler.EnqueueRequestsFromMapFunc(
			func(ctx context.Context, _ client.Object) []reconcile.Request {
				return allOf(ctx, r.Client, &v1alpha1.SubprocessorList{})
			}), gen).
		Named("subprocessor").
		Complete(r)
}
