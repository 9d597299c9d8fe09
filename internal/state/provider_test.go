package state

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

var testNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// storeInformers hands out client-go informers that are never started: the
// test writes their stores itself, as the reflector would.
type storeInformers struct {
	ctrlcache.Informers // only GetInformer is called
	informers           map[reflect.Type]toolscache.SharedIndexInformer
}

func newStoreInformers() *storeInformers {
	s := &storeInformers{informers: map[reflect.Type]toolscache.SharedIndexInformer{}}
	for _, proto := range []client.Object{&v1alpha1.ProcessingLocation{}, &v1alpha1.TransferBasis{}, &v1alpha1.Subprocessor{}, &v1alpha1.ResidencyPolicy{}, &v1alpha1.ResidencyException{}} {
		s.informers[reflect.TypeOf(proto)] = toolscache.NewSharedIndexInformer(&toolscache.ListWatch{}, proto, 0, toolscache.Indexers{})
	}
	return s
}

func (s *storeInformers) GetInformer(_ context.Context, obj client.Object, _ ...ctrlcache.InformerGetOption) (ctrlcache.Informer, error) {
	return s.informers[reflect.TypeOf(obj)], nil
}

func (s *storeInformers) store(obj client.Object) toolscache.Store {
	return s.informers[reflect.TypeOf(obj)].GetStore()
}

func basis(name string, gen int64, expires string) *v1alpha1.TransferBasis {
	return &v1alpha1.TransferBasis{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), Generation: gen},
		Spec: v1alpha1.TransferBasisSpec{Mechanism: v1alpha1.MechanismStandardContractualClauses,
			Countries: []v1alpha1.CountryCode{"US"}, ExpiresOn: v1alpha1.Date(expires)},
	}
}

// TestSnapshotFollowsTheStores: the provider answers from the snapshot it has
// while no store was written and time has not passed a transition, and sees
// every write, status-only writes included, without compiling for those.
func TestSnapshotFollowsTheStores(t *testing.T) {
	ctx := context.Background()
	clk := clocktesting.NewFakePassiveClock(testNow)
	informers := newStoreInformers()
	p, err := NewProvider(ctx, informers, nil, clk)
	if err != nil {
		t.Fatal(err)
	}
	bases := informers.store(&v1alpha1.TransferBasis{})
	if err := bases.Add(basis("scc", 1, "2027-01-01")); err != nil {
		t.Fatal(err)
	}
	s1, err := p.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s1.Basis("scc"); !ok {
		t.Fatal("the stored basis is not in the snapshot")
	}
	// Nothing written: the same snapshot, without walking the stores.
	if allocs := testing.AllocsPerRun(100, func() {
		if s, _ := p.Snapshot(ctx); s != s1 {
			t.Fatal("a new snapshot although nothing changed")
		}
	}); allocs != 0 {
		t.Errorf("an unchanged snapshot costs %v allocations per call, want 0", allocs)
	}

	// A status write (same generation): looked at, not compiled for.
	withStatus := basis("scc", 1, "2027-01-01")
	withStatus.Status.State = v1alpha1.BasisValid
	if err := bases.Update(withStatus); err != nil {
		t.Fatal(err)
	}
	if s, _ := p.Snapshot(ctx); s != s1 || p.Compiles() != 1 {
		t.Fatalf("a status write recompiled: compiles %d", p.Compiles())
	}

	// A new basis: seen by the next call.
	if err := bases.Add(basis("bcr", 1, "2026-11-25")); err != nil {
		t.Fatal(err)
	}
	s2, _ := p.Snapshot(ctx)
	if _, ok := s2.Basis("bcr"); !ok || s2 == s1 {
		t.Fatal("the new basis is not in the snapshot")
	}
	// A spec change (new generation).
	if err := bases.Update(basis("bcr", 2, "2026-11-30")); err != nil {
		t.Fatal(err)
	}
	s3, _ := p.Snapshot(ctx)
	if b, _ := s3.Basis("bcr"); s3 == s2 || b.ValidUntil.Format(time.DateOnly) != "2026-11-30" {
		t.Fatalf("the spec change is not in the snapshot: valid until %s", b.ValidUntil)
	}
	// A deletion.
	if err := bases.Delete(basis("bcr", 2, "2026-11-30")); err != nil {
		t.Fatal(err)
	}
	s4, _ := p.Snapshot(ctx)
	if _, ok := s4.Basis("bcr"); ok {
		t.Fatal("the deleted basis is still in the snapshot")
	}

	// Time passes the basis's expiry: recompiled without any write.
	clk.SetTime(testNow.Add(60 * 24 * time.Hour))
	s5, _ := p.Snapshot(ctx)
	if b, _ := s5.Basis("scc"); s5 == s4 || b.State != v1alpha1.BasisExpired {
		t.Fatalf("not recompiled past the transition: state %s", b.State)
	}
	// And back: a clock set back is not served a snapshot of the future.
	clk.SetTime(testNow)
	if s6, _ := p.Snapshot(ctx); s6 == s5 {
		t.Fatal("served a snapshot compiled for a later instant")
	}
}

// TestSnapshotNeverStaleAfterConcurrentWrites: with writers and readers
// racing, a Snapshot asked for after the last write has returned sees it.
func TestSnapshotNeverStaleAfterConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	informers := newStoreInformers()
	p, err := NewProvider(ctx, informers, nil, clocktesting.NewFakePassiveClock(testNow))
	if err != nil {
		t.Fatal(err)
	}
	bases := informers.store(&v1alpha1.TransferBasis{})
	for round := 0; round < 50; round++ {
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for r := 0; r < 4; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
						if _, err := p.Snapshot(ctx); err != nil {
							t.Error(err)
							return
						}
					}
				}
			}()
		}
		name := fmt.Sprintf("basis-%d", round)
		for gen := int64(1); gen <= 20; gen++ {
			if err := bases.Update(basis(name, gen, fmt.Sprintf("2027-01-%02d", gen))); err != nil {
				t.Fatal(err)
			}
		}
		s, _ := p.Snapshot(ctx)
		close(stop)
		wg.Wait()
		if b, ok := s.Basis(name); !ok || b.ValidUntil.Format(time.DateOnly) != "2027-01-20" {
			t.Fatalf("round %d: the snapshot after the last write has %s valid until %s", round, name, b.ValidUntil)
		}
	}
}
