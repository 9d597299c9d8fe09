package controllers

import (
	"context"

	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/dataresidency/operator/internal/findings"
	"github.com/dataresidency/operator/internal/report"
	"github.com/dataresidency/operator/internal/state"
)

// ReportReconciler keeps one OpenReports Report per namespace (split into
// parts when large) in step with the findings of its workloads.
type ReportReconciler struct {
	client.Client
	State *state.Provider
	Store *findings.Store
	// MaxResults bounds one Report; report.MaxResultsPerReport when zero.
	MaxResults int
	// Changes carries the namespaces whose findings changed.
	Changes <-chan event.GenericEvent
	// Workers is the number of concurrent reconciles.
	Workers int
	// indexers are the workload informers' indexers, keyed by kind, read
	// without copies (set by SetupWithManager; the reader is used otherwise).
	indexers map[string]toolscache.Indexer
}

// +kubebuilder:rbac:groups=openreports.io,resources=reports,verbs=get;list;watch;create;update;patch;delete

// Reconcile writes the Reports of one namespace (req.Namespace).
func (r *ReportReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := req.Namespace
	snap, err := r.State.Snapshot(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	var desired []*openreports.Report
	if !snap.Policy().Excluded(ns) {
		ready, err := r.allEvaluated(ctx, ns)
		if err != nil || !ready {
			// A workload's evaluation will enqueue the namespace again.
			return ctrl.Result{}, err
		}
		desired = report.Build(ns, r.Store.Namespace(ns), r.MaxResults)
	}

	var existing openreports.ReportList
	if err := r.List(ctx, &existing, client.InNamespace(ns), client.MatchingLabels{report.LabelManagedBy: report.ManagedBy}); err != nil {
		return ctrl.Result{}, err
	}
	have := map[string]*openreports.Report{}
	for i := range existing.Items {
		have[existing.Items[i].Name] = &existing.Items[i]
	}
	for _, want := range desired {
		cur, ok := have[want.Name]
		delete(have, want.Name)
		if !ok {
			if err := r.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
				return ctrl.Result{}, err
			}
			continue
		}
		if equality.Semantic.DeepEqual(cur.Results, want.Results) && cur.Summary == want.Summary &&
			cur.Source == want.Source && equality.Semantic.DeepEqual(cur.Labels, want.Labels) {
			continue
		}
		want.ResourceVersion = cur.ResourceVersion
		if err := r.Update(ctx, want); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{Requeue: true}, nil
			}
			return ctrl.Result{}, err
		}
	}
	for _, extra := range have {
		if err := r.Delete(ctx, extra); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// allEvaluated reports whether every workload of the namespace that the
// operator evaluates has a current entry in the store, so that a Report is
// never written from a half-filled store (after a restart, say).
func (r *ReportReconciler) allEvaluated(ctx context.Context, ns string) (bool, error) {
	for _, k := range WorkloadKinds {
		items, err := r.inNamespace(ctx, k, ns)
		if err != nil {
			return false, err
		}
		for _, o := range items {
			if OwnedByWorkload(o) || o.GetDeletionTimestamp() != nil {
				continue
			}
			e, ok := r.Store.Get(findings.Key{Kind: k.Kind, Namespace: ns, Name: o.GetName()})
			if !ok || e.UID != o.GetUID() {
				return false, nil
			}
		}
	}
	return true, nil
}

// inNamespace returns the cached objects of a kind in a namespace.
func (r *ReportReconciler) inNamespace(ctx context.Context, k WorkloadKind, ns string) ([]client.Object, error) {
	var out []client.Object
	if idx := r.indexers[k.Kind]; idx != nil {
		items, err := idx.ByIndex(toolscache.NamespaceIndex, ns)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if o, ok := it.(client.Object); ok {
				out = append(out, o)
			}
		}
		return out, nil
	}
	list := k.NewList()
	if err := r.List(ctx, list, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		out = append(out, it.(client.Object))
	}
	return out, nil
}

// SetupWithManager listens to the store's changes and to the Reports
// themselves, so a Report deleted or edited by hand is restored.
func (r *ReportReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.indexers = map[string]toolscache.Indexer{}
	for _, k := range WorkloadKinds {
		inf, err := mgr.GetCache().GetInformer(context.Background(), k.New())
		if err != nil {
			return err
		}
		if sii, ok := inf.(toolscache.SharedIndexInformer); ok {
			r.indexers[k.Kind] = sii.GetIndexer()
		}
	}
	toNamespace := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: report.Name}}}
	})
	managed := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetLabels()[report.LabelManagedBy] == report.ManagedBy
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("report").
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Watches(&openreports.Report{}, toNamespace, builder.WithPredicates(managed)).
		WatchesRawSource(source.Channel(r.Changes, toNamespace)).
		Complete(r)
}

// namespaceEvent is the event that enqueues a namespace's Report.
func namespaceEvent(ns string) event.GenericEvent {
	return event.GenericEvent{Object: &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: report.Name}}}
}
