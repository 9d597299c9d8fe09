package observe

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	framestream "github.com/farsightsec/golang-framestream"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

var t0 = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

// frame is a CLIENT_RESPONSE as CoreDNS's dnstap plugin sends it with "full".
func frame(t testing.TB, client, name string, rcode int, answers int, at time.Time) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	r := new(dns.Msg)
	r.SetRcode(m, rcode)
	for i := 0; i < answers; i++ {
		rr, err := dns.NewRR(dns.Fqdn(name) + " 30 IN A 192.0.2." + string(rune('1'+i)))
		if err != nil {
			t.Fatal(err)
		}
		r.Answer = append(r.Answer, rr)
	}
	wire, err := r.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return tapFrame(t, client, dnstap.Message_CLIENT_RESPONSE, wire, at)
}

func tapFrame(t testing.TB, client string, typ dnstap.Message_Type, wire []byte, at time.Time) []byte {
	t.Helper()
	addr := netip.MustParseAddr(client)
	b, err := proto.Marshal(&dnstap.Dnstap{
		Type: dnstap.Dnstap_MESSAGE.Enum(),
		Message: &dnstap.Message{
			Type:             typ.Enum(),
			SocketFamily:     dnstap.SocketFamily_INET.Enum(),
			SocketProtocol:   dnstap.SocketProtocol_UDP.Enum(),
			QueryAddress:     addr.AsSlice(),
			QueryPort:        ptr.To[uint32](40000),
			ResponseTimeSec:  ptr.To(uint64(at.Unix())),
			ResponseTimeNsec: ptr.To(uint32(at.Nanosecond())),
			ResponseMessage:  wire,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecode(t *testing.T) {
	d := &Decoder{ClusterDomain: "cluster.local"}
	q := new(dns.Msg)
	q.SetQuestion("api.stripe.com.", dns.TypeA)
	queryWire, _ := q.Pack()
	for _, tc := range []struct {
		what  string
		frame []byte
		want  Outcome
		name  string
	}{
		{"answered", frame(t, "127.244.0.7", "API.Stripe.com", dns.RcodeSuccess, 2, t0), Resolved, "api.stripe.com"},
		{"search-path expansion (NXDOMAIN)", frame(t, "127.244.0.7", "api.stripe.com.shop.svc.cluster.local", dns.RcodeNameError, 0, t0), Ignored, ""},
		{"empty answer (AAAA of an A-only name)", frame(t, "127.244.0.7", "api.stripe.com", dns.RcodeSuccess, 0, t0), Ignored, ""},
		{"a cluster name", frame(t, "127.244.0.7", "kubernetes.default.svc.cluster.local", dns.RcodeSuccess, 1, t0), Ignored, ""},
		{"a query, not a response", tapFrame(t, "127.244.0.7", dnstap.Message_CLIENT_QUERY, queryWire, t0), Ignored, ""},
		{"a response to the resolver's own query", tapFrame(t, "127.244.0.7", dnstap.Message_FORWARDER_RESPONSE, queryWire, t0), Ignored, ""},
		{"not protobuf", []byte("\xff\xff\xff garbage"), Malformed, ""},
		{"not a DNS message", tapFrame(t, "127.244.0.7", dnstap.Message_CLIENT_RESPONSE, []byte("hello, not DNS"), t0), NotDNS, ""},
		{"a query where a response should be", tapFrame(t, "127.244.0.7", dnstap.Message_CLIENT_RESPONSE, queryWire, t0), NotDNS, ""},
		{"no message (dnstap without full)", tapFrame(t, "127.244.0.7", dnstap.Message_CLIENT_RESPONSE, nil, t0), NoMessage, ""},
	} {
		res, out := d.Decode(tc.frame)
		if out != tc.want || res.Name != tc.name {
			t.Errorf("%s: outcome %d name %q, want %d %q", tc.what, out, res.Name, tc.want, tc.name)
		}
		if out == Resolved && (!res.At.Equal(t0) || res.Client != netip.MustParseAddr("127.244.0.7")) {
			t.Errorf("%s: at %v client %v", tc.what, res.At, res.Client)
		}
	}
}

func pod(name, uid, ip string, owner string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, UID: types.UID(uid)},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}}
	if owner != "" {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: owner, UID: "rs-" + types.UID(owner), Controller: ptr.To(true)}}
	}
	return p
}

// An address given to another Pod: queries belong to whoever held it then.
func TestPodIPsReuse(t *testing.T) {
	h := NewPodIPs()
	ip := netip.MustParseAddr("127.244.0.9")
	a, b := pod("a", "uid-a", "127.244.0.9", "checkout-1"), pod("b", "uid-b", "127.244.0.9", "billing-1")
	h.Set(a, t0)
	h.Delete(a, t0.Add(time.Minute))
	h.Set(b, t0.Add(2*time.Minute))
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{t0.Add(-2 * time.Second), "a"}, // just before the operator saw it: slack
		{t0.Add(30 * time.Second), "a"},
		{t0.Add(90 * time.Second), ""}, // free between the two
		{t0.Add(3 * time.Minute), "b"},
	} {
		p, _ := h.Lookup(ip, tc.at)
		got := ""
		if p != nil {
			got = p.Name
		}
		if got != tc.want {
			t.Errorf("at +%s: %q, want %q", tc.at.Sub(t0), got, tc.want)
		}
	}
	// A Pod that finished released its address; a host-network Pod's is counted apart.
	done := pod("c", "uid-c", "127.244.0.10", "")
	h.Set(done, t0)
	done.Status.Phase = corev1.PodSucceeded
	h.Set(done, t0.Add(time.Minute))
	if p, _ := h.Lookup(netip.MustParseAddr("127.244.0.10"), t0.Add(2*time.Minute)); p != nil {
		t.Errorf("a succeeded Pod still holds its address")
	}
	hn := pod("node-agent", "uid-hn", "10.255.0.1", "")
	hn.Spec.HostNetwork = true
	h.Set(hn, t0)
	if p, host := h.Lookup(netip.MustParseAddr("10.255.0.1"), t0); p != nil || !host {
		t.Errorf("host network: pod %v host %v", p, host)
	}
	// A late update of the Pod that let the address go does not take it back.
	h.Set(a, t0.Add(150*time.Second))
	if p, _ := h.Lookup(ip, t0.Add(3*time.Minute)); p == nil || p.Name != "b" {
		t.Errorf("a late update of the former holder took the address back: %v", p)
	}
	// Updates of a host-network Pod, then its deletion: the address is no
	// longer a host-network one.
	h.Set(hn, t0.Add(time.Second))
	h.Set(hn, t0.Add(2*time.Second))
	h.Delete(hn, t0.Add(3*time.Second))
	if _, host := h.Lookup(netip.MustParseAddr("10.255.0.1"), t0.Add(4*time.Second)); host {
		t.Errorf("a deleted host-network Pod's address is still counted as host network")
	}
	h.GC(t0.Add(time.Hour))
	if p, _ := h.Lookup(ip, t0.Add(30*time.Second)); p != nil {
		t.Errorf("a tenure closed an hour ago is still kept")
	}
}

func TestMerge(t *testing.T) {
	st := &v1alpha1.ObservedEgressStatus{Hosts: []v1alpha1.ObservedHost{
		{Name: "old.example.com", Count: 3, FirstSeen: metav1.NewTime(t0.Add(-10 * 24 * time.Hour)), LastSeen: metav1.NewTime(t0.Add(-8 * 24 * time.Hour))},
		{Name: "api.stripe.com", Count: 5, FirstSeen: metav1.NewTime(t0.Add(-time.Hour)), LastSeen: metav1.NewTime(t0.Add(-time.Minute))},
	}}
	Merge(st, map[string]*Tally{
		"api.stripe.com":  {Count: 2, First: t0, Last: t0.Add(time.Second)},
		"hooks.slack.com": {Count: 1, First: t0, Last: t0},
	}, 7*24*time.Hour, t0)
	if len(st.Hosts) != 2 || st.Hosts[0].Name != "api.stripe.com" || st.Hosts[0].Count != 7 ||
		!st.Hosts[0].LastSeen.Time.Equal(t0.Add(time.Second)) || !st.Hosts[0].FirstSeen.Time.Equal(t0.Add(-time.Hour)) ||
		st.Hosts[1].Name != "hooks.slack.com" || st.HostCount != 2 {
		t.Fatalf("merged: %+v", st)
	}
	// At the bound, further names are counted, not kept.
	full := map[string]*Tally{}
	for i := range v1alpha1.MaxObservedHosts + 5 {
		full[strings.Repeat("x", 1+i%40)+"."+string(rune('a'+i%26))+".example"+string(rune('a'+i/26%26))+".com"] = &Tally{Count: 2, First: t0, Last: t0}
	}
	st = &v1alpha1.ObservedEgressStatus{}
	Merge(st, full, time.Hour, t0)
	if len(st.Hosts) != v1alpha1.MaxObservedHosts || st.DroppedHosts != 2*int64(len(full)-v1alpha1.MaxObservedHosts) {
		t.Fatalf("bound: %d hosts kept, %d dropped (of %d names)", len(st.Hosts), st.DroppedHosts, len(full))
	}
}

// writer connects to the collector as CoreDNS does: Frame Streams,
// bidirectional, content type protobuf:dnstap.Dnstap.
func writer(t *testing.T, addr net.Addr) (*framestream.Writer, net.Conn) {
	t.Helper()
	conn, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	w, err := framestream.NewWriter(conn, &framestream.WriterOptions{ContentTypes: [][]byte{dnstap.FSContentType}, Bidirectional: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return w, conn
}

// Malformed, foreign and oversized frames on one connection are counted and
// dropped; another connection's resolutions still arrive, and the bad one's
// good frames too.
func TestServeBadInput(t *testing.T) {
	h := NewPodIPs()
	h.Set(pod("a", "uid-a", "127.244.0.7", "checkout-1"), t0.Add(-time.Hour))
	c := NewCollector(h, "cluster.local", NewMetrics())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- c.Serve(ctx, l) }()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		w, conn := writer(t, l.Addr())
		defer func() { _ = conn.Close() }()
		for i := range 1000 {
			var f []byte
			switch i % 3 {
			case 0:
				f = []byte("\x08\x01garbage that is not protobuf \xff\xfe")
			case 1:
				f = tapFrame(t, "127.244.0.7", dnstap.Message_CLIENT_RESPONSE, []byte("not dns at all"), t0)
			default:
				f = make([]byte, maxFrame+1)
			}
			if _, err := w.WriteFrame(f); err != nil {
				t.Error(err)
				return
			}
		}
		if _, err := w.WriteFrame(frame(t, "127.244.0.7", "after.example.com", 0, 1, t0)); err != nil {
			t.Error(err)
		}
		_ = w.Close()
	}()
	go func() {
		defer wg.Done()
		w, conn := writer(t, l.Addr())
		defer func() { _ = conn.Close() }()
		for range 500 {
			if _, err := w.WriteFrame(frame(t, "127.244.0.7", "api.stripe.com", 0, 1, t0)); err != nil {
				t.Error(err)
				return
			}
		}
		if _, err := w.WriteFrame(frame(t, "127.244.0.99", "api.stripe.com", 0, 1, t0)); err != nil {
			t.Error(err)
		}
		_ = w.Close()
	}()
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(c.Metrics.Frames) < 1502 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	m := c.Metrics
	for reason, want := range map[string]float64{DropMalformed: 334, DropNotDNS: 333, DropOversized: 333} {
		if got := testutil.ToFloat64(m.Dropped.WithLabelValues(reason)); got != want {
			t.Errorf("dropped %s: %v, want %v", reason, got, want)
		}
	}
	if got := testutil.ToFloat64(m.Frames); got != 1502 {
		t.Errorf("frames: %v, want 1502", got)
	}
	if got := testutil.ToFloat64(m.Attributed); got != 501 {
		t.Errorf("attributed: %v, want 501", got)
	}
	if got := testutil.ToFloat64(m.Unattributed.WithLabelValues(UnattributedUnknownIP)); got != 1 {
		t.Errorf("unattributed: %v, want 1", got)
	}
	pending := c.Take()
	var stripe, after int64
	for k, v := range pending {
		switch k.Name {
		case "api.stripe.com":
			stripe += v.Count
		case "after.example.com":
			after += v.Count
		}
	}
	if stripe != 500 || after != 1 || len(pending) != 2 {
		t.Errorf("pending: stripe %d, after %d, %d pairs", stripe, after, len(pending))
	}
}

// A Pod resolving ever new names cannot grow the pending pairs past the bound.
func TestPendingBound(t *testing.T) {
	h := NewPodIPs()
	h.Set(pod("a", "uid-a", "127.244.0.7", ""), t0.Add(-time.Hour))
	c := NewCollector(h, "cluster.local", NewMetrics())
	c.MaxPending = 100
	d := &Decoder{ClusterDomain: "cluster.local"}
	for i := range 150 {
		c.Ingest(d, frame(t, "127.244.0.7", "n"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26))+".example.com", 0, 1, t0))
	}
	if got := len(c.Take()); got != 100 {
		t.Errorf("%d pairs pending, want the bound 100", got)
	}
	if got := testutil.ToFloat64(c.Metrics.Dropped.WithLabelValues(DropPendingFull)); got != 50 {
		t.Errorf("dropped pending-full: %v, want 50", got)
	}
}

func TestObjectName(t *testing.T) {
	if got := ObjectName("Deployment", "checkout"); got != "deployment-checkout" {
		t.Errorf("%s", got)
	}
	long := ObjectName("ReplicationController", strings.Repeat("a", 253))
	if len(long) > 253 || long == ObjectName("ReplicationController", strings.Repeat("a", 252)+"b") {
		t.Errorf("long names: %d characters, or not told apart", len(long))
	}
}
