package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/dataresidency/operator/internal/egress"
	"github.com/dataresidency/operator/internal/findings"
	"github.com/dataresidency/operator/internal/report"
	"github.com/dataresidency/operator/internal/state"
)

// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=cilium.io,resources=ciliumnetworkpolicies,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=policy.networking.k8s.io,resources=clusternetworkpolicies,verbs=get;list;watch;create;patch;delete

// EgressReconciler keeps, for each workload of a namespace labelled
// dataresidency.io/egress, the network policy its egress plan calls for
// (server-side applied, owned by the workload), and removes the policies no
// plan calls for. Requests name a workload as Namespace and "Kind/name".
type EgressReconciler struct {
	client.Client
	State    *state.Provider
	Store    *findings.Store
	Recorder events.EventRecorder
	// Changes carries the workloads whose egress plan may have moved.
	Changes <-chan event.GenericEvent
	Workers int
	// OperatorNamespace never gets egress policies.
	OperatorNamespace string
	// Owners decides which objects are judged through their owner.
	Owners *Owners

	// policies reads the metadata of the policies this operator wrote, from
	// a cache of their own; served are the policy kinds the cluster serves.
	policies client.Reader
	served   map[schema.GroupVersionKind]bool
	// written is the generation of each policy as this process last applied
	// it: a later one is someone else's edit, which the next apply undoes.
	mu      sync.Mutex
	written map[policyKey]int64
}

// policyKey names a policy of one kind.
type policyKey struct {
	gvk       schema.GroupVersionKind
	namespace string
	name      string
}

// indexEgressWorkload indexes the policies written by the workload they are for.
const indexEgressWorkload = "egress.workload"

// fieldOwner is the server-side apply field manager of the policies.
const fieldOwner = "dataresidency-operator"

// egressRequest is the request of a workload's egress policy.
func egressRequest(k findings.Key) reconcile.Request {
	return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: k.Namespace, Name: k.Kind + "/" + k.Name}}
}

// egressEvent is the event that enqueues a workload's egress policy.
func egressEvent(k findings.Key) event.GenericEvent {
	return event.GenericEvent{Object: &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Kind + "/" + k.Name}}}
}

// Reconcile applies or removes one workload's egress policy.
func (r *EgressReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	kind, name, _ := strings.Cut(req.Name, "/")
	key := findings.Key{Kind: kind, Namespace: req.Namespace, Name: name}
	have, err := r.existing(ctx, key)
	if err != nil {
		return ctrl.Result{}, err
	}
	obj, found, err := r.workload(ctx, key)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !found {
		return ctrl.Result{}, r.remove(ctx, have, nil)
	}
	entry, evaluated := r.Store.Get(key)
	if !evaluated || entry.UID != obj.GetUID() {
		// Not evaluated yet (its evaluation sends a change), or not evaluated
		// at all: excluded, reported through its owner, outside any labelled namespace.
		nsLabels, _, err := state.NamespaceLabels(ctx, r.Client, req.Namespace)
		if err != nil {
			return ctrl.Result{}, err
		}
		snap, err := r.State.Snapshot(ctx)
		if err != nil {
			return ctrl.Result{}, err
		}
		if snap.Policy().EgressMode(req.Namespace, nsLabels) == "" || req.Namespace == r.OperatorNamespace || r.Owners.ReportedThroughOwner(ctx, obj) {
			return ctrl.Result{}, r.remove(ctx, have, nil)
		}
		return ctrl.Result{}, nil
	}
	if entry.Egress == nil {
		return ctrl.Result{}, r.remove(ctx, have, nil)
	}
	owner := egress.Owner{APIVersion: entry.Result.Resource.APIVersion, Kind: kind, Namespace: key.Namespace, Name: name, UID: obj.GetUID()}
	want, _, err := egress.Render(owner, entry.Egress)
	if err != nil {
		return ctrl.Result{}, err
	}
	for _, u := range want {
		gvk := u.GroupVersionKind()
		if !r.served[gvk] {
			// The ResidencyPolicy names a backend whose CRD the cluster did not
			// serve when the operator started: nothing can be written, and what
			// was written before stays (removing it would open the network).
			r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, "EgressPolicyNotWritten", "ApplyEgressPolicy",
				"ResidencyPolicy \"default\" spec.egressPolicy.backend %s: the cluster does not serve %s, so no egress policy is written for this workload and one written before stays as it was (install the CRD, then restart the operator)",
				entry.Egress.Settings.Backend, gvk.GroupKind())
			log.FromContext(ctx).Error(nil, "egress backend not served", "workload", key.String(), "kind", gvk.String())
			return ctrl.Result{}, nil
		}
		hash, err := contentHash(u)
		if err != nil {
			return ctrl.Result{}, err
		}
		pk := policyKey{gvk, u.GetNamespace(), u.GetName()}
		if cur := find(have, gvk, u.GetNamespace(), u.GetName()); cur != nil && cur.GetAnnotations()[report.AnnotationContentHash] == hash && r.untouched(pk, cur.Generation) {
			continue
		}
		ann := u.GetAnnotations()
		ann[report.AnnotationContentHash] = hash
		u.SetAnnotations(ann)
		if err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
			return ctrl.Result{}, fmt.Errorf("applying %s %s: %w", gvk.Kind, client.ObjectKeyFromObject(u), err)
		}
		r.wrote(pk, u.GetGeneration()) // the apply's answer
		log.FromContext(ctx).V(1).Info("egress policy applied", "workload", key.String(), "kind", gvk.Kind, "name", u.GetName(), "mode", entry.Egress.Mode)
	}
	return ctrl.Result{}, r.remove(ctx, have, want)
}

// untouched reports whether a policy's generation is the one this process
// last applied. After a restart nothing is known, and each policy is
// applied once more (a no-op for the API server when nobody changed it).
func (r *EgressReconciler) untouched(k policyKey, generation int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, ok := r.written[k]
	return ok && generation == g
}

func (r *EgressReconciler) wrote(k policyKey, generation int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.written == nil {
		r.written = map[policyKey]int64{}
	}
	r.written[k] = generation
}

// workload reads the workload from the cache; false when it is gone or going.
func (r *EgressReconciler) workload(ctx context.Context, key findings.Key) (client.Object, bool, error) {
	for _, k := range WorkloadKinds {
		if k.Kind != key.Kind {
			continue
		}
		obj := k.New()
		if err := r.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: key.Name}, obj, client.UnsafeDisableDeepCopy); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, false, nil
			}
			return nil, false, err
		}
		return obj, obj.GetDeletionTimestamp() == nil, nil
	}
	return nil, false, nil // a kind no longer governed
}

// existing lists the policies written for a workload, of every served kind.
func (r *EgressReconciler) existing(ctx context.Context, key findings.Key) ([]*metav1.PartialObjectMetadata, error) {
	var out []*metav1.PartialObjectMetadata
	for _, gvk := range egress.GVKs {
		if !r.served[gvk] {
			continue
		}
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := r.policies.List(ctx, list, client.MatchingFields{indexEgressWorkload: key.String()}); err != nil {
			return nil, err
		}
		for i := range list.Items {
			it := &list.Items[i]
			it.SetGroupVersionKind(gvk)
			out = append(out, it)
		}
	}
	return out, nil
}

// remove deletes the policies of have that want does not hold.
func (r *EgressReconciler) remove(ctx context.Context, have []*metav1.PartialObjectMetadata, want []*unstructured.Unstructured) error {
	for _, h := range have {
		kept := false
		for _, w := range want {
			if w.GroupVersionKind() == h.GroupVersionKind() && w.GetNamespace() == h.Namespace && w.GetName() == h.Name {
				kept = true
			}
		}
		if kept {
			continue
		}
		r.mu.Lock()
		delete(r.written, policyKey{h.GroupVersionKind(), h.Namespace, h.Name})
		r.mu.Unlock()
		if err := r.Delete(ctx, h); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting %s %s: %w", h.Kind, client.ObjectKeyFromObject(h), err)
		}
		log.FromContext(ctx).V(1).Info("egress policy removed", "kind", h.Kind, "name", h.Name, "namespace", h.Namespace)
	}
	return nil
}

func find(have []*metav1.PartialObjectMetadata, gvk schema.GroupVersionKind, ns, name string) *metav1.PartialObjectMetadata {
	for _, h := range have {
		if h.GroupVersionKind() == gvk && h.Namespace == ns && h.Name == name {
			return h
		}
	}
	return nil
}

// contentHash digests what the operator writes into a policy, so that an
// unchanged one is not applied again.
func contentHash(u *unstructured.Unstructured) (string, error) {
	b, err := json.Marshal(u.Object)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

// SetupWithManager watches the store's changes and the policies themselves
// (metadata only, from a cache of the operator's policies alone), so that a
// policy edited or deleted by hand is restored and, at start, one whose
// workload or label went while the operator was down is removed. Kinds the
// cluster does not serve at start (Cilium's, network-policy-api's) are not watched.
func (r *EgressReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	pc, err := managedCache(mgr, egress.LabelManagedBy, egress.ManagedBy)
	if err != nil {
		return err
	}
	r.policies, r.served = pc, map[schema.GroupVersionKind]bool{}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("egress").
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		WatchesRawSource(source.Channel(r.Changes, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}}}
		})))
	for _, gvk := range egress.GVKs {
		if _, err := mgr.GetRESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			if meta.IsNoMatchError(err) {
				ctrl.Log.WithName("setup").Info("egress policies of this kind are not served: restart the operator after installing its CRD to use it", "kind", gvk.String())
				continue
			}
			return err
		}
		r.served[gvk] = true
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(gvk)
		if err := pc.IndexField(ctx, m, indexEgressWorkload, func(o client.Object) []string {
			if w := o.GetAnnotations()[egress.AnnotationWorkload]; w != "" {
				return []string{w}
			}
			return nil
		}); err != nil {
			return err
		}
		b = b.WatchesRawSource(source.Kind[client.Object](pc, m, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			parts := strings.SplitN(o.GetAnnotations()[egress.AnnotationWorkload], "/", 3)
			if len(parts) != 3 {
				return nil
			}
			return []reconcile.Request{egressRequest(findings.Key{Kind: parts[0], Namespace: parts[1], Name: parts[2]})}
		})))
	}
	if err := mgr.Add(pc); err != nil {
		return err
	}
	return b.Complete(r)
}
