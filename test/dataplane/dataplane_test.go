// Package dataplane_test proves an egress policy the operator writes on a
// real dataplane: sigs.k8s.io/kube-network-policies enforces the
// NetworkPolicy for a "pod" that is a network namespace this test creates,
// connecting to vendors in another one on documentation addresses (RFC 5737).
// The Data Privacy Framework drill then cuts, and restores, the DPF vendor's
// address on the wire.
//
// It needs root and runs in network and mount namespaces of its own:
// `make test-dataplane` builds kube-network-policies
// (hack/kube-network-policies) and runs it under unshare; nothing it does
// touches the host's network.
package dataplane_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/controllers"
	"github.com/dataresidency/operator/internal/egress"
	"github.com/dataresidency/operator/internal/testenv"
)

// The addresses: the pod, its router (this process's namespace), and the
// vendors. All in TEST-NET-1 and TEST-NET-2.
const (
	podAddr    = "192.0.2.10"
	euVendor   = "198.51.100.20" // EEA: always allowed
	dpfVendor  = "198.51.100.30" // US, on the Data Privacy Framework alone
	unclaimed  = "198.51.100.40" // claimed by no Subprocessor: never allowed
	vendorPort = "8080"
	nodeName   = "dataplane-node"
)

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// inNetns runs fn on an OS thread moved into the named network namespace;
// the thread is never unlocked, so it ends with fn and no other goroutine
// ever runs there. Sockets fn opens stay in that namespace.
func inNetns(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + name)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// network makes the pod and vendor namespaces, each linked to this one by a
// veth pair, and routes between them.
func network(t *testing.T) (pod, ext string) {
	t.Helper()
	suffix := fmt.Sprint(os.Getpid())
	pod, ext = "dp-pod-"+suffix, "dp-ext-"+suffix
	run(t, "ip", "link", "set", "lo", "up")
	for _, ns := range []string{pod, ext} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	link := func(ns, hostSide, hostAddr string, addrs ...string) {
		run(t, "ip", "link", "add", hostSide, "type", "veth", "peer", "name", "eth0", "netns", ns)
		run(t, "ip", "addr", "add", hostAddr+"/24", "dev", hostSide)
		run(t, "ip", "link", "set", hostSide, "up")
		for _, a := range addrs {
			run(t, "ip", "-n", ns, "addr", "add", a+"/24", "dev", "eth0")
		}
		run(t, "ip", "-n", ns, "link", "set", "eth0", "up")
		run(t, "ip", "-n", ns, "route", "add", "default", "via", hostAddr)
	}
	link(pod, "dp-pod0", "192.0.2.1", podAddr)
	link(ext, "dp-ext0", "198.51.100.1", euVendor, dpfVendor, unclaimed)
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Each vendor answers with its address.
	for _, a := range []string{euVendor, dpfVendor, unclaimed} {
		var l net.Listener
		if err := inNetns(ext, func() (err error) { l, err = net.Listen("tcp", net.JoinHostPort(a, vendorPort)); return err }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_, _ = fmt.Fprintln(c, a)
				_ = c.Close()
			}
		}()
	}
	return pod, ext
}

// reachable reports whether the pod gets an answer from a vendor.
func reachable(pod, addr string) bool {
	err := inNetns(pod, func() error {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, vendorPort), 700*time.Millisecond)
		if err != nil {
			return err
		}
		defer func() { _ = c.Close() }()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != addr {
			err = fmt.Errorf("answer %q", line)
		}
		return err
	})
	return err == nil
}

// expectWire waits until the pod reaches exactly the vendors in want.
func expectWire(t *testing.T, pod, what string, want map[string]bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	for {
		var seen []string
		ok := true
		for _, a := range []string{euVendor, dpfVendor, unclaimed} {
			got := reachable(pod, a)
			seen = append(seen, fmt.Sprintf("%s:%v", a, got))
			ok = ok && got == want[a]
		}
		if ok {
			t.Logf("%s: %s after %s", what, strings.Join(seen, " "), time.Since(start).Round(time.Millisecond))
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the wire says %s", what, strings.Join(seen, " "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// inClusterCredentials gives kube-network-policies, which reads only the
// in-cluster configuration, a token of the test's API server: a tmpfs over
// /var/run/secrets, in this process's private mount namespace.
func inClusterCredentials(t *testing.T, caData []byte, token string) {
	t.Helper()
	dir := "/var/run/secrets"
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Remove(dir) })
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("mount a tmpfs on %s (run under `unshare --mount`): %v", dir, err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, 0) })
	sa := filepath.Join(dir, "kubernetes.io", "serviceaccount")
	if err := os.MkdirAll(sa, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"ca.crt": caData, "token": []byte(token), "namespace": []byte("kube-system")} {
		if err := os.WriteFile(filepath.Join(sa, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNetworkPolicyOnTheWire(t *testing.T) {
	knp := os.Getenv("DATAPLANE_KNP")
	if knp == "" {
		t.Skip("make test-dataplane runs this test (it needs root, its own namespaces and kube-network-policies)")
	}
	var self unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &self); err != nil {
		t.Fatal(err)
	}
	var initNS unix.Stat_t
	if err := unix.Stat("/proc/1/ns/net", &initNS); err == nil && initNS.Ino == self.Ino {
		t.Fatal("the test runs in the host's network namespace: run it under `unshare --net --mount` (make test-dataplane)")
	}
	pod, _ := network(t)

	// The API server, with a static token for kube-network-policies.
	const token = "dataplane-test-token"
	tokens := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+",kube-network-policies,knp,system:masters\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: testenv.AssetsDir(),
		CRDDirectoryPaths:     []string{filepath.Join(testenv.Root(), "config", "crd", "bases"), testenv.OpenReportsCRDPath()},
		ErrorIfCRDPathMissing: true,
	}
	env.ControlPlane.GetAPIServer().Configure().Set("token-auth-file", tokens).Set("advertise-address", "192.0.2.1") // the router's address: this namespace has no default route
	if os.Getenv("DATAPLANE_DEBUG") != "" {
		env.ControlPlane.GetAPIServer().Err = os.Stderr
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := controllers.NewScheme()
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// The operator's controllers.
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, NewCache: controllers.NewCache,
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	if _, err := controllers.Setup(mctx, mgr, controllers.Options{}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = mgr.Start(mctx) }()

	// kube-network-policies, in this namespace: the pod's router.
	inClusterCredentials(t, cfg.CAData, token)
	host, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "kube-network-policies.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(knp, "--hostname-override="+nodeName, "--nfqueue-id=100", "--metrics-bind-address=127.0.0.1:0", "-v=2")
	cmd.Env = append(os.Environ(), "KUBERNETES_SERVICE_HOST="+host.Hostname(), "KUBERNETES_SERVICE_PORT="+host.Port())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(unix.SIGINT)
		_, _ = cmd.Process.Wait()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("kube-network-policies log:\n%s", tail(string(out), 60))
		}
	})

	// The residency objects: an EEA vendor, a US vendor on the DPF alone.
	create := func(objs ...client.Object) {
		t.Helper()
		for _, o := range objs {
			if err := k8s.Create(ctx, o); err != nil {
				t.Fatalf("create %T %s: %v", o, o.GetName(), err)
			}
		}
	}
	vendor := func(name, country, location, cidr string, bases ...v1alpha1.ObjectName) *v1alpha1.Subprocessor {
		return &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.SubprocessorSpec{
			LegalName: name + " Ltd.", Country: v1alpha1.CountryCode(country), Purpose: "e-mail delivery",
			ProcessingLocations: []v1alpha1.ObjectName{v1alpha1.ObjectName(location)}, TransferBases: bases,
			Egress: &v1alpha1.Egress{CIDRs: []string{cidr}},
		}}
	}
	create(
		&v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: "vendor-de"}, Spec: v1alpha1.ProcessingLocationSpec{Country: "DE"}},
		&v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: "vendor-us"}, Spec: v1alpha1.ProcessingLocationSpec{Country: "US"}},
		&v1alpha1.TransferBasis{ObjectMeta: metav1.ObjectMeta{Name: "us-dpf"}, Spec: v1alpha1.TransferBasisSpec{
			Mechanism: v1alpha1.MechanismDataPrivacyFramework, Countries: []v1alpha1.CountryCode{"US"}}},
		vendor("eu-mailer", "DE", "vendor-de", euVendor+"/32"),
		vendor("us-mailer", "US", "vendor-us", dpfVendor+"/32", "us-dpf"),
		&v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName},
			Spec: v1alpha1.ResidencyPolicySpec{EgressPolicy: &v1alpha1.EgressPolicy{Backend: v1alpha1.EgressBackendNetworkPolicy}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{v1alpha1.LabelEgress: string(v1alpha1.EgressEnforce)}}},
	)
	labels := map[string]string{"app": "checkout"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout", Annotations: map[string]string{
			v1alpha1.AnnotationSubprocessors: "eu-mailer,us-mailer", v1alpha1.AnnotationDataCategories: "user.contact.email"}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/checkout:1"}}}},
		},
	}
	create(dep)
	// Its pod: on this "node", at the pod namespace's address.
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout-1", Labels: labels, OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "Deployment", Name: dep.Name, UID: dep.UID, Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "app", Image: "registry.example/checkout:1"}}},
	}
	create(p)
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: podAddr, PodIPs: []corev1.PodIP{{IP: podAddr}}}
	if err := k8s.Status().Update(ctx, p); err != nil {
		t.Fatal(err)
	}

	both := map[string]bool{euVendor: true, dpfVendor: true}
	expectWire(t, pod, "enforced: the two vendors' addresses reachable, the unclaimed one not", both)
	np := &networkingv1.NetworkPolicy{}
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: "shop", Name: "dataresidency-egress-deployment-checkout"}, np); err != nil {
		t.Fatal(err)
	}
	if np.Labels[egress.LabelManagedBy] != egress.ManagedBy {
		t.Fatalf("the policy on the wire is not the operator's: %v", np.Labels)
	}

	override := func(on bool) {
		t.Helper()
		var spec any
		if on {
			spec = []any{map[string]any{"mechanism": "DataPrivacyFramework", "invalidFrom": "2020-01-01", "reason": "CJEU C-703/25 P (drill)"}}
		}
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"mechanismOverrides": spec}})
		pol := &v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}}
		if err := k8s.Patch(ctx, pol, client.RawPatch(types.MergePatchType, patch)); err != nil {
			t.Fatal(err)
		}
	}
	override(true)
	d := expectWire(t, pod, "DPF invalidated: the DPF vendor cut", map[string]bool{euVendor: true})
	t.Logf("the Data Privacy Framework invalidated: the DPF-only vendor unreachable from the pod %s after the change", d.Round(time.Millisecond))
	override(false)
	d = expectWire(t, pod, "override removed: the DPF vendor back", both)
	t.Logf("override removed: reachable again %s after the change", d.Round(time.Millisecond))

	label := func(obj client.Object, key string, value any) {
		t.Helper()
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{key: value}}})
		if err := k8s.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
			t.Fatal(err)
		}
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
	all := map[string]bool{euVendor: true, dpfVendor: true, unclaimed: true}

	// Audit changes nothing on the wire, until a pod opts in to the trial.
	label(ns, v1alpha1.LabelEgress, string(v1alpha1.EgressAudit))
	expectWire(t, pod, "audit: nothing denied", all)
	label(p, egress.LabelTrial, "true")
	expectWire(t, pod, "audit, the pod on trial: enforced for it", both)
	label(p, egress.LabelTrial, nil)
	expectWire(t, pod, "audit, the trial over", all)

	// Without the label there is no policy, and nothing is denied.
	label(ns, v1alpha1.LabelEgress, string(v1alpha1.EgressEnforce))
	expectWire(t, pod, "enforce again", both)
	label(ns, v1alpha1.LabelEgress, nil)
	expectWire(t, pod, "label removed: nothing denied", all)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
