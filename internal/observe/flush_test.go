package observe

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
)

// A new name is written at the next flush; further resolutions of known
// names wait for Refresh and then go in one write; excluded namespaces are
// not written.
func TestFlusherAggregates(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = v1alpha1.AddToScheme(scheme)
	writes := 0
	cl := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&v1alpha1.ObservedEgress{}).
		WithInterceptorFuncs(interceptor.Funcs{
			SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
				writes++
				return c.SubResource(sub).Update(ctx, obj, opts...)
			},
		}).Build()
	h := NewPodIPs()
	h.Set(pod("checkout-7d9f-x2", "uid-a", "127.244.0.7", "checkout-7d9f"), t0.Add(-time.Hour))
	agent := pod("agent", "uid-k", "127.244.0.8", "")
	agent.Namespace = "kube-system"
	h.Set(agent, t0.Add(-time.Hour))
	c := NewCollector(h, "cluster.local", NewMetrics())
	clk := clocktesting.NewFakeClock(t0)
	f := &Flusher{
		Collector: c, Client: cl, Reader: cl, Clock: clk, Interval: time.Second, Refresh: 30 * time.Second,
		Policy: residency.DefaultPolicy, // 7 days; kube-system excluded
		Resolve: func(_ context.Context, p *Pod) (Workload, error) {
			return Workload{APIVersion: "apps/v1", Kind: "Deployment", Namespace: p.Namespace, Name: "checkout", UID: "uid-dep"}, nil
		},
	}
	resolve := func(ip, name string, n int) {
		for range n {
			c.Record(Resolution{Client: netip.MustParseAddr(ip), Name: name, At: clk.Now()})
		}
	}
	get := func() v1alpha1.ObservedEgress {
		var oe v1alpha1.ObservedEgress
		if err := cl.Get(context.Background(), client.ObjectKey{Namespace: "shop", Name: "deployment-checkout"}, &oe); err != nil {
			t.Fatal(err)
		}
		return oe
	}
	ctx := context.Background()

	resolve("127.244.0.7", "api.stripe.com", 3)
	resolve("127.244.0.8", "telemetry.example.com", 5) // kube-system: excluded
	f.Flush(ctx, false)
	oe := get()
	if writes != 1 || names(&oe) != "api.stripe.com" || oe.Status.Hosts[0].Count != 3 || oe.Spec.Workload.Name != "checkout" ||
		len(oe.OwnerReferences) != 1 || oe.OwnerReferences[0].UID != "uid-dep" {
		t.Fatalf("after the first flush: %d writes, %+v", writes, oe)
	}

	// Repeats within Refresh: tallied, not written.
	for i := range 10 {
		clk.Step(time.Second)
		resolve("127.244.0.7", "api.stripe.com", 100)
		f.Flush(ctx, false)
		if writes != 1 {
			t.Fatalf("flush %d wrote a repeat before Refresh (%d writes)", i, writes)
		}
	}
	// A new name is written at once, with the repeats so far.
	clk.Step(time.Second)
	resolve("127.244.0.7", "hooks.slack.com", 1)
	f.Flush(ctx, false)
	oe = get()
	if writes != 2 || names(&oe) != "api.stripe.com,hooks.slack.com" || oe.Status.Hosts[0].Count != 1003 {
		t.Fatalf("a new name: %d writes, %+v", writes, oe.Status)
	}
	// After Refresh, the repeats since go in one write; the last seen moves.
	resolve("127.244.0.7", "api.stripe.com", 7)
	clk.Step(30 * time.Second)
	f.Flush(ctx, false)
	oe = get()
	if writes != 3 || oe.Status.Hosts[0].Count != 1010 || !oe.Status.Hosts[0].LastSeen.Time.Equal(t0.Add(11*time.Second)) {
		t.Fatalf("after Refresh: %d writes, %+v", writes, oe.Status.Hosts[0])
	}
	var all v1alpha1.ObservedEgressList
	if err := cl.List(ctx, &all); err != nil || len(all.Items) != 1 {
		t.Errorf("objects: %d (%v): the excluded namespace's names were written", len(all.Items), err)
	}
	// A final flush (the manager stopping) writes what waits.
	resolve("127.244.0.7", "api.stripe.com", 2)
	f.Flush(ctx, true)
	if oe = get(); writes != 4 || oe.Status.Hosts[0].Count != 1012 {
		t.Fatalf("final flush: %d writes, %+v", writes, oe.Status.Hosts[0])
	}
}

func names(oe *v1alpha1.ObservedEgress) string {
	s := ""
	for i, h := range oe.Status.Hosts {
		if i > 0 {
			s += ","
		}
		s += h.Name
	}
	return s
}

// Two replicas write the same workload's object: a conflict is read again
// from the API server and merged, and nothing is counted twice or lost.
func TestFlusherConflict(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = v1alpha1.AddToScheme(scheme)
	conflicts := 0
	cl := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&v1alpha1.ObservedEgress{}).
		WithInterceptorFuncs(interceptor.Funcs{
			SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
				if conflicts == 0 {
					// The other replica writes first: 5 resolutions of its own.
					conflicts++
					var other v1alpha1.ObservedEgress
					if err := c.Get(ctx, client.ObjectKeyFromObject(obj), &other); err != nil {
						return err
					}
					Merge(&other.Status, map[string]*Tally{"api.stripe.com": {Count: 5, First: t0, Last: t0}}, time.Hour, t0)
					if err := c.SubResource(sub).Update(ctx, &other); err != nil {
						return err
					}
				}
				return c.SubResource(sub).Update(ctx, obj, opts...)
			},
		}).Build()
	h := NewPodIPs()
	h.Set(pod("checkout-x", "uid-a", "127.244.0.7", "checkout-1"), t0.Add(-time.Hour))
	c := NewCollector(h, "cluster.local", NewMetrics())
	f := &Flusher{Collector: c, Client: cl, Reader: cl, Clock: clocktesting.NewFakeClock(t0), Interval: time.Second, Refresh: time.Minute,
		Policy: func() residency.Policy { p := residency.DefaultPolicy(); p.ObservedRetention = time.Hour; return p },
		Resolve: func(_ context.Context, p *Pod) (Workload, error) {
			return Workload{APIVersion: "apps/v1", Kind: "Deployment", Namespace: p.Namespace, Name: "checkout", UID: "uid-dep"}, nil
		},
	}
	for range 3 {
		c.Record(Resolution{Client: netip.MustParseAddr("127.244.0.7"), Name: "api.stripe.com", At: t0})
	}
	f.Flush(context.Background(), false)
	var oe v1alpha1.ObservedEgress
	if err := cl.Get(context.Background(), client.ObjectKey{Namespace: "shop", Name: "deployment-checkout"}, &oe); err != nil {
		t.Fatal(err)
	}
	if conflicts != 1 || len(oe.Status.Hosts) != 1 || oe.Status.Hosts[0].Count != 8 {
		t.Fatalf("after a conflict: %d conflicts, %+v (want 3 of ours and 5 of the other replica's)", conflicts, oe.Status.Hosts)
	}
}
