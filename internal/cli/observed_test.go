package cli

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	framestream "github.com/farsightsec/golang-framestream"
	"github.com/miekg/dns"
	"google.golang.org/protobuf/proto"
	"k8s.io/utils/ptr"
)

const observedCatalog = `apiVersion: dataresidency.io/v1alpha1
kind: ProcessingLocation
metadata: {name: us-east}
spec: {country: US}
---
apiVersion: dataresidency.io/v1alpha1
kind: TransferBasis
metadata: {name: tracker-ps}
spec: {mechanism: PrivacyShield, countries: [US], reference: "self-certification"}
---
apiVersion: dataresidency.io/v1alpha1
kind: Subprocessor
metadata: {name: tracker}
spec:
  legalName: Tracker Inc.
  country: US
  purpose: analytics
  dataCategories: [user.contact.email]
  processingLocations: [us-east]
  transferBases: [tracker-ps]
  egress: {hosts: [api.tracker.example]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: checkout, namespace: shop}
spec:
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec: {containers: [{name: app, image: shop/checkout:1}]}
`

// The Pod of checkout, as kubectl get pods -o yaml exports it: its ReplicaSet
// is not in the input; its name and pod-template-hash lead to checkout.
const observedPod = `apiVersion: v1
kind: Pod
metadata:
  name: checkout-5d8c7b9f4-x2x9q
  namespace: shop
  labels: {app: checkout, pod-template-hash: 5d8c7b9f4}
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: checkout-5d8c7b9f4, uid: 1b4e28ba-2fa1-11d2-883f-0016d3cca427, controller: true}
spec: {containers: [{name: app, image: shop/checkout:1}]}
status: {phase: Running, podIP: 127.244.0.7, podIPs: [{ip: 127.244.0.7}]}
`

func scanObservedJSON(t *testing.T, args ...string) (map[string]string, run) {
	t.Helper()
	r := runMain(append([]string{"scan", "-o", "json", "--at", "2026-12-06"}, args...), nil)
	var out struct {
		Results []ScanResult `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("exit %d: %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	bySource := map[string]string{}
	for _, res := range out.Results {
		if res.Resource.Name == "checkout" {
			bySource[res.Reason+"/"+res.Endpoint] = res.Source
		}
	}
	return bySource, r
}

// What staging resolved, given to scan: an export of ObservedEgress objects,
// or a dnstap capture attributed through the input's Pods.
func TestScanObserved(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	manifests := write("manifests.yaml", observedCatalog)

	// Without observations: nothing to judge.
	got, r := scanObservedJSON(t, "-f", manifests)
	if r.code != 0 || len(got) != 1 {
		t.Fatalf("static scan: exit %d, %v", r.code, got)
	}

	export := write("observed.yaml", `apiVersion: v1
kind: List
items:
- apiVersion: dataresidency.io/v1alpha1
  kind: ObservedEgress
  metadata: {name: deployment-checkout, namespace: shop}
  spec: {workload: {apiVersion: apps/v1, kind: Deployment, name: checkout}}
  status:
    hosts:
    - {name: api.tracker.example, count: 214, firstSeen: "2026-12-01T08:00:00Z", lastSeen: "2026-12-05T10:02:00Z"}
    - {name: old.example.com, count: 3, firstSeen: "2026-11-01T08:00:00Z", lastSeen: "2026-11-20T10:00:00Z"}
- apiVersion: dataresidency.io/v1alpha1
  kind: ObservedEgress
  metadata: {name: deployment-gone, namespace: shop}
  spec: {workload: {apiVersion: apps/v1, kind: Deployment, name: gone}}
  status:
    hosts:
    - {name: api.tracker.example, count: 1, firstSeen: "2026-12-05T08:00:00Z", lastSeen: "2026-12-05T08:00:00Z"}
`)
	got, r = scanObservedJSON(t, "-f", manifests, "--observed", export)
	if r.code != 1 || got["BasisNotValid/api.tracker.example"] != "observed: resolved api.tracker.example 214 times, last 2026-12-05T10:02Z" {
		t.Errorf("export: exit %d, %v\n%s", r.code, got, r.stderr)
	}
	if _, expired := got["UnattributedEgress/old.example.com"]; expired {
		t.Errorf("a name last resolved 16 days before --at still counts (retention 7 days)")
	}
	if !strings.Contains(r.stderr, "what Deployment shop/gone resolved is not judged: the input holds no such workload") {
		t.Errorf("no notice for the workload missing from the input:\n%s", r.stderr)
	}

	// A capture: one answered query from checkout's Pod, one from an
	// address no Pod holds, one NXDOMAIN search-path expansion.
	capture := filepath.Join(dir, "staging.dnstap")
	f, err := os.Create(capture)
	if err != nil {
		t.Fatal(err)
	}
	w, err := framestream.NewWriter(f, &framestream.WriterOptions{ContentTypes: [][]byte{dnstap.FSContentType}})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 5, 9, 30, 0, 0, time.UTC)
	for _, q := range []struct {
		client, name string
		rcode        int
	}{
		{"127.244.0.7", "api.tracker.example", dns.RcodeSuccess},
		{"127.244.0.7", "api.tracker.example.shop.svc.cluster.local", dns.RcodeNameError},
		{"127.244.0.99", "api.tracker.example", dns.RcodeSuccess},
	} {
		if _, err := w.WriteFrame(responseFrame(t, q.client, q.name, q.rcode, at)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	got, r = scanObservedJSON(t, "-f", manifests, "-f", write("pods.yaml", observedPod), "--observed", capture)
	if got["BasisNotValid/api.tracker.example"] != "observed: resolved api.tracker.example 1 time, last 2026-12-05T09:30Z" {
		t.Errorf("capture: exit %d, %v\n%s", r.code, got, r.stderr)
	}
	if !strings.Contains(r.stderr, "1 answered queries came from addresses no Pod of the input holds") {
		t.Errorf("no notice for the unattributed query:\n%s", r.stderr)
	}
}

func responseFrame(t *testing.T, client, name string, rcode int, at time.Time) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	r := new(dns.Msg)
	r.SetRcode(m, rcode)
	if rcode == dns.RcodeSuccess {
		rr, _ := dns.NewRR(dns.Fqdn(name) + " 30 IN A 192.0.2.10")
		r.Answer = append(r.Answer, rr)
	}
	wire, err := r.Pack()
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(&dnstap.Dnstap{Type: dnstap.Dnstap_MESSAGE.Enum(), Message: &dnstap.Message{
		Type: dnstap.Message_CLIENT_RESPONSE.Enum(), QueryAddress: netip.MustParseAddr(client).AsSlice(),
		ResponseTimeSec: ptr.To(uint64(at.Unix())), ResponseTimeNsec: ptr.To(uint32(0)), ResponseMessage: wire,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
