package controllers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/controllers"
	"github.com/dataresidency/operator/internal/findings"
	"github.com/dataresidency/operator/internal/report"
	"github.com/dataresidency/operator/internal/testenv"
)

// expectation is the shape of test/fixtures/seeds/*/expected.yaml.
type expectation struct {
	At      string `json:"at"`
	Results []struct {
		Resource struct {
			Kind      string `json:"kind"`
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"resource"`
		Subprocessors   []string `json:"subprocessors"`
		Verdict         string   `json:"verdict"`
		Reasons         []string `json:"reasons"`
		OptionalReasons []string `json:"optionalReasons"`
		Findings        []struct {
			Reason       string `json:"reason"`
			Subprocessor string `json:"subprocessor"`
			Endpoint     string `json:"endpoint"`
		} `json:"findings"`
	} `json:"results"`
}

// atSeedDate reads a seed's expected.yaml and stands the clock at noon of
// its date, for the test.
func atSeedDate(t *testing.T, dir string) expectation {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "expected.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want expectation
	if err := yaml.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	at, err := time.Parse(time.DateOnly, want.At)
	if err != nil {
		t.Fatal(err)
	}
	clk.standBefore(at.Add(12*time.Hour), 0)
	t.Cleanup(clk.reset)
	return want
}

// applyFile creates every object of a fixture file, removing them at the end.
func applyFile(t *testing.T, path string) {
	t.Helper()
	objs, err := testenv.ReadObjects(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := k8s.Create(context.Background(), o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("%s: create %s %s: %v", path, o.GetKind(), o.GetName(), err)
		}
		o := o
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), o) })
	}
}

// workloadView is what a namespace's Reports say of one workload.
type workloadView struct {
	worst   string // fail > warn > pass
	reasons []string
	results []openreports.ReportResult
}

func reportsOf(t *testing.T, ns string) (map[string]*workloadView, int) {
	t.Helper()
	var list openreports.ReportList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string]*workloadView{}
	rank := map[openreports.Result]int{"pass": 0, "warn": 1, "fail": 2}
	for _, r := range list.Items {
		for _, res := range r.Results {
			if len(res.Subjects) != 1 {
				t.Fatalf("result without one subject: %+v", res)
			}
			key := res.Subjects[0].Kind + "/" + res.Subjects[0].Name
			v := out[key]
			if v == nil {
				v = &workloadView{worst: "pass"}
				out[key] = v
			}
			v.results = append(v.results, res)
			if rank[res.Result] > rank[openreports.Result(v.worst)] {
				v.worst = string(res.Result)
			}
			if res.Result != "pass" && !slices.Contains(v.reasons, res.Rule) {
				v.reasons = append(v.reasons, res.Rule)
			}
		}
	}
	for _, v := range out {
		sort.Strings(v.reasons)
	}
	return out, len(list.Items)
}

var verdictResult = map[string]string{"Compliant": "pass", "Warning": "warn", "Violation": "fail"}

// TestSeed002Reports puts the Pindena agreement (seed 002) and its workloads
// in the cluster and checks each namespace's Report against the verdicts the
// engine tests expect.
func TestSeed002Reports(t *testing.T) {
	dir := filepath.Join(testenv.Root(), "test", "fixtures", "seeds", "002-pindena")
	want := atSeedDate(t, dir)
	startManager(t)
	applyFile(t, filepath.Join(dir, "catalog.yaml"))
	applyFile(t, filepath.Join(dir, "workloads.yaml"))

	namespaces := map[string]bool{}
	for _, r := range want.Results {
		namespaces[r.Resource.Namespace] = true
	}
	if len(namespaces) < 2 {
		t.Fatalf("fixture spans %d namespaces, want at least 2", len(namespaces))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var problems []string
		views := map[string]map[string]*workloadView{}
		for ns := range namespaces {
			views[ns], _ = reportsOf(t, ns)
		}
		for _, r := range want.Results {
			v := views[r.Resource.Namespace][r.Resource.Kind+"/"+r.Resource.Name]
			id := r.Resource.Namespace + "/" + r.Resource.Kind + "/" + r.Resource.Name
			if v == nil {
				problems = append(problems, id+": not in the Report")
				continue
			}
			if v.worst != verdictResult[r.Verdict] {
				problems = append(problems, fmt.Sprintf("%s: worst result %s, want %s (%s)", id, v.worst, verdictResult[r.Verdict], r.Verdict))
			}
			for _, reason := range r.Reasons {
				if !slices.Contains(v.reasons, reason) {
					problems = append(problems, fmt.Sprintf("%s: rules %v lack %s", id, v.reasons, reason))
				}
			}
			for _, got := range v.reasons {
				if !slices.Contains(r.Reasons, got) && !slices.Contains(r.OptionalReasons, got) {
					problems = append(problems, fmt.Sprintf("%s: unexpected rule %s", id, got))
				}
			}
			for _, sub := range r.Subprocessors {
				found := false
				for _, res := range v.results {
					found = found || res.Properties["subprocessor"] == sub
				}
				if !found {
					problems = append(problems, fmt.Sprintf("%s: no result for subprocessor %s", id, sub))
				}
			}
		}
		if len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Reports do not match expected.yaml:\n%s", strings.Join(problems, "\n"))
		}
		time.Sleep(250 * time.Millisecond)
	}

	// The Reports hold exactly the fixture's workloads.
	for ns := range namespaces {
		views, _ := reportsOf(t, ns)
		for id := range views {
			expected := false
			for _, r := range want.Results {
				expected = expected || (r.Resource.Namespace == ns && r.Resource.Kind+"/"+r.Resource.Name == id)
			}
			if !expected {
				t.Errorf("%s/%s is in the Report but not in expected.yaml", ns, id)
			}
		}
	}

	// The invoice mailer declares nothing (no dataresidency.io annotation)
	// and only sets SMTP_HOST=smtp.sendgrid.net: it is SendGrid's.
	views, _ := reportsOf(t, "pindena-aws")
	mail := views["CronJob/invoice-mailer"]
	if mail == nil {
		t.Fatal("CronJob/invoice-mailer is not in the Report")
	}
	var attributed bool
	for _, res := range mail.results {
		attributed = attributed || (res.Properties["subprocessor"] == "pindena-sendgrid" && strings.Contains(res.Properties["endpoint"], "smtp.sendgrid.net"))
	}
	if !attributed {
		t.Errorf("invoice-mailer results %+v: want smtp.sendgrid.net attributed to pindena-sendgrid", mail.results)
	}
	for _, res := range mail.results {
		if res.Policy != "data-residency" || res.Source != "dataresidency.io" {
			t.Errorf("result policy/source = %s/%s", res.Policy, res.Source)
		}
	}
}

func deployment(ns, name string, annotations map[string]string, env ...corev1.EnvVar) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1", Env: env}}},
			},
		},
	}
}

func namespace(name string, enforcement string) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if enforcement != "" {
		ns.Labels = map[string]string{v1alpha1.LabelEnforcement: enforcement}
	}
	return ns
}

func uses(subs, cats string) map[string]string {
	return map[string]string{v1alpha1.AnnotationSubprocessors: subs, v1alpha1.AnnotationDataCategories: cats}
}

// waitReport waits until the namespace's Report satisfies cond.
func waitReport(t *testing.T, ns string, cond func(map[string]*workloadView) (bool, string)) map[string]*workloadView {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		views, _ := reportsOf(t, ns)
		ok, seen := cond(views)
		if ok {
			return views
		}
		if time.Now().After(deadline) {
			t.Fatalf("report of %s: condition not met within %s: %s", ns, timeout, seen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func describe(views map[string]*workloadView) string {
	var parts []string
	for k, v := range views {
		parts = append(parts, fmt.Sprintf("%s=%s%v", k, v.worst, v.reasons))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func worst(views map[string]*workloadView, key string) string {
	if v := views[key]; v != nil {
		return v.worst
	}
	return "absent"
}

// TestInvalidationReachesOnlyAffectedWorkloads turns one TransferBasis into
// Privacy Shield: the workloads resting on it become violations in the Report,
// with Events and counts, and no other workload is evaluated again.
func TestInvalidationReachesOnlyAffectedWorkloads(t *testing.T) {
	clk.reset()
	c, _ := startManager(t)
	ns := "t9-shop"
	mailer := subprocessor("t9-mailer", []string{"t9-us"}, []string{"t9-mailer-scc"})
	mailer.Spec.Egress = &v1alpha1.Egress{Hosts: []string{"*.mailer.eu"}}
	create(t, &v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}},
		namespace(ns, "audit"), location("t9-us", "US"), location("t9-de", "DE"),
		basis("t9-mailer-scc", v1alpha1.MechanismStandardContractualClauses, "US"),
		basis("t9-crm-scc", v1alpha1.MechanismStandardContractualClauses, "US"),
		mailer,
		subprocessor("t9-crm", []string{"t9-us"}, []string{"t9-crm-scc"}),
		subprocessor("t9-hosting", []string{"t9-de"}, nil),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "mail-settings"}, Data: map[string]string{"SMTP_HOST": "smtp.mailer.eu"}},
	)
	withConfigMap := deployment(ns, "newsletter", nil)
	withConfigMap.Spec.Template.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "mail-settings"}}}}
	create(t,
		deployment(ns, "checkout", uses("t9-mailer", "user.contact.email")),
		deployment(ns, "crm-sync", uses("t9-crm", "user.name")),
		deployment(ns, "static", uses("t9-hosting", "user.device.ip_address")),
		withConfigMap,
	)
	waitReport(t, ns, func(v map[string]*workloadView) (bool, string) {
		return worst(v, "Deployment/checkout") == "pass" && worst(v, "Deployment/crm-sync") == "pass" &&
			worst(v, "Deployment/static") == "pass" && worst(v, "Deployment/newsletter") == "pass", describe(v)
	})
	key := func(name string) findings.Key { return findings.Key{Kind: "Deployment", Namespace: ns, Name: name} }
	evals := func(name string) uint64 { e, _ := c.Store.Get(key(name)); return e.Evaluations }
	before := map[string]uint64{}
	for _, n := range []string{"checkout", "crm-sync", "static", "newsletter"} {
		before[n] = evals(n)
	}
	metricBefore := c.Metrics.Evaluations()
	var summaryBefore v1alpha1.PolicySummary
	eventually(t, &v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}}, func(p *v1alpha1.ResidencyPolicy) (bool, string) {
		if p.Status.Summary == nil {
			return false, "no summary"
		}
		summaryBefore = *p.Status.Summary
		return summaryBefore.Violations == 0 && summaryBefore.Compliant >= 4, fmt.Sprintf("summary %+v", summaryBefore)
	})

	tb := &v1alpha1.TransferBasis{}
	if err := k8s.Get(context.Background(), types.NamespacedName{Name: "t9-mailer-scc"}, tb); err != nil {
		t.Fatal(err)
	}
	tb.Spec.Mechanism = v1alpha1.MechanismPrivacyShield
	if err := k8s.Update(context.Background(), tb); err != nil {
		t.Fatal(err)
	}
	views := waitReport(t, ns, func(v map[string]*workloadView) (bool, string) {
		return worst(v, "Deployment/checkout") == "fail" && worst(v, "Deployment/newsletter") == "fail", describe(v)
	})
	if !slices.Contains(views["Deployment/checkout"].reasons, "BasisNotValid") {
		t.Errorf("checkout reasons %v, want BasisNotValid", views["Deployment/checkout"].reasons)
	}
	if worst(views, "Deployment/crm-sync") != "pass" || worst(views, "Deployment/static") != "pass" {
		t.Errorf("unaffected workloads changed: %s", describe(views))
	}
	// Unaffected workloads were not evaluated again; the affected ones were.
	for _, n := range []string{"crm-sync", "static"} {
		if got := evals(n); got != before[n] {
			t.Errorf("%s evaluated %d more times after an unrelated basis changed", n, got-before[n])
		}
	}
	for _, n := range []string{"checkout", "newsletter"} {
		if evals(n) <= before[n] {
			t.Errorf("%s was not re-evaluated", n)
		}
	}
	if d := c.Metrics.Evaluations() - metricBefore; d < 2 || d > 4 {
		t.Errorf("dataresidency_workload_evaluations_total grew by %v, want the 2 affected workloads (at most one retry each)", d)
	}

	// An Event on the violating workload, counts on the Subprocessor and the policy.
	waitEvent(t, ns, "checkout", "ResidencyViolation", "C-311/18")
	eventually(t, &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "t9-mailer"}}, func(s *v1alpha1.Subprocessor) (bool, string) {
		return s.Status.WorkloadCount == 2, fmt.Sprintf("workloadCount=%d", s.Status.WorkloadCount)
	})
	eventually(t, &v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: "t9-us"}}, func(l *v1alpha1.ProcessingLocation) (bool, string) {
		return l.Status.WorkloadCount == 3, fmt.Sprintf("workloadCount=%d", l.Status.WorkloadCount)
	})
	// The policy's summary moves by exactly the two workloads that lost their ground.
	eventually(t, &v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}}, func(p *v1alpha1.ResidencyPolicy) (bool, string) {
		if p.Status.Summary == nil {
			return false, "no summary"
		}
		got := *p.Status.Summary
		return got.Violations == summaryBefore.Violations+2 && got.Compliant == summaryBefore.Compliant-2 && got.Workloads == summaryBefore.Workloads,
			fmt.Sprintf("summary %+v, before %+v", got, summaryBefore)
	})

	// The ConfigMap's host moves to an endpoint nobody claims: the newsletter follows.
	cm := &corev1.ConfigMap{}
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "mail-settings"}, cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["SMTP_HOST"] = "smtp.unknown-mail.io"
	if err := k8s.Update(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
	waitReport(t, ns, func(v map[string]*workloadView) (bool, string) {
		return worst(v, "Deployment/newsletter") == "warn" && slices.Contains(v["Deployment/newsletter"].reasons, "UnattributedEgress"), describe(v)
	})

	// Deleting a workload removes its results.
	if err := k8s.Delete(context.Background(), deployment(ns, "checkout", nil)); err != nil {
		t.Fatal(err)
	}
	waitReport(t, ns, func(v map[string]*workloadView) (bool, string) {
		return worst(v, "Deployment/checkout") == "absent" && worst(v, "Deployment/static") == "pass", describe(v)
	})
}

func waitEvent(t *testing.T, ns, name, reason, noteContains string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var evs eventsv1.EventList
		if err := k8s.List(context.Background(), &evs, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			if e.Regarding.Name == name && e.Reason == reason && strings.Contains(e.Note, noteContains) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event on %s/%s containing %q", reason, ns, name, noteContains)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestMalformedAnnotationIsContained: a workload whose declaration cannot be
// read gets an InvalidAnnotation finding; its neighbours are undisturbed.
func TestMalformedAnnotationIsContained(t *testing.T) {
	clk.reset()
	startManager(t)
	ns := "t10-apps"
	create(t, namespace(ns, "warn"), location("t10-se", "SE"), subprocessor("t10-hosting", []string{"t10-se"}, nil),
		deployment(ns, "good", uses("t10-hosting", "user.name")),
		deployment(ns, "bad", uses("t10-hosting, Not A Name!", "user.name")))
	views := waitReport(t, ns, func(v map[string]*workloadView) (bool, string) {
		return worst(v, "Deployment/good") == "pass" && worst(v, "Deployment/bad") == "fail", describe(v)
	})
	bad := views["Deployment/bad"]
	if !slices.Equal(bad.reasons, []string{"InvalidAnnotation"}) {
		t.Errorf("bad reasons = %v, want [InvalidAnnotation]", bad.reasons)
	}
	var msg string
	for _, r := range bad.results {
		if r.Rule == "InvalidAnnotation" {
			msg = r.Description
		}
	}
	if !strings.Contains(msg, v1alpha1.AnnotationSubprocessors) || !strings.Contains(msg, "Not A Name!") {
		t.Errorf("message %q does not name the annotation and the entry", msg)
	}
	if len(views["Deployment/good"].results) != 1 {
		t.Errorf("good has %d results, want 1 Compliant", len(views["Deployment/good"].results))
	}
}

// TestPlacementInDisallowedRegion: a pod pinned to a region whose location's
// classification the policy does not allow is flagged.
func TestPlacementInDisallowedRegion(t *testing.T) {
	clk.reset()
	startManager(t)
	ns := "t11-batch"
	us := location("t11-aws-us-east-1", "US")
	us.Spec.ProviderRegion = "us-east-1"
	pol := &v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName},
		Spec: v1alpha1.ResidencyPolicySpec{AllowedClassifications: []v1alpha1.Classification{v1alpha1.ClassificationEEA, v1alpha1.ClassificationAdequate}}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cruncher"},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{v1alpha1.LabelRegion: "us-east-1"},
			Containers:   []corev1.Container{{Name: "c", Image: "c:1"}},
		},
	}
	create(t, namespace(ns, ""), us, pol, pod)
	// A ReplicaSet and a Pod it controls: reported once, as the ReplicaSet
	// (no controller manager runs here, so the Pod is made by hand). And a
	// Pod naming a controller that does not exist: an owner reference anyone
	// may write must not hide it from the Report.
	labels := map[string]string{"app": "rs"}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "rs"},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "c:1"}}},
		}},
	}
	create(t, rs)
	owned := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "owned-by-rs", Labels: labels, OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: rs.UID, Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "c:1"}}},
	}
	fake := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fake-owner", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "no-such-rs", UID: "00000000-0000-0000-0000-000000000000", Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{NodeSelector: map[string]string{v1alpha1.LabelRegion: "us-east-1"}, Containers: []corev1.Container{{Name: "c", Image: "c:1"}}},
	}
	create(t, owned, fake)
	views := waitReport(t, ns, func(v map[string]*workloadView) (bool, string) {
		_, haveRS := v["ReplicaSet/rs"]
		return worst(v, "Pod/cruncher") == "fail" && worst(v, "Pod/fake-owner") == "fail" && haveRS, describe(v)
	})
	if !slices.Equal(views["Pod/cruncher"].reasons, []string{"ClassificationNotAllowed"}) {
		t.Errorf("reasons %v, want [ClassificationNotAllowed]", views["Pod/cruncher"].reasons)
	}
	if !slices.Equal(views["Pod/fake-owner"].reasons, []string{"ClassificationNotAllowed"}) {
		t.Errorf("the Pod with a made-up owner: reasons %v, want [ClassificationNotAllowed]", views["Pod/fake-owner"].reasons)
	}
	if _, ok := views["Pod/owned-by-rs"]; ok {
		t.Errorf("a Pod controlled by a ReplicaSet is reported on its own; it must be reported through its owner")
	}
}

// TestLargeNamespaceSplitsReports keeps each Report bounded.
func TestLargeNamespaceSplitsReports(t *testing.T) {
	clk.reset()
	startManager(t, func(o *controllers.Options) { o.MaxReportResults = 5 })
	ns := "t12-big"
	create(t, namespace(ns, ""))
	for i := 0; i < 12; i++ {
		create(t, deployment(ns, fmt.Sprintf("app-%02d", i), nil))
	}
	deadline := time.Now().Add(timeout)
	for {
		views, parts := reportsOf(t, ns)
		if len(views) == 12 && parts == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d workloads in %d Reports, want 12 in 3", len(views), parts)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReportsAreOursButKeepOthersMetadata: a Report edited or deleted by
// someone else is written again, a label someone added (which moves neither
// its generation nor our knowledge of it) survives the next write, and that
// write is not stuck on the resourceVersion of our own previous one.
func TestReportsAreOursButKeepOthersMetadata(t *testing.T) {
	clk.reset()
	startManager(t)
	ns := "t14-shop"
	create(t, namespace(ns, "audit"), location("t14-de", "DE"), subprocessor("t14-hosting", []string{"t14-de"}, nil),
		deployment(ns, "web", uses("t14-hosting", "user.name")))
	waitReport(t, ns, func(v map[string]*workloadView) (bool, string) {
		return worst(v, "Deployment/web") == "pass", describe(v)
	})
	ctx := context.Background()
	key := types.NamespacedName{Namespace: ns, Name: report.Name}

	// Someone rewrites a result: restored.
	var rep openreports.Report
	if err := k8s.Get(ctx, key, &rep); err != nil {
		t.Fatal(err)
	}
	rep.Results[0].Result = "fail"
	if err := k8s.Update(ctx, &rep); err != nil {
		t.Fatal(err)
	}
	waitReport(t, ns, func(v map[string]*workloadView) (bool, string) {
		return worst(v, "Deployment/web") == "pass", describe(v)
	})

	// Someone labels it (no new generation), then the workload changes.
	if err := k8s.Get(ctx, key, &rep); err != nil {
		t.Fatal(err)
	}
	rep.Labels["team"] = "shop"
	if err := k8s.Update(ctx, &rep); err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web"}, &d); err != nil {
		t.Fatal(err)
	}
	d.Annotations[v1alpha1.AnnotationSubprocessors] = "t14-nobody"
	if err := k8s.Update(ctx, &d); err != nil {
		t.Fatal(err)
	}
	waitReport(t, ns, func(v map[string]*workloadView) (bool, string) {
		return worst(v, "Deployment/web") == "fail", describe(v)
	})
	if err := k8s.Get(ctx, key, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Labels["team"] != "shop" || rep.Labels[report.LabelManagedBy] != report.ManagedBy {
		t.Errorf("labels after our write: %v", rep.Labels)
	}

	// Someone deletes it: written again.
	if err := k8s.Delete(ctx, &rep); err != nil {
		t.Fatal(err)
	}
	waitReport(t, ns, func(v map[string]*workloadView) (bool, string) {
		return worst(v, "Deployment/web") == "fail", describe(v)
	})
}
