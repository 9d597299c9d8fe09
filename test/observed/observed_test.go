// Package observed_test drives observed egress end to end: a whole local
// cluster (API server, scheduler, controller manager, kwok nodes whose Pods
// get 127.244.0.0/16 addresses), CoreDNS built from the module proxy
// answering the test names and streaming dnstap to the manager, and real DNS
// queries sent from the Pods' addresses.
package observed_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/report"
	"github.com/dataresidency/operator/internal/testenv"
	"github.com/dataresidency/operator/test/cluster"
	"github.com/dataresidency/operator/test/faults/harness"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.Cleanup()
	os.Exit(code)
}

const ns = "shop"

// The catalog: a US vendor resting on Privacy Shield only, an EEA vendor.
const catalog = `apiVersion: dataresidency.io/v1alpha1
kind: ResidencyPolicy
metadata: {name: default}
spec:
  defaultEnforcement: audit
---
apiVersion: dataresidency.io/v1alpha1
kind: ProcessingLocation
metadata: {name: us-east}
spec: {country: US, provider: AWS, providerRegion: us-east-1}
---
apiVersion: dataresidency.io/v1alpha1
kind: ProcessingLocation
metadata: {name: eu-north}
spec: {country: SE, provider: AWS, providerRegion: eu-north-1}
---
apiVersion: dataresidency.io/v1alpha1
kind: TransferBasis
metadata: {name: tracker-privacy-shield}
spec:
  mechanism: PrivacyShield
  countries: [US]
  reference: "Privacy Shield self-certification, 2019"
---
apiVersion: dataresidency.io/v1alpha1
kind: Subprocessor
metadata: {name: tracker}
spec:
  legalName: "Tracker Analytics, Inc."
  country: US
  purpose: Product analytics
  dataCategories: [user.contact.email, user.device]
  processingLocations: [us-east]
  transferBases: [tracker-privacy-shield]
  egress: {hosts: ["api.tracker.example"]}
---
apiVersion: dataresidency.io/v1alpha1
kind: Subprocessor
metadata: {name: nordmail}
spec:
  legalName: "Nordmail AB"
  country: SE
  purpose: E-mail delivery
  dataCategories: [user.contact.email, user.name]
  processingLocations: [eu-north]
  egress: {hosts: ["*.nordmail.example"]}
`

// The names CoreDNS answers (hosts plugin, no forwarding: anything else is
// NXDOMAIN, as the search-path expansions are in a real cluster).
var hosts = map[string]string{
	"api.tracker.example":                  "192.0.2.10",
	"smtp.nordmail.example":                "192.0.2.11",
	"cdn.unknown.example":                  "192.0.2.12",
	"burst.nordmail.example":               "192.0.2.13",
	"billing.nordmail.example":             "192.0.2.14",
	"kubernetes.default.svc.cluster.local": "10.96.0.1",
}

func TestObservedEgress(t *testing.T) {
	coredns := requireE2E(t)
	// The cluster DNS is CoreDNS: authoritative for the test names (any
	// other is NXDOMAIN, as a cluster's DNS answers the search-path
	// expansions), streaming dnstap to the manager.
	tap := harness.FreePort(t)
	env := harness.StartCluster(t, harness.Options{Full: true, CoreDNS: coredns, DNSTap: "127.0.0.1:" + strconv.Itoa(tap), DNSRecords: hosts})
	dnsAddr := env.Cluster.DNSAddr()
	corednsLog = env.Cluster.LogFile(cluster.CoreDNS)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	env.Create(t, catalog)
	env.CreateNamespace(t, ns, nil)

	metricsPort := harness.FreePort(t)
	logPath := filepath.Join(t.TempDir(), "manager.log")
	args := []string{"--dnstap-bind-address=127.0.0.1:" + strconv.Itoa(tap), "--observed-refresh=2s",
		"--metrics-bind-address=127.0.0.1:" + strconv.Itoa(metricsPort), "--metrics-secure=false"}
	top := t
	var searchIP string
	mgr := harness.StartManager(t, env, harness.ManagerOptions{Args: args, Log: logPath})
	if err := mgr.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("manager log (last lines):\n%s", mgr.Tail(40))
		}
	})
	// CoreDNS started first and redials every 10s until the collector listens.
	harness.Eventually(t, 30*time.Second, "CoreDNS connected", func(context.Context) (bool, error) {
		return strings.Contains(mgr.Log(), "dnstap connection open"), nil
	})

	// A Deployment that declares nothing: what it resolves is all there is.
	createDeployment(ctx, t, env, "checkout")
	checkoutIP := runningPodIP(ctx, t, env, "checkout")
	t.Logf("checkout's Pod has address %s", checkoutIP)

	t.Run("what it resolves reaches its Report within 5s", func(t *testing.T) {
		begin := time.Now()
		for _, name := range []string{"api.tracker.example", "smtp.nordmail.example", "cdn.unknown.example",
			"api.tracker.example.shop.svc.cluster.local", "api.tracker.example.svc.cluster.local", // search-path expansions: NXDOMAIN
			"kubernetes.default.svc.cluster.local"} { // a cluster name: answered, never egress
			query(t, dnsAddr, checkoutIP, name)
		}
		var results map[string]openreports.ReportResult
		took := harness.Eventually(t, 30*time.Second, "observed findings in checkout's Report", func(ctx context.Context) (bool, error) {
			results = reportResults(ctx, t, env, "checkout")
			_, ps := results["BasisNotValid/tracker"]
			_, un := results["UnattributedEgress/cdn.unknown.example"]
			_, ok := results["Compliant/nordmail"]
			return ps && un && ok, nil
		})
		t.Logf("first query to Report: %.2fs (CoreDNS flushes dnstap every 1s; the flusher writes new names every 1s; Reports batch 500ms)", time.Since(begin).Seconds())
		if took > 5*time.Second {
			t.Errorf("observed findings reached the Report after %s, want within 5s", took)
		}
		ps := results["BasisNotValid/tracker"]
		if !strings.Contains(ps.Description, "C-311/18") || !strings.HasPrefix(ps.Properties["source"], "observed: resolved api.tracker.example 1 time, last ") ||
			ps.Properties["endpoint"] != "api.tracker.example" || ps.Result != "fail" {
			t.Errorf("BasisNotValid: %s %v", ps.Description, ps.Properties)
		}
		if un := results["UnattributedEgress/cdn.unknown.example"]; !strings.Contains(un.Description, "observed: resolved cdn.unknown.example") {
			t.Errorf("UnattributedEgress: %s", un.Description)
		}
		if ok := results["Compliant/nordmail"]; !strings.HasPrefix(ok.Properties["source"], "observed: resolved smtp.nordmail.example") {
			t.Errorf("Compliant: %v", ok.Properties)
		}
		for k := range results {
			if strings.Contains(k, "cluster.local") {
				t.Errorf("a cluster name or a search-path expansion was judged: %s", k)
			}
		}
		oe := observedEgress(ctx, t, env, "deployment-checkout")
		if oe.Spec.Workload.Kind != "Deployment" || oe.Spec.Workload.Name != "checkout" || names(oe) != "api.tracker.example,cdn.unknown.example,smtp.nordmail.example" {
			t.Errorf("ObservedEgress: %+v", oe)
		}
		var sub v1alpha1.Subprocessor
		harness.Eventually(t, 10*time.Second, "nordmail counts checkout", func(ctx context.Context) (bool, error) {
			err := env.Client.Get(ctx, client.ObjectKey{Name: "nordmail"}, &sub)
			return err == nil && sub.Status.WorkloadCount == 1, err
		})
	})

	t.Run("a restarted manager has them back", func(t *testing.T) {
		opened := strings.Count(mgr.Log(), "dnstap connection open")
		mgr.Kill()
		// The Report goes while the manager is down: what the new one writes
		// comes from the ObservedEgress objects alone.
		if err := env.Client.DeleteAllOf(ctx, &openreports.Report{}, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		mgr = harness.StartManager(top, env, harness.ManagerOptions{Args: args, Log: logPath}) // lives past this subtest
		if err := mgr.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		harness.Eventually(t, time.Minute, "observed findings back in the Report", func(ctx context.Context) (bool, error) {
			r := reportResults(ctx, t, env, "checkout")
			_, ps := r["BasisNotValid/tracker"]
			_, un := r["UnattributedEgress/cdn.unknown.example"]
			return ps && un, nil
		})
		// CoreDNS notices the closed connection when a write fails, then
		// redials: queries (from the host: attributed to no Pod) make it write.
		harness.Eventually(t, 30*time.Second, "CoreDNS reconnected", func(context.Context) (bool, error) {
			m := new(dns.Msg)
			m.SetQuestion("kubernetes.default.svc.cluster.local.", dns.TypeA)
			_, _ = dns.Exchange(m, dnsAddr)
			return strings.Count(mgr.Log(), "dnstap connection open") > opened, nil
		})
	})

	t.Run("an address given to another workload's Pod", func(t *testing.T) {
		scale(ctx, t, env, "checkout", 0)
		harness.Eventually(t, time.Minute, "checkout's Pod gone", func(ctx context.Context) (bool, error) {
			var pods corev1.PodList
			err := env.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": "checkout"})
			return err == nil && len(pods.Items) == 0, err
		})
		// kwok hands out freed addresses first: billing's Pod gets checkout's.
		createDeployment(ctx, t, env, "billing")
		billingIP := runningPodIP(ctx, t, env, "billing")
		if billingIP != checkoutIP {
			t.Fatalf("billing's Pod has %s, not checkout's former %s: kwok did not reuse the address", billingIP, checkoutIP)
		}
		query(t, dnsAddr, billingIP, "billing.nordmail.example")
		harness.Eventually(t, 30*time.Second, "billing's ObservedEgress", func(ctx context.Context) (bool, error) {
			var oe v1alpha1.ObservedEgress
			err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "deployment-billing"}, &oe)
			return err == nil && names(&oe) == "billing.nordmail.example", client.IgnoreNotFound(err)
		})
		if oe := observedEgress(ctx, t, env, "deployment-checkout"); strings.Contains(names(oe), "billing") {
			t.Errorf("checkout was given billing's query: %s", names(oe))
		}
	})

	t.Run("malformed frames and a 100,000-query burst", func(t *testing.T) {
		before := scrape(t, metricsPort)
		// A forged client on the dnstap port sends 1,000 frames that are not dnstap.
		go forge(t, tap, 1000)
		const burst = 100_000
		var answered atomic.Int64
		var wg sync.WaitGroup
		begin := time.Now()
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := &dns.Client{Net: "udp", Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(billingOrFirst(ctx, t, env))}}}
				conn, err := c.Dial(dnsAddr)
				if err != nil {
					t.Error(err)
					return
				}
				defer func() { _ = conn.Close() }()
				m := new(dns.Msg)
				m.SetQuestion("burst.nordmail.example.", dns.TypeA)
				for i := g; i < burst; i += 8 {
					m.Id = dns.Id()
					if r, _, err := c.ExchangeWithConn(m, conn); err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
						answered.Add(1)
					}
				}
			}()
		}
		// Meanwhile another workload's first query still arrives.
		createDeployment(ctx, t, env, "search")
		searchIP = runningPodIP(ctx, t, env, "search")
		query(t, dnsAddr, searchIP, "smtp.nordmail.example")
		harness.Eventually(t, 30*time.Second, "search's ObservedEgress during the burst", func(ctx context.Context) (bool, error) {
			var oe v1alpha1.ObservedEgress
			err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "deployment-search"}, &oe)
			return err == nil && names(&oe) == "smtp.nordmail.example", client.IgnoreNotFound(err)
		})
		wg.Wait()
		t.Logf("burst: %d of %d queries answered in %.1fs", answered.Load(), burst, time.Since(begin).Seconds())
		if mgr.Exited() || len(mgr.Panics()) > 0 {
			t.Fatalf("the manager crashed: %v\n%s", mgr.Panics(), mgr.Tail(30))
		}
		// CoreDNS drops frames only when its queue is full, and logs it.
		var droppedByCoreDNS int64
		state := ""
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
			droppedByCoreDNS = corednsDropped(t)
			var oe v1alpha1.ObservedEgress
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "deployment-billing"}, &oe); err != nil {
				t.Fatal(err)
			}
			var count int64 = -1
			for _, h := range oe.Status.Hosts {
				if h.Name == "burst.nordmail.example" {
					count = h.Count
				}
			}
			// Every answer was counted but those whose frame CoreDNS dropped
			// (its log says how many messages, queries and responses alike).
			if count >= answered.Load()-droppedByCoreDNS && count <= answered.Load() {
				t.Logf("burst.nordmail.example counted %d times: %d answers, CoreDNS dropped %d messages", count, answered.Load(), droppedByCoreDNS)
				break
			}
			m := scrape(t, metricsPort)
			state = fmt.Sprintf("burst.nordmail.example counted %d times in billing's ObservedEgress (hosts %s), want %d answered less at most %d CoreDNS dropped; manager: received %v, attributed %v, unattributed %v, pending-full %v",
				count, names(&oe), answered.Load(), droppedByCoreDNS, m["dataresidency_dnstap_frames_received_total"], m["dataresidency_dnstap_resolutions_attributed_total"],
				m[`dataresidency_dnstap_resolutions_unattributed_total{reason="unknown-ip"}`], m[`dataresidency_dnstap_frames_dropped_total{reason="pending-full"}`])
			if time.Now().After(deadline) {
				t.Fatalf("the burst was not counted within 1m: %s", state)
			}
		}
		after := scrape(t, metricsPort)
		delta := func(k string) float64 { return after[k] - before[k] }
		if got := delta(`dataresidency_dnstap_frames_dropped_total{reason="malformed"}`); got != 1000 {
			t.Errorf("malformed frames counted: %v, want 1000", got)
		}
		if got := delta("dataresidency_dnstap_resolutions_attributed_total"); got < float64(answered.Load()-droppedByCoreDNS) {
			t.Errorf("attributed: %v, want at least %d", got, answered.Load()-droppedByCoreDNS)
		}
		t.Logf("CoreDNS dropped %d frames; the manager received %v frames, attributed %v", droppedByCoreDNS,
			delta("dataresidency_dnstap_frames_received_total"), delta("dataresidency_dnstap_resolutions_attributed_total"))
	})

	t.Run("after retention the Report returns to the static verdict", func(t *testing.T) {
		var p v1alpha1.ResidencyPolicy
		if err := env.Client.Get(ctx, client.ObjectKey{Name: v1alpha1.PolicyName}, &p); err != nil {
			t.Fatal(err)
		}
		p.Spec.ObservedEgress = &v1alpha1.ObservedEgressPolicy{Retention: &metav1.Duration{Duration: time.Minute}}
		if err := env.Client.Update(ctx, &p); err != nil {
			t.Fatal(err)
		}
		// search resolves one name once more; a minute later it expires, by a
		// requeue at that instant, and the flow goes with it.
		queried := time.Now().Add(-time.Second).Truncate(time.Second)
		query(t, dnsAddr, searchIP, "smtp.nordmail.example")
		var last time.Time
		harness.Eventually(t, 15*time.Second, "search's new resolution recorded", func(ctx context.Context) (bool, error) {
			var oe v1alpha1.ObservedEgress
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "deployment-search"}, &oe); err != nil {
				return false, err
			}
			if len(oe.Status.Hosts) == 1 && !oe.Status.Hosts[0].LastSeen.Time.Before(queried) {
				last = oe.Status.Hosts[0].LastSeen.Time
				return true, nil
			}
			return false, nil
		})
		harness.Eventually(t, 10*time.Second, "search's observed flow in its Report", func(ctx context.Context) (bool, error) {
			_, observed := reportResults(ctx, t, env, "search")["Compliant/nordmail"]
			return observed, nil
		})
		harness.Eventually(t, 2*time.Minute, "search's observed flow expired", func(ctx context.Context) (bool, error) {
			r := reportResults(ctx, t, env, "search")
			_, observed := r["Compliant/nordmail"]
			_, static := r["Compliant/"]
			return !observed && static, nil
		})
		expired := time.Now()
		t.Logf("expired %.1fs after it was last resolved (retention 1m)", expired.Sub(last).Seconds())
		if expired.Before(last.Add(time.Minute)) {
			t.Errorf("the name expired %s after it was last resolved, before the retention of 1m", expired.Sub(last))
		}
		oe := observedEgress(ctx, t, env, "deployment-search")
		if len(oe.Status.Hosts) != 0 {
			t.Errorf("expired names still kept: %s", names(oe))
		}
	})
}

// requireE2E skips unless the whole cluster's binaries and CoreDNS are
// built (make test-e2e builds them and sets E2E_REQUIRED, which turns a
// missing one into a failure); it returns CoreDNS's path.
func requireE2E(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a whole local cluster; skipped with -short")
	}
	coredns := filepath.Join(testenv.Root(), "bin", "coredns")
	missing := cluster.MissingBinaries("", cluster.Options{})
	if _, err := os.Stat(coredns); err != nil {
		missing = append(missing, "bin/coredns")
	}
	if len(missing) > 0 {
		if os.Getenv("E2E_REQUIRED") != "" {
			t.Fatalf("E2E_REQUIRED is set but binaries are missing: %v (make test-e2e builds them)", missing)
		}
		t.Skipf("binaries missing: %s; `make test-e2e` builds them (this test builds nothing)", strings.Join(missing, ", "))
	}
	return coredns
}

func createDeployment(ctx context.Context, t *testing.T, env *harness.Env, name string) {
	t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/shop/" + name + ":1.0"}}},
			},
		},
	}
	if err := env.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
}

func scale(ctx context.Context, t *testing.T, env *harness.Env, name string, n int32) {
	t.Helper()
	var d appsv1.Deployment
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
		t.Fatal(err)
	}
	d.Spec.Replicas = ptr.To(n)
	if err := env.Client.Update(ctx, &d); err != nil {
		t.Fatal(err)
	}
}

func runningPodIP(ctx context.Context, t *testing.T, env *harness.Env, app string) string {
	t.Helper()
	var ip string
	harness.Eventually(t, time.Minute, app+"'s Pod Running with an address", func(ctx context.Context) (bool, error) {
		var pods corev1.PodList
		if err := env.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": app}); err != nil {
			return false, err
		}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" && p.DeletionTimestamp == nil {
				ip = p.Status.PodIP
				return true, nil
			}
		}
		return false, nil
	})
	if !strings.HasPrefix(ip, "127.") {
		t.Fatalf("%s's Pod has address %s, not a loopback one: the test cannot send from it", app, ip)
	}
	// The manager sees the address through its informer; give it the moment.
	time.Sleep(500 * time.Millisecond)
	return ip
}

// billingOrFirst is the address of billing's Pod.
func billingOrFirst(ctx context.Context, t *testing.T, env *harness.Env) string {
	var pods corev1.PodList
	if err := env.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": "billing"}); err != nil || len(pods.Items) == 0 {
		t.Errorf("billing's Pod: %v", err)
		return "127.0.0.1"
	}
	return pods.Items[0].Status.PodIP
}

// query resolves name from the Pod's address, as the Pod's resolver would.
func query(t *testing.T, server, from, name string) {
	t.Helper()
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(from)}}}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	r, _, err := c.Exchange(m, server)
	if err != nil {
		t.Fatalf("query %s from %s: %v", name, from, err)
	}
	want := dns.RcodeSuccess
	if _, ok := hosts[name]; !ok {
		want = dns.RcodeNameError
	}
	if r.Rcode != want {
		t.Fatalf("query %s: rcode %s, want %s", name, dns.RcodeToString[r.Rcode], dns.RcodeToString[want])
	}
}

var corednsLog string

var droppedRE = regexp.MustCompile(`Dropped dnstap messages: (\d+)`)

func corednsDropped(t *testing.T) int64 {
	b, _ := os.ReadFile(corednsLog)
	var n int64
	for _, m := range droppedRE.FindAllSubmatch(b, -1) {
		v, _ := strconv.ParseInt(string(m[1]), 10, 64)
		n += v
	}
	return n
}

// forge sends n frames that are not dnstap messages on a Frame Streams
// connection of its own.
func forge(t *testing.T, port, n int) {
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Error(err)
		return
	}
	defer func() { _ = conn.Close() }()
	w, err := newFrameWriter(conn)
	if err != nil {
		t.Error(err)
		return
	}
	for i := range n {
		if _, err := w.WriteFrame([]byte(fmt.Sprintf("\x0a\xff forged frame %d", i))); err != nil {
			t.Error(err)
			return
		}
	}
	_ = w.Close()
}

// reportResults are the results of the workload's Report, keyed by
// "rule/subprocessor" or "rule/endpoint" (unattributed).
func reportResults(ctx context.Context, t *testing.T, env *harness.Env, workload string) map[string]openreports.ReportResult {
	out := map[string]openreports.ReportResult{}
	var r openreports.Report
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: report.Name}, &r); err != nil {
		return out
	}
	for _, res := range r.Results {
		if len(res.Subjects) == 0 || res.Subjects[0].Name != workload {
			continue
		}
		key := res.Rule + "/" + res.Properties["subprocessor"]
		if res.Rule == "UnattributedEgress" {
			key = res.Rule + "/" + res.Properties["endpoint"]
		}
		out[key] = res
	}
	return out
}

func observedEgress(ctx context.Context, t *testing.T, env *harness.Env, name string) *v1alpha1.ObservedEgress {
	t.Helper()
	var oe v1alpha1.ObservedEgress
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &oe); err != nil {
		t.Fatalf("ObservedEgress %s: %v", name, err)
	}
	return &oe
}

func names(oe *v1alpha1.ObservedEgress) string {
	var out []string
	for _, h := range oe.Status.Hosts {
		out = append(out, h.Name)
	}
	return strings.Join(out, ",")
}

// scrape reads the manager's metrics (served without TLS in this test).
func scrape(t *testing.T, port int) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return parseMetrics(t, resp.Body)
}

func parseMetrics(t *testing.T, r io.Reader) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, "dataresidency_dnstap") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
