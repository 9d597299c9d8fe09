package controllers

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/observe"
	"github.com/dataresidency/operator/internal/residency"
)

// +kubebuilder:rbac:groups=dataresidency.io,resources=observedegresses,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=dataresidency.io,resources=observedegresses/status,verbs=get;update

// ObservedOptions configure observed egress: the dnstap collector CoreDNS
// streams to, and how its tallies are written.
type ObservedOptions struct {
	// BindAddress is where the collector listens for dnstap ("" or "0": off).
	BindAddress string
	// TLSCertDir, when set, serves TLS with tls.crt and tls.key from there
	// (reloaded when they change): CoreDNS's "dnstap tls://...".
	TLSCertDir string
	// ClusterDomain names are the cluster's own and never egress.
	ClusterDomain string
	// FlushInterval bounds how long a new (workload, name) pair waits before
	// it is written (default 1s); Refresh how often further resolutions of
	// known names are (default 30s).
	FlushInterval, Refresh time.Duration
}

// Observed is the running observation pipeline.
type Observed struct {
	Collector *observe.Collector
	Flusher   *observe.Flusher
}

// setupObserved wires the pipeline: Pod addresses from the cache's Pod
// informer, the collector (every replica: CoreDNS connects to any of
// them), the flusher (every replica).
func setupObserved(ctx context.Context, mgr ctrl.Manager, c *Controllers, owners *Owners, clk clock.PassiveClock, opts ObservedOptions) (*Observed, error) {
	if clk == nil {
		clk = clock.RealClock{}
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = time.Second
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 30 * time.Second
	}
	pods := observe.NewPodIPs()
	m := observe.NewMetrics()
	if err := m.Register(metrics.Registry); err != nil {
		// A second manager in the same process (tests): keep the first.
		ctrl.Log.WithName("setup").V(1).Info("dnstap metrics already registered", "error", err.Error())
	}
	col := observe.NewCollector(pods, opts.ClusterDomain, m)
	col.Log = ctrl.Log.WithName("dnstap")
	f := &observe.Flusher{
		Collector: col,
		Resolve:   owners.workloadOfPod,
		Client:    mgr.GetClient(),
		Reader:    mgr.GetAPIReader(),
		Policy:    func() residency.Policy { return policyNow(c) },
		Interval:  opts.FlushInterval,
		Refresh:   opts.Refresh,
		Clock:     clk,
		Log:       ctrl.Log.WithName("observed-egress"),
	}
	o := &Observed{Collector: col, Flusher: f}
	if opts.BindAddress == "" || opts.BindAddress == "0" {
		return o, nil
	}
	// Pods' addresses, for attribution (only when frames can come).
	inf, err := mgr.GetCache().GetInformer(ctx, &corev1.Pod{})
	if err != nil {
		return nil, err
	}
	podOf := func(obj any) *corev1.Pod {
		if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if c, ok := obj.(*residency.Cached); ok {
			obj = c.Object() // the cache keeps workloads narrowed (NewCache)
		}
		p, _ := obj.(*corev1.Pod)
		return p
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if p := podOf(obj); p != nil {
				pods.Set(p, clk.Now())
			}
		},
		UpdateFunc: func(_, obj any) {
			if p := podOf(obj); p != nil {
				pods.Set(p, clk.Now())
			}
		},
		DeleteFunc: func(obj any) {
			if p := podOf(obj); p != nil {
				pods.Delete(p, clk.Now())
			}
		},
	}); err != nil {
		return nil, err
	}
	var tlsConfig *tls.Config
	if opts.TLSCertDir != "" {
		cw, err := certwatcher.New(filepath.Join(opts.TLSCertDir, "tls.crt"), filepath.Join(opts.TLSCertDir, "tls.key"))
		if err != nil {
			return nil, fmt.Errorf("dnstap TLS: %w", err)
		}
		if err := mgr.Add(everyReplica(cw.Start)); err != nil {
			return nil, err
		}
		tlsConfig = &tls.Config{GetCertificate: cw.GetCertificate, MinVersion: tls.VersionTLS12}
	}
	// Ready once the collector listens: the Service sends CoreDNS to
	// ready replicas only.
	var listening atomic.Bool
	if err := mgr.AddReadyzCheck("dnstap", func(*http.Request) error {
		if !listening.Load() {
			return errors.New("the dnstap collector is not listening yet")
		}
		return nil
	}); err != nil {
		return nil, err
	}
	// Every replica listens (CoreDNS connects to whichever the Service
	// picks, and a replica is ready only once it listens), leader or not.
	if err := mgr.Add(everyReplica(func(ctx context.Context) error {
		l, err := net.Listen("tcp", opts.BindAddress)
		if err != nil {
			return fmt.Errorf("dnstap: listen on %s: %w", opts.BindAddress, err)
		}
		if tlsConfig != nil {
			l = tls.NewListener(l, tlsConfig)
		}
		listening.Store(true)
		col.Log.Info("collecting dnstap", "address", l.Addr().String(), "tls", tlsConfig != nil)
		return col.Serve(ctx, l)
	})); err != nil {
		return nil, err
	}
	if err := mgr.Add(f); err != nil {
		return nil, err
	}
	return o, nil
}

// policyNow is the policy as of now, read from the cache's stores (a
// replica that is not the leader compiles its own snapshot).
func policyNow(c *Controllers) residency.Policy {
	if s, err := c.State.Snapshot(context.Background()); err == nil && s != nil {
		return s.Policy()
	}
	if s := c.State.Last(); s != nil {
		return s.Policy()
	}
	return residency.DefaultPolicy()
}

// everyReplica is a runnable that does not wait for leader election.
type everyReplica func(context.Context) error

func (f everyReplica) Start(ctx context.Context) error { return f(ctx) }
func (everyReplica) NeedLeaderElection() bool          { return false }

var _ manager.LeaderElectionRunnable = everyReplica(nil)

// workloadOfPod is the workload a Pod's resolutions belong to: the Pod, or
// the owner it is reported through, and so on up (a ReplicaSet's Deployment,
// a Job's CronJob), as the workload reconcilers report it.
func (o *Owners) workloadOfPod(ctx context.Context, p *observe.Pod) (observe.Workload, error) {
	cur := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, UID: p.UID},
	}
	if p.Controller != nil {
		cur.OwnerReferences = []metav1.OwnerReference{*p.Controller}
	}
	for depth := 0; depth < 4 && o.ReportedThroughOwner(ctx, cur); depth++ {
		ref := metav1.GetControllerOf(cur)
		k, ok := residency.LookupWorkloadKind(ref.Kind)
		if !ok {
			break
		}
		owner := k.New().(client.Object)
		if err := o.Reader.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: ref.Name}, owner, client.UnsafeDisableDeepCopy); err != nil {
			return observe.Workload{}, err
		}
		gv, _ := schema.ParseGroupVersion(ref.APIVersion)
		cur = &metav1.PartialObjectMetadata{
			TypeMeta:   metav1.TypeMeta{APIVersion: gv.WithKind(ref.Kind).GroupVersion().String(), Kind: ref.Kind},
			ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: owner.GetName(), UID: owner.GetUID(), OwnerReferences: owner.GetOwnerReferences()},
		}
	}
	return observe.Workload{APIVersion: cur.APIVersion, Kind: cur.Kind, Namespace: cur.Namespace, Name: cur.Name, UID: cur.UID}, nil
}

// observed reads what a workload's pods resolved (its ObservedEgress in the
// cache): the names that still count under retention, the resolutions not
// kept, and when the earliest counted name expires. Expired names are
// removed from the object (the leader's reconcile is the only pruner besides
// the flushers' merges).
func (r *WorkloadReconciler) observed(ctx context.Context, namespace, name string, retention time.Duration) ([]residency.ObservedHost, int64, time.Time, error) {
	var oe v1alpha1.ObservedEgress
	key := client.ObjectKey{Namespace: namespace, Name: observe.ObjectName(r.Kind.Kind, name)}
	if err := r.Get(ctx, key, &oe); err != nil {
		return nil, 0, time.Time{}, client.IgnoreNotFound(err)
	}
	if oe.Spec.Workload.Kind != r.Kind.Kind || oe.Spec.Workload.Name != name {
		return nil, 0, time.Time{}, nil
	}
	now := r.State.Now()
	live, expires := residency.LiveObservations(observe.Observations(&oe.Status), retention, now)
	if len(live) < len(oe.Status.Hosts) {
		observe.Merge(&oe.Status, nil, retention, now)
		if err := r.Status().Update(ctx, &oe); err != nil && client.IgnoreNotFound(err) != nil {
			log := ctrl.LoggerFrom(ctx)
			log.V(1).Info("observed egress: prune expired names", "error", err.Error())
		}
	}
	return live, oe.Status.DroppedHosts, expires, nil
}
