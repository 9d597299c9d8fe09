package controllers

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/findings"
	"github.com/dataresidency/operator/internal/residency"
	"github.com/dataresidency/operator/internal/state"
)

// ResidencyExceptionReconciler keeps an exception's standing current:
// Active, Expired, NotYetApproved or Unused, the workloads it covers, and
// when it expires (requeued then, with an Event).
type ResidencyExceptionReconciler = catalogReconciler[v1alpha1.ResidencyException, *v1alpha1.ResidencyException]

// +kubebuilder:rbac:groups=dataresidency.io,resources=residencyexceptions,verbs=get;list;watch
// +kubebuilder:rbac:groups=dataresidency.io,resources=residencyexceptions/status,verbs=get;update;patch

// maxExceptionWorkloads bounds status.workloads.
const maxExceptionWorkloads = 100

func newResidencyExceptionReconciler(mgr ctrl.Manager, st *state.Provider, covered func(name string) []findings.Key, changes countChanges) *ResidencyExceptionReconciler {
	return newCatalogReconciler[v1alpha1.ResidencyException](mgr, st, "residencyexception", "residency-residencyexception",
		exceptionKind{covered: covered, changes: changes})
}

type exceptionKind struct {
	covered func(name string) []findings.Key
	changes countChanges
}

func (k exceptionKind) evaluate(_ context.Context, _ client.Reader, snap *residency.Snapshot, x *v1alpha1.ResidencyException) (catalogOutcome, bool, error) {
	res, ok := snap.Exception(x.Name)
	if !ok {
		return catalogOutcome{}, false, nil
	}
	st := &x.Status
	prev := st.State
	st.ObservedGeneration = x.Generation
	st.ExpiresOn = date(res.ExpiresOn)
	st.State = res.State
	st.Workloads, st.WorkloadCount = nil, 0
	if k.covered != nil {
		keys := k.covered(x.Name)
		st.WorkloadCount = int32(len(keys))
		for i, key := range keys {
			if i == maxExceptionWorkloads {
				break
			}
			st.Workloads = append(st.Workloads, key.Kind+" "+key.Namespace+"/"+key.Name)
		}
		if res.State == v1alpha1.ExceptionActive && len(keys) == 0 {
			st.State = v1alpha1.ExceptionUnused
		}
	}
	msg := ""
	switch st.State {
	case v1alpha1.ExceptionActive:
		msg = fmt.Sprintf("accepts findings of %d workload(s) until %s, approved by %s", st.WorkloadCount, st.ExpiresOn, x.Spec.ApprovedBy)
	case v1alpha1.ExceptionUnused:
		msg = fmt.Sprintf("in force until %s but matches no finding: a stale grant?", st.ExpiresOn)
	case v1alpha1.ExceptionNotYetApproved:
		msg = fmt.Sprintf("applies from its approval on %s", x.Spec.ApprovedOn)
	case v1alpha1.ExceptionExpired:
		msg = fmt.Sprintf("expired on %s: the findings it accepted count again", st.ExpiresOn)
		if string(st.ExpiresOn) < string(x.Spec.ExpiresOn) {
			msg += fmt.Sprintf(" (the ResidencyPolicy's exceptions.maxDays ended it before its expiresOn %s)", x.Spec.ExpiresOn)
		}
		if res.Problem != "" {
			msg = "cannot apply: " + res.Problem
		}
	}
	setCondition(&st.Conditions, x.Generation, v1alpha1.ConditionReady, true, string(st.State), msg)
	out := catalogOutcome{}
	switch res.State {
	case v1alpha1.ExceptionActive:
		out.next = res.ExpiresOn // it expires by itself then
	case v1alpha1.ExceptionNotYetApproved:
		out.next, _ = residency.ParseDate(x.Spec.ApprovedOn)
	}
	if prev != "" && prev != v1alpha1.ExceptionExpired && st.State == v1alpha1.ExceptionExpired {
		out.event = &catalogEvent{"Warning", "ExceptionExpired", "Expire",
			fmt.Sprintf("ResidencyException %s expired on %s (approved by %s%s): the findings it accepted are violations and warnings again",
				x.Name, st.ExpiresOn, x.Spec.ApprovedBy, ticketSuffix(x.Spec.Ticket))}
	}
	return out, true, nil
}

func ticketSuffix(t string) string {
	if t == "" {
		return ""
	}
	return ", " + t
}

// watches: the ResidencyPolicy (maxDays), and the coverage changes.
func (k exceptionKind) watches(b *builder.Builder, c client.Reader) *builder.Builder {
	return k.changes.watch(b, named).
		Watches(&v1alpha1.ResidencyPolicy{}, everyOne(c, &v1alpha1.ResidencyExceptionList{}),
			builder.WithPredicates(predicate.GenerationChangedPredicate{}))
}
