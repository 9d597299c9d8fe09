package observe

import (
	"net/netip"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Pod is a Pod as attribution knows it: enough to find its workload.
type Pod struct {
	Namespace, Name string
	UID             types.UID
	// Controller is the Pod's controller reference, if any.
	Controller *metav1.OwnerReference
}

// span is one Pod's tenure of an address: from when the operator saw the
// Pod with it until it saw it go (zero: still holds it).
type span struct {
	pod      *Pod
	from, to time.Time
}

// PodIPs remembers which Pod held which address when, so that a query is
// attributed to the Pod that held the client address at the time of the
// query, not to whoever holds it now: addresses are reused.
type PodIPs struct {
	mu   sync.RWMutex
	byIP map[netip.Addr][]span
	// held are the addresses each Pod holds now.
	held map[types.UID][]netip.Addr
	// hostNet are the addresses of host-network Pods (their node's), with
	// the Pods on each: queries from them are counted, not attributed.
	hostNet map[netip.Addr]map[types.UID]struct{}
	// Slack lets a query a little older than the first sight of its Pod
	// (the informer lags the kubelet) belong to it.
	Slack time.Duration
	// Keep is how long a closed span is kept for late frames.
	Keep time.Duration
}

// NewPodIPs returns an empty history.
func NewPodIPs() *PodIPs {
	return &PodIPs{byIP: map[netip.Addr][]span{}, held: map[types.UID][]netip.Addr{}, hostNet: map[netip.Addr]map[types.UID]struct{}{}, Slack: 5 * time.Second, Keep: 10 * time.Minute}
}

// addrs are the Pod's addresses, or none once it is done (a Pod that
// succeeded or failed has released its address).
func addrs(p *corev1.Pod) []netip.Addr {
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return nil
	}
	var out []netip.Addr
	for _, ip := range p.Status.PodIPs {
		if a, err := netip.ParseAddr(ip.IP); err == nil {
			out = append(out, a.Unmap())
		}
	}
	if len(out) == 0 && p.Status.PodIP != "" {
		if a, err := netip.ParseAddr(p.Status.PodIP); err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// Set records what the Pod holds as of now (an informer add or update).
func (h *PodIPs) Set(p *corev1.Pod, now time.Time) {
	if p.Spec.HostNetwork {
		h.mu.Lock()
		for _, a := range addrs(p) {
			if h.hostNet[a] == nil {
				h.hostNet[a] = map[types.UID]struct{}{}
			}
			h.hostNet[a][p.UID] = struct{}{}
		}
		h.mu.Unlock()
		return
	}
	held := addrs(p)
	h.mu.Lock()
	defer h.mu.Unlock()
	// Close the Pod's spans of addresses it no longer holds.
	for _, a := range h.held[p.UID] {
		if !contains(held, a) {
			h.close(a, p.UID, now)
		}
	}
	if len(held) == 0 {
		delete(h.held, p.UID)
	} else {
		h.held[p.UID] = held
	}
	for _, a := range held {
		spans := h.byIP[a]
		if n := len(spans); n > 0 && spans[n-1].to.IsZero() && spans[n-1].pod.UID == p.UID {
			continue // still holds it
		}
		if n := len(spans); n > 0 && spans[n-1].to.IsZero() && slices.ContainsFunc(spans[:n-1], func(s span) bool { return s.pod.UID == p.UID }) {
			// A late update of a Pod that let the address go, after another
			// took it: the address stays with the newer Pod.
			continue
		}
		// Whoever held the address before has let it go.
		for i := range spans {
			if spans[i].to.IsZero() {
				spans[i].to = now
			}
		}
		spans = h.prune(spans, now)
		ref := &Pod{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Controller: metav1.GetControllerOfNoCopy(p)}
		if ref.Controller != nil {
			c := *ref.Controller
			ref.Controller = &c
		}
		h.byIP[a] = append(spans, span{pod: ref, from: now})
	}
}

// Delete records that the Pod is gone as of now.
func (h *PodIPs) Delete(p *corev1.Pod, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p.Spec.HostNetwork {
		for a, pods := range h.hostNet {
			if delete(pods, p.UID); len(pods) == 0 {
				delete(h.hostNet, a)
			}
		}
		return
	}
	for _, a := range h.held[p.UID] {
		h.close(a, p.UID, now)
	}
	delete(h.held, p.UID)
}

// close ends the Pod's tenure of a.
func (h *PodIPs) close(a netip.Addr, uid types.UID, now time.Time) {
	spans := h.byIP[a]
	for i := range spans {
		if spans[i].pod.UID == uid && spans[i].to.IsZero() {
			spans[i].to = now
		}
	}
	if spans = h.prune(spans, now); len(spans) == 0 {
		delete(h.byIP, a)
	} else {
		h.byIP[a] = spans
	}
}

// prune drops spans closed longer ago than Keep.
func (h *PodIPs) prune(spans []span, now time.Time) []span {
	out := spans[:0]
	for _, s := range spans {
		if s.to.IsZero() || now.Sub(s.to) < h.Keep {
			out = append(out, s)
		}
	}
	return out
}

// Lookup returns the Pod that held addr at t; hostNetwork is true when the
// address is a host-network Pod's (a node's) and no Pod's own.
func (h *PodIPs) Lookup(addr netip.Addr, t time.Time) (pod *Pod, hostNetwork bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	spans := h.byIP[addr]
	for i := len(spans) - 1; i >= 0; i-- {
		s := &spans[i]
		if !t.Before(s.from) && (s.to.IsZero() || t.Before(s.to)) {
			return s.pod, false
		}
	}
	// A query just before the operator saw its Pod: the newest tenure that
	// began within Slack after it, if the address was free before.
	for i := len(spans) - 1; i >= 0; i-- {
		s := &spans[i]
		if t.Before(s.from) && s.from.Sub(t) <= h.Slack && (i == 0 || !t.Before(spans[i-1].to)) {
			return s.pod, false
		}
	}
	return nil, len(h.hostNet[addr]) > 0
}

func contains(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

// GC drops the tenures closed longer ago than Keep; the flusher calls it.
func (h *PodIPs) GC(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for a, spans := range h.byIP {
		if spans = h.prune(spans, now); len(spans) == 0 {
			delete(h.byIP, a)
		} else {
			h.byIP[a] = spans
		}
	}
}
