package controllers

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// patchStatus writes obj's status through the status subresource, once, and
// only when it differs from orig (a merge patch against what was read). obj
// is orig with a new status: nothing else of it may have changed.
func patchStatus(ctx context.Context, c client.Client, orig, obj client.Object) error {
	if equality.Semantic.DeepEqual(orig, obj) {
		return nil
	}
	return c.Status().Patch(ctx, obj, client.MergeFrom(orig))
}

// setCondition sets a condition, keeping lastTransitionTime when the status does not change.
func setCondition(conds *[]metav1.Condition, generation int64, typ string, ok bool, reason, message string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	if reason == "" {
		reason = typ
	}
	meta.SetStatusCondition(conds, metav1.Condition{
		Type:               typ,
		Status:             status,
		ObservedGeneration: generation,
		Reason:             reason,
		Message:            truncate(message, 32768),
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// date renders a transition instant as the API's Date (empty for zero).
func date(t time.Time) v1alpha1.Date {
	if t.IsZero() {
		return ""
	}
	return v1alpha1.Date(t.UTC().Format(time.DateOnly))
}

// forEach calls fn for every item of a typed list.
func forEach(list client.ObjectList, fn func(client.Object)) error {
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	for _, it := range items {
		if o, ok := it.(client.Object); ok {
			fn(o)
		}
	}
	return nil
}
