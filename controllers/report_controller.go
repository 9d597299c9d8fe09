package controllers

import (
	"context"
	"sync"
	"time"

	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/dataresidency/operator/internal/findings"
	"github.com/dataresidency/operator/internal/report"
	"github.com/dataresidency/operator/internal/residency"
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
	// Batch is how long a namespace's findings must stay unchanged before its
	// Report is written, so that a burst of re-evaluations (a basis used by a
	// thousand workloads) becomes one write per namespace; under a steady
	// stream of changes (a rollout) the Report is written every MaxDelay
	// (10 Batch when zero) instead of every Batch. A Report is rewritten
	// whole, and the API server's work grows with its size: written every
	// 500 ms during a rollout, the Reports were a third of its CPU.
	Batch    time.Duration
	MaxDelay time.Duration
	mu       sync.Mutex
	written  map[types.NamespacedName]writtenReport
	// pending holds, per namespace, the first and the last change of its
	// findings not yet written.
	pending map[string]pendingChanges
	// Owners decides which objects are reported through their owner.
	Owners *Owners
	// Cache is the manager's cache: workloads are read as it keeps them.
	Cache *WorkloadCache
	// reports reads the metadata of the Reports this operator manages, from
	// the cache SetupWithManager creates for them alone.
	reports client.Reader
}

// +kubebuilder:rbac:groups=openreports.io,resources=reports,verbs=get;list;watch;create;update;patch;delete

// Reconcile writes the Reports of one namespace (req.Namespace).
func (r *ReportReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := req.Namespace
	if wait := r.due(ns, time.Now()); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
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

	// Reports are watched metadata-only: the cache holds no results. What
	// was written is recognised by its content hash annotation; a Report
	// changed by someone else (its generation moved past our last write) is
	// rewritten.
	existing := &metav1.PartialObjectMetadataList{}
	existing.SetGroupVersionKind(openreports.SchemeGroupVersion.WithKind("ReportList"))
	reader := r.reports
	if reader == nil {
		reader = r.Client
	}
	if err := reader.List(ctx, existing, client.InNamespace(ns), client.MatchingLabels{report.LabelManagedBy: report.ManagedBy}); err != nil {
		return ctrl.Result{}, err
	}
	have := map[string]*metav1.PartialObjectMetadata{}
	for i := range existing.Items {
		have[existing.Items[i].Name] = &existing.Items[i]
	}
	for _, want := range desired {
		cur, ok := have[want.Name]
		delete(have, want.Name)
		hash := report.ContentHash(want)
		if ok && cur.Annotations[report.AnnotationContentHash] == hash && r.untouched(cur) {
			continue
		}
		if want.Annotations == nil {
			want.Annotations = map[string]string{}
		}
		want.Annotations[report.AnnotationContentHash] = hash
		if !ok {
			if err := r.Create(ctx, want); err != nil {
				return ctrl.Result{}, err
			}
			r.wrote(want)
			continue
		}
		// The Report is ours alone: replace it whole (an update, not a
		// patch: the API server then neither renders the stored object to
		// JSON nor merges, which was a quarter of its CPU for each Report
		// written), keeping what others put in its metadata. The
		// resourceVersion is the one our last write returned when nobody
		// wrote since, so that a cache lagging our own writes causes no
		// conflict; a conflict (someone else wrote) is retried from the cache.
		want.OwnerReferences, want.Finalizers = cur.OwnerReferences, cur.Finalizers
		want.Labels = mergeStrings(cur.Labels, want.Labels)
		want.Annotations = mergeStrings(cur.Annotations, want.Annotations)
		want.ResourceVersion = r.resourceVersion(cur)
		if err := r.Update(ctx, want); err != nil {
			if apierrors.IsConflict(err) {
				// Someone wrote it without moving its generation (a label, say):
				// the retry takes the cache's resourceVersion.
				r.forget(want)
			}
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		r.wrote(want)
	}
	for _, extra := range have {
		if err := r.Delete(ctx, extra); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// pendingChanges are a namespace's unwritten changes: when the first and the last came.
type pendingChanges struct{ first, last time.Time }

// changed records a change of a namespace's findings.
func (r *ReportReconciler) changed(ns string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending == nil {
		r.pending = map[string]pendingChanges{}
	}
	p, ok := r.pending[ns]
	if !ok {
		p.first = now
	}
	p.last = now
	r.pending[ns] = p
}

// due returns how long a namespace's Report should still wait: until its
// findings have been quiet for Batch, or MaxDelay after the first unwritten
// change. Zero: write now (and the changes count as written).
func (r *ReportReconciler) due(ns string, now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.pending[ns]
	if !ok || r.Batch <= 0 {
		delete(r.pending, ns)
		return 0
	}
	maxDelay := r.MaxDelay
	if maxDelay <= 0 {
		maxDelay = 10 * r.Batch
	}
	at := p.last.Add(r.Batch)
	if limit := p.first.Add(maxDelay); limit.Before(at) {
		at = limit
	}
	if wait := at.Sub(now); wait > 0 {
		return wait
	}
	delete(r.pending, ns)
	return 0
}

// writtenReport is what this process's last write of a Report returned.
type writtenReport struct {
	generation      int64
	resourceVersion string
}

// wrote remembers a Report as this process last wrote it.
func (r *ReportReconciler) wrote(o metav1.Object) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.written == nil {
		r.written = map[types.NamespacedName]writtenReport{}
	}
	r.written[types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}] = writtenReport{o.GetGeneration(), o.GetResourceVersion()}
}

// forget drops what this process remembers of a Report's last write.
func (r *ReportReconciler) forget(o metav1.Object) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.written, types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()})
}

// untouched reports whether nobody changed a Report since this process last
// wrote it. After a restart nothing is known and the content hash is trusted.
func (r *ReportReconciler) untouched(o metav1.Object) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	w, ok := r.written[types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}]
	return !ok || o.GetGeneration() <= w.generation
}

// resourceVersion is the version to replace a Report at: the one this
// process's last write returned, unless the cache shows a later write by
// someone else (its generation moved past ours), then the cache's.
func (r *ReportReconciler) resourceVersion(cur metav1.Object) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	w, ok := r.written[types.NamespacedName{Namespace: cur.GetNamespace(), Name: cur.GetName()}]
	if ok && cur.GetGeneration() <= w.generation && w.resourceVersion != "" {
		return w.resourceVersion
	}
	return cur.GetResourceVersion()
}

// mergeStrings returns base with over's entries set (over wins).
func mergeStrings(base, over map[string]string) map[string]string {
	if len(base) == 0 {
		return over
	}
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
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
			if r.Owners.ReportedThroughOwner(ctx, o) || o.GetDeletionTimestamp() != nil {
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

// inNamespace returns the cached objects of a kind in a namespace (the
// cache's own: read-only).
func (r *ReportReconciler) inNamespace(ctx context.Context, k WorkloadKind, ns string) ([]client.Object, error) {
	wk, _ := residency.LookupWorkloadKind(k.Kind)
	items, err := r.Cache.ListCached(ctx, wk, client.InNamespace(ns))
	out := make([]client.Object, len(items))
	for i, c := range items {
		out[i] = c
	}
	return out, err
}

// SetupWithManager listens to the store's changes and to the Reports
// themselves, so a Report deleted or edited by hand is restored. The Reports'
// metadata is cached apart from the manager's cache (only those this
// operator manages), so that the controller can start after the manager,
// when the cluster comes to serve the OpenReports CRD (ReportsGate).
func (r *ReportReconciler) SetupWithManager(mgr ctrl.Manager) error {
	rc, err := managedCache(mgr, report.LabelManagedBy, report.ManagedBy)
	if err != nil {
		return err
	}
	if err := mgr.Add(rc); err != nil {
		return err
	}
	r.reports = rc
	toNamespace := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: report.Name}}}
	})
	managed := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetLabels()[report.LabelManagedBy] == report.ManagedBy
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("report").
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		WatchesRawSource(source.Kind[client.Object](rc, reportMetadata(), toNamespace, managed)).
		WatchesRawSource(source.Channel(r.Changes, handler.TypedFuncs[client.Object, reconcile.Request]{
			GenericFunc: func(_ context.Context, e event.TypedGenericEvent[client.Object], q workqueue) {
				r.changed(e.Object.GetNamespace(), time.Now())
				q.AddAfter(reportOf(e.Object), r.Batch)
			},
		})).
		Complete(r)
}

// managedCache is a cache of its own for the objects this operator writes
// (labelled key=value), apart from the manager's, so that it can start
// after the manager (a CRD served later) and holds nothing else.
func managedCache(mgr ctrl.Manager, key, value string) (ctrlcache.Cache, error) {
	return ctrlcache.New(mgr.GetConfig(), ctrlcache.Options{
		HTTPClient: mgr.GetHTTPClient(), Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		DefaultTransform:     ctrlcache.TransformStripManagedFields(),
		DefaultLabelSelector: labels.SelectorFromSet(labels.Set{key: value}),
	})
}

// batched enqueues req(object) a batch window after the first change: the
// delaying queue keeps the earliest time for an item, so further changes
// within the window ride along instead of postponing it. A burst of changes
// (a rollout of many workloads, a basis used by a thousand of them) so
// becomes one write per object per window.
func batched(window time.Duration, req func(client.Object) reconcile.Request) handler.TypedEventHandler[client.Object, reconcile.Request] {
	return handler.TypedFuncs[client.Object, reconcile.Request]{
		GenericFunc: func(_ context.Context, e event.TypedGenericEvent[client.Object], q workqueue) {
			if window <= 0 {
				q.Add(req(e.Object))
				return
			}
			q.AddAfter(req(e.Object), window)
		},
	}
}

// reportOf is the request of the Report of an object's namespace.
func reportOf(o client.Object) reconcile.Request {
	return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: report.Name}}
}

// named is the request of a cluster-scoped object by its name.
func named(o client.Object) reconcile.Request {
	return reconcile.Request{NamespacedName: types.NamespacedName{Name: o.GetName()}}
}

// reportMetadata is the metadata-only form of a Report, for the watch and the cache.
func reportMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(openreports.SchemeGroupVersion.WithKind("Report"))
	return m
}

// namespaceEvent is the event that enqueues a namespace's Report.
func namespaceEvent(ns string) event.GenericEvent {
	return event.GenericEvent{Object: &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: report.Name}}}
}
