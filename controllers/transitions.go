package controllers

import (
	"context"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/dataresidency/operator/internal/state"
)

// catalogTransitions re-evaluates every workload of a kind at the catalog's
// next transition (a TransferBasis or adequacy decision that expires, an
// objection period or exception that ends), which every workload's snapshot
// names alike. One timer per kind: a requeue per workload held a queue entry
// (about 200 bytes) for each of them, all for the same instant.
type catalogTransitions struct {
	mu    sync.Mutex
	at    time.Time   // when the timer fires (zero: not armed)
	fired time.Time   // the last transition it fired for
	timer *time.Timer // nil when not armed
	fire  func()      // enqueues every workload; set once the source starts
}

// source starts with the controller and gives the timer its queue; all
// lists the requests of every workload of the kind.
func (t *catalogTransitions) source(all func(context.Context) []reconcile.Request) source.Source {
	return source.Func(func(ctx context.Context, q workqueue) error {
		t.mu.Lock()
		t.fire = func() {
			for _, r := range all(ctx) {
				q.Add(r)
			}
		}
		t.mu.Unlock()
		go func() {
			<-ctx.Done()
			t.mu.Lock()
			defer t.mu.Unlock()
			if t.timer != nil {
				t.timer.Stop()
			}
			t.fire = nil
		}()
		return nil
	})
}

// arm makes the timer fire at the transition at (nothing when zero), or
// earlier if it is armed for an earlier one; a transition already fired for
// is not armed again (a reconcile that read the catalog before it).
func (t *catalogTransitions) arm(now, at time.Time) {
	if at.IsZero() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !at.After(t.fired) || (t.timer != nil && !t.at.After(at)) {
		return
	}
	if t.timer != nil {
		t.timer.Stop()
	}
	t.at = at
	t.timer = time.AfterFunc(state.RequeueAt(now, at), func() {
		t.mu.Lock()
		if !t.at.Equal(at) { // re-armed meanwhile
			t.mu.Unlock()
			return
		}
		fire := t.fire
		t.at, t.fired, t.timer = time.Time{}, at, nil
		t.mu.Unlock()
		if fire != nil {
			fire()
		}
	})
}
