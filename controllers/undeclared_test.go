package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/controllers"
)

// TestUndeclaredWorkloads: a namespace that requires declarations (its
// dataresidency.io/require-declaration label, the policy being at ignore)
// reports a workload that declares nothing as Undeclared, not Compliant; the
// policy's summary counts undeclared workloads whatever the rule; relabelling
// the namespace and declaring none move the Report and the count.
func TestUndeclaredWorkloads(t *testing.T) {
	clk.reset()
	c, _ := startManager(t)
	ctx := context.Background()
	ns := "t14-adopting"
	nsObj := namespace(ns, "warn")
	nsObj.Labels[v1alpha1.LabelRequireDeclaration] = "warn"
	create(t, &v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}},
		nsObj, location("t14-se", "SE"), subprocessor("t14-hosting", []string{"t14-se"}, nil))
	renderer := deployment(ns, "renderer", nil)
	create(t, renderer,
		deployment(ns, "thumbnailer", map[string]string{v1alpha1.AnnotationSubprocessors: "none"}),
		deployment(ns, "shop", uses("t14-hosting", "user.name")))

	views := waitReport(t, ns, func(v map[string]*workloadView) (bool, string) {
		return worst(v, "Deployment/renderer") == "warn" && worst(v, "Deployment/thumbnailer") == "pass" &&
			worst(v, "Deployment/shop") == "pass", describe(v)
	})
	if got := views["Deployment/renderer"].reasons; !slices.Equal(got, []string{"Undeclared"}) {
		t.Errorf("renderer reasons %v, want [Undeclared]", got)
	}
	undeclaredIs := func(c *controllers.Controllers, want func(int32) bool) {
		t.Helper()
		eventually(t, &v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}}, func(p *v1alpha1.ResidencyPolicy) (bool, string) {
			if p.Status.Summary == nil {
				return false, "no summary"
			}
			store := c.Store.Summary()
			return p.Status.Summary.Undeclared == store.Undeclared && want(store.Undeclared),
				fmt.Sprintf("summary %+v, store %+v", *p.Status.Summary, store)
		})
	}
	undeclaredIs(c, func(n int32) bool { return n >= 1 })
	before := c.Store.Summary().Undeclared

	// The namespace stops requiring: Compliant again, still counted undeclared.
	var cur corev1.Namespace
	if err := k8s.Get(ctx, client.ObjectKey{Name: ns}, &cur); err != nil {
		t.Fatal(err)
	}
	cur.Labels[v1alpha1.LabelRequireDeclaration] = "ignore"
	if err := k8s.Update(ctx, &cur); err != nil {
		t.Fatal(err)
	}
	waitReport(t, ns, func(v map[string]*workloadView) (bool, string) {
		return worst(v, "Deployment/renderer") == "pass", describe(v)
	})
	undeclaredIs(c, func(n int32) bool { return n == before })

	// It declares that no personal data leaves it: one undeclared fewer.
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(renderer), renderer); err != nil {
		t.Fatal(err)
	}
	renderer.Annotations = map[string]string{v1alpha1.AnnotationSubprocessors: "none"}
	if err := k8s.Update(ctx, renderer); err != nil {
		t.Fatal(err)
	}
	undeclaredIs(c, func(n int32) bool { return n == before-1 })
}
