package webhook_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dataresidency/operator/internal/testenv"
)

// An agent's configuration file, mounted from a ConfigMap, names the vendor it
// ships to: the webhook reads it from the cache like an env value. Moving the
// file to an EEA vendor's host admits the same Deployment.
func TestMountedConfigMapIsJudged(t *testing.T) {
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: nsDeny, Name: "relay"}, Data: map[string]string{
		"relay.yaml": "relay:\n  upstream:\n    url: https://api.sendgrid.com/v3/mail/send\n    timeout: 5s\n",
		"README":     "mounted at /etc/relay",
	}}
	if err := create(t, k8s, cm); err != nil {
		t.Fatal(err)
	}
	relay := func() *appsv1.Deployment {
		d := mailer(nsDeny, "relay", "")
		d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "relay"}}}}}
		d.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: "/etc/relay"}}
		return d
	}
	// The cache sees the ConfigMap within a moment.
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		err = create(t, k8s, relay())
		if err != nil || time.Now().After(deadline) {
			break
		}
		_ = k8s.Delete(ctx, relay())
		time.Sleep(100 * time.Millisecond)
	}
	rejected(t, err, "twilio-sendgrid", "C-311/18", "2020-07-16")

	cm.Data["relay.yaml"] = "relay:\n  upstream:\n    url: https://smtp-relay.brevo.com\n"
	if err := k8s.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		err = create(t, k8s, relay())
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	admitted(t, err)
}

// A ReplicationController is a workload like any other: its template's
// endpoints are judged at admission, and its Pods are judged through it.
func TestReplicationControllerIsJudged(t *testing.T) {
	rc := func(url string) *corev1.ReplicationController {
		return &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Namespace: nsDeny, Name: "legacy-mailer"}, Spec: corev1.ReplicationControllerSpec{
			Selector: map[string]string{"app": "legacy-mailer"},
			Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "legacy-mailer"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/legacy:1",
					Env: []corev1.EnvVar{{Name: "MAIL_API", Value: url}}}}}},
		}}
	}
	rejected(t, create(t, k8s, rc("https://api.sendgrid.com/v3/mail/send")), "ReplicationController shop/legacy-mailer", "twilio-sendgrid", "C-311/18")
	admitted(t, create(t, k8s, rc("https://smtp-relay.brevo.com")))
}

// The host an HTTPRoute of the cluster serves is the workload's own public
// name: no unattributed egress warning; a host nothing serves is warned of.
func TestHostServedByHTTPRouteIsNotEgress(t *testing.T) {
	if len(provider.Routes.Kinds) == 0 {
		testenv.MissingTool(t, "the Gateway API route CRDs are not installed")
	}
	route := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"namespace": nsWarn, "name": "storefront"},
		"spec":     map[string]any{"hostnames": []any{"*.storefront-eu.com"}},
	}}
	if err := k8s.Create(context.Background(), route); err != nil {
		t.Fatal(err)
	}
	app := func(name, url string) *appsv1.Deployment {
		d := mailer(nsWarn, name, "brevo")
		d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "APP_URL", Value: url}}
		return d
	}
	// The route reaches the cache within a moment.
	var got string
	for i, deadline := 0, time.Now().Add(10*time.Second); ; i++ {
		warnings.take()
		admitted(t, create(t, warned, app(fmt.Sprintf("storefront-%d", i), "https://www.storefront-eu.com")))
		got = strings.Join(warnings.take(), "\n")
		if !strings.Contains(got, "storefront-eu.com") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Contains(got, "storefront-eu.com") {
		t.Errorf("a host the HTTPRoute serves is warned of: %q", got)
	}
	warnings.take()
	admitted(t, create(t, warned, app("elsewhere", "https://www.storefront-us.com")))
	if got := strings.Join(warnings.take(), "\n"); !strings.Contains(got, "www.storefront-us.com") {
		t.Errorf("a host nothing serves is not warned of: %q", got)
	}
}
