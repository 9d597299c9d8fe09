package controllers

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/findings"
	"github.com/dataresidency/operator/internal/report"
	"github.com/dataresidency/operator/internal/residency"
	"github.com/dataresidency/operator/internal/state"
)

// WorkloadKind describes one kind of object that runs pods.
type WorkloadKind struct {
	Kind    string
	New     func() client.Object
	NewList func() client.ObjectList
}

// WorkloadKinds are the kinds the operator evaluates (residency's registry).
var WorkloadKinds = func() []WorkloadKind {
	var out []WorkloadKind
	for _, k := range residency.WorkloadKinds() {
		out = append(out, WorkloadKind{
			Kind:    k.Kind,
			New:     func() client.Object { return k.New().(client.Object) },
			NewList: func() client.ObjectList { return k.NewList().(client.ObjectList) },
		})
	}
	return out
}()

// IndexWorkloadConfigMaps indexes workloads by the ConfigMaps their pod spec references.
const IndexWorkloadConfigMaps = "residency.configMaps"

// IndexWorkloadController indexes workloads by the UID of the workload that
// controls them (OwnedByWorkload), so that an owner's arrival finds them.
const IndexWorkloadController = "residency.controllerUID"

// WorkloadController is the index function behind IndexWorkloadController.
func WorkloadController(o client.Object) []string {
	if !OwnedByWorkload(o) {
		return nil
	}
	return []string{string(metav1.GetControllerOf(o).UID)}
}

// WorkloadConfigMaps is the index function behind IndexWorkloadConfigMaps.
func WorkloadConfigMaps(o client.Object) []string {
	if c, ok := o.(*residency.Cached); ok {
		return c.ReferencedConfigMaps()
	}
	w, ok := residency.WorkloadOf(o)
	if !ok || w.PodSpec == nil {
		return nil
	}
	return residency.ReferencedConfigMaps(w.PodSpec)
}

// OwnedByWorkload reports whether obj names as its controller a workload
// that makes objects of its kind from its pod template (a Pod of a
// ReplicaSet of a Deployment), so that it is reported through its owner and
// evaluated once. Without a kind, any controller that makes workloads counts.
func OwnedByWorkload(obj metav1.Object) bool {
	ref := metav1.GetControllerOf(obj)
	if ref == nil {
		return false
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return false
	}
	if ro, ok := obj.(runtime.Object); ok {
		if kind := ro.GetObjectKind().GroupVersionKind().Kind; kind != "" {
			return residency.ControlledByWorkload(kind, gv.Group, ref.Kind)
		}
	}
	return residency.MakesWorkloads(gv.Group, ref.Kind)
}

// Owners tells whether a workload is reported through its owner: it names one
// as its controller, and that owner is in the cache with the UID the
// reference names. An owner reference anyone may write would otherwise hide a
// bare Pod from every Report (the admission webhook evaluates such Pods
// anyway). A reference needs the owner's UID, so an owner missing when its
// dependent is evaluated was deleted or never existed.
type Owners struct {
	// Reader is the manager's cache; a WorkloadCache is read without typed copies.
	Reader client.Reader
}

// ReportedThroughOwner reports whether obj is evaluated and reported as part
// of the workload that controls it rather than on its own.
func (o *Owners) ReportedThroughOwner(ctx context.Context, obj metav1.Object) bool {
	if !OwnedByWorkload(obj) {
		return false
	}
	ref := metav1.GetControllerOf(obj)
	for _, k := range WorkloadKinds {
		if k.Kind != ref.Kind {
			continue
		}
		key := client.ObjectKey{Namespace: obj.GetNamespace(), Name: ref.Name}
		if wc, ok := o.Reader.(*WorkloadCache); ok {
			wk, _ := residency.LookupWorkloadKind(k.Kind)
			owner, err := wc.GetCached(ctx, wk, key)
			return err == nil && owner.UID == ref.UID
		}
		owner := k.New()
		if err := o.Reader.Get(ctx, key, owner, client.UnsafeDisableDeepCopy); err != nil {
			return false
		}
		return owner.GetUID() == ref.UID
	}
	return false
}

// WorkloadReconciler evaluates the workloads of one kind: the subprocessors
// and data categories they declare, the endpoints their pod specs reveal, and
// where their pods are pinned. Results go to the findings store, from which
// Reports, counts, Events and metrics are published.
type WorkloadReconciler struct {
	client.Client
	Kind     WorkloadKind
	State    *state.Provider
	Store    *findings.Store
	Recorder events.EventRecorder
	Metrics  *report.Metrics
	// Workers is the number of concurrent reconciles.
	Workers int
	// Owners decides which objects are reported through their owner.
	Owners *Owners
	// OperatorNamespace never gets egress policies.
	OperatorNamespace string
	// Cache is the manager's cache: workloads are read from it as it keeps them.
	Cache *WorkloadCache

	transitions catalogTransitions
}

// +kubebuilder:rbac:groups="",resources=pods;replicationcontrollers;configmaps;services;namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes;grpcroutes,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets;replicasets,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs;cronjobs,verbs=get;list;watch

// Reconcile evaluates one workload.
func (r *WorkloadReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	key := findings.Key{Kind: r.Kind.Kind, Namespace: req.Namespace, Name: req.Name}
	obj, found, err := r.get(ctx, req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !found {
		r.Store.Delete(key)
		return ctrl.Result{}, nil
	}
	snap, err := r.State.Snapshot(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	pol := snap.Policy()
	if r.Owners.ReportedThroughOwner(ctx, obj) || pol.Excluded(req.Namespace) || obj.GetDeletionTimestamp() != nil {
		r.Store.Delete(key)
		return ctrl.Result{}, nil
	}
	w, ok := residency.WorkloadOf(obj)
	if !ok {
		return ctrl.Result{}, nil
	}
	if w.Context, err = state.PodContext(ctx, r.Client, r.State.Routes, req.Namespace, w.PodSpec); err != nil {
		return ctrl.Result{}, err
	}
	nsLabels, found, err := state.NamespaceLabels(ctx, r.Client, req.Namespace)
	if err != nil || !found {
		return ctrl.Result{}, err // a Namespace's arrival enqueues its workloads
	}
	w.NamespaceLabels = nsLabels
	var observedUntil time.Time
	if w.Observed, w.ObservedDropped, observedUntil, err = r.observed(ctx, req.Namespace, req.Name, pol.ObservedRetention); err != nil {
		return ctrl.Result{}, err
	}

	start := time.Now()
	res := snap.Evaluate(w)
	r.Metrics.ObserveEvaluation(r.Kind.Kind, time.Since(start))

	entry := findings.Entry{
		Key:         key,
		UID:         obj.GetUID(),
		Result:      res,
		Locations:   locationsOf(snap, res),
		Regions:     residency.PlacementRegions(w.PodSpec),
		Enforcement: string(pol.Enforcement(nsLabels)),
		// Read after Evaluate: whether discovery's answers depended on the cluster.
		ClusterFacts: state.Relied(w.Context.Cluster),
	}
	if req.Namespace != r.OperatorNamespace {
		entry.Egress = snap.EgressPlan(w, res, pol.EgressMode(req.Namespace, nsLabels))
	}
	prev := r.Store.Set(entry, r.State.Now())
	if res.Verdict == residency.Violation && (prev == nil || !sameViolations(prev.Result, res)) {
		r.Recorder.Eventf(obj.Object(), nil, corev1.EventTypeWarning, "ResidencyViolation", "Evaluate", "%s", violationSummary(res))
	}
	log.FromContext(ctx).V(1).Info("evaluated", "workload", key.String(), "verdict", res.Verdict, "findings", len(res.Findings))
	// Evaluated again at the catalog's next transition (with every workload
	// of the kind), or when one of its observed names expires.
	r.transitions.arm(r.State.Now(), snap.NextTransition())
	return ctrl.Result{RequeueAfter: state.RequeueAt(r.State.Now(), observedUntil)}, nil
}

// get returns the cached workload: the informer's own object, read-only (the
// engine never writes to what it evaluates), not a copy.
func (r *WorkloadReconciler) get(ctx context.Context, key types.NamespacedName) (*residency.Cached, bool, error) {
	k, _ := residency.LookupWorkloadKind(r.Kind.Kind)
	obj, err := r.Cache.GetCached(ctx, k, key)
	if err != nil {
		return nil, false, client.IgnoreNotFound(err)
	}
	return obj, true, nil
}

// locationsOf lists the ProcessingLocations a workload's flows reach, onward
// subprocessors' included, for the locations' workload counts.
func locationsOf(snap *residency.Snapshot, res residency.Result) []string {
	var out []string
	for _, sub := range res.Subprocessors {
		sr, ok := snap.Subprocessor(sub)
		if !ok {
			continue
		}
		for _, t := range sr.Transfers {
			route := t.Route
			if i := strings.LastIndexByte(route, '/'); i >= 0 {
				route = route[i+1:]
			}
			if !strings.HasPrefix(route, "remote-access:") {
				out = append(out, route)
			}
		}
	}
	sort.Strings(out)
	return compact(out)
}

func compact(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func sameViolations(a, b residency.Result) bool {
	return violationSummary(a) == violationSummary(b)
}

// violationSummary is the note of the Event on a violating workload.
func violationSummary(res residency.Result) string {
	var parts []string
	for _, f := range res.Findings {
		if f.Verdict == residency.Violation && f.Exception == nil { // an excepted one is accepted, until it expires
			parts = append(parts, fmt.Sprintf("[%s] %s", f.Reason, f.Message))
		}
	}
	return truncate(strings.Join(parts, "; "), 1024)
}

// SetupWithManager wires the watches that can change a workload's verdict:
// the workload itself, its namespace's labels, the ConfigMaps it references,
// ExternalName Services of its namespace, and the residency objects, each
// mapped to exactly the workloads it can affect.
func (r *WorkloadReconciler) SetupWithManager(mgr ctrl.Manager) error {
	kind := r.Kind.Kind
	gen := builder.WithPredicates(predicate.GenerationChangedPredicate{})
	enqueue := func(keys []findings.Key) []reconcile.Request {
		out := make([]reconcile.Request, 0, len(keys))
		for _, k := range keys {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: k.Namespace, Name: k.Name}})
		}
		return out
	}
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	b := ctrl.NewControllerManagedBy(mgr)
	// An owner arriving in the cache after its dependents (separate watches
	// deliver in no set order): they were evaluated on their own and are now
	// reported through it.
	created := builder.WithPredicates(predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return true },
		UpdateFunc:  func(event.UpdateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	})
	// Only the kinds that make this kind (a ReplicaSet's Deployment): every
	// handler on an informer holds its own backlog of the initial list.
	for _, owner := range WorkloadKinds {
		ownerKind, _ := residency.LookupWorkloadKind(owner.Kind)
		if !residency.ControlledByWorkload(kind, ownerKind.Group, owner.Kind) {
			continue
		}
		b = b.Watches(owner.New(), handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.all(ctx, client.InNamespace(o.GetNamespace()), client.MatchingFields{IndexWorkloadController: string(o.GetUID())})
		}), created)
	}
	// Gateway API routes serve hosts as Ingresses do (the kinds the cluster
	// served at start: state.SetupIndexes).
	for _, gvk := range r.State.Routes.Kinds {
		b = b.Watches(state.NewRoute(gvk), r.servedHostsHandler(kind, state.RouteHosts, enqueue))
	}
	return b.
		For(r.Kind.New(), builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{},
			predicate.LabelChangedPredicate{}, controllerChanged{}))). // labels: a ResidencyException's workloadSelector
		Watches(&v1alpha1.Subprocessor{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			// Its routes, its state and its egress claims: the workloads that
			// use it, and those with endpoints it may now claim.
			keys := r.Store.UsingSubprocessors(kind, o.GetName())
			keys = append(keys, r.Store.WithEndpoints(kind)...)
			parents := subprocessorsNaming(ctx, r.Client, IndexSubprocessorSubprocessors, o.GetName())
			keys = append(keys, r.Store.UsingSubprocessors(kind, requestNames(parents)...)...)
			return enqueue(keys)
		}), gen).
		Watches(&v1alpha1.TransferBasis{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			subs := subprocessorsNaming(ctx, r.Client, IndexSubprocessorBases, o.GetName())
			return enqueue(r.Store.UsingSubprocessors(kind, requestNames(subs)...))
		}), gen).
		Watches(&v1alpha1.ProcessingLocation{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			subs := subprocessorsNaming(ctx, r.Client, IndexSubprocessorLocations, o.GetName())
			keys := r.Store.UsingSubprocessors(kind, requestNames(subs)...)
			if loc, ok := o.(*v1alpha1.ProcessingLocation); ok && loc.Spec.ProviderRegion != "" {
				keys = append(keys, r.Store.InRegions(kind, loc.Spec.ProviderRegion)...)
			}
			return enqueue(keys)
		}), gen).
		Watches(&v1alpha1.ResidencyPolicy{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
			return r.all(ctx)
		}), gen).
		// An exception granted, changed or withdrawn (rare): every workload.
		Watches(&v1alpha1.ResidencyException{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
			return r.all(ctx)
		}), gen).
		Watches(ns, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.all(ctx, client.InNamespace(o.GetName()))
		}), builder.WithPredicates(predicate.LabelChangedPredicate{})).
		// A Namespace that comes makes "svc.<namespace>" a Service: the
		// workloads with an endpoint under it are judged again; one that goes,
		// those whose discovery left a name out because of the cluster.
		Watches(ns, handler.Funcs{
			CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue) {
				suffix := "." + e.Object.GetName()
				add(q, enqueue(r.Store.WithEndpointHost(kind, func(h string) bool { return strings.HasSuffix(h, suffix) })))
			},
			DeleteFunc: func(_ context.Context, _ event.DeleteEvent, q workqueue) {
				add(q, enqueue(r.Store.ReliedOnCluster(kind)))
			},
		}).
		Watches(&networkingv1.Ingress{}, r.servedHostsHandler(kind, state.IngressHosts, enqueue)).
		// What its pods resolved (written by the dnstap flushers).
		Watches(&v1alpha1.ObservedEgress{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			oe, ok := o.(*v1alpha1.ObservedEgress)
			if !ok || oe.Spec.Workload.Kind != kind {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: oe.Namespace, Name: oe.Spec.Workload.Name}}}
		})).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.all(ctx, client.InNamespace(o.GetNamespace()), client.MatchingFields{IndexWorkloadConfigMaps: o.GetName()})
		})).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.all(ctx, client.InNamespace(o.GetNamespace()))
		}), builder.WithPredicates(externalNameChanged{})).
		WatchesRawSource(r.transitions.source(func(ctx context.Context) []reconcile.Request { return r.all(ctx) })).
		Named("workload-" + strings.ToLower(kind)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Complete(r)
}

// all lists this kind's objects from the cache, as it keeps them.
func (r *WorkloadReconciler) all(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	k, _ := residency.LookupWorkloadKind(r.Kind.Kind)
	items, err := r.Cache.ListCached(ctx, k, opts...)
	if err != nil {
		return nil
	}
	out := make([]reconcile.Request, len(items))
	for i, o := range items {
		out[i] = reconcile.Request{NamespacedName: types.NamespacedName{Namespace: o.Namespace, Name: o.Name}}
	}
	return out
}

func requestNames(reqs []reconcile.Request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.Name
	}
	return out
}

// controllerChanged passes updates that change an object's controller
// reference: an orphaned Pod (its ReplicaSet deleted with
// propagationPolicy=Orphan) is reported on its own from then on, and pods'
// metadata.generation does not move when their references do.
type controllerChanged struct{ predicate.Funcs }

func (controllerChanged) Update(e event.UpdateEvent) bool {
	a, b := metav1.GetControllerOf(e.ObjectOld), metav1.GetControllerOf(e.ObjectNew)
	if a == nil || b == nil {
		return (a == nil) != (b == nil)
	}
	return a.UID != b.UID
}

// externalNameChanged passes only ExternalName Services (or changes to or from that type).
type externalNameChanged struct{ predicate.Funcs }

func isExternalName(o client.Object) bool {
	s, ok := o.(*corev1.Service)
	return ok && s.Spec.Type == corev1.ServiceTypeExternalName
}

func (externalNameChanged) Create(e event.CreateEvent) bool { return isExternalName(e.Object) }
func (externalNameChanged) Delete(e event.DeleteEvent) bool { return isExternalName(e.Object) }
func (externalNameChanged) Update(e event.UpdateEvent) bool {
	if !isExternalName(e.ObjectOld) && !isExternalName(e.ObjectNew) {
		return false
	}
	o, n := e.ObjectOld.(*corev1.Service), e.ObjectNew.(*corev1.Service)
	return o.Spec.Type != n.Spec.Type || o.Spec.ExternalName != n.Spec.ExternalName
}
func (externalNameChanged) Generic(event.GenericEvent) bool { return false }

// servedHostsHandler enqueues, when an Ingress or a route starts or stops
// serving hosts, the workloads with an endpoint it now serves and those whose
// discovery left a name out because of the cluster (it may no longer be served).
func (r *WorkloadReconciler) servedHostsHandler(kind string, hosts func(client.Object) []string, enqueue func([]findings.Key) []reconcile.Request) handler.EventHandler {
	changed := func(q workqueue, before, after []string) {
		if slices.Equal(before, after) {
			return
		}
		served := map[string]bool{}
		for _, h := range after {
			served[h] = true
		}
		keys := r.Store.ReliedOnCluster(kind)
		if len(served) > 0 {
			keys = append(keys, r.Store.WithEndpointHost(kind, func(h string) bool {
				return slices.ContainsFunc(residency.ServingKeys(h), func(k string) bool { return served[k] })
			})...)
		}
		add(q, enqueue(keys))
	}
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue) { changed(q, nil, hosts(e.Object)) },
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue) {
			changed(q, hosts(e.ObjectOld), hosts(e.ObjectNew))
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue) { changed(q, hosts(e.Object), nil) },
	}
}

// add puts requests on the queue.
func add(q workqueue, reqs []reconcile.Request) {
	for _, req := range reqs {
		q.Add(req)
	}
}
