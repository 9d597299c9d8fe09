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
	"fmt"
	"sync/atomic"
	"time"

	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
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
	// ReportsCRDCheck is how often the cluster is asked whether it serves the
	// OpenReports Report CRD while it does not (default 30s): until it does,
	// the operator runs without Reports (ReportsGate).
	ReportsCRDCheck time.Duration
	// OperatorNamespace is the namespace the operator runs in: it never
	// gets egress policies.
	OperatorNamespace string
	// Observed configures observed egress (the dnstap collector is off
	// without a BindAddress; ObservedEgress objects are read regardless).
	Observed ObservedOptions
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
	Exceptions    *ResidencyExceptionReconciler
	Workloads     []*WorkloadReconciler
	Reports       *ReportReconciler
	// ReportsGate starts the Report controller once the cluster serves the
	// OpenReports Report CRD (nil when workloads are disabled).
	ReportsGate *ReportsGate
	// Observed is the observed-egress pipeline (nil when workloads are disabled).
	Observed *Observed
	// Egress writes the egress policies (nil when workloads are disabled).
	Egress *EgressReconciler
}

// Setup registers the field indexes, the metrics and every reconciler with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) (*Controllers, error) {
	wc, ok := mgr.GetCache().(*WorkloadCache)
	if !ok {
		return nil, fmt.Errorf("the manager's cache is a %T: create the manager with NewCache: controllers.NewCache", mgr.GetCache())
	}
	if err := SetupIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return nil, err
	}
	routes, err := state.SetupIndexes(ctx, mgr.GetFieldIndexer(), mgr.GetRESTMapper())
	if err != nil {
		return nil, err
	}
	if len(routes) < len(state.RouteKinds) {
		ctrl.Log.WithName("setup").Info("Gateway API routes whose CRDs are not installed are not read (hosts they serve count as egress); restart the operator after installing them",
			"served", fmt.Sprint(routes))
	}
	st, err := state.NewProvider(ctx, mgr.GetCache(), opts.Catalog, opts.Clock)
	if err != nil {
		return nil, err
	}
	st.Routes = state.Routes{Kinds: routes, Reader: mgr.GetCache()}
	store := findings.New()
	m := report.NewMetrics(store, st.Last)
	if err := m.Register(metrics.Registry); err != nil {
		// A second manager in the same process (tests) registers again: keep the first.
		ctrl.Log.WithName("setup").V(1).Info("metrics already registered", "error", err.Error())
	}
	batch := opts.ReportBatch
	if batch == 0 {
		batch = 500 * time.Millisecond
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = 4
	}

	// Where a workload's result goes. A WorkloadReconciler evaluates a
	// workload, records a ResidencyViolation Event on it when its violations
	// change, and sets the result in the findings store (or deletes it). The
	// rest follows from the store's changes, sent here to one channel per
	// writer; each writer gathers what arrives for batch, so that a rollout of
	// many workloads becomes one write per object:
	//
	//	workload -> WorkloadReconciler -> findings.Store -> findings.Change:
	//	  .Namespace     -> toReports       -> ReportReconciler: the namespace's Report
	//	  .Subprocessors -> toSubprocessors -> SubprocessorReconciler: status.workloadCount (store.CountSubprocessor)
	//	  .Locations     -> toLocations     -> ProcessingLocationReconciler: status.workloadCount (store.CountLocation)
	//	  .Counts        -> toPolicy        -> ResidencyPolicyReconciler: status.summary's workloads (store.Summary)
	//	  .Key (.Egress) -> toEgress        -> EgressReconciler: the workload's egress policy (no batching: a legal event closes the path at once)
	//
	// The residency kinds' own Events (a classification or a state that
	// changed) follow from their status, not from workloads. Without workloads
	// nothing flows: the channels and counts stay nil and no status shows them.
	var (
		toReports, toSubprocessors, toLocations, toPolicy, toExceptions, toEgress chan event.GenericEvent
		countSubprocessor, countLocation                                          func(name string) int32
		exceptedBy                                                                func(name string) []findings.Key
		workloadSummary                                                           func() findings.Summary
		// reportsOn is set once the Report controller runs: before, nothing
		// reads toReports and the Reports of every namespace are written when
		// it starts (ReportsGate).
		reportsOn atomic.Bool
	)
	if !opts.DisableWorkloads {
		toReports = make(chan event.GenericEvent, 1024)
		toSubprocessors = make(chan event.GenericEvent, 1024)
		toLocations = make(chan event.GenericEvent, 1024)
		toPolicy = make(chan event.GenericEvent, 16)
		toExceptions = make(chan event.GenericEvent, 1024)
		toEgress = make(chan event.GenericEvent, 1024)
		store.OnChange(func(ch findings.Change) {
			if reportsOn.Load() {
				toReports <- namespaceEvent(ch.Namespace)
			}
			for _, n := range ch.Subprocessors {
				toSubprocessors <- event.GenericEvent{Object: &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: n}}}
			}
			for _, n := range ch.Locations {
				toLocations <- event.GenericEvent{Object: &v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: n}}}
			}
			for _, n := range ch.Exceptions {
				toExceptions <- event.GenericEvent{Object: &v1alpha1.ResidencyException{ObjectMeta: metav1.ObjectMeta{Name: n}}}
			}
			if ch.Egress {
				toEgress <- egressEvent(ch.Key)
			}
			if ch.Counts {
				select { // the policy summary is recomputed whole: one pending event is enough
				case toPolicy <- event.GenericEvent{Object: &v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}}}:
				default:
				}
			}
		})
		countSubprocessor, countLocation, workloadSummary = store.CountSubprocessor, store.CountLocation, store.Summary
		exceptedBy = store.ExceptedBy
	}
	c := &Controllers{
		State:         st,
		Store:         store,
		Metrics:       m,
		Locations:     newProcessingLocationReconciler(mgr, st, countLocation, countChanges{ch: toLocations, batch: batch}),
		Bases:         newTransferBasisReconciler(mgr, st),
		Subprocessors: newSubprocessorReconciler(mgr, st, countSubprocessor, countChanges{ch: toSubprocessors, batch: batch}),
		Policy:        newResidencyPolicyReconciler(mgr, st, workloadSummary, countChanges{ch: toPolicy, batch: batch}),
		Exceptions:    newResidencyExceptionReconciler(mgr, st, exceptedBy, countChanges{ch: toExceptions, batch: batch}),
	}
	reconcilers := []interface{ SetupWithManager(ctrl.Manager) error }{c.Locations, c.Bases, c.Subprocessors, c.Policy, c.Exceptions}

	if !opts.DisableWorkloads {
		for _, k := range WorkloadKinds {
			if err := mgr.GetFieldIndexer().IndexField(ctx, k.New(), IndexWorkloadConfigMaps, WorkloadConfigMaps); err != nil {
				return nil, err
			}
			if err := mgr.GetFieldIndexer().IndexField(ctx, k.New(), IndexWorkloadController, WorkloadController); err != nil {
				return nil, err
			}
		}
		owners := &Owners{Reader: mgr.GetCache()}
		for _, k := range WorkloadKinds {
			w := &WorkloadReconciler{Client: mgr.GetClient(), Kind: k, State: st, Store: store, Workers: workers, Owners: owners,
				Recorder: mgr.GetEventRecorder("residency-workload"), Metrics: m, OperatorNamespace: opts.OperatorNamespace, Cache: wc}
			c.Workloads = append(c.Workloads, w)
			reconcilers = append(reconcilers, w)
		}
		if c.Observed, err = setupObserved(ctx, mgr, c, owners, opts.Clock, opts.Observed); err != nil {
			return nil, err
		}
		c.Egress = &EgressReconciler{Client: mgr.GetClient(), State: st, Store: store, Changes: toEgress, Workers: workers, Owners: owners,
			Recorder: mgr.GetEventRecorder("residency-egress"), OperatorNamespace: opts.OperatorNamespace}
		if err := c.Egress.SetupWithManager(ctx, mgr); err != nil {
			return nil, err
		}
		c.Reports = &ReportReconciler{Client: mgr.GetClient(), State: st, Store: store, Owners: owners, MaxResults: opts.MaxReportResults, Changes: toReports, Workers: workers, Batch: batch, Cache: wc}
		c.ReportsGate = &ReportsGate{mgr: mgr, reports: c.Reports, store: store, changes: toReports, on: &reportsOn, every: opts.ReportsCRDCheck}
		if err := mgr.Add(c.ReportsGate); err != nil {
			return nil, err
		}
	}
	for _, r := range reconcilers {
		if err := r.SetupWithManager(mgr); err != nil {
			return nil, err
		}
	}
	return c, nil
}
