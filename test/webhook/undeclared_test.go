package webhook_test

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// undeclared is a Deployment with no dataresidency.io/ annotation, its
// object's own subprocessors annotation set to subs when subs is not empty.
func undeclared(ns, name, subs string) *appsv1.Deployment {
	d := mailer(ns, name, "")
	d.Spec.Template.Annotations = nil
	if subs != "" {
		d.Annotations = map[string]string{v1alpha1.AnnotationSubprocessors: subs}
	}
	return d
}

// setRequireDeclaration sets the ResidencyPolicy's requireDeclaration and
// waits until the webhooks' snapshot has it.
func setRequireDeclaration(t *testing.T, r v1alpha1.RuleAction) {
	t.Helper()
	ctx := context.Background()
	var pol v1alpha1.ResidencyPolicy
	if err := k8s.Get(ctx, client.ObjectKey{Name: v1alpha1.PolicyName}, &pol); err != nil {
		t.Fatal(err)
	}
	pol.Spec.RequireDeclaration = r
	if err := k8s.Update(ctx, &pol); err != nil {
		t.Fatal(err)
	}
	want := r
	if want == "" {
		want = v1alpha1.RuleIgnore
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		snap, err := provider.Snapshot(ctx)
		if err == nil && snap.Policy().RequireDeclaration == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhooks' snapshot does not have requireDeclaration %s", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Through the API server: requireDeclaration ignore changes nothing; deny
// refuses an unannotated Deployment in a deny namespace, naming Undeclared and
// the way to declare, and admits dataresidency.io/subprocessors: none; a
// namespace's dataresidency.io/require-declaration label overrides the policy.
func TestRequireDeclaration(t *testing.T) {
	ctx := context.Background()
	// The created policy says nothing: the default is ignore, today's behaviour.
	admitted(t, create(t, k8s, undeclared(nsDeny, "renderer-ignored", "")))

	setRequireDeclaration(t, v1alpha1.RuleDeny)
	t.Cleanup(func() { setRequireDeclaration(t, v1alpha1.RuleIgnore) })

	err := create(t, k8s, undeclared(nsDeny, "renderer", ""))
	rejected(t, err, "Deployment shop/renderer violates 1 flow(s): [Undeclared] the workload does not declare what personal data it sends",
		"(ResidencyPolicy requireDeclaration: deny)", "dataresidency.io/subprocessors: none if no personal data leaves it",
		"dataresidency.io/data-categories: <fideslang keys>")
	t.Logf("kubectl would print: %v", err)

	warnings.take()
	admitted(t, create(t, warned, undeclared(nsDeny, "renderer", "none")))
	if got := warnings.take(); len(got) != 0 {
		t.Errorf("none is admitted with warnings %q", got)
	}

	// Found but not declared: refused, and the denial is the fix.
	d := undeclared(nsDeny, "notifier", "")
	d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "BREVO_API", Value: "https://api.brevo.com/v3"}}
	rejected(t, create(t, k8s, d), "[Undeclared]", "Found: brevo (api.brevo.com);", "declare dataresidency.io/subprocessors: brevo plus")

	// A warn namespace admits it, with the finding as a warning.
	warnings.take()
	admitted(t, create(t, warned, undeclared(nsWarn, "renderer", "")))
	if got := strings.Join(warnings.take(), "\n"); !strings.Contains(got, "data residency violation: [Undeclared]") {
		t.Errorf("warnings = %q", got)
	}

	// A namespace that has not adopted declarations yet.
	legacy := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop-legacy", Labels: map[string]string{
		v1alpha1.LabelEnforcement: "deny", v1alpha1.LabelRequireDeclaration: "ignore"}}}
	if err := k8s.Create(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	admitted(t, create(t, k8s, undeclared(legacy.Name, "renderer", "")))
	rejected(t, create(t, k8s, mailer(legacy.Name, "mailer", "twilio-sendgrid")), "[BasisNotValid]")
}
