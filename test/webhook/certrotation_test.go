package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/dataresidency/operator/internal/testenv"
	"github.com/dataresidency/operator/internal/webhook"
)

// TestCertRotationWithLeastPrivilege runs the certificate rotation as a user
// holding exactly the generated RBAC (config/rbac/role.yaml): it must fill the
// Secret and inject the CA, while that user can read no other Secret.
func TestCertRotationWithLeastPrivilege(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const user = "dataresidency-operator"
	u, err := env.AddUser(envtest.User{Name: user}, nil)
	if err != nil {
		t.Fatal(err)
	}
	subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: user}}
	for _, r := range generatedRoles(t) {
		switch r := r.(type) {
		case *rbacv1.ClusterRole:
			r.Name = "rotation-test-" + r.Name
			mustCreate(t, r)
			mustCreate(t, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: r.Name}, Subjects: subject,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: r.Name}})
		case *rbacv1.Role:
			r.Namespace = operatorNS // kustomize's namespace: in config/default
			mustCreate(t, r)
			mustCreate(t, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: operatorNS}, Subjects: subject,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: r.Name}})
		}
	}
	// What config/default installs: the empty Secret, and the webhook
	// configuration (here one that matches nothing, so as not to disturb the
	// other tests), plus a Secret the operator has no business reading.
	mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: webhook.DefaultSecretName, Namespace: operatorNS}})
	mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "database-password", Namespace: operatorNS}, StringData: map[string]string{"password": "hunter2"}})
	mustCreate(t, &admissionregv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: webhook.DefaultConfigName},
		Webhooks: []admissionregv1.ValidatingWebhook{{
			Name:                    "noop.dataresidency.io",
			ClientConfig:            admissionregv1.WebhookClientConfig{Service: &admissionregv1.ServiceReference{Namespace: operatorNS, Name: webhook.DefaultServiceName, Path: ptr.To("/noop")}},
			Rules:                   []admissionregv1.RuleWithOperations{{Operations: []admissionregv1.OperationType{admissionregv1.Create}, Rule: admissionregv1.Rule{APIGroups: []string{"noop.example.com"}, APIVersions: []string{"v1"}, Resources: []string{"nothings"}}}},
			FailurePolicy:           ptr.To(admissionregv1.Ignore),
			SideEffects:             ptr.To(admissionregv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
		}},
	})

	mgr, err := ctrl.NewManager(u.Config(), ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	certDir := t.TempDir()
	ready, err := webhook.AddCertRotation(mgr, webhook.CertRotation{
		Namespace: operatorNS, SecretName: webhook.DefaultSecretName, ServiceName: webhook.DefaultServiceName,
		CertDir: certDir, ConfigNames: []string{webhook.DefaultConfigName},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	go kubelet(ctx, certDir)

	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("the manager stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the rotated certificate was not in place within 60s")
	}

	var s corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: webhook.DefaultSecretName}, &s); err != nil {
		t.Fatal(err)
	}
	var vwc admissionregv1.ValidatingWebhookConfiguration
	if err := k8s.Get(ctx, client.ObjectKey{Name: webhook.DefaultConfigName}, &vwc); err != nil {
		t.Fatal(err)
	}
	if len(s.Data["ca.crt"]) == 0 || !bytes.Equal(vwc.Webhooks[0].ClientConfig.CABundle, s.Data["ca.crt"]) {
		t.Fatalf("the webhook configuration's caBundle is not the Secret's CA")
	}
	block, _ := pem.Decode(s.Data["tls.crt"])
	if block == nil {
		t.Fatal("no certificate in tls.crt")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.VerifyHostname(webhook.DefaultServiceName + "." + operatorNS + ".svc"); err != nil {
		t.Errorf("the certificate is not for the Service: %v", err)
	}

	// Least privilege: nothing beyond the one Secret and the one configuration.
	uc, err := client.New(u.Config(), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	forbidden := func(what string, err error) {
		t.Helper()
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s: want Forbidden, got %v", what, err)
		}
	}
	forbidden("get another Secret of the namespace", uc.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: "database-password"}, &corev1.Secret{}))
	forbidden("list the Secrets of the namespace", uc.List(ctx, &corev1.SecretList{}, client.InNamespace(operatorNS)))
	forbidden("list Secrets cluster-wide", uc.List(ctx, &corev1.SecretList{}))
	forbidden("get another webhook configuration", uc.Get(ctx, client.ObjectKey{Name: "validating-webhook-configuration"}, &admissionregv1.ValidatingWebhookConfiguration{}))
	if err := uc.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: webhook.DefaultSecretName}, &corev1.Secret{}); err != nil {
		t.Errorf("the rotation's own Secret: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("manager: %v", err)
	}
}

// kubelet plays the kubelet's part: it projects the Secret into the
// certificate directory once the rotation has filled it.
func kubelet(ctx context.Context, dir string) {
	for ctx.Err() == nil {
		var s corev1.Secret
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: operatorNS, Name: webhook.DefaultSecretName}, &s); err == nil && len(s.Data["tls.crt"]) > 0 {
			for k, v := range s.Data {
				_ = os.WriteFile(filepath.Join(dir, k), v, 0o600)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// generatedRoles reads the ClusterRole and Role that `make manifests`
// generates from the +kubebuilder:rbac markers.
func generatedRoles(t *testing.T) []client.Object {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.Root(), "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []client.Object
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if err != nil {
			break
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		var o client.Object
		switch meta.Kind {
		case "ClusterRole":
			o = &rbacv1.ClusterRole{}
		case "Role":
			o = &rbacv1.Role{}
		default:
			continue
		}
		if err := yaml.Unmarshal(doc, o); err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	if len(out) != 2 {
		t.Fatalf("want a ClusterRole and a Role in config/rbac/role.yaml, got %d objects", len(out))
	}
	return out
}

func mustCreate(t *testing.T, o client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), o); err != nil {
		t.Fatalf("create %T %s: %v", o, o.GetName(), err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), o) })
}
