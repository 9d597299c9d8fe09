// Package controllers holds one level-triggered reconciler per kind: the four
// residency kinds, the workload kinds, and the namespace Reports. Each gathers
// what it depends on from the informer cache, asks the engine
// (internal/residency, through the shared state.Provider), and writes status
// or Reports once. Dependencies are wired by field indexes and watches;
// time-based transitions requeue at the instant the engine says the answer
// changes.
package controllers

import (
	"context"
	"strings"
	"time"

	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/findings"
	"github.com/dataresidency/operator/internal/report"
	"github.com/dataresidency/operator/internal/residency"
	"github.com/dataresidency/operator/internal/state"
)

// NewScheme returns a scheme with every kind the operator reads or writes.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	utilruntime.Must(openreports.Install(s))
	return s
}

// CacheOptions keeps in the informer cache only what evaluation needs: no
// managedFields anywhere, no status and no last-applied-configuration on
// workloads, and only the Reports this operator manages.
func CacheOptions() ctrlcache.Options {
	workload := ctrlcache.ByObject{Transform: stripWorkload}
	return ctrlcache.Options{
		DefaultTransform: ctrlcache.TransformStripManagedFields(),
		ByObject: map[client.Object]ctrlcache.ByObject{
			&corev1.Pod{}:         workload,
			&appsv1.Deployment{}:  workload,
			&appsv1.StatefulSet{}: workload,
			&appsv1.DaemonSet{}:   workload,
			&appsv1.ReplicaSet{}:  workload,
			&batchv1.Job{}:        workload,
			&batchv1.CronJob{}:    workload,
			reportMetadata():      {Label: labels.SelectorFromSet(labels.Set{report.LabelManagedBy: report.ManagedBy})},
		},
	}
}

// stripWorkload keeps of a cached workload only what evaluation reads: its
// identity, owner references and dataresidency.io annotations; its pod
// template's dataresidency.io annotations; and of the pod spec the containers'
// names, env and envFrom, the node selector and node affinity. Everything else
// (labels, selectors, status, managed fields, kubectl's last-applied copy,
// images, probes, resources, volumes...) is dropped as the object enters the
// cache. TestStrippedWorkloadsEvaluateTheSame keeps this in step with the engine.
func stripWorkload(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		stripMeta(&o.ObjectMeta)
		stripPodSpec(&o.Spec)
		o.Status = corev1.PodStatus{}
	case *appsv1.Deployment:
		stripMeta(&o.ObjectMeta)
		o.Spec = appsv1.DeploymentSpec{Template: stripTemplate(o.Spec.Template)}
		o.Status = appsv1.DeploymentStatus{}
	case *appsv1.StatefulSet:
		stripMeta(&o.ObjectMeta)
		o.Spec = appsv1.StatefulSetSpec{Template: stripTemplate(o.Spec.Template)}
		o.Status = appsv1.StatefulSetStatus{}
	case *appsv1.DaemonSet:
		stripMeta(&o.ObjectMeta)
		o.Spec = appsv1.DaemonSetSpec{Template: stripTemplate(o.Spec.Template)}
		o.Status = appsv1.DaemonSetStatus{}
	case *appsv1.ReplicaSet:
		stripMeta(&o.ObjectMeta)
		o.Spec = appsv1.ReplicaSetSpec{Template: stripTemplate(o.Spec.Template)}
		o.Status = appsv1.ReplicaSetStatus{}
	case *batchv1.Job:
		stripMeta(&o.ObjectMeta)
		o.Spec = batchv1.JobSpec{Template: stripTemplate(o.Spec.Template)}
		o.Status = batchv1.JobStatus{}
	case *batchv1.CronJob:
		stripMeta(&o.ObjectMeta)
		o.Spec = batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{
			Spec: batchv1.JobSpec{Template: stripTemplate(o.Spec.JobTemplate.Spec.Template)}}}
		o.Status = batchv1.CronJobStatus{}
	case cache.DeletedFinalStateUnknown:
		return o, nil
	}
	return obj, nil
}

// strippedPodSpec reports whether stripPodSpec already ran on s: the API
// server requires an image on every container, and only stripping removes it.
// client-go applies the transform twice to the objects of an initial list
// (once as they stream in, again when the store is replaced), and copying the
// containers a second time was garbage for the collector.
func strippedPodSpec(s *corev1.PodSpec) bool {
	for i := range s.InitContainers {
		if s.InitContainers[i].Image != "" {
			return false
		}
	}
	for i := range s.Containers {
		if s.Containers[i].Image != "" {
			return false
		}
	}
	for i := range s.EphemeralContainers {
		if s.EphemeralContainers[i].Image != "" {
			return false
		}
	}
	return true
}

func stripMeta(m *metav1.ObjectMeta) {
	m.ManagedFields = nil
	m.Labels = nil
	m.Annotations = residencyAnnotations(m.Annotations)
}

func stripTemplate(t corev1.PodTemplateSpec) corev1.PodTemplateSpec {
	out := corev1.PodTemplateSpec{Spec: t.Spec}
	out.Annotations = residencyAnnotations(t.Annotations)
	stripPodSpec(&out.Spec)
	return out
}

// residencyAnnotations keeps the dataresidency.io/ annotations only. A small
// map (one group of a Go map, 8 entries) is trimmed in place rather than
// copied: with 10,000 workloads the copies were a tenth of the manager's heap.
// A larger one is copied, since a Go map never shrinks.
func residencyAnnotations(in map[string]string) map[string]string {
	n := 0
	for k := range in {
		if strings.HasPrefix(k, "dataresidency.io/") {
			n++
		}
	}
	switch {
	case n == 0:
		return nil
	case n == len(in):
		return in
	case len(in) <= 8:
		for k := range in {
			if !strings.HasPrefix(k, "dataresidency.io/") {
				delete(in, k)
			}
		}
		return in
	}
	out := make(map[string]string, n)
	for k, v := range in {
		if strings.HasPrefix(k, "dataresidency.io/") {
			out[k] = v
		}
	}
	return out
}

func stripPodSpec(s *corev1.PodSpec) {
	if strippedPodSpec(s) {
		return
	}
	kept := corev1.PodSpec{NodeSelector: s.NodeSelector}
	if s.Affinity != nil && s.Affinity.NodeAffinity != nil {
		kept.Affinity = &corev1.Affinity{NodeAffinity: s.Affinity.NodeAffinity}
	}
	for _, c := range s.Containers {
		kept.Containers = append(kept.Containers, corev1.Container{Name: c.Name, Env: c.Env, EnvFrom: c.EnvFrom})
	}
	for _, c := range s.InitContainers {
		kept.InitContainers = append(kept.InitContainers, corev1.Container{Name: c.Name, Env: c.Env, EnvFrom: c.EnvFrom})
	}
	for _, c := range s.EphemeralContainers {
		e := corev1.EphemeralContainer{}
		e.Name, e.Env, e.EnvFrom = c.Name, c.Env, c.EnvFrom
		kept.EphemeralContainers = append(kept.EphemeralContainers, e)
	}
	*s = kept
}

// Options configure the reconcilers.
type Options struct {
	// Clock is the time source; the real clock when nil. Tests inject one.
	Clock clock.PassiveClock
	// Catalog is the legal catalog; the built-in one when nil.
	Catalog *residency.Catalog
	// MaxReportResults bounds one Report (report.MaxResultsPerReport when zero).
	MaxReportResults int
	// DisableWorkloads leaves out the workload and report controllers.
	DisableWorkloads bool
	// Workers is the number of concurrent reconciles of each workload kind and
	// of Reports (default 4); the residency kinds keep one each.
	Workers int
	// ReportBatch is how long Reports gather changes before they are written
	// (default 500ms; negative: write at once).
	ReportBatch time.Duration
}

// Controllers are the running reconcilers and the state they share.
type Controllers struct {
	State         *state.Provider
	Store         *findings.Store
	Metrics       *report.Metrics
	Locations     *ProcessingLocationReconciler
	Bases         *TransferBasisReconciler
	Subprocessors *SubprocessorReconciler
	Policy        *ResidencyPolicyReconciler
	Workloads     []*WorkloadReconciler
	Reports       *ReportReconciler
}

// Setup registers the field indexes, the metrics and every reconciler with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) (*Controllers, error) {
	if err := SetupIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return nil, err
	}
	if err := state.SetupIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return nil, err
	}
	st := state.NewProvider(mgr.GetCache(), opts.Catalog, opts.Clock)
	if err := st.UseInformers(ctx, mgr.GetCache()); err != nil {
		return nil, err
	}
	store := findings.New()
	c := &Controllers{
		State:         st,
		Store:         store,
		Metrics:       report.NewMetrics(store, st.Last),
		Locations:     &ProcessingLocationReconciler{Client: mgr.GetClient(), State: st, Recorder: mgr.GetEventRecorder("residency-processinglocation")},
		Bases:         &TransferBasisReconciler{Client: mgr.GetClient(), State: st, Recorder: mgr.GetEventRecorder("residency-transferbasis")},
		Subprocessors: &SubprocessorReconciler{Client: mgr.GetClient(), State: st, Recorder: mgr.GetEventRecorder("residency-subprocessor")},
		Policy:        &ResidencyPolicyReconciler{Client: mgr.GetClient(), State: st, Recorder: mgr.GetEventRecorder("residency-policy")},
	}
	if err := c.Metrics.Register(metrics.Registry); err != nil {
		// A second manager in the same process (tests) registers again: keep the first.
		ctrl.Log.WithName("setup").V(1).Info("metrics already registered", "error", err.Error())
	}
	reconcilers := []interface{ SetupWithManager(ctrl.Manager) error }{c.Locations, c.Bases, c.Subprocessors, c.Policy}

	if !opts.DisableWorkloads {
		for _, k := range WorkloadKinds {
			if err := mgr.GetFieldIndexer().IndexField(ctx, k.New(), IndexWorkloadConfigMaps, WorkloadConfigMaps); err != nil {
				return nil, err
			}
			if err := mgr.GetFieldIndexer().IndexField(ctx, k.New(), IndexWorkloadController, WorkloadController); err != nil {
				return nil, err
			}
		}
		reportCh := make(chan event.GenericEvent, 1024)
		subCh := make(chan event.GenericEvent, 1024)
		locCh := make(chan event.GenericEvent, 1024)
		polCh := make(chan event.GenericEvent, 16)
		store.OnChange(func(ch findings.Change) {
			reportCh <- namespaceEvent(ch.Namespace)
			for _, n := range ch.Subprocessors {
				subCh <- event.GenericEvent{Object: &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: n}}}
			}
			for _, n := range ch.Locations {
				locCh <- event.GenericEvent{Object: &v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: n}}}
			}
			if ch.Counts {
				select { // the policy summary is recomputed whole: one pending event is enough
				case polCh <- event.GenericEvent{Object: &v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}}}:
				default:
				}
			}
		})
		c.Subprocessors.WorkloadCount, c.Subprocessors.Counts = store.CountSubprocessor, subCh
		c.Locations.WorkloadCount, c.Locations.Counts = store.CountLocation, locCh
		c.Policy.Counts = polCh
		c.Policy.Workloads = func() WorkloadSummary {
			s := store.Summary()
			return WorkloadSummary{Workloads: s.Workloads, Compliant: s.Compliant, Warnings: s.Warnings, Violations: s.Violations}
		}
		batch := opts.ReportBatch
		if batch == 0 {
			batch = 500 * time.Millisecond
		}
		workers := opts.Workers
		if workers <= 0 {
			workers = 4
		}
		owners, err := NewOwners(ctx, mgr.GetCache())
		if err != nil {
			return nil, err
		}
		stores, err := state.NewStores(ctx, mgr.GetCache())
		if err != nil {
			return nil, err
		}
		for _, k := range WorkloadKinds {
			w := &WorkloadReconciler{Client: mgr.GetClient(), Kind: k, State: st, Store: store, Workers: workers, Owners: owners, Stores: stores,
				Recorder: mgr.GetEventRecorder("residency-workload"), Metrics: c.Metrics}
			c.Workloads = append(c.Workloads, w)
			reconcilers = append(reconcilers, w)
		}
		c.Subprocessors.CountsBatch, c.Locations.CountsBatch, c.Policy.CountsBatch = batch, batch, batch
		c.Reports = &ReportReconciler{Client: mgr.GetClient(), State: st, Store: store, Owners: owners, MaxResults: opts.MaxReportResults, Changes: reportCh, Workers: workers, Batch: batch}
		reconcilers = append(reconcilers, c.Reports)
	}
	for _, r := range reconcilers {
		if err := r.SetupWithManager(mgr); err != nil {
			return nil, err
		}
	}
	return c, nil
}
