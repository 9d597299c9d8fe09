package faults_test

import (
	"context"
	"strings"
	"testing"
	"time"

	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/report"
	"github.com/dataresidency/operator/test/cluster"
	"github.com/dataresidency/operator/test/faults/harness"
)

// TestAPIServerRestart: the kube-apiserver goes away and comes back (same
// etcd, same data) under a running manager, as in a control-plane upgrade or
// crash. The manager's watches must resume by themselves: a change made after
// the restart shows in status and Reports within seconds, and the whole
// answer is complete (nothing stuck, nothing lost).
//
//   - crash: SIGKILL and an immediate restart, a few seconds down. The manager
//     runs with --leader-elect, as in production, and must keep its lease
//     (renew deadline 10s) and carry on.
//   - long outage: SIGTERM, and SIGKILL 15s later (kube-apiserver stops
//     listening at once but waits up to 60s for open watches to end), about
//     20s down: longer than the lease's renew deadline. A leader that cannot
//     renew steps down and exits, for the kubelet to restart it (the kill test
//     covers a restart); so this one runs without --leader-elect, to show the
//     watches themselves resuming after a long outage. client-go's reflectors
//     retry with an exponential backoff capped at 30s, so the first change
//     after a long outage may wait up to that long.
func TestAPIServerRestart(t *testing.T) {
	for _, tc := range []struct {
		name        string
		grace       time.Duration
		leaderElect bool
		within      time.Duration
	}{
		{"crash", 0, true, 15 * time.Second},
		{"long outage", 15 * time.Second, false, 35 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apiserverRestart(t, tc.grace, tc.leaderElect, tc.within)
		})
	}
}

func apiserverRestart(t *testing.T, grace time.Duration, leaderElect bool, within time.Duration) {
	s := scenario{namespaces: 4, perNamespace: 10, usVendors: 3, euVendors: 2}
	env := harness.StartCluster(t, harness.Options{})
	s.setup(t, env)
	m := harness.StartManager(t, env, harness.ManagerOptions{LeaderElect: leaderElect})
	before, _ := converged(t, env, s, false, 2*time.Minute)
	t.Logf("converged before the restart: %d Reports, %d passing results", len(before.Reports), before.Pass)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	begin := time.Now()
	if err := env.Cluster.StopComponent(cluster.APIServer, grace); err != nil {
		t.Fatalf("stop the API server: %v", err)
	}
	stopped := time.Since(begin)
	if err := env.Cluster.StartComponent(ctx, cluster.APIServer); err != nil {
		t.Fatalf("start the API server: %v", err)
	}
	t.Logf("kube-apiserver down %.1fs (stopping %.1fs, starting until /readyz %.1fs)",
		time.Since(begin).Seconds(), stopped.Seconds(), (time.Since(begin) - stopped).Seconds())
	if m.Exited() {
		t.Fatalf("the manager exited during the API server's restart:\n%s", m.Tail(30))
	}

	// A change after the restart: the DPF falls, and a new workload appears.
	changed := time.Now()
	invalidateDPF(t, env)
	newApp := deployment(s.namespace(0), "app-new", []string{"us-vendor-0"})
	if err := env.Client.Create(ctx, newApp); err != nil {
		t.Fatal(err)
	}
	took := harness.Eventually(t, within+30*time.Second, "the new workload's violation in its Report", func(ctx context.Context) (bool, error) {
		var r openreports.Report
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: s.namespace(0), Name: report.Name}, &r); err != nil {
			return false, err
		}
		for _, res := range r.Results {
			if len(res.Subjects) > 0 && res.Subjects[0].Name == "app-new" && res.Result == "fail" && res.Rule == "BasisNotValid" {
				return true, nil
			}
		}
		return false, nil
	})
	t.Logf("a change made after the restart reached the Report in %.1fs", took.Seconds())
	if took > within {
		t.Errorf("%.1fs after the restart (want under %s): the watches took too long to resume", took.Seconds(), within)
	}

	// Everything else followed too: a complete, stable answer.
	after, _ := convergedWithExtra(t, env, s, 1)
	t.Logf("complete answer %.1fs after the change: %d failing, %d passing results in %d Reports",
		time.Since(changed).Seconds(), after.Fail, after.Pass, len(after.Reports))
	if m.Exited() {
		t.Fatalf("the manager exited:\n%s", m.Tail(30))
	}
	if err := m.WaitReady(ctx); err != nil {
		t.Errorf("the manager is not ready after the restart: %v", err)
	}
	if p := m.Panics(); len(p) > 0 {
		t.Errorf("the manager panicked:\n%s", strings.Join(p, "\n"))
	}
	m.Stop()
}

// convergedWithExtra is converged for the scenario plus extra workloads on a
// US vendor, after the DPF fell.
func convergedWithExtra(t *testing.T, env *harness.Env, s scenario, extra int) (*truth, time.Duration) {
	t.Helper()
	var last *truth
	took := harness.Eventually(t, time.Minute, "a complete answer", func(ctx context.Context) (bool, error) {
		tr, err := readTruth(ctx, env)
		if err != nil {
			return false, err
		}
		var p v1alpha1.ResidencyPolicy
		if err := env.Client.Get(ctx, clientKey(v1alpha1.PolicyName), &p); err != nil {
			return false, err
		}
		ok := p.Status.Summary != nil && p.Status.ObservedGeneration == p.Generation &&
			int(p.Status.Summary.Workloads) == s.workloads()+extra && int(p.Status.Summary.Violations) == s.usWorkloads()+extra &&
			tr.Fail == s.usWorkloads()+extra
		for _, st := range tr.Bases {
			ok = ok && strings.Contains(st, `"state":"Invalidated"`)
		}
		if !ok {
			last = nil
			return false, nil
		}
		if last != nil && last.diff(tr) == "" {
			return true, nil
		}
		last = tr
		return false, nil
	})
	return last, took
}
