package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	wq "k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// Field indexes on Subprocessors, so that a change to one object enqueues
// exactly the Subprocessors that name it.
const (
	IndexSubprocessorLocations     = "spec.processingLocations"
	IndexSubprocessorBases         = "spec.transferBases"
	IndexSubprocessorSubprocessors = "spec.subprocessors"
)

// SubprocessorLocations indexes a Subprocessor by the ProcessingLocations it names.
func SubprocessorLocations(o client.Object) []string {
	return names(o.(*v1alpha1.Subprocessor).Spec.ProcessingLocations)
}

// SubprocessorBases indexes a Subprocessor by the TransferBases it names.
func SubprocessorBases(o client.Object) []string {
	return names(o.(*v1alpha1.Subprocessor).Spec.TransferBases)
}

// SubprocessorOnward indexes a Subprocessor by the onward Subprocessors it names.
func SubprocessorOnward(o client.Object) []string {
	return names(o.(*v1alpha1.Subprocessor).Spec.Subprocessors)
}

func names(in []v1alpha1.ObjectName) []string {
	out := make([]string, 0, len(in))
	for _, n := range in {
		out = append(out, string(n))
	}
	return out
}

// SetupIndexes registers the field indexes the reconcilers rely on.
func SetupIndexes(ctx context.Context, idx client.FieldIndexer) error {
	for field, fn := range map[string]client.IndexerFunc{
		IndexSubprocessorLocations:     SubprocessorLocations,
		IndexSubprocessorBases:         SubprocessorBases,
		IndexSubprocessorSubprocessors: SubprocessorOnward,
	} {
		if err := idx.IndexField(ctx, &v1alpha1.Subprocessor{}, field, fn); err != nil {
			return err
		}
	}
	return nil
}

// subprocessorsNaming returns the Subprocessors whose field names one of
// names, and transitively every Subprocessor that names those as onward
// subprocessors: their routes include the changed object's.
func subprocessorsNaming(ctx context.Context, r client.Reader, field string, names ...string) []reconcile.Request {
	seen := map[string]bool{}
	var queue []string
	for _, n := range names {
		var list v1alpha1.SubprocessorList
		if err := r.List(ctx, &list, client.MatchingFields{field: n}); err != nil {
			continue
		}
		for i := range list.Items {
			queue = append(queue, list.Items[i].Name)
		}
	}
	var out []reconcile.Request
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: n}})
		var parents v1alpha1.SubprocessorList
		if err := r.List(ctx, &parents, client.MatchingFields{IndexSubprocessorSubprocessors: n}); err != nil {
			continue
		}
		for i := range parents.Items {
			queue = append(queue, parents.Items[i].Name)
		}
	}
	return out
}

// allOf enqueues every object of a list, for changes (the ResidencyPolicy)
// that can affect all of them.
func allOf(ctx context.Context, r client.Reader, list client.ObjectList) []reconcile.Request {
	if err := r.List(ctx, list); err != nil {
		return nil
	}
	var out []reconcile.Request
	_ = forEach(list, func(o client.Object) {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: o.GetName()}})
	})
	return out
}

// workqueue is the queue event handlers add requests to.
type workqueue = wq.TypedRateLimitingInterface[reconcile.Request]
