package observe

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
)

// Workload is the workload a Pod's resolutions belong to.
type Workload struct {
	APIVersion, Kind, Namespace, Name string
	UID                               types.UID
}

// Resolver finds the workload a Pod is reported through (the top of its
// controller chain, as the workload reconcilers see it).
type Resolver func(ctx context.Context, p *Pod) (Workload, error)

// ObjectName is the name of the ObservedEgress of a workload: its kind in
// lower case and its name ("deployment-checkout"), shortened with a hash
// when that would exceed an object name's 253 characters.
func ObjectName(kind, name string) string {
	n := strings.ToLower(kind) + "-" + name
	if len(n) <= 253 {
		return n
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(n))
	return strings.TrimRight(n[:244], "-.") + fmt.Sprintf("-%08x", h.Sum32())
}

// Flusher writes what the collector tallied to the ObservedEgress objects.
// It runs on every replica (CoreDNS connects to whichever the Service
// picks): each merges its own tallies into the object, with optimistic
// concurrency. A name new to its workload is written within Interval;
// further resolutions of known names are written every Refresh, so a busy
// workload costs one write per Refresh, not one per query.
type Flusher struct {
	Collector *Collector
	Resolve   Resolver
	// Client reads ObservedEgress from the cache and writes them; Reader
	// reads them from the API server after a conflict.
	Client client.Client
	Reader client.Reader
	// Policy is the ResidencyPolicy as of now, read once per flush: names
	// expired under its retention are removed on write, and what Pods of
	// its excluded namespaces resolve is not written.
	Policy   func() residency.Policy
	Interval time.Duration
	Refresh  time.Duration
	Clock    clock.PassiveClock
	Log      logr.Logger

	workloads map[Workload]*waiting
	resolved  map[*Pod]Workload
	lastGC    time.Time
	// waitingNames counts the names waiting across workloads: while writes
	// fail they pile up, bounded by the collector's MaxPending.
	waitingNames int
}

// waiting is a workload's tallies not yet written.
type waiting struct {
	names     map[string]*Tally
	lastWrite time.Time
}

// NeedLeaderElection: every replica flushes what it received.
func (f *Flusher) NeedLeaderElection() bool { return false }

// Start flushes every Interval until ctx ends, then once more.
func (f *Flusher) Start(ctx context.Context) error {
	if f.Clock == nil {
		f.Clock = clock.RealClock{}
	}
	t := time.NewTicker(f.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// A last flush on the way out: a restart loses nothing it received.
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			f.Flush(fctx, true)
			cancel()
			return nil
		case <-t.C:
			f.Flush(ctx, false)
		}
	}
}

// Flush writes the workloads that have a new name, or whose Refresh is due
// (all of them when final).
func (f *Flusher) Flush(ctx context.Context, final bool) {
	now := f.Clock.Now()
	pol := f.Policy()
	if f.workloads == nil {
		f.workloads, f.resolved = map[Workload]*waiting{}, map[*Pod]Workload{}
	}
	if now.Sub(f.lastGC) > time.Minute {
		f.Collector.Pods.GC(now)
		clear(f.resolved) // Pods come and go; resolve afresh
		f.lastGC = now
	}
	for pair, t := range f.Collector.Take() {
		if pol.Excluded(pair.Pod.Namespace) {
			continue
		}
		w, ok := f.resolved[pair.Pod]
		if !ok {
			var err error
			if w, err = f.Resolve(ctx, pair.Pod); err != nil {
				f.Log.V(1).Info("observed egress: no workload for the Pod", "pod", pair.Pod.Namespace+"/"+pair.Pod.Name, "error", err.Error())
				continue
			}
			f.resolved[pair.Pod] = w
		}
		wt := f.workloads[w]
		if wt == nil {
			wt = &waiting{names: map[string]*Tally{}}
			f.workloads[w] = wt
		}
		if cur := wt.names[pair.Name]; cur != nil {
			cur.add(*t)
		} else if f.waitingNames >= f.Collector.MaxPending {
			f.Collector.Metrics.Dropped.WithLabelValues(DropPendingFull).Add(float64(t.Count))
		} else {
			wt.names[pair.Name] = t
			f.waitingNames++
		}
	}
	for w, wt := range f.workloads {
		if !final && now.Sub(wt.lastWrite) < f.Refresh && !f.hasNew(ctx, w, wt) {
			continue
		}
		if err := f.write(ctx, w, wt.names, pol.ObservedRetention, now); err != nil {
			f.Log.Error(err, "observed egress: write", "workload", w.Kind+" "+w.Namespace+"/"+w.Name)
			continue // kept for the next flush
		}
		f.waitingNames -= len(wt.names)
		wt.names, wt.lastWrite = map[string]*Tally{}, now
	}
	// Workloads with nothing waiting are forgotten once their Refresh passed.
	for w, wt := range f.workloads {
		if len(wt.names) == 0 && now.Sub(wt.lastWrite) >= f.Refresh {
			delete(f.workloads, w)
		}
	}
}

// hasNew reports whether a waiting name is not in the workload's
// ObservedEgress yet (as the cache has it).
func (f *Flusher) hasNew(ctx context.Context, w Workload, wt *waiting) bool {
	if len(wt.names) == 0 {
		return false
	}
	var oe v1alpha1.ObservedEgress
	if err := f.Client.Get(ctx, client.ObjectKey{Namespace: w.Namespace, Name: ObjectName(w.Kind, w.Name)}, &oe); err != nil {
		return true
	}
	if len(oe.Status.Hosts) >= v1alpha1.MaxObservedHosts {
		return false // full: further names are only counted, at Refresh
	}
	for name := range wt.names {
		if _, found := sort.Find(len(oe.Status.Hosts), func(i int) int { return strings.Compare(name, oe.Status.Hosts[i].Name) }); !found {
			return true
		}
	}
	return false
}

// write merges the tallies into the workload's ObservedEgress, creating it
// (owned by the workload, so that it goes with it) if needed.
func (f *Flusher) write(ctx context.Context, w Workload, names map[string]*Tally, retention time.Duration, now time.Time) error {
	key := client.ObjectKey{Namespace: w.Namespace, Name: ObjectName(w.Kind, w.Name)}
	var reader client.Reader = f.Client
	for attempt := 0; ; attempt++ {
		var oe v1alpha1.ObservedEgress
		err := reader.Get(ctx, key, &oe)
		switch {
		case apierrors.IsNotFound(err):
			oe = v1alpha1.ObservedEgress{
				ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name,
					OwnerReferences: []metav1.OwnerReference{{APIVersion: w.APIVersion, Kind: w.Kind, Name: w.Name, UID: w.UID, BlockOwnerDeletion: ptr.To(false)}}},
				Spec: v1alpha1.ObservedEgressSpec{Workload: v1alpha1.ObservedWorkload{APIVersion: w.APIVersion, Kind: w.Kind, Name: w.Name}},
			}
			if err := f.Client.Create(ctx, &oe); err != nil && !apierrors.IsAlreadyExists(err) {
				return err
			} else if err != nil {
				reader = f.Reader
				continue
			}
		case err != nil:
			return err
		}
		if oe.Spec.Workload.Kind != w.Kind || oe.Spec.Workload.Name != w.Name {
			return fmt.Errorf("ObservedEgress %s/%s belongs to %s %s", key.Namespace, key.Name, oe.Spec.Workload.Kind, oe.Spec.Workload.Name)
		}
		Merge(&oe.Status, names, retention, now)
		err = f.Client.Status().Update(ctx, &oe)
		if err == nil || !apierrors.IsConflict(err) || attempt >= 4 {
			return err
		}
		reader = f.Reader // another replica wrote first: read it afresh
	}
}

// Merge adds tallies to a status: counts add up, first and last seen widen;
// names expired under retention go; beyond MaxObservedHosts names, further
// names are counted in droppedHosts. Hosts stay sorted by name.
func Merge(st *v1alpha1.ObservedEgressStatus, names map[string]*Tally, retention time.Duration, now time.Time) {
	byName := make(map[string]int, len(st.Hosts))
	kept := st.Hosts[:0]
	for _, h := range st.Hosts {
		if retention > 0 && !h.LastSeen.Add(retention).After(now) {
			continue
		}
		byName[h.Name] = len(kept)
		kept = append(kept, h)
	}
	st.Hosts = kept
	if len(kept) < v1alpha1.MaxObservedHosts {
		// Room again: what was not kept while the object was full no
		// longer stands for names that cannot be recorded.
		st.DroppedHosts = 0
	}
	added := make([]string, 0, len(names))
	for n := range names {
		added = append(added, n)
	}
	sort.Strings(added)
	for _, n := range added {
		t := names[n]
		if i, ok := byName[n]; ok {
			h := &st.Hosts[i]
			h.Count += t.Count
			if t.First.Before(h.FirstSeen.Time) {
				h.FirstSeen = metav1.NewTime(t.First)
			}
			if t.Last.After(h.LastSeen.Time) {
				h.LastSeen = metav1.NewTime(t.Last)
			}
			continue
		}
		if len(st.Hosts) >= v1alpha1.MaxObservedHosts {
			st.DroppedHosts += t.Count
			continue
		}
		byName[n] = len(st.Hosts)
		st.Hosts = append(st.Hosts, v1alpha1.ObservedHost{Name: n, Count: t.Count,
			FirstSeen: metav1.NewTime(t.First.Truncate(time.Second)), LastSeen: metav1.NewTime(t.Last)})
	}
	sort.Slice(st.Hosts, func(i, j int) bool { return st.Hosts[i].Name < st.Hosts[j].Name })
	st.HostCount = int32(len(st.Hosts))
}

// Observations converts an ObservedEgress's hosts for the engine.
func Observations(st *v1alpha1.ObservedEgressStatus) []residency.ObservedHost {
	out := make([]residency.ObservedHost, len(st.Hosts))
	for i, h := range st.Hosts {
		out[i] = residency.ObservedHost{Name: h.Name, Count: h.Count, FirstSeen: h.FirstSeen.Time, LastSeen: h.LastSeen.Time}
	}
	return out
}
