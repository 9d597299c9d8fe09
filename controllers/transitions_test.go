package controllers

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestCatalogTransitionsFireOncePerTransition: however many reconciles name
// the same next transition, the kind's workloads are enqueued once for it;
// an earlier transition moves the timer; one already fired for is not armed
// again by a reconcile that read the catalog before it.
func TestCatalogTransitionsFireOncePerTransition(t *testing.T) {
	var fired atomic.Int32
	tr := &catalogTransitions{fire: func() { fired.Add(1) }}
	now := time.Now()
	later := now.Add(time.Hour)
	soon := now.Add(100 * time.Millisecond)
	for range 1000 {
		tr.arm(now, later)
	}
	tr.arm(now, soon) // moves the timer earlier
	tr.arm(now, later)
	tr.arm(now, time.Time{}) // no transition: nothing changes
	deadline := time.Now().Add(5 * time.Second)
	for fired.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if fired.Load() != 1 {
		t.Fatalf("fired %d times for the first transition", fired.Load())
	}
	tr.arm(now, soon) // read before it fired: not again
	time.Sleep(300 * time.Millisecond)
	if fired.Load() != 1 {
		t.Errorf("a transition already fired for was armed again: %d", fired.Load())
	}
	tr.mu.Lock()
	armed := tr.timer != nil
	tr.mu.Unlock()
	if armed {
		t.Errorf("the later transition, replaced by an earlier one, stayed armed")
	}
	tr.arm(time.Now(), time.Now().Add(50*time.Millisecond))
	deadline = time.Now().Add(5 * time.Second)
	for fired.Load() == 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if fired.Load() != 2 {
		t.Errorf("the next transition fired %d times", fired.Load()-1)
	}
}
