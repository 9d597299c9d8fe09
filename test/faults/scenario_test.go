package faults_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/report"
	"github.com/dataresidency/operator/test/faults/harness"
)

func TestMain(m *testing.M) {
	if os.Getenv("DATARESIDENCY_FAULTS") == "" {
		fmt.Println("skipping the fault tests: they run with `make test-faults` (DATARESIDENCY_FAULTS=1)")
		os.Exit(0)
	}
	code := m.Run()
	harness.Cleanup()
	os.Exit(code)
}

// scenario is a catalog and workloads shaped like a real cluster's: vendors
// in the US on the EU-US Data Privacy Framework, vendors in the EEA, and
// Deployments in several namespaces using one or two of them each.
type scenario struct {
	namespaces   int
	perNamespace int
	usVendors    int // on DataPrivacyFramework bases
	euVendors    int
}

func (s scenario) workloads() int { return s.namespaces * s.perNamespace }

func (s scenario) namespace(i int) string { return fmt.Sprintf("shop-%02d", i) }

// vendors of workload j of namespace i: a US vendor for every third
// workload, always an EU one.
func (s scenario) vendors(i, j int) []string {
	v := []string{fmt.Sprintf("eu-vendor-%d", (i+j)%s.euVendors)}
	if j%3 == 0 {
		v = append(v, fmt.Sprintf("us-vendor-%d", (i*7+j)%s.usVendors))
	}
	return v
}

// usWorkloads is how many workloads use a US vendor: those a fallen DPF
// turns into violations.
func (s scenario) usWorkloads() int {
	n := 0
	for i := range s.namespaces {
		for j := range s.perNamespace {
			if len(s.vendors(i, j)) > 1 {
				n++
			}
		}
	}
	return n
}

func (s scenario) catalog() string {
	var b strings.Builder
	b.WriteString(`apiVersion: dataresidency.io/v1alpha1
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
`)
	for i := range s.usVendors {
		fmt.Fprintf(&b, `---
apiVersion: dataresidency.io/v1alpha1
kind: TransferBasis
metadata: {name: us-vendor-%[1]d-dpf}
spec:
  mechanism: DataPrivacyFramework
  countries: [US]
  reference: "DPF list entry %[1]d"
---
apiVersion: dataresidency.io/v1alpha1
kind: Subprocessor
metadata: {name: us-vendor-%[1]d}
spec:
  legalName: "US Vendor %[1]d, Inc."
  country: US
  purpose: E-mail delivery
  dataCategories: [user.contact.email, user.name]
  processingLocations: [us-east]
  transferBases: [us-vendor-%[1]d-dpf]
  egress: {hosts: ["api.us-vendor-%[1]d.example.com"]}
`, i)
	}
	for i := range s.euVendors {
		fmt.Fprintf(&b, `---
apiVersion: dataresidency.io/v1alpha1
kind: Subprocessor
metadata: {name: eu-vendor-%[1]d}
spec:
  legalName: "EU Vendor %[1]d AB"
  country: SE
  purpose: Hosting
  dataCategories: [user.contact.email, user.name]
  processingLocations: [eu-north]
  egress: {hosts: ["api.eu-vendor-%[1]d.example.se"]}
`, i)
	}
	return b.String()
}

func deployment(ns, name string, vendors []string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{
			v1alpha1.AnnotationSubprocessors:  strings.Join(vendors, ", "),
			v1alpha1.AnnotationDataCategories: "user.contact.email, user.name",
		}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/shop/" + name + ":1.0"}}},
			},
		},
	}
}

// setup creates the scenario's namespaces, catalog and workloads.
func (s scenario) setup(t testing.TB, env *harness.Env) {
	t.Helper()
	begin := time.Now()
	env.Create(t, s.catalog())
	ctx := context.Background()
	for i := range s.namespaces {
		env.CreateNamespace(t, s.namespace(i), nil)
		for j := range s.perNamespace {
			if err := env.Client.Create(ctx, deployment(s.namespace(i), fmt.Sprintf("app-%03d", j), s.vendors(i, j))); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("scenario: %d subprocessors (%d in the US on DPF), %d Deployments in %d namespaces, created in %.1fs",
		s.usVendors+s.euVendors, s.usVendors, s.workloads(), s.namespaces, time.Since(begin).Seconds())
}

// invalidateDPF is the "next Schrems" switch: the policy marks the EU-US Data
// Privacy Framework invalid from today.
func invalidateDPF(t testing.TB, env *harness.Env) {
	t.Helper()
	ctx := context.Background()
	var p v1alpha1.ResidencyPolicy
	if err := env.Client.Get(ctx, client.ObjectKey{Name: v1alpha1.PolicyName}, &p); err != nil {
		t.Fatal(err)
	}
	p.Spec.MechanismOverrides = []v1alpha1.MechanismOverride{{
		Mechanism:   v1alpha1.MechanismDataPrivacyFramework,
		InvalidFrom: v1alpha1.Date(time.Now().UTC().Format("2006-01-02")),
		Reason:      "CJEU C-703/25 P (fault test)",
	}}
	if err := env.Client.Update(ctx, &p); err != nil {
		t.Fatal(err)
	}
}

// truth is what the operator published, with what legitimately differs from
// run to run (timestamps, resource versions, UIDs) left out.
type truth struct {
	Bases         map[string]string // name -> status as JSON
	Subprocessors map[string]string
	Locations     map[string]string
	Policy        string
	Reports       map[string][]string // namespace/name -> sorted results as JSON
	Summaries     map[string]string
	Fail, Pass    int
}

func statusJSON(status any) string {
	b, _ := json.Marshal(status)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if conds, ok := m["conditions"].([]any); ok {
		for _, c := range conds {
			delete(c.(map[string]any), "lastTransitionTime")
		}
	}
	b, _ = json.Marshal(m)
	return string(b)
}

func readTruth(ctx context.Context, env *harness.Env) (*truth, error) {
	tr := &truth{Bases: map[string]string{}, Subprocessors: map[string]string{}, Locations: map[string]string{},
		Reports: map[string][]string{}, Summaries: map[string]string{}}
	var bases v1alpha1.TransferBasisList
	if err := env.Client.List(ctx, &bases); err != nil {
		return nil, err
	}
	for _, b := range bases.Items {
		tr.Bases[b.Name] = statusJSON(b.Status)
	}
	var subs v1alpha1.SubprocessorList
	if err := env.Client.List(ctx, &subs); err != nil {
		return nil, err
	}
	for _, s := range subs.Items {
		tr.Subprocessors[s.Name] = statusJSON(s.Status)
	}
	var locs v1alpha1.ProcessingLocationList
	if err := env.Client.List(ctx, &locs); err != nil {
		return nil, err
	}
	for _, l := range locs.Items {
		tr.Locations[l.Name] = statusJSON(l.Status)
	}
	var p v1alpha1.ResidencyPolicy
	if err := env.Client.Get(ctx, client.ObjectKey{Name: v1alpha1.PolicyName}, &p); err != nil {
		return nil, err
	}
	tr.Policy = statusJSON(p.Status)
	var reports openreports.ReportList
	if err := env.Client.List(ctx, &reports, client.MatchingLabels{report.LabelManagedBy: report.ManagedBy}); err != nil {
		return nil, err
	}
	for _, r := range reports.Items {
		key := r.Namespace + "/" + r.Name
		var results []string
		for _, res := range r.Results {
			res.Timestamp = metav1.Timestamp{}
			for i := range res.Subjects {
				res.Subjects[i].UID = "" // another cluster, other UIDs
			}
			b, _ := json.Marshal(res)
			results = append(results, string(b))
			switch res.Result {
			case "fail":
				tr.Fail++
			case "pass":
				tr.Pass++
			}
		}
		sort.Strings(results)
		tr.Reports[key] = results
		b, _ := json.Marshal(r.Summary)
		tr.Summaries[key] = string(b)
	}
	return tr, nil
}

// diff describes how two truths differ, or returns "".
func (tr *truth) diff(other *truth) string {
	var out []string
	cmp := func(what string, a, b map[string]string) {
		for _, k := range slices.Sorted(mapsKeys(a, b)) {
			if a[k] != b[k] {
				out = append(out, fmt.Sprintf("%s %s:\n  want %s\n  got  %s", what, k, a[k], b[k]))
			}
		}
	}
	cmp("TransferBasis", tr.Bases, other.Bases)
	cmp("Subprocessor", tr.Subprocessors, other.Subprocessors)
	cmp("ProcessingLocation", tr.Locations, other.Locations)
	cmp("Report summary", tr.Summaries, other.Summaries)
	if tr.Policy != other.Policy {
		out = append(out, fmt.Sprintf("ResidencyPolicy status:\n  want %s\n  got  %s", tr.Policy, other.Policy))
	}
	for _, k := range slices.Sorted(mapsKeys(joinResults(tr.Reports), joinResults(other.Reports))) {
		a, b := tr.Reports[k], other.Reports[k]
		for _, r := range a {
			if !slices.Contains(b, r) {
				out = append(out, fmt.Sprintf("Report %s lacks %s", k, r))
			}
		}
		for _, r := range b {
			if !slices.Contains(a, r) {
				out = append(out, fmt.Sprintf("Report %s has extra %s", k, r))
			}
		}
	}
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("... and %d more differences", len(out)-20))
	}
	return strings.Join(out, "\n")
}

func joinResults(m map[string][]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = strings.Join(v, "\n")
	}
	return out
}

func mapsKeys(ms ...map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, m := range ms {
			for k := range m {
				if !seen[k] {
					seen[k] = true
					if !yield(k) {
						return
					}
				}
			}
		}
	}
}

func clientKey(name string) client.ObjectKey { return client.ObjectKey{Name: name} }
