// Package state turns the informer cache into a compiled residency.Snapshot
// that reconcilers and the admission webhook share. The snapshot is derived,
// never stored: it is recompiled when the generation of any residency object
// changes, when objects appear or disappear, and when the time passes its next
// legal transition (a basis expiring, an objection period ending...).
package state

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
)

// Provider compiles and caches the snapshot of the residency objects, read
// from the informers' own stores (without copies: Compile copies what it keeps).
type Provider struct {
	Catalog *residency.Catalog
	Clock   clock.PassiveClock
	// Routes are the Gateway API route kinds the cluster serves, indexed in
	// the cache (SetupIndexes): PodContext reads their hostnames.
	Routes Routes

	// stores are the informers' stores of the five kinds (locations, bases,
	// subprocessors, policies, exceptions); writes counts the writes to them (see
	// NewProvider), seen is its value when snap was last confirmed current.
	stores [5]toolscache.Store
	writes atomic.Uint64

	mu          sync.Mutex
	snap        *residency.Snapshot
	fingerprint uint64
	seen        uint64
	compiles    uint64
}

// indexStoreWrites names the index through which the provider hears of every
// write to the residency kinds' stores.
const indexStoreWrites = "residency.storeWrites"

// NewProvider returns a Provider over the informers of the four residency
// kinds (registering them: call it before the cache starts). While no store
// was written and no legal transition passed, Snapshot answers from memory.
//
// The provider hears of writes through an index function, which the store
// calls inside its write lock, after the object is in place: a count read
// before gathering covers everything the gather sees, so a snapshot is never
// remembered as current for a store state it did not read. (An event handler
// would not do: handlers run after the store is written.)
func NewProvider(ctx context.Context, informers ctrlcache.Informers, cat *residency.Catalog, clk clock.PassiveClock) (*Provider, error) {
	if cat == nil {
		cat = residency.DefaultCatalog()
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	p := &Provider{Catalog: cat, Clock: clk}
	count := func(any) ([]string, error) {
		p.writes.Add(1)
		return nil, nil
	}
	for i, obj := range []client.Object{&v1alpha1.ProcessingLocation{}, &v1alpha1.TransferBasis{}, &v1alpha1.Subprocessor{}, &v1alpha1.ResidencyPolicy{}, &v1alpha1.ResidencyException{}} {
		inf, err := informers.GetInformer(ctx, obj)
		if err != nil {
			return nil, err
		}
		sii, ok := inf.(toolscache.SharedIndexInformer)
		if !ok {
			return nil, fmt.Errorf("state.NewProvider: the informer for %T is not a client-go informer", obj)
		}
		if err := sii.AddIndexers(toolscache.Indexers{indexStoreWrites: count}); err != nil {
			return nil, err
		}
		p.stores[i] = sii.GetStore()
	}
	return p, nil
}

// Now is the provider's clock reading.
func (p *Provider) Now() time.Time { return p.Clock.Now() }

// Compiles is how many times a snapshot was compiled (for tests and metrics).
func (p *Provider) Compiles() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.compiles
}

// Last returns the most recently compiled snapshot without recompiling (nil
// before the first), for metrics scrapes.
func (p *Provider) Last() *residency.Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snap
}

// Snapshot returns the snapshot for the objects in the cache as of now,
// recompiling only when something it depends on changed.
func (p *Provider) Snapshot(ctx context.Context) (*residency.Snapshot, error) {
	writes := p.writes.Load() // before gathering: see NewProvider
	now := p.Clock.Now()
	p.mu.Lock()
	if p.snap != nil && p.seen == writes && !expired(p.snap, now) {
		s := p.snap
		p.mu.Unlock()
		return s, nil
	}
	p.mu.Unlock()
	in, fp := p.gather()
	now = p.Clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.snap != nil && writes < p.seen && !expired(p.snap, now) {
		return p.snap, nil // a later gather already answered
	}
	if p.snap == nil || p.fingerprint != fp || expired(p.snap, now) {
		p.snap = residency.Compile(p.Catalog, in, now)
		p.fingerprint = fp
		p.compiles++
	}
	p.seen = writes
	return p.snap, nil
}

// expired reports whether s no longer holds at now: past its next transition,
// or compiled for a later instant than now (the clock went back).
func expired(s *residency.Snapshot, now time.Time) bool {
	if now.Before(s.At()) {
		return true
	}
	next := s.NextTransition()
	return !next.IsZero() && !now.Before(next)
}

// RequeueAt returns how long to wait until t, for a reconcile result: zero when
// t is zero (no known transition), and a little past t otherwise so that the
// clock has certainly crossed it.
func RequeueAt(now, t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	d := t.Sub(now)
	if d < 0 {
		d = 0
	}
	return d + 50*time.Millisecond
}

// gather reads the residency objects from the stores (the cache's own,
// never modified here) and fingerprints their identities and generations,
// which change with every spec change but not with status writes. The sum
// of per-object hashes does not depend on the stores' order.
func (p *Provider) gather() (residency.Inputs, uint64) {
	var in residency.Inputs
	var fp uint64
	for _, store := range p.stores {
		for _, item := range store.List() {
			switch o := item.(type) {
			case *v1alpha1.ProcessingLocation:
				in.Locations = append(in.Locations, o)
				fp += objectHash('L', o)
			case *v1alpha1.TransferBasis:
				in.Bases = append(in.Bases, o)
				fp += objectHash('B', o)
			case *v1alpha1.Subprocessor:
				in.Subprocessors = append(in.Subprocessors, o)
				fp += objectHash('S', o)
			case *v1alpha1.ResidencyPolicy:
				if o.Name == v1alpha1.PolicyName {
					in.Policy = &o.Spec
					fp += objectHash('P', o)
				}
			case *v1alpha1.ResidencyException:
				in.Exceptions = append(in.Exceptions, o)
				fp += objectHash('E', o)
			}
		}
	}
	return in, fp
}

// objectHash identifies an object's identity and spec generation.
func objectHash(kind byte, o client.Object) uint64 {
	h := fnv.New64a()
	var buf [9]byte
	buf[0] = kind
	binary.LittleEndian.PutUint64(buf[1:], uint64(o.GetGeneration()))
	h.Write(buf[:])
	h.Write([]byte(o.GetUID()))
	return h.Sum64()
}
