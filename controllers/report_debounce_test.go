package controllers

import (
	"testing"
	"time"
)

// A namespace's Report waits until its findings are quiet for Batch, and no
// longer than MaxDelay after the first unwritten change: a burst becomes one
// write, a steady stream one write per MaxDelay.
func TestReportWritesWaitForQuietOrMaxDelay(t *testing.T) {
	r := &ReportReconciler{Batch: 500 * time.Millisecond, MaxDelay: 5 * time.Second}
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	if w := r.due("shop", t0); w != 0 {
		t.Fatalf("nothing pending: wait %s", w)
	}
	// A burst: changes at 0, 200 and 400 ms; written 500 ms after the last.
	for _, d := range []time.Duration{0, 200 * time.Millisecond, 400 * time.Millisecond} {
		r.changed("shop", at(d))
	}
	if w := r.due("shop", at(500*time.Millisecond)); w != 400*time.Millisecond {
		t.Errorf("during the burst: wait %s, want 400ms", w)
	}
	if w := r.due("shop", at(900*time.Millisecond)); w != 0 {
		t.Errorf("quiet for 500ms: wait %s, want 0", w)
	}
	if w := r.due("shop", at(950*time.Millisecond)); w != 0 {
		t.Errorf("written: wait %s, want 0", w)
	}
	// A steady stream (a change every 300 ms, the last at 14.8 s, never
	// quiet for 500 ms): held until MaxDelay after the first change.
	for d := time.Duration(0); d <= 4800*time.Millisecond; d += 300 * time.Millisecond {
		r.changed("orders", at(10*time.Second+d))
		if w := r.due("orders", at(10*time.Second+d)); w <= 0 {
			t.Fatalf("written %s into the stream, before MaxDelay", d)
		}
	}
	if w := r.due("orders", at(14900*time.Millisecond)); w != 100*time.Millisecond {
		t.Errorf("100 ms before MaxDelay: wait %s, want 100ms", w)
	}
	if w := r.due("orders", at(15*time.Second)); w != 0 {
		t.Errorf("MaxDelay after the first change, not yet quiet: wait %s, want 0", w)
	}
	// Other namespaces are independent; without a Batch, writes are immediate.
	r.changed("a", at(20*time.Second))
	if w := r.due("b", at(20*time.Second)); w != 0 {
		t.Errorf("namespace b waits %s for a's change", w)
	}
	if w := (&ReportReconciler{}).due("a", t0); w != 0 {
		t.Errorf("no batch: wait %s", w)
	}
}
