package faults_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/test/faults/harness"
)

var killScenario = scenario{namespaces: 8, perNamespace: 25, usVendors: 6, euVendors: 4}

// converged waits until the operator has published a complete, stable answer
// for the scenario: every basis and the policy observed at their generation,
// every workload in a Report, as many failing results as workloads on a US
// vendor (when the DPF has fallen) or none, and the same answer twice in a
// row. It returns that answer.
func converged(t *testing.T, env *harness.Env, s scenario, dpfFallen bool, timeout time.Duration) (*truth, time.Duration) {
	t.Helper()
	wantFail := 0
	if dpfFallen {
		wantFail = s.usWorkloads()
	}
	var last *truth
	var lastErr string
	took := harness.Eventually(t, timeout, "the operator's answer to converge", func(ctx context.Context) (bool, error) {
		tr, err := readTruth(ctx, env)
		if err != nil {
			return false, err
		}
		var p v1alpha1.ResidencyPolicy
		if err := env.Client.Get(ctx, clientKey(v1alpha1.PolicyName), &p); err != nil {
			return false, err
		}
		var bases v1alpha1.TransferBasisList
		if err := env.Client.List(ctx, &bases); err != nil {
			return false, err
		}
		for _, b := range bases.Items {
			want := v1alpha1.TransferBasisState("Valid")
			if dpfFallen {
				want = "Invalidated"
			}
			if b.Status.ObservedGeneration != b.Generation || b.Status.State != want {
				lastErr = fmt.Sprintf("TransferBasis %s: %s at generation %d/%d", b.Name, b.Status.State, b.Status.ObservedGeneration, b.Generation)
				return false, nil
			}
		}
		switch {
		case p.Status.ObservedGeneration != p.Generation || p.Status.Summary == nil:
			lastErr = "the policy's summary is not current"
		case int(p.Status.Summary.Workloads) != s.workloads():
			lastErr = fmt.Sprintf("the policy counts %d workloads, want %d", p.Status.Summary.Workloads, s.workloads())
		case int(p.Status.Summary.Violations) != wantFail:
			lastErr = fmt.Sprintf("the policy counts %d violations, want %d", p.Status.Summary.Violations, wantFail)
		case tr.Fail != wantFail:
			lastErr = fmt.Sprintf("the Reports hold %d failing results, want %d", tr.Fail, wantFail)
		case len(tr.Reports) != s.namespaces:
			lastErr = fmt.Sprintf("%d Reports, want %d", len(tr.Reports), s.namespaces)
		case last == nil || last.diff(tr) != "":
			lastErr = "not yet stable"
			last = tr
			return false, nil
		default:
			return true, nil
		}
		last = nil
		return false, nil
	})
	if last == nil {
		t.Fatalf("converged without an answer (%s)", lastErr)
	}
	return last, took
}

// TestManagerKilledDuringInvalidation: the manager is killed (SIGKILL, no
// chance to flush anything) while it propagates a fallen transfer mechanism
// through bases, subprocessors, Reports and the policy summary, and restarted
// (with leader election, as in production: the new process waits for the
// dead one's lease to expire). The statuses and Reports it converges to must
// be exactly those of a run that was not interrupted: no finding lost, none
// duplicated, nothing stale.
func TestManagerKilledDuringInvalidation(t *testing.T) {
	s := killScenario
	harness.ManagerBinary(t) // build before anything is timed

	// The reference: the same change, no fault.
	var want *truth
	t.Run("reference run", func(t *testing.T) {
		env := harness.StartCluster(t, harness.Options{})
		s.setup(t, env)
		m := harness.StartManager(t, env, harness.ManagerOptions{LeaderElect: true})
		_, took := converged(t, env, s, false, 2*time.Minute)
		t.Logf("initial state converged %.1fs after the manager started", time.Since(m.Started).Seconds())
		_ = took
		begin := time.Now()
		invalidateDPF(t, env)
		want, took = converged(t, env, s, true, 2*time.Minute)
		t.Logf("DPF invalidation propagated in %.1fs: %d failing and %d passing results in %d Reports",
			took.Seconds(), want.Fail, want.Pass, len(want.Reports))
		_ = begin
		m.Stop()
		if p := m.Panics(); len(p) > 0 {
			t.Errorf("the manager panicked:\n%s", strings.Join(p, "\n"))
		}
	})
	if want == nil {
		t.Fatal("no reference")
	}

	t.Run("killed mid-propagation", func(t *testing.T) {
		env := harness.StartCluster(t, harness.Options{})
		s.setup(t, env)
		m := harness.StartManager(t, env, harness.ManagerOptions{LeaderElect: true})
		converged(t, env, s, false, 2*time.Minute)

		invalidateDPF(t, env)
		changed := time.Now()
		// Kill as soon as the change is being written: the first basis marked
		// Invalidated. Bases, subprocessors, Reports and the summary follow
		// over the next second or so.
		harness.Eventually(t, 30*time.Second, "a basis marked Invalidated", func(ctx context.Context) (bool, error) {
			var bases v1alpha1.TransferBasisList
			if err := env.Client.List(ctx, &bases); err != nil {
				return false, err
			}
			for _, b := range bases.Items {
				if b.Status.State == "Invalidated" {
					return true, nil
				}
			}
			return false, nil
		})
		m.Kill()
		killedAt := time.Since(changed)
		partial, err := readTruth(context.Background(), env)
		if err != nil {
			t.Fatal(err)
		}
		invalidated := 0
		for _, st := range partial.Bases {
			if strings.Contains(st, `"state":"Invalidated"`) {
				invalidated++
			}
		}
		t.Logf("SIGKILL %.0fms after the change: %d of %d bases Invalidated, %d of %d failing results in the Reports",
			float64(killedAt.Milliseconds()), invalidated, len(partial.Bases), partial.Fail, s.usWorkloads())
		if partial.Fail == s.usWorkloads() && invalidated == len(partial.Bases) {
			t.Log("note: the propagation had already completed when the kill landed")
		}

		restart := time.Now()
		m2 := harness.StartManager(t, env, harness.ManagerOptions{LeaderElect: true, Log: m.LogPath})
		got, _ := converged(t, env, s, true, 3*time.Minute)
		t.Logf("after the restart the answer converged in %.1fs (the new leader waits out the dead one's lease, 15s)",
			time.Since(restart).Seconds())
		if d := want.diff(got); d != "" {
			t.Errorf("after the kill the operator's answer differs from the uninterrupted run's:\n%s", d)
		} else {
			t.Logf("identical to the uninterrupted run: %d bases, %d subprocessors, %d Reports with %d failing and %d passing results, policy summary",
				len(got.Bases), len(got.Subprocessors), len(got.Reports), got.Fail, got.Pass)
		}
		if p := m2.Panics(); len(p) > 0 {
			t.Errorf("the manager panicked:\n%s", strings.Join(p, "\n"))
		}
		m2.Stop()
	})
}
