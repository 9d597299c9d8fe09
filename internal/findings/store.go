// Package findings keeps the latest evaluation of every workload in memory,
// indexed the ways the reconcilers ask: by namespace (for Reports), by
// Subprocessor and ProcessingLocation (for re-evaluation and workload counts).
//
// It holds derived state only: every entry is recomputed from the cluster when
// the manager starts, and Reports are written only once every workload of a
// namespace has an entry, so nothing that matters lives only here.
package findings

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/dataresidency/operator/internal/residency"
)

// Key identifies a workload.
type Key struct {
	Kind      string
	Namespace string
	Name      string
}

func (k Key) String() string { return k.Kind + "/" + k.Namespace + "/" + k.Name }

// Entry is the latest evaluation of one workload.
type Entry struct {
	Key Key
	UID types.UID
	// Result is the engine's verdict and findings.
	Result residency.Result
	// Locations are the ProcessingLocations its personal data reaches.
	Locations []string
	// Regions are the topology regions its pods are pinned to.
	Regions []string
	// Enforcement is the namespace's enforcement when it was evaluated.
	Enforcement string
	// Since is when Result last changed; it stays put while re-evaluations agree.
	Since time.Time
	// Evaluations counts how often the workload was evaluated by this process.
	Evaluations uint64
	// ClusterFacts is true when discovery left a name out because of a fact
	// of the cluster (a Namespace exists, an Ingress serves the host): a
	// change of those facts can move the workload.
	ClusterFacts bool
	// Egress is its egress plan when its namespace is labelled
	// dataresidency.io/egress (nil otherwise).
	Egress *residency.EgressPlan
}

// Change tells listeners what a Set or Delete touched.
type Change struct {
	Namespace     string
	Subprocessors []string
	Locations     []string
	// Exceptions are the ResidencyExceptions whose coverage may have moved.
	Exceptions []string
	// Counts is true when the summary or per-object counts may have moved.
	Counts bool
	// Key is the workload; Egress is true when it has or had an egress plan.
	Key    Key
	Egress bool
}

// Store is safe for concurrent use.
type Store struct {
	mu      sync.RWMutex
	entries map[Key]*Entry
	// The indexes hold the current *Entry of each workload (8 bytes a slot,
	// where a Key is 48): an entry is replaced, never changed, by Set.
	byNS  map[string]map[*Entry]struct{}
	bySub map[string]map[*Entry]struct{}
	byLoc map[string]map[*Entry]struct{}
	byReg map[string]map[*Entry]struct{}

	listeners []func(Change)
}

// New returns an empty store.
func New() *Store {
	return &Store{
		entries: map[Key]*Entry{},
		byNS:    map[string]map[*Entry]struct{}{},
		bySub:   map[string]map[*Entry]struct{}{},
		byLoc:   map[string]map[*Entry]struct{}{},
		byReg:   map[string]map[*Entry]struct{}{},
	}
}

// OnChange registers fn to be called, outside the store's lock, after every
// Set or Delete that changed something.
func (s *Store) OnChange(fn func(Change)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listeners = append(s.listeners, fn)
}

func (s *Store) notify(c Change) {
	s.mu.RLock()
	ls := s.listeners
	s.mu.RUnlock()
	for _, fn := range ls {
		fn(c)
	}
}

// Set records an evaluation and returns the previous entry (nil if none).
// The entry's Since is kept from the previous one when the result is the same.
func (s *Store) Set(e Entry, now time.Time) (prev *Entry) {
	s.mu.Lock()
	old := s.entries[e.Key]
	e.Since = now
	e.Evaluations = 1
	if old != nil {
		e.Evaluations = old.Evaluations + 1
		if sameResult(&old.Result, &e.Result) && old.UID == e.UID && old.Enforcement == e.Enforcement {
			e.Since = old.Since
		}
		s.unindex(old)
	}
	ne := e
	s.entries[e.Key] = &ne
	s.index(&ne)
	s.mu.Unlock()

	if old != nil && old.Since.Equal(ne.Since) && slices.Equal(old.Locations, ne.Locations) && sameSources(&old.Result, &ne.Result) && old.Egress.Equal(ne.Egress) {
		return old // nothing a listener can see changed
	}
	c := Change{Namespace: e.Key.Namespace, Counts: true, Key: e.Key, Egress: ne.Egress != nil || (old != nil && old.Egress != nil)}
	c.Subprocessors = union(subsOf(old), ne.Result.Subprocessors)
	c.Locations = union(locsOf(old), ne.Locations)
	c.Exceptions = union(exceptionsOf(old), exceptionsOf(&ne))
	s.notify(c)
	return old
}

// Delete forgets a workload.
func (s *Store) Delete(k Key) {
	s.mu.Lock()
	old := s.entries[k]
	if old == nil {
		s.mu.Unlock()
		return
	}
	delete(s.entries, k)
	s.unindex(old)
	s.mu.Unlock()
	s.notify(Change{Namespace: k.Namespace, Subprocessors: old.Result.Subprocessors, Locations: old.Locations, Exceptions: exceptionsOf(old), Counts: true,
		Key: k, Egress: old.Egress != nil})
}

// Get returns a copy of the entry for k.
func (s *Store) Get(k Key) (Entry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.entries[k]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// Namespace returns the entries of a namespace, sorted by kind and name.
func (s *Store) Namespace(ns string) []Entry {
	s.mu.RLock()
	out := make([]Entry, 0, len(s.byNS[ns]))
	for e := range s.byNS[ns] {
		out = append(out, *e)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key.Kind != out[j].Key.Kind {
			return out[i].Key.Kind < out[j].Key.Kind
		}
		return out[i].Key.Name < out[j].Key.Name
	})
	return out
}

// Namespaces returns the namespaces that have entries.
func (s *Store) Namespaces() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.byNS))
	for ns := range s.byNS {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// UsingSubprocessors returns the workloads of a kind whose flows go to any of names.
func (s *Store) UsingSubprocessors(kind string, names ...string) []Key {
	return s.lookup(s.bySub, kind, names)
}

// InRegions returns the workloads of a kind pinned to any of the regions.
func (s *Store) InRegions(kind string, regions ...string) []Key {
	return s.lookup(s.byReg, kind, regions)
}

// ReliedOnCluster returns the workloads of a kind whose discovery left a name
// out because of a fact of the cluster (Entry.ClusterFacts).
func (s *Store) ReliedOnCluster(kind string) []Key {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Key
	for k, e := range s.entries {
		if k.Kind == kind && e.ClusterFacts {
			out = append(out, k)
		}
	}
	return out
}

// WithEndpointHost returns the workloads of a kind with a finding about an
// endpoint whose host name match accepts: those a new Namespace or a newly
// served host can quiet.
func (s *Store) WithEndpointHost(kind string, match func(host string) bool) []Key {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Key
	for k, e := range s.entries {
		if k.Kind != kind {
			continue
		}
		for i := range e.Result.Findings {
			if ep, err := residency.ParseEndpoint(e.Result.Findings[i].Endpoint); err == nil && ep.Host != "" && match(ep.Host) {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// WithEndpoints returns the workloads of a kind with a finding about a
// discovered or declared endpoint: those a change of egress claims can move.
func (s *Store) WithEndpoints(kind string) []Key {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Key
	for k, e := range s.entries {
		if k.Kind != kind {
			continue
		}
		for i := range e.Result.Findings {
			if e.Result.Findings[i].Endpoint != "" {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

func (s *Store) lookup(idx map[string]map[*Entry]struct{}, kind string, names []string) []Key {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var seen map[*Entry]struct{}
	if len(names) > 1 {
		seen = map[*Entry]struct{}{}
	}
	var out []Key
	for _, n := range names {
		for e := range idx[n] {
			if kind != "" && e.Key.Kind != kind {
				continue
			}
			if seen != nil {
				if _, dup := seen[e]; dup {
					continue
				}
				seen[e] = struct{}{}
			}
			out = append(out, e.Key)
		}
	}
	return out
}

// CountSubprocessor is the number of workloads sending data to a Subprocessor.
func (s *Store) CountSubprocessor(name string) int32 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return int32(len(s.bySub[name]))
}

// CountLocation is the number of workloads whose data reaches a ProcessingLocation.
func (s *Store) CountLocation(name string) int32 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return int32(len(s.byLoc[name]))
}

// Summary counts workloads by worst verdict, and those that declare nothing.
type Summary struct {
	Workloads, Compliant, Warnings, Violations int32
	// Undeclared counts the workloads whose Result is not Declared, whatever
	// the policy's requireDeclaration.
	Undeclared int32
	// Excepted counts the workloads with a finding a ResidencyException
	// accepts (their verdict does not count it).
	Excepted int32
}

// Summary counts every workload.
func (s *Store) Summary() Summary {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var sum Summary
	for _, e := range s.entries {
		sum.Workloads++
		if !e.Result.Declared {
			sum.Undeclared++
		}
		if e.Result.Excepted > 0 {
			sum.Excepted++
		}
		switch e.Result.Verdict {
		case residency.Violation:
			sum.Violations++
		case residency.Warning:
			sum.Warnings++
		default:
			sum.Compliant++
		}
	}
	return sum
}

// ByNamespaceVerdict counts workloads per namespace and verdict, for metrics.
func (s *Store) ByNamespaceVerdict() map[[2]string]int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[[2]string]int{}
	for k, e := range s.entries {
		out[[2]string{k.Namespace, string(e.Result.Verdict)}]++
	}
	return out
}

// ByNamespaceDeclared counts workloads per namespace: [0] those that declare
// what they send, [1] all, for the declaration adoption metric.
func (s *Store) ByNamespaceDeclared() map[string][2]int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string][2]int{}
	for k, e := range s.entries {
		c := out[k.Namespace]
		if e.Result.Declared {
			c[0]++
		}
		c[1]++
		out[k.Namespace] = c
	}
	return out
}

func (s *Store) index(e *Entry) {
	add(s.byNS, e.Key.Namespace, e)
	for _, n := range e.Result.Subprocessors {
		add(s.bySub, n, e)
	}
	for _, n := range e.Locations {
		add(s.byLoc, n, e)
	}
	for _, n := range e.Regions {
		add(s.byReg, n, e)
	}
}

func (s *Store) unindex(e *Entry) {
	del(s.byNS, e.Key.Namespace, e)
	for _, n := range e.Result.Subprocessors {
		del(s.bySub, n, e)
	}
	for _, n := range e.Locations {
		del(s.byLoc, n, e)
	}
	for _, n := range e.Regions {
		del(s.byReg, n, e)
	}
}

func add(idx map[string]map[*Entry]struct{}, n string, e *Entry) {
	m := idx[n]
	if m == nil {
		m = map[*Entry]struct{}{}
		idx[n] = m
	}
	m[e] = struct{}{}
}

func del(idx map[string]map[*Entry]struct{}, n string, e *Entry) {
	if m := idx[n]; m != nil {
		delete(m, e)
		if len(m) == 0 {
			delete(idx, n)
		}
	}
}

func subsOf(e *Entry) []string {
	if e == nil {
		return nil
	}
	return e.Result.Subprocessors
}

// exceptionsOf names the ResidencyExceptions that except a finding of e.
func exceptionsOf(e *Entry) []string {
	if e == nil || e.Result.Excepted == 0 {
		return nil
	}
	var out []string
	for i := range e.Result.Findings {
		if x := e.Result.Findings[i].Exception; x != nil && !slices.Contains(out, x.Name) {
			out = append(out, x.Name)
		}
	}
	return out
}

// ByNamespaceExcepted counts, per namespace with workloads (zero included,
// so that dashboards read 0 rather than nothing), those with an excepted
// finding.
func (s *Store) ByNamespaceExcepted() map[string]int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]int{}
	for k, e := range s.entries {
		out[k.Namespace] += 0
		if e.Result.Excepted > 0 {
			out[k.Namespace]++
		}
	}
	return out
}

// EgressCount counts, for one namespace, mode and backend, the workloads
// an egress policy is written for and the flows their policies leave out.
type EgressCount struct {
	Workloads, Cut int
}

// ByNamespaceEgress counts the workloads under egress policies by
// namespace, mode and backend.
func (s *Store) ByNamespaceEgress() map[[3]string]EgressCount {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[[3]string]EgressCount{}
	for k, e := range s.entries {
		if p := e.Egress; p != nil && p.Selectable() {
			key := [3]string{k.Namespace, string(p.Mode), string(p.Settings.Backend)}
			c := out[key]
			c.Workloads++
			c.Cut += len(p.Cut)
			out[key] = c
		}
	}
	return out
}

// ExceptedBy lists, sorted, the workloads with a finding the exception
// accepts.
func (s *Store) ExceptedBy(name string) []Key {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Key
	for k, e := range s.entries {
		if slices.Contains(exceptionsOf(e), name) {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b Key) int { return strings.Compare(a.String(), b.String()) })
	return out
}

func locsOf(e *Entry) []string {
	if e == nil {
		return nil
	}
	return e.Locations
}

func union(a, b []string) []string {
	out := append(append([]string(nil), a...), b...)
	sort.Strings(out)
	return slices.Compact(out)
}

// sameSources reports whether the findings say where they come from alike
// (an observed name's count moves the source, not the verdict or its Since).
func sameSources(a, b *residency.Result) bool {
	if len(a.Findings) != len(b.Findings) {
		return false
	}
	for i := range a.Findings {
		if a.Findings[i].Source != b.Findings[i].Source {
			return false
		}
	}
	return true
}

func sameResult(a, b *residency.Result) bool {
	if a.Verdict != b.Verdict || a.Declared != b.Declared || len(a.Findings) != len(b.Findings) || strings.Join(a.Subprocessors, ",") != strings.Join(b.Subprocessors, ",") {
		return false
	}
	for i := range a.Findings {
		if !a.Findings[i].Equal(&b.Findings[i]) {
			return false
		}
	}
	return true
}
