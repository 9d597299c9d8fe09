// Package state turns the informer cache into a compiled residency.Snapshot
// that reconcilers and the admission webhook share. The snapshot is derived,
// never stored: it is recompiled when the generation of any residency object
// changes, when objects appear or disappear, and when the time passes its next
// legal transition (a basis expiring, an objection period ending...).
package state

import (
	"context"
	"encoding/binary"
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

// Provider compiles and caches the snapshot of the residency objects.
type Provider struct {
	Reader  client.Reader
	Catalog *residency.Catalog
	Clock   clock.PassiveClock

	// stores, when set, are the informers' own stores of the four kinds
	// (locations, bases, subprocessors, policies), read without copying.
	stores [4]toolscache.Store
	// writes counts the writes to those stores (see UseInformers); seen is
	// its value when snap was last confirmed current.
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

// NewProvider returns a Provider reading from r.
func NewProvider(r client.Reader, cat *residency.Catalog, clk clock.PassiveClock) *Provider {
	if cat == nil {
		cat = residency.DefaultCatalog()
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Provider{Reader: r, Catalog: cat, Clock: clk}
}

// UseInformers makes the provider read the informers' stores directly instead
// of listing through the cache reader, and only after a store was written:
// every reconcile and every admission request asks for the snapshot, and
// while nothing changed the answer costs an atomic load and a clock reading,
// not a walk over the catalog (that walk was a third of the allocations of a
// cold start over 10,000 workloads). Call it before the cache starts.
//
// The provider hears of writes through an index function, which the store
// calls inside its write lock, after the object is in place. So a write is
// counted before any reader can see it, and a count read before gathering
// covers everything the gather sees: the snapshot is never remembered as
// current for a store state it did not read. (An event handler would not do:
// handlers run after the store is written, and a reconcile triggered by the
// same event could get the old snapshot in between.)
func (p *Provider) UseInformers(ctx context.Context, informers ctrlcache.Informers) error {
	var stores [4]toolscache.Store
	var siis [4]toolscache.SharedIndexInformer
	for i, obj := range []client.Object{&v1alpha1.ProcessingLocation{}, &v1alpha1.TransferBasis{}, &v1alpha1.Subprocessor{}, &v1alpha1.ResidencyPolicy{}} {
		inf, err := informers.GetInformer(ctx, obj)
		if err != nil {
			return err
		}
		sii, ok := inf.(toolscache.SharedIndexInformer)
		if !ok {
			return nil // not a client-go informer: keep listing through the reader
		}
		siis[i], stores[i] = sii, sii.GetStore()
	}
	count := func(any) ([]string, error) {
		p.writes.Add(1)
		return nil, nil
	}
	for _, sii := range siis {
		if err := sii.AddIndexers(toolscache.Indexers{indexStoreWrites: count}); err != nil {
			return err
		}
	}
	p.stores = stores
	return nil
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
	watching := p.stores[0] != nil
	writes := p.writes.Load() // before gathering: see UseInformers
	if watching {
		now := p.Clock.Now()
		p.mu.Lock()
		if p.snap != nil && p.seen == writes && !expired(p.snap, now) {
			s := p.snap
			p.mu.Unlock()
			return s, nil
		}
		p.mu.Unlock()
	}
	in, fp, err := p.gather(ctx)
	if err != nil {
		return nil, err
	}
	now := p.Clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if watching && p.snap != nil && writes < p.seen && !expired(p.snap, now) {
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

// gather lists the residency objects from the cache (read-only, without deep
// copies: Compile copies what it keeps) and fingerprints their identities and
// generations, which change with every spec change but not with status writes.
func (p *Provider) gather(ctx context.Context) (residency.Inputs, uint64, error) {
	if p.stores[0] != nil {
		return p.gatherStores()
	}
	var (
		in    residency.Inputs
		locs  v1alpha1.ProcessingLocationList
		bases v1alpha1.TransferBasisList
		subs  v1alpha1.SubprocessorList
		pols  v1alpha1.ResidencyPolicyList
	)
	opt := client.UnsafeDisableDeepCopy
	for _, l := range []client.ObjectList{&locs, &bases, &subs, &pols} {
		if err := p.Reader.List(ctx, l, opt); err != nil {
			return in, 0, err
		}
	}
	// The cache lists in no particular order: combine per-object hashes with
	// a commutative sum so the fingerprint does not depend on it.
	var fp uint64
	add := func(kind byte, o client.Object) { fp += objectHash(kind, o) }
	for i := range locs.Items {
		in.Locations = append(in.Locations, &locs.Items[i])
		add('L', &locs.Items[i])
	}
	for i := range bases.Items {
		in.Bases = append(in.Bases, &bases.Items[i])
		add('B', &bases.Items[i])
	}
	for i := range subs.Items {
		in.Subprocessors = append(in.Subprocessors, &subs.Items[i])
		add('S', &subs.Items[i])
	}
	for i := range pols.Items {
		if pols.Items[i].Name == v1alpha1.PolicyName {
			in.Policy = &pols.Items[i].Spec
			add('P', &pols.Items[i])
		}
	}
	return in, fp, nil
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

// gatherStores is gather over the informers' stores: the objects are the
// cache's own, never modified here.
func (p *Provider) gatherStores() (residency.Inputs, uint64, error) {
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
			}
		}
	}
	return in, fp, nil
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
