package controllers

import (
	"context"
	"sync/atomic"
	"time"

	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/dataresidency/operator/internal/findings"
)

// ReportsCRDInstall is how the OpenReports Report CRD is installed, as the
// operator's log says when the cluster does not serve it.
const ReportsCRDInstall = "kubectl apply --server-side -f config/crd/external/openreports.io_reports.yaml " +
	"(or helm upgrade ... --set crds.openReports=true)"

// ReportsGate starts the Report controller once the cluster serves the
// OpenReports Report CRD (openreports.io/v1alpha1). Reports are one of the
// places findings go, not the only one: without the CRD the operator runs
// without them (statuses, Events, metrics and admission are all there), says
// once what is missing and how to install it, asks the cluster again every
// ReportsCRDCheck, and writes every namespace's Report as soon as the CRD is
// served, without a restart. It runs on the elected leader only, like the
// controllers.
type ReportsGate struct {
	mgr     ctrl.Manager
	reports *ReportReconciler
	store   *findings.Store
	changes chan<- event.GenericEvent
	on      *atomic.Bool
	every   time.Duration
	started atomic.Bool
}

// Active reports whether the Report controller runs.
func (g *ReportsGate) Active() bool { return g.started.Load() }

// served asks the cluster (through the manager's discovery-backed REST
// mapper) whether it serves Reports.
func (g *ReportsGate) served() (bool, error) {
	gvk := openreports.SchemeGroupVersion.WithKind("Report")
	_, err := g.mgr.GetRESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if err == nil {
		return true, nil
	}
	if meta.IsNoMatchError(err) {
		return false, nil
	}
	return false, err
}

// Start waits for the CRD, then starts the Report controller and queues the
// Report of every namespace evaluated so far.
func (g *ReportsGate) Start(ctx context.Context) error {
	log := ctrl.Log.WithName("reports")
	every := g.every
	if every <= 0 {
		every = 30 * time.Second
	}
	waited := false
	for {
		ok, err := g.served()
		if ok {
			break
		}
		switch {
		case err != nil:
			log.Error(err, "cannot tell whether the cluster serves OpenReports Reports; asking again", "in", every.String())
		case !waited:
			log.Info("the cluster does not serve the OpenReports Report CRD (reports.openreports.io, openreports.io/v1alpha1): "+
				"running without Reports (statuses, Events, metrics and admission are not affected); "+
				"Reports are written as soon as the CRD is installed, without a restart",
				"install", ReportsCRDInstall, "checkEvery", every.String())
		}
		waited = true
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
	// From now on every change of the findings reaches the controller; what
	// changed before is in the store, and every namespace of it is queued.
	g.on.Store(true)
	if err := g.reports.SetupWithManager(g.mgr); err != nil {
		return err
	}
	g.started.Store(true)
	if waited {
		log.Info("the cluster serves the OpenReports Report CRD now: writing Reports")
	}
	for _, ns := range g.store.Namespaces() {
		select {
		case g.changes <- namespaceEvent(ns):
		case <-ctx.Done():
			return nil
		}
	}
	<-ctx.Done()
	return nil
}
