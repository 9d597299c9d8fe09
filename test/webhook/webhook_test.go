package webhook_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
)

// objectionEnds is when listmonk-cloud's objection period ends: 30 days from
// the start of today (UTC).
var objectionEnds = time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 30)

// catalog: Twilio SendGrid on Privacy Shield only (dead since Schrems II),
// Brevo in France, Postmark on the Data Privacy Framework, and a newly
// notified vendor inside its objection period.
func catalog() []client.Object {
	loc := func(name, country string) client.Object {
		return &v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.ProcessingLocationSpec{Country: v1alpha1.CountryCode(country)}}
	}
	basis := func(name string, m v1alpha1.Mechanism) client.Object {
		return &v1alpha1.TransferBasis{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.TransferBasisSpec{Mechanism: m, Countries: []v1alpha1.CountryCode{"US"}}}
	}
	sub := func(name, country, location, basis string, hosts ...string) *v1alpha1.Subprocessor {
		s := &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.SubprocessorSpec{
			LegalName: name + " Inc.", Country: v1alpha1.CountryCode(country), Purpose: "E-mail delivery",
			DataCategories:      []v1alpha1.DataCategory{"user.contact.email", "user.name"},
			ProcessingLocations: []v1alpha1.ObjectName{v1alpha1.ObjectName(location)},
		}}
		if basis != "" {
			s.Spec.TransferBases = []v1alpha1.ObjectName{v1alpha1.ObjectName(basis)}
		}
		if len(hosts) > 0 {
			s.Spec.Egress = &v1alpha1.Egress{Hosts: hosts}
		}
		return s
	}
	listmonk := sub("listmonk-cloud", "FR", "listmonk-fr", "", "api.listmonk.example.fr")
	listmonk.Spec.Notice = &v1alpha1.Notice{NotifiedOn: v1alpha1.Date(objectionEnds.AddDate(0, 0, -30).Format(time.DateOnly)), ObjectionPeriodDays: ptr.To[int32](30)}
	return []client.Object{
		&v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}, Spec: v1alpha1.ResidencyPolicySpec{DefaultEnforcement: v1alpha1.EnforcementAudit}},
		loc("sendgrid-us", "US"), loc("brevo-fr", "FR"), loc("postmark-us", "US"), loc("listmonk-fr", "FR"),
		basis("sendgrid-ps", v1alpha1.MechanismPrivacyShield), basis("postmark-dpf", v1alpha1.MechanismDataPrivacyFramework),
		sub("twilio-sendgrid", "US", "sendgrid-us", "sendgrid-ps", "api.sendgrid.com", "*.sendgrid.net"),
		sub("brevo", "FR", "brevo-fr", "", "api.brevo.com", "smtp-relay.brevo.com"),
		sub("postmark", "US", "postmark-us", "postmark-dpf", "api.postmarkapp.com"),
		listmonk,
	}
}

var labels = map[string]string{"app": "mailer"}

// mailer sends e-mail addresses to the named subprocessor.
func mailer(ns, name, sub string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: podTemplate(sub),
		},
	}
}

func podTemplate(sub string) corev1.PodTemplateSpec {
	t := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{v1alpha1.AnnotationDataCategories: "user.contact.email"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "mailer", Image: "registry.example/mailer:1.0"}}},
	}
	if sub != "" {
		t.Annotations[v1alpha1.AnnotationSubprocessors] = sub
	}
	return t
}

func pod(ns, name, sub string) *corev1.Pod {
	t := podTemplate(sub)
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: t.Labels, Annotations: t.Annotations}, Spec: t.Spec}
}

func create(t *testing.T, c client.Client, o client.Object, opts ...client.CreateOption) error {
	t.Helper()
	err := c.Create(context.Background(), o, opts...)
	if err == nil {
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), o, client.GracePeriodSeconds(0)) })
	}
	return err
}

// rejected asserts err is the webhook's denial and that it names every want.
func rejected(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("admitted, want a rejection naming %q", want)
	}
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `admission webhook "workloads.dataresidency.io" denied the request`) {
		t.Fatalf("not the webhook's denial: %v", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("denial %q does not name %q", err.Error(), w)
		}
	}
}

func admitted(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("rejected: %v", err)
	}
}

func TestDenyRejectsPrivacyShieldAndAdmitsEEA(t *testing.T) {
	err := create(t, k8s, mailer(nsDeny, "mailer", "twilio-sendgrid"))
	rejected(t, err, "data residency: Deployment shop/mailer violates 1 flow(s): [BasisNotValid] twilio-sendgrid via sendgrid-us (US):",
		"sendgrid-ps is PrivacyShield", "C-311/18")
	t.Logf("kubectl would print: %v", err)
	admitted(t, create(t, k8s, mailer(nsDeny, "mailer", "brevo")))
}

func TestWarnAdmitsWithWarnings(t *testing.T) {
	warnings.take()
	admitted(t, create(t, warned, mailer(nsWarn, "mailer", "twilio-sendgrid")))
	got := warnings.take()
	if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), "data residency violation: [BasisNotValid] twilio-sendgrid via sendgrid-us (US)") ||
		!strings.Contains(strings.Join(got, "\n"), "C-311/18") {
		t.Fatalf("warnings = %q", got)
	}
	t.Logf("warnings: %q", got)
}

func TestBypassesFail(t *testing.T) {
	ctx := context.Background()
	t.Run("egress added by a later UPDATE", func(t *testing.T) {
		d := mailer(nsDeny, "late-egress", "brevo")
		admitted(t, create(t, k8s, d))
		d.Spec.Template.Annotations[v1alpha1.AnnotationEgress] = "https://api.sendgrid.com"
		rejected(t, k8s.Update(ctx, d), "Deployment shop/late-egress", "[BasisNotValid] twilio-sendgrid via sendgrid-us (US)")
	})
	t.Run("a bare Pod", func(t *testing.T) {
		rejected(t, create(t, k8s, pod(nsDeny, "bare", "twilio-sendgrid")), "Pod shop/bare", "C-311/18")
	})
	t.Run("a Pod created by a ReplicaSet", func(t *testing.T) {
		p := pod(nsDeny, "mailer-7d9f-x2x", "twilio-sendgrid")
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "mailer-7d9f",
			UID: types.UID("00000000-0000-4000-8000-000000000001"), Controller: ptr.To(true)}}
		rejected(t, create(t, k8s, p), "Pod shop/mailer-7d9f-x2x", "twilio-sendgrid")
	})
	t.Run("an ephemeral container pointing at a third-country host", func(t *testing.T) {
		p := pod(nsDeny, "debug-me", "")
		admitted(t, create(t, k8s, p))
		p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debugger", Image: "busybox", Env: []corev1.EnvVar{{Name: "SMTP_HOST", Value: "smtp.sendgrid.net"}},
		}}}
		rejected(t, k8s.SubResource("ephemeralcontainers").Update(ctx, p), "Pod shop/debug-me", "[BasisNotValid] twilio-sendgrid")
	})
	t.Run("a server-side dry run", func(t *testing.T) {
		rejected(t, create(t, k8s, mailer(nsDeny, "dry", "twilio-sendgrid"), client.DryRunAll), "Deployment shop/dry")
	})
	t.Run("a CronJob's job template", func(t *testing.T) {
		cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "newsletter", Namespace: nsDeny}, Spec: batchv1.CronJobSpec{
			Schedule: "@daily", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: podTemplate("twilio-sendgrid")}},
		}}
		cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		rejected(t, create(t, k8s, cj), "CronJob shop/newsletter", "twilio-sendgrid")
	})
}

func TestSystemNamespacesAreNeverRejected(t *testing.T) {
	for _, ns := range []string{"kube-system", operatorNS} {
		admitted(t, create(t, k8s, mailer(ns, "mailer", "twilio-sendgrid")))
		admitted(t, create(t, k8s, pod(ns, "bare", "twilio-sendgrid")))
	}
}

func TestObjectionPeriodBlocksUntilItEnds(t *testing.T) {
	clk.standBefore(objectionEnds, 3*time.Second)
	defer clk.reset()
	err := create(t, k8s, mailer(nsDeny, "newsletter", "listmonk-cloud"))
	rejected(t, err, "[ObjectionPeriodPending] listmonk-cloud")
	t.Logf("before the end: %v", err)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = create(t, k8s, mailer(nsDeny, "newsletter", "listmonk-cloud"))
		if err == nil {
			break
		}
		rejected(t, err, "[ObjectionPeriodPending] listmonk-cloud")
		if time.Now().After(deadline) {
			t.Fatalf("still rejected after the objection period ended: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if now := clk.Now(); now.Before(objectionEnds) {
		t.Fatalf("admitted at %v, before the period ended at %v", now, objectionEnds)
	}
}

func TestCatalogChangeWarnsAboutWorkloadsItBreaks(t *testing.T) {
	ctx := context.Background()
	admitted(t, create(t, k8s, mailer(nsDeny, "notifier", "postmark")))
	admitted(t, create(t, k8s, mailer(nsWarn, "notifier", "postmark")))
	var tb v1alpha1.TransferBasis
	if err := k8s.Get(ctx, client.ObjectKey{Name: "postmark-dpf"}, &tb); err != nil {
		t.Fatal(err)
	}
	original := tb.DeepCopy()
	t.Cleanup(func() {
		var cur v1alpha1.TransferBasis
		if err := k8s.Get(ctx, client.ObjectKey{Name: "postmark-dpf"}, &cur); err == nil {
			cur.Spec = original.Spec
			_ = k8s.Update(ctx, &cur)
		}
	})
	tb.Spec.Mechanism = v1alpha1.MechanismPrivacyShield
	want := "this change to TransferBasis postmark-dpf would turn 2 compliant workload(s) into violations: shop/Deployment/notifier, shop-warn/Deployment/notifier"
	// The webhook reads workloads from its cache: ask (as a dry run, which it
	// answers like a real request) until the cache has caught up.
	deadline := time.Now().Add(10 * time.Second)
	for {
		warnings.take()
		if err := warned.Update(ctx, tb.DeepCopy(), client.DryRunAll); err != nil {
			t.Fatalf("the catalog webhook must always admit: %v", err)
		}
		if strings.Contains(strings.Join(warnings.take(), "\n"), want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no warning %q", want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := warned.Update(ctx, &tb); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(warnings.take(), "\n")
	for _, w := range []string{want, "[BasisNotValid] postmark via postmark-us (US)", "C-311/18", "1 of them are in namespaces that enforce deny"} {
		if !strings.Contains(got, w) {
			t.Errorf("warnings do not contain %q:\n%s", w, got)
		}
	}
	t.Logf("warnings:\n%s", got)
}

// The denial is what the engine says, and the engine's reason codes are the
// contract: make sure the test names them right.
var _ = []residency.Reason{residency.ReasonBasisNotValid, residency.ReasonObjectionPeriodPending}

func init() { _ = fmt.Sprint }

// An accepted risk at admission: the violating Deployment is refused in a
// deny namespace until a ResidencyException covers it, then admitted with a
// warning naming the exception; once the clock passes expiresOn, an UPDATE
// is refused again (the webhook judges by the clock).
func TestExceptionAdmitsUntilItExpires(t *testing.T) {
	ctx := context.Background()
	rejected(t, create(t, k8s, mailer(nsDeny, "triage", "twilio-sendgrid")), "Deployment shop/triage", "[BasisNotValid] twilio-sendgrid")
	x := &v1alpha1.ResidencyException{ObjectMeta: metav1.ObjectMeta{Name: "triage-sendgrid"}, Spec: v1alpha1.ResidencyExceptionSpec{
		Namespaces: []string{nsDeny}, Workloads: []v1alpha1.ExceptedWorkload{{Kind: "Deployment", Name: "triage"}},
		Subprocessors: []v1alpha1.ObjectName{"twilio-sendgrid"}, ExpiresOn: "2027-03-01", ApprovedOn: "2026-12-01",
		ApprovedBy: "dpo@shop.example", Justification: "migration to the EU region", Ticket: "DPO-142"}}
	if err := k8s.Create(ctx, x); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, x) })
	d := mailer(nsDeny, "triage", "twilio-sendgrid")
	deadline := time.Now().Add(10 * time.Second)
	for {
		warnings.take()
		err := create(t, warned, d)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still refused with the exception in place: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	got := strings.Join(warnings.take(), "\n")
	if !strings.Contains(got, "data residency: accepted risk: [BasisNotValid] twilio-sendgrid via sendgrid-us (US)") ||
		!strings.Contains(got, `excepted by ResidencyException triage-sendgrid until 2027-03-01 (approved by "dpo@shop.example", DPO-142)`) {
		t.Errorf("warnings = %q", got)
	}
	t.Logf("admitted with: %s", got)

	// What the Deployment makes is covered too: its ReplicaSet (as the
	// deployment controller would create it) and that ReplicaSet's Pod.
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil {
		t.Fatal(err)
	}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "triage-5d8c7b9f4", Namespace: nsDeny,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: ptr.To(true)}}},
		Spec: appsv1.ReplicaSetSpec{Selector: d.Spec.Selector, Template: d.Spec.Template}}
	var rsErr error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if rsErr = create(t, k8s, rs); rsErr == nil || time.Now().After(deadline) {
			break // the webhook reads the Deployment from its cache: allow it to catch up
		}
	}
	admitted(t, rsErr)
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "triage-5d8c7b9f4-x2x9q", Namespace: nsDeny, Labels: d.Spec.Template.Labels,
		Annotations:     d.Spec.Template.Annotations,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}}},
		Spec: d.Spec.Template.Spec}
	var podErr error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if podErr = create(t, k8s, p); podErr == nil || time.Now().After(deadline) {
			break
		}
	}
	admitted(t, podErr)

	// The exception expires: an UPDATE that changes the pod spec is refused.
	clk.standBefore(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), -time.Second)
	defer clk.reset()
	var cur appsv1.Deployment
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(d), &cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.Template.Spec.Containers[0].Image = "registry.example/shop/mailer:1.5"
	rejected(t, k8s.Update(ctx, &cur), "Deployment shop/triage", "[BasisNotValid] twilio-sendgrid")
}
