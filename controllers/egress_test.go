package controllers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/cli"
	"github.com/dataresidency/operator/internal/egress"
	"github.com/dataresidency/operator/internal/residency"
	"github.com/dataresidency/operator/internal/testenv"
)

// installEgressCRDs installs Cilium's and network-policy-api's policy CRDs,
// from their modules at the pinned versions.
func installEgressCRDs(t *testing.T) {
	t.Helper()
	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: testenv.EgressPolicyCRDs(t)}); err != nil {
		t.Fatal(err)
	}
}

// claims are the egress claims of the Subprocessors of a fixture, as written there.
type claims map[string]struct{ hosts, cidrs []string }

func claimsOf(t *testing.T, objs []*unstructured.Unstructured) claims {
	t.Helper()
	out := claims{}
	for _, o := range objs {
		if o.GetKind() != "Subprocessor" {
			continue
		}
		hosts, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "egress", "hosts")
		cidrs, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "egress", "cidrs")
		out[o.GetName()] = struct{ hosts, cidrs []string }{hosts, cidrs}
	}
	return out
}

// wantAllowed is what a workload's policy must allow: the claims of every
// Subprocessor none of whose findings is a Violation no exception accepts,
// and alwaysAllow.
func wantAllowed(res residency.Result, cl claims, alwaysHosts, alwaysCIDRs []string) (hosts, cidrs []string) {
	hosts, cidrs = slices.Clone(alwaysHosts), slices.Clone(alwaysCIDRs)
	for _, sub := range res.Subprocessors {
		blocked := false
		for _, f := range res.Findings {
			if f.Subprocessor == sub && f.Verdict == residency.Violation && f.Exception == nil {
				blocked = true
			}
		}
		if !blocked {
			hosts = append(hosts, cl[sub].hosts...)
			cidrs = append(cidrs, cl[sub].cidrs...)
		}
	}
	return normalized(hosts, cidrs)
}

// normalized sorts and deduplicates, writing addresses as masked prefixes.
func normalized(hosts, cidrs []string) ([]string, []string) {
	var ps []string
	for _, c := range cidrs {
		if a, err := netip.ParseAddr(c); err == nil {
			c = netip.PrefixFrom(a, a.BitLen()).String()
		} else if p, err := netip.ParsePrefix(c); err == nil {
			c = p.Masked().String()
		}
		ps = append(ps, c)
	}
	sort.Strings(hosts)
	sort.Strings(ps)
	return slices.Compact(hosts), slices.Compact(ps)
}

// allowedBy reads back what a written policy allows beyond the cluster:
// host names and address ranges.
func allowedBy(u *unstructured.Unstructured) (hosts, cidrs []string) {
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "egress")
	for _, r := range rules {
		rule, _ := r.(map[string]any)
		switch u.GetKind() {
		case "CiliumNetworkPolicy":
			fqdns, _, _ := unstructured.NestedSlice(rule, "toFQDNs")
			for _, f := range fqdns {
				sel, _ := f.(map[string]any)
				if n, ok := sel["matchName"].(string); ok {
					hosts = append(hosts, n)
				}
				if p, ok := sel["matchPattern"].(string); ok {
					hosts = append(hosts, "*."+strings.TrimPrefix(p, "**."))
				}
			}
			set, _, _ := unstructured.NestedSlice(rule, "toCIDRSet")
			for _, c := range set {
				cidrs = append(cidrs, c.(map[string]any)["cidr"].(string))
			}
		case "ClusterNetworkPolicy":
			if rule["action"] != "Accept" {
				continue
			}
			peers, _, _ := unstructured.NestedSlice(rule, "to")
			for _, p := range peers {
				peer, _ := p.(map[string]any)
				names, _, _ := unstructured.NestedStringSlice(peer, "domainNames")
				nets, _, _ := unstructured.NestedStringSlice(peer, "networks")
				hosts, cidrs = append(hosts, names...), append(cidrs, nets...)
			}
		case "NetworkPolicy":
			peers, _, _ := unstructured.NestedSlice(rule, "to")
			for _, p := range peers {
				if c, ok, _ := unstructured.NestedString(p.(map[string]any), "ipBlock", "cidr"); ok {
					cidrs = append(cidrs, c)
				}
			}
		}
	}
	return normalized(hosts, cidrs)
}

// policiesOf lists the operator's policies of a kind, keyed by the workload
// each is for.
func policiesOf(t *testing.T, gvk schema.GroupVersionKind) map[string]*unstructured.Unstructured {
	t.Helper()
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := k8s.List(context.Background(), list, client.MatchingLabels{egress.LabelManagedBy: egress.ManagedBy}); err != nil {
		t.Fatal(err)
	}
	out := map[string]*unstructured.Unstructured{}
	for i := range list.Items {
		out[list.Items[i].GetAnnotations()[egress.AnnotationWorkload]] = &list.Items[i]
	}
	return out
}

// setEgressPolicy merges spec.egressPolicy into the default ResidencyPolicy.
func setEgressPolicy(t *testing.T, ep *v1alpha1.EgressPolicy) {
	t.Helper()
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"egressPolicy": ep}})
	pol := &v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}}
	if err := k8s.Patch(context.Background(), pol, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
}

// labelNamespace sets (or, with "", removes) a namespace's dataresidency.io/egress label.
func labelNamespace(t *testing.T, ns, mode string) {
	t.Helper()
	var v any = mode
	if mode == "" {
		v = nil
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{v1alpha1.LabelEgress: v}}})
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"})
	obj.SetName(ns)
	if err := k8s.Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
}

// TestEgressPoliciesOfTheSeeds puts each seed agreement and its workloads in
// the cluster, labels their namespaces for enforcement, and checks through
// the API server, for each backend in turn, that every evaluated workload's
// policy allows exactly its compliant flows' claims (and alwaysAllow), is
// owned by it, and that the previous backend's policies are gone; then that
// removing the labels removes every policy.
func TestEgressPoliciesOfTheSeeds(t *testing.T) {
	installEgressCRDs(t)
	dirs, err := filepath.Glob(filepath.Join(testenv.Root(), "test", "fixtures", "seeds", "*"))
	if err != nil || len(dirs) < 5 {
		t.Fatalf("seed fixtures: %v %v", dirs, err)
	}
	seedsCut = map[string]int{}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) { seedEgress(t, dir) })
	}
	if seedsCut["000-mailmojo-schrems2"] == 0 {
		t.Errorf("no policy of the Schrems II seed leaves a flow out: %v", seedsCut)
	}
}

// seedsCut counts, per seed, the policies that leave a flow out.
var seedsCut map[string]int

func seedEgress(t *testing.T, dir string) {
	want := atSeedDate(t, dir)

	var objs []*unstructured.Unstructured
	for _, f := range []string{"catalog.yaml", "workloads.yaml"} {
		o, err := testenv.ReadObjects(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o...)
	}
	namespaces := map[string]bool{}
	for _, o := range objs {
		if err := k8s.Create(context.Background(), o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		if o.GetKind() == "Namespace" {
			// Namespaces stay (envtest has no namespace controller to end
			// them), without the label: other tests use the seeds too.
			namespaces[o.GetName()] = true
			continue
		}
		if o.GetNamespace() != "" {
			namespaces[o.GetNamespace()] = true
		}
		o := o
		// Background: a Job's default (orphan) waits for a garbage collector envtest lacks.
		t.Cleanup(func() {
			_ = k8s.Delete(context.Background(), o, client.PropagationPolicy(metav1.DeletePropagationBackground))
		})
	}
	cl := claimsOf(t, objs)
	for ns := range namespaces {
		labelNamespace(t, ns, string(v1alpha1.EgressEnforce))
		ns := ns
		t.Cleanup(func() { labelNamespace(t, ns, "") })
	}
	alwaysHosts, alwaysCIDRs := []string{"registry.example.com"}, []string{"198.51.100.7"}
	c, _ := startManager(t)

	for _, backend := range []v1alpha1.EgressBackend{v1alpha1.EgressBackendCilium, v1alpha1.EgressBackendClusterNetworkPolicy, v1alpha1.EgressBackendNetworkPolicy} {
		setEgressPolicy(t, &v1alpha1.EgressPolicy{Backend: backend, AlwaysAllow: &v1alpha1.Egress{Hosts: alwaysHosts, CIDRs: alwaysCIDRs}})
		gvk := egress.GVKOf(backend)
		checked, cutSeen := 0, 0
		waitUntil(t, 30*time.Second, string(backend)+" policies of "+filepath.Base(dir), func() (bool, string) {
			checked, cutSeen = 0, 0
			current := policiesOf(t, gvk)
			for _, other := range egress.GVKs {
				if other == gvk {
					continue
				}
				for w := range policiesOf(t, other) {
					if namespaces[strings.Split(w, "/")[1]] {
						return false, fmt.Sprintf("%s for %s still there", other.Kind, w)
					}
				}
			}
			for ns := range namespaces {
				entries := c.Store.Namespace(ns)
				if ns == "kube-system" && len(entries) > 0 {
					return false, "kube-system evaluated"
				}
				for _, e := range entries {
					key := e.Key.Kind + "/" + ns + "/" + e.Key.Name
					p := current[key]
					if e.Egress == nil || e.Egress.Settings.Backend != backend {
						return false, key + ": not evaluated under " + string(backend)
					}
					if e.Egress.PodSelector == nil {
						if p != nil {
							return false, key + ": a policy for a workload whose pods cannot be selected"
						}
						continue
					}
					if p == nil {
						return false, key + ": no " + gvk.Kind
					}
					wantHosts, wantCIDRs := wantAllowed(e.Result, cl, alwaysHosts, alwaysCIDRs)
					if backend == v1alpha1.EgressBackendNetworkPolicy {
						wantHosts = nil // noted in the Report instead
					}
					gotHosts, gotCIDRs := allowedBy(p)
					if !slices.Equal(gotHosts, wantHosts) || !slices.Equal(gotCIDRs, wantCIDRs) {
						return false, fmt.Sprintf("%s: %s allows %v %v, want %v %v", key, gvk.Kind, gotHosts, gotCIDRs, wantHosts, wantCIDRs)
					}
					if gvk != egress.ClusterNetworkPolicyGVK {
						refs := p.GetOwnerReferences()
						if len(refs) != 1 || refs[0].UID != e.UID || refs[0].Kind != e.Key.Kind {
							return false, fmt.Sprintf("%s: owner references %v", key, refs)
						}
					}
					if mode := p.GetLabels()[egress.LabelMode]; mode != string(v1alpha1.EgressEnforce) {
						return false, key + ": mode label " + mode
					}
					checked++
					if len(e.Egress.Cut) > 0 {
						cutSeen++
					}
				}
			}
			for w := range current {
				if strings.Split(w, "/")[1] == "kube-system" {
					return false, "a policy in kube-system: " + w
				}
			}
			return checked > 0, fmt.Sprintf("%d checked", checked)
		})
		t.Logf("%s: %d workload policies allow exactly their compliant flows' claims (%d leave a flow out)", backend, checked, cutSeen)
		seedsCut[filepath.Base(dir)] = cutSeen
	}

	// Under NetworkPolicy, host claims are stated in the Report.
	noted := 0
	for ns := range namespaces {
		for _, e := range c.Store.Namespace(ns) {
			if e.Egress == nil || e.Egress.PodSelector == nil {
				continue
			}
			if hosts, _ := wantAllowed(e.Result, cl, alwaysHosts, nil); len(hosts) == 0 {
				continue
			}
			waitReport(t, ns, func(views map[string]*workloadView) (bool, string) {
				v := views[e.Key.Kind+"/"+e.Key.Name]
				return v != nil && slices.Contains(v.reasons, egress.ReasonNotExpressible), describe(views)
			})
			noted++
		}
	}
	if noted == 0 {
		t.Fatal("no workload with host claims to note")
	}

	// residencyctl egress writes, offline, what the operator applied.
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"egressPolicy": map[string]any{"backend": "Cilium", "alwaysAllow": nil}}})
	if err := k8s.Patch(context.Background(), &v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}}, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	args := []string{"residencyctl", "egress", "-f", dir, "--at", want.At, "--backend", "Cilium", "--mode", "enforce"}
	if code := cli.Main(args, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("%v: exit %d\n%s", args, code, stderr.String())
	}
	offline := map[string]any{}
	docs := strings.Split(stdout.String(), "---\n")
	for _, d := range docs[1:] {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(d), &u.Object); err != nil {
			t.Fatal(err)
		}
		offline[u.GetAnnotations()[egress.AnnotationWorkload]] = specToCompare(&u)
	}
	waitUntil(t, 30*time.Second, "the operator's policies equal residencyctl egress's", func() (bool, string) {
		inCluster := map[string]any{}
		for w, p := range policiesOf(t, egress.CiliumNetworkPolicyGVK) {
			if namespaces[strings.Split(w, "/")[1]] {
				inCluster[w] = specToCompare(p)
			}
		}
		a, _ := json.Marshal(inCluster)
		b, _ := json.Marshal(offline)
		if bytes.Equal(a, b) {
			return true, ""
		}
		var diff []string
		for w, spec := range inCluster {
			x, _ := json.Marshal(spec)
			y, _ := json.Marshal(offline[w])
			if !bytes.Equal(x, y) {
				diff = append(diff, fmt.Sprintf("%s:\n in cluster %s\n offline    %s", w, x, y))
			}
		}
		return false, fmt.Sprintf("%d in cluster, %d offline; %s", len(inCluster), len(offline), strings.Join(diff, "\n"))
	})
	t.Logf("residencyctl egress wrote the same %d policies", len(offline))

	for ns := range namespaces {
		labelNamespace(t, ns, "")
	}
	waitUntil(t, 30*time.Second, "policies removed with the labels", func() (bool, string) {
		for _, gvk := range egress.GVKs {
			for w := range policiesOf(t, gvk) {
				if namespaces[strings.Split(w, "/")[1]] {
					return false, gvk.Kind + " for " + w
				}
			}
		}
		return true, ""
	})
}

// specToCompare is a policy's spec; a Job's endpointSelector is left out:
// the API server gives a Job a selector of its own UID, which the offline
// manifest cannot have (its pod template's labels select its pods there).
func specToCompare(u *unstructured.Unstructured) any {
	spec, _ := u.Object["spec"].(map[string]any)
	if strings.HasPrefix(u.GetAnnotations()[egress.AnnotationWorkload], "Job/") {
		spec = maps.Clone(spec)
		delete(spec, "endpointSelector")
	}
	return spec
}

// ciliumPolicy makes the default ResidencyPolicy choose the Cilium backend
// for the test: created (and deleted after), or patched (and restored after).
func ciliumPolicy(t *testing.T) *v1alpha1.ResidencyPolicy {
	t.Helper()
	pol := &v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName},
		Spec: v1alpha1.ResidencyPolicySpec{EgressPolicy: &v1alpha1.EgressPolicy{Backend: v1alpha1.EgressBackendCilium}}}
	err := k8s.Create(context.Background(), pol)
	switch {
	case err == nil:
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), pol) })
	case apierrors.IsAlreadyExists(err):
		setEgressPolicy(t, pol.Spec.EgressPolicy)
		t.Cleanup(func() {
			patch := []byte(`{"spec":{"egressPolicy":null,"mechanismOverrides":null}}`)
			_ = k8s.Patch(context.Background(), pol, client.RawPatch(types.MergePatchType, patch))
		})
	default:
		t.Fatal(err)
	}
	return pol
}

// drillPolicy is the Cilium policy of the drill workload.
func drillPolicy(t *testing.T) *unstructured.Unstructured {
	return policiesOf(t, egress.CiliumNetworkPolicyGVK)["Deployment/egress-drill/checkout"]
}

// TestEgressDPFDrill invalidates the Data Privacy Framework: the hosts of
// the vendor that rests on it alone leave the workload's policy, those of
// the vendor with SCCs too and of the EEA vendor stay; removing the
// override brings them back. An objection and a new subprocessor still in
// its objection period act the same way. Times are logged, not asserted
// (bench/ holds the figures).
func TestEgressDPFDrill(t *testing.T) {
	installEgressCRDs(t)
	ctx := context.Background()
	usLoc, euLoc := location("drill-us", "US"), location("drill-de", "DE")
	dpf, scc := basis("drill-dpf", v1alpha1.MechanismDataPrivacyFramework, "US"), basis("drill-scc", v1alpha1.MechanismStandardContractualClauses, "US")
	scc.Spec.TransferImpactAssessment = &v1alpha1.TransferImpactAssessment{Reference: "TIA-1", CompletedOn: "2026-01-01"}
	dpfOnly := subprocessor("drill-dpf-only", []string{"drill-us"}, []string{"drill-dpf"})
	dpfOnly.Spec.Egress = &v1alpha1.Egress{Hosts: []string{"api.dpf-only.example", "*.dpf-only.example"}, CIDRs: []string{"192.0.2.0/25"}}
	withSCC := subprocessor("drill-with-scc", []string{"drill-us"}, []string{"drill-dpf", "drill-scc"})
	withSCC.Spec.Egress = &v1alpha1.Egress{Hosts: []string{"api.with-scc.example"}}
	eu := subprocessor("drill-eu", []string{"drill-de"}, nil)
	eu.Spec.Country = "DE"
	eu.Spec.Egress = &v1alpha1.Egress{Hosts: []string{"api.eu.example"}, CIDRs: []string{"192.0.2.200"}}
	ns := namespace("egress-drill", "audit")
	ns.Labels[v1alpha1.LabelEgress] = string(v1alpha1.EgressEnforce)
	create(t, usLoc, euLoc, dpf, scc, dpfOnly, withSCC, eu, ns)
	pol := ciliumPolicy(t)
	dep := deployment("egress-drill", "checkout", uses("drill-dpf-only,drill-with-scc,drill-eu", "user.contact.email"))
	create(t, dep)
	// Outside the labelled namespace nothing is written.
	create(t, namespace("egress-drill-unlabelled", "audit"), deployment("egress-drill-unlabelled", "checkout", uses("drill-eu", "user.contact.email")))
	startManager(t)

	all := []string{"*.dpf-only.example", "api.dpf-only.example", "api.eu.example", "api.with-scc.example"}
	waitHosts := func(what string, want []string) time.Duration {
		t.Helper()
		start := time.Now()
		waitUntil(t, 30*time.Second, what, func() (bool, string) {
			p := drillPolicy(t)
			if p == nil {
				return false, "no policy"
			}
			hosts, _ := allowedBy(p)
			return slices.Equal(hosts, want), fmt.Sprint(hosts)
		})
		return time.Since(start)
	}
	waitHosts("every vendor allowed", all)
	if p := policiesOf(t, egress.CiliumNetworkPolicyGVK)["Deployment/egress-drill-unlabelled/checkout"]; p != nil {
		t.Fatal("a policy in a namespace without the label")
	}
	_, cidrs := allowedBy(drillPolicy(t))
	if !slices.Equal(cidrs, []string{"192.0.2.0/25", "192.0.2.200/32"}) {
		t.Fatalf("CIDRs %v", cidrs)
	}

	override := func(on bool) {
		t.Helper()
		var spec any
		if on {
			spec = []any{map[string]any{"mechanism": "DataPrivacyFramework", "invalidFrom": "2020-01-01", "reason": "CJEU C-703/25 P (drill)"}}
		}
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"mechanismOverrides": spec}})
		if err := k8s.Patch(ctx, pol, client.RawPatch(types.MergePatchType, patch)); err != nil {
			t.Fatal(err)
		}
	}
	override(true)
	t.Cleanup(func() { override(false) })
	d := waitHosts("DPF invalidated", []string{"api.eu.example", "api.with-scc.example"})
	t.Logf("DPF invalidated: the DPF-only vendor's hosts left the policy in %s", d.Round(time.Millisecond))
	override(false)
	d = waitHosts("DPF restored", all)
	t.Logf("override removed: its hosts came back in %s", d.Round(time.Millisecond))

	// An objection closes the path too, and its withdrawal reopens it.
	object := func(on bool) {
		t.Helper()
		var o any
		if on {
			o = map[string]any{"raisedOn": "2026-11-10", "reason": "drill"}
		}
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"objection": o}})
		if err := k8s.Patch(ctx, eu, client.RawPatch(types.MergePatchType, patch)); err != nil {
			t.Fatal(err)
		}
	}
	object(true)
	d = waitHosts("objection raised", []string{"*.dpf-only.example", "api.dpf-only.example", "api.with-scc.example"})
	t.Logf("objection: the vendor's hosts left the policy in %s", d.Round(time.Millisecond))
	object(false)
	waitHosts("objection withdrawn", all)

	// A new subprocessor still in its objection period is not allowed.
	fresh := subprocessor("drill-new", []string{"drill-de"}, nil)
	fresh.Spec.Country = "DE"
	fresh.Spec.Egress = &v1alpha1.Egress{Hosts: []string{"api.new.example"}}
	fresh.Spec.Notice = &v1alpha1.Notice{NotifiedOn: v1alpha1.Date(time.Now().Format(time.DateOnly)), ObjectionPeriodDays: ptr.To[int32](30)}
	create(t, fresh)
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{
		v1alpha1.AnnotationSubprocessors: "drill-dpf-only,drill-with-scc,drill-eu,drill-new"}}})
	if err := k8s.Patch(ctx, dep, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "pending subprocessor cut", func() (bool, string) {
		p := drillPolicy(t)
		if p == nil {
			return false, "no policy"
		}
		hosts, _ := allowedBy(p)
		cut := p.GetAnnotations()[egress.AnnotationCut]
		return slices.Equal(hosts, all) && strings.Contains(cut, "drill-new (ObjectionPeriodPending)"), fmt.Sprint(hosts, cut)
	})

	// A policy deleted by hand comes back, and so does one edited by hand.
	if err := k8s.Delete(ctx, drillPolicy(t)); err != nil {
		t.Fatal(err)
	}
	waitHosts("restored after deletion", all)
	if refs := drillPolicy(t).GetOwnerReferences(); len(refs) != 1 || refs[0].Name != "checkout" {
		t.Fatalf("owner references %v", refs)
	}
	edited := drillPolicy(t)
	if err := unstructured.SetNestedField(edited.Object, false, "spec", "enableDefaultDeny", "egress"); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Update(ctx, edited); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "restored after an edit", func() (bool, string) {
		deny, _, _ := unstructured.NestedBool(drillPolicy(t).Object, "spec", "enableDefaultDeny", "egress")
		return deny, fmt.Sprint(drillPolicy(t).Object["spec"])
	})
}

// TestClusterNetworkPolicyGoesWithItsWorkload: a cluster-scoped policy has
// no owner reference; the operator removes it when its workload goes.
func TestClusterNetworkPolicyGoesWithItsWorkload(t *testing.T) {
	installEgressCRDs(t)
	ciliumPolicy(t)
	setEgressPolicy(t, &v1alpha1.EgressPolicy{Backend: v1alpha1.EgressBackendClusterNetworkPolicy})
	ns := namespace("egress-cnp", "audit")
	ns.Labels[v1alpha1.LabelEgress] = string(v1alpha1.EgressAudit)
	eu := location("cnp-de", "DE")
	vendor := subprocessor("cnp-vendor", []string{"cnp-de"}, nil)
	vendor.Spec.Country = "DE"
	vendor.Spec.Egress = &v1alpha1.Egress{Hosts: []string{"api.cnp-vendor.example"}}
	dep := deployment("egress-cnp", "checkout", uses("cnp-vendor", "user.contact.email"))
	create(t, ns, eu, vendor, dep)
	startManager(t)
	const key = "Deployment/egress-cnp/checkout"
	waitUntil(t, 30*time.Second, "a ClusterNetworkPolicy for the workload", func() (bool, string) {
		p := policiesOf(t, egress.ClusterNetworkPolicyGVK)[key]
		if p == nil {
			return false, "none"
		}
		hosts, _ := allowedBy(p)
		exprs, _, _ := unstructured.NestedSlice(p.Object, "spec", "subject", "pods", "podSelector", "matchExpressions")
		return slices.Equal(hosts, []string{"api.cnp-vendor.example"}) && len(exprs) == 1 && p.GetLabels()[egress.LabelMode] == "audit", fmt.Sprint(p.Object["spec"])
	})
	if err := k8s.Delete(context.Background(), dep); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the ClusterNetworkPolicy removed with its workload", func() (bool, string) {
		return policiesOf(t, egress.ClusterNetworkPolicyGVK)[key] == nil, "still there"
	})
}

// TestEgressFollowsAnExceptionToItsExpiry: a violation a ResidencyException
// accepts is allowed on the network until the exception expires, then cut,
// without anything but the clock moving.
func TestEgressFollowsAnExceptionToItsExpiry(t *testing.T) {
	installEgressCRDs(t)
	expires := time.Date(2031, 3, 1, 0, 0, 0, 0, time.UTC)
	clk.standBefore(expires, 8*time.Second)
	t.Cleanup(clk.reset)
	ns := namespace("egress-exc", "audit")
	ns.Labels[v1alpha1.LabelEgress] = string(v1alpha1.EgressEnforce)
	tracker := subprocessor("ex-tracker", []string{"ex-us"}, []string{"ex-ps"})
	tracker.Spec.Egress = &v1alpha1.Egress{Hosts: []string{"api.tracker.example"}}
	create(t, ns, location("ex-us", "US"), basis("ex-ps", v1alpha1.MechanismPrivacyShield, "US"), tracker,
		deployment("egress-exc", "checkout", uses("ex-tracker", "user.contact.email")),
		&v1alpha1.ResidencyException{ObjectMeta: metav1.ObjectMeta{Name: "ex-checkout-tracker"}, Spec: v1alpha1.ResidencyExceptionSpec{
			Namespaces: []string{"egress-exc"}, Workloads: []v1alpha1.ExceptedWorkload{{Kind: "Deployment", Name: "checkout"}},
			Subprocessors: []v1alpha1.ObjectName{"ex-tracker"}, ExpiresOn: "2031-03-01", ApprovedOn: "2031-01-15",
			ApprovedBy: "dpo@shop.example", Justification: "migration to the EU region", Ticket: "DPO-142"}})
	ciliumPolicy(t)
	startManager(t)
	hostsOf := func() (bool, string) {
		p := policiesOf(t, egress.CiliumNetworkPolicyGVK)["Deployment/egress-exc/checkout"]
		if p == nil {
			return false, "no policy"
		}
		hosts, _ := allowedBy(p)
		return slices.Contains(hosts, "api.tracker.example"), fmt.Sprint(hosts)
	}
	waitUntil(t, 30*time.Second, "allowed while the exception stands", hostsOf)
	waitUntil(t, 40*time.Second, "cut when it expires", func() (bool, string) {
		ok, seen := hostsOf()
		return !ok && seen != "no policy", seen
	})
	if clk.Now().Before(expires) {
		t.Errorf("cut before the exception expired: now %s", clk.Now())
	}
}
