// Package controllers holds one level-triggered reconciler per residency kind.
// Each gathers what it depends on from the informer cache, asks the engine
// (internal/residency, through the shared state.Provider), and patches status
// once. Dependencies are wired by field indexes and watches; time-based
// transitions requeue at the instant the engine says the answer changes.
package controllers

import (
	"context"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/dataresidency/operator/internal/residency"
	"github.com/dataresidency/operator/internal/state"
)

// Options configure the reconcilers.
type Options struct {
	// Clock is the time source; the real clock when nil. Tests inject one.
	Clock clock.PassiveClock
	// Catalog is the legal catalog; the built-in one when nil.
	Catalog *residency.Catalog
}

// Controllers are the running reconcilers and the state they share.
type Controllers struct {
	State         *state.Provider
	Locations     *ProcessingLocationReconciler
	Bases         *TransferBasisReconciler
	Subprocessors *SubprocessorReconciler
	Policy        *ResidencyPolicyReconciler
}

// Setup registers the field indexes and the four reconcilers with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) (*Controllers, error) {
	if err := SetupIndexes(ctx, mgr.GetFieldIndexer()); err != nil {
		return nil, err
	}
	st := state.NewProvider(mgr.GetCache(), opts.Catalog, opts.Clock)
	c := &Controllers{
		State:         st,
		Locations:     &ProcessingLocationReconciler{Client: mgr.GetClient(), State: st, Recorder: mgr.GetEventRecorder("residency-processinglocation")},
		Bases:         &TransferBasisReconciler{Client: mgr.GetClient(), State: st, Recorder: mgr.GetEventRecorder("residency-transferbasis")},
		Subprocessors: &SubprocessorReconciler{Client: mgr.GetClient(), State: st, Recorder: mgr.GetEventRecorder("residency-subprocessor")},
		Policy:        &ResidencyPolicyReconciler{Client: mgr.GetClient(), State: st, Recorder: mgr.GetEventRecorder("residency-policy")},
	}
	for _, r := range []interface{ SetupWithManager(ctrl.Manager) error }{c.Locations, c.Bases, c.Subprocessors, c.Policy} {
		if err := r.SetupWithManager(mgr); err != nil {
			return nil, err
		}
	}
	return c, nil
}
