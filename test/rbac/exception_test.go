package rbac_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/controllers"
	"github.com/dataresidency/operator/internal/testenv"
	"github.com/dataresidency/operator/test/faults/harness"
)

// A ResidencyException is cluster-scoped so that a tenant cannot grant
// itself one: on a real API server with RBAC, a namespace admin (every
// right in its namespace) is refused, while someone bound to
// residency-editor cluster-wide may create one.
func TestNamespaceAdminCannotGrantAnException(t *testing.T) {
	env := harness.StartCluster(t, harness.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env.CreateNamespace(t, "shop", nil)
	objs, err := testenv.ReadObjects(testenv.Root() + "/config/rbac/residency_editor_role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		o.SetName("dataresidency-" + o.GetName())
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	// The strongest namespace admin there is: every verb on every resource
	// of every group, in her namespace. (The built-in admin role is filled
	// by kube-controller-manager's aggregation, which this control plane
	// does not run.)
	bind := []client.Object{
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "everything", Namespace: "shop"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-admin", Namespace: "shop"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "alice"}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "everything"}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "dpo-editor"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "dpo"}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "dataresidency-residency-editor"}},
	}
	for _, o := range bind {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	as := func(user string) client.Client {
		cfg := rest.CopyConfig(env.Config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
		c, err := client.New(cfg, client.Options{Scheme: controllers.NewScheme()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	x := func() *v1alpha1.ResidencyException {
		return &v1alpha1.ResidencyException{ObjectMeta: metav1.ObjectMeta{Name: "shop-sendgrid"}, Spec: v1alpha1.ResidencyExceptionSpec{
			Namespaces: []string{"shop"}, Subprocessors: []v1alpha1.ObjectName{"twilio-sendgrid"}, ExpiresOn: "2027-03-01",
			ApprovedOn: "2026-12-01", ApprovedBy: "shop-admin", Justification: "we say so"}}
	}
	alice := as("alice")
	// The binding works: alice administers her namespace...
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "shop"}}
	if err := alice.Create(ctx, cm); err != nil {
		t.Fatalf("the namespace admin cannot even create a ConfigMap in her namespace: %v", err)
	}
	// ...and cannot accept a risk for it.
	if err := alice.Create(ctx, x()); !apierrors.IsForbidden(err) {
		t.Fatalf("a namespace admin created a ResidencyException: %v", err)
	}
	if err := as("dpo").Create(ctx, x()); err != nil {
		t.Fatalf("residency-editor, bound cluster-wide, cannot create a ResidencyException: %v", err)
	}
}
