package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	framestream "github.com/farsightsec/golang-framestream"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/observe"
	"github.com/dataresidency/operator/internal/residency"
)

// observedKey names the workload an ObservedEgress belongs to.
type observedKey struct{ namespace, kind, name string }

// handleObserved reads an ObservedEgress (as `kubectl get observedegresses
// -o yaml` exports it): what a workload's pods resolved in a cluster.
func (l *loader) handleObserved(o Origin, obj map[string]interface{}) {
	var oe v1alpha1.ObservedEgress
	name := metadataString(obj, "name")
	if err := l.decodeTyped(obj, &oe); err != nil {
		l.fail(&InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Kind: "ObservedEgress", Name: name, Msg: err.Error()})
		return
	}
	w := oe.Spec.Workload
	if _, ok := residency.LookupWorkloadKind(w.Kind); !ok || w.Name == "" {
		l.fail(&InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Kind: "ObservedEgress", Name: name, Field: "spec.workload",
			Msg: fmt.Sprintf("names no workload (kind %q, name %q)", w.Kind, w.Name)})
		return
	}
	ns := oe.Namespace
	if ns == "" {
		ns = l.defaultNamespace
	}
	l.b.addObserved(observedKey{ns, w.Kind, w.Name}, &oe.Status)
}

// addObserved adds what a workload resolved to what the bundle holds: two
// exports of one workload (two clusters, two days) add up.
func (b *Bundle) addObserved(k observedKey, src *v1alpha1.ObservedEgressStatus) {
	st := b.Observed[k]
	if st == nil {
		st = &v1alpha1.ObservedEgressStatus{}
		b.Observed[k] = st
	}
	names := map[string]*observe.Tally{}
	for _, h := range src.Hosts {
		names[h.Name] = &observe.Tally{Count: h.Count, First: h.FirstSeen.Time, Last: h.LastSeen.Time}
	}
	dropped := st.DroppedHosts + src.DroppedHosts
	observe.Merge(st, names, 0, time.Time{})
	st.DroppedHosts = dropped
}

// isDnstapCapture reports whether r starts as a Frame Streams file does: an
// escape (four zero bytes) before its first control frame.
func isDnstapCapture(r *bufio.Reader) bool {
	b, err := r.Peek(4)
	return err == nil && bytes.Equal(b, []byte{0, 0, 0, 0})
}

// loadObserved reads --observed files: dnstap captures (what `dnstap -w` or
// CoreDNS's dnstap to a file write), attributed to the Pods of the input by
// their status.podIP, or YAML/JSON with ObservedEgress objects.
func loadObserved(b *Bundle, paths []string, namespace, clusterDomain string) {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			b.Errors = append(b.Errors, &InputError{File: p, Msg: err.Error()})
			continue
		}
		r := bufio.NewReader(f)
		if !isDnstapCapture(r) {
			_ = f.Close()
			more := Load([]string{p}, nil, "", namespace)
			b.Errors = append(b.Errors, more.Errors...)
			for k, st := range more.Observed {
				b.addObserved(k, st)
			}
			b.Files = append(b.Files, p)
			continue
		}
		err = readCapture(b, r, clusterDomain)
		_ = f.Close()
		if err != nil {
			b.Errors = append(b.Errors, &InputError{File: p, Msg: "is not a readable dnstap capture: " + err.Error()})
		}
		b.Files = append(b.Files, p)
	}
}

// readCapture attributes each answered query of a capture to the workload
// of the input Pod holding its client address.
func readCapture(b *Bundle, r io.Reader, clusterDomain string) error {
	fr, err := dnstap.NewReader(r, &dnstap.ReaderOptions{})
	if err != nil {
		return err
	}
	byIP := b.podWorkloads()
	tallies := map[observedKey]map[string]*observe.Tally{}
	d := &observe.Decoder{ClusterDomain: clusterDomain}
	buf := make([]byte, dnstap.MaxPayloadSize)
	var unknown, bad int
	for {
		n, err := fr.ReadFrame(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, framestream.ErrDataFrameTooLarge) {
			bad++
			continue
		}
		if err != nil {
			return err
		}
		res, out := d.Decode(buf[:n])
		switch out {
		case observe.Resolved:
		case observe.Ignored:
			continue
		default:
			bad++
			continue
		}
		k, ok := byIP[res.Client]
		if !ok {
			unknown++
			continue
		}
		m := tallies[k]
		if m == nil {
			m = map[string]*observe.Tally{}
			tallies[k] = m
		}
		t := m[res.Name]
		if t == nil {
			t = &observe.Tally{First: res.At}
			m[res.Name] = t
		}
		t.Count++
		if res.At.After(t.Last) {
			t.Last = res.At
		}
	}
	for k, names := range tallies {
		if b.Observed[k] == nil {
			b.Observed[k] = &v1alpha1.ObservedEgressStatus{}
		}
		observe.Merge(b.Observed[k], names, 0, time.Time{})
	}
	if unknown > 0 {
		b.Notices = append(b.Notices, Notice{Rule: "UnattributedResolutions",
			Msg: fmt.Sprintf("%d answered queries came from addresses no Pod of the input holds (add the Pods: kubectl get pods -o yaml)", unknown)})
	}
	if bad > 0 {
		b.Notices = append(b.Notices, Notice{Rule: "UnreadableFrames", Msg: fmt.Sprintf("%d frames of the capture could not be read", bad)})
	}
	return nil
}

// podWorkloads maps the addresses of the input's Pods to the workload each
// is reported through: up its controller references, as far as the input
// holds the owners; a ReplicaSet absent from the input leads to the
// Deployment its name and the Pod's pod-template-hash label name.
func (b *Bundle) podWorkloads() map[netip.Addr]observedKey {
	objs := map[observedKey]metav1.Object{}
	for _, w := range b.Workloads {
		if m, ok := w.Object.(metav1.Object); ok {
			objs[observedKey{w.Namespace, w.Object.GetObjectKind().GroupVersionKind().Kind, m.GetName()}] = m
		}
	}
	out := map[netip.Addr]observedKey{}
	for _, w := range b.Workloads {
		p, ok := w.Object.(*corev1.Pod)
		if !ok {
			continue
		}
		k := observedKey{w.Namespace, "Pod", p.Name}
		var cur metav1.Object = p
		for depth := 0; depth < 4; depth++ {
			ref := metav1.GetControllerOfNoCopy(cur)
			if ref == nil || !residency.MakesWorkloads(groupOf(ref.APIVersion), ref.Kind) {
				break
			}
			k = observedKey{w.Namespace, ref.Kind, ref.Name}
			next, ok := objs[k]
			if !ok {
				// A Deployment's ReplicaSet is seldom in the input: its name
				// is the Deployment's and the Pods' pod-template-hash.
				if hash := p.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; ref.Kind == "ReplicaSet" && hash != "" {
					d := observedKey{w.Namespace, "Deployment", strings.TrimSuffix(ref.Name, "-"+hash)}
					if _, ok := objs[d]; ok {
						k = d
					}
				}
				break
			}
			cur = next
		}
		for _, ip := range p.Status.PodIPs {
			if a, err := netip.ParseAddr(ip.IP); err == nil {
				out[a.Unmap()] = k
			}
		}
		if a, err := netip.ParseAddr(p.Status.PodIP); err == nil {
			out[a.Unmap()] = k
		}
	}
	return out
}

func groupOf(apiVersion string) string {
	if i := strings.IndexByte(apiVersion, '/'); i >= 0 {
		return apiVersion[:i]
	}
	return ""
}

// observedFor is what the workload's pods resolved that still counts at at.
func (b *Bundle) observedFor(namespace, kind, name string, retention time.Duration, at time.Time) ([]residency.ObservedHost, int64) {
	st := b.Observed[observedKey{namespace, kind, name}]
	if st == nil {
		return nil, 0
	}
	live, _ := residency.LiveObservations(observe.Observations(st), retention, at)
	sort.Slice(live, func(i, j int) bool { return live[i].Name < live[j].Name })
	return live, st.DroppedHosts
}

// noteUnmatchedObserved notes the observations of workloads the input does
// not hold: they are not judged.
func (b *Bundle) noteUnmatchedObserved() {
	have := map[observedKey]bool{}
	for _, w := range b.Workloads {
		if m, ok := w.Object.(metav1.Object); ok {
			have[observedKey{w.Namespace, w.Object.GetObjectKind().GroupVersionKind().Kind, m.GetName()}] = true
		}
	}
	var missing []string
	for k := range b.Observed {
		if !have[k] {
			missing = append(missing, k.kind+" "+k.namespace+"/"+k.name)
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		b.Notices = append(b.Notices, Notice{Rule: "ObservedWorkloadMissing",
			Msg: "what " + m + " resolved is not judged: the input holds no such workload"})
	}
}
