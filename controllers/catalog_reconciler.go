package controllers

import (
	"context"
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

	"github.com/dataresidency/operator/internal/residency"
	"github.com/dataresidency/operator/internal/state"
)

// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// catalogReconciler is the reconciler of the four residency kinds (the
// catalog: ProcessingLocation, TransferBasis, Subprocessor, ResidencyPolicy).
// Each reconcile reads the object, takes the engine's snapshot, lets the kind
// set the status from it, writes the status once if it changed, records the
// Event the kind asked for, and requeues at the instant the kind's answer
// changes by itself. What differs between the kinds is their catalogKind.
type catalogReconciler[T any, P catalogObject[T]] struct {
	client.Client
	State    *state.Provider
	Recorder events.EventRecorder
	// name is the controller's name.
	name string
	kind catalogKind[P]
}

// catalogObject is a pointer to a residency kind's object.
type catalogObject[T any] interface {
	*T
	client.Object
}

// catalogKind is what one residency kind adds to the skeleton: how its status
// follows from the snapshot, and what besides its own objects enqueues them.
type catalogKind[P client.Object] interface {
	// evaluate sets obj's status from snap (and from c for what the snapshot
	// does not hold), and says what to announce and when to look again. It
	// changes nothing but the status. found is false when snap does not know
	// obj: it left the cache between the read and the snapshot, and its
	// deletion event follows.
	evaluate(ctx context.Context, c client.Reader, snap *residency.Snapshot, obj P) (out catalogOutcome, found bool, err error)
	// watches adds the kind's watches to b, which already watches the kind's
	// own objects (their generation changes).
	watches(b *builder.Builder, c client.Reader) *builder.Builder
}

// catalogOutcome is what a kind's evaluation says besides the status.
type catalogOutcome struct {
	// next is when the answer changes by itself (zero: never): the object is
	// requeued then.
	next time.Time
	// event, when set, is recorded on the object once its status is written.
	event *catalogEvent
}

// catalogEvent is an Event on a residency object (see events.EventRecorder).
type catalogEvent struct {
	eventType, reason, action, note string
}

// newCatalogReconciler returns the reconciler of kind, with the controller's
// name and the Event recorder's.
func newCatalogReconciler[T any, P catalogObject[T]](mgr ctrl.Manager, st *state.Provider, name, recorder string, kind catalogKind[P]) *catalogReconciler[T, P] {
	return &catalogReconciler[T, P]{Client: mgr.GetClient(), State: st, Recorder: mgr.GetEventRecorder(recorder), name: name, kind: kind}
}

// Reconcile evaluates one object.
func (r *catalogReconciler[T, P]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := P(new(T))
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	snap, err := r.State.Snapshot(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	orig := obj.DeepCopyObject().(P)
	out, found, err := r.kind.evaluate(ctx, r.Client, snap, obj)
	if err != nil || !found {
		return ctrl.Result{}, err
	}
	if err := patchStatus(ctx, r.Client, orig, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil // deleted meanwhile
		}
		return ctrl.Result{}, err
	}
	if e := out.event; e != nil {
		r.Recorder.Eventf(obj, nil, e.eventType, e.reason, e.action, "%s", e.note)
	}
	return ctrl.Result{RequeueAfter: state.RequeueAt(r.State.Now(), out.next)}, nil
}

// SetupWithManager watches the kind's objects (their generation changes) and
// whatever else the kind says.
func (r *catalogReconciler[T, P]) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(P(new(T)), builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	return r.kind.watches(b, r.Client).
		Named(r.name).
		Complete(r)
}

// countChanges carries the objects whose workload count may have moved (see
// Setup for where they come from). The zero value carries none: the workloads
// are not evaluated.
type countChanges struct {
	ch <-chan event.GenericEvent
	// batch is how long changes gather before the status is written (a
	// rollout of many workloads moves the counts many times).
	batch time.Duration
}

// watch enqueues req(object) for every object on the channel, batched.
func (c countChanges) watch(b *builder.Builder, req func(client.Object) reconcile.Request) *builder.Builder {
	if c.ch == nil {
		return b
	}
	return b.WatchesRawSource(source.Channel(c.ch, batched(c.batch, req)))
}

// everyOne enqueues every object of list's kind, for a change (the
// ResidencyPolicy's) that can affect all of them.
func everyOne(c client.Reader, list client.ObjectList) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		return allOf(ctx, c, list.DeepCopyObject().(client.ObjectList))
	})
}
