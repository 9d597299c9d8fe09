package controllers_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/state"
	"github.com/dataresidency/operator/internal/testenv"
)

// What discovery reads beyond env, through the real API server: a file of a
// mounted ConfigMap names a third-country vendor (reported; an edit to an EEA
// vendor's host clears it), a ReplicationController is a workload like any
// other, and the cluster's own facts keep names quiet (a host an Ingress
// serves is the workload's own; "svc.<namespace>" with that Namespace there
// is a Service).
func TestDiscoveryReadsMountedConfigMapsAndClusterFacts(t *testing.T) {
	clk.reset()
	// The upstream Gateway API route CRDs, installed before the manager
	// starts: it reads the routes the cluster serves at start.
	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: testenv.GatewayAPIRouteCRDs(t)}); err != nil {
		t.Fatal(err)
	}
	startManager(t)
	ns := "disc-shop"
	us := subprocessor("disc-us-mailer", []string{"disc-us"}, []string{"disc-us-ps"})
	us.Spec.Egress = &v1alpha1.Egress{Hosts: []string{"api.usmailer.io"}}
	eu := subprocessor("disc-eu-mailer", []string{"disc-fr"}, nil)
	eu.Spec.Egress = &v1alpha1.Egress{Hosts: []string{"api.eumailer.fr"}}
	create(t, &v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}},
		namespace(ns, "audit"), namespace("events", "audit"), location("disc-us", "US"), location("disc-fr", "FR"),
		basis("disc-us-ps", v1alpha1.MechanismPrivacyShield, "US"), us, eu,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "relay"}, Data: map[string]string{
			"relay.yaml": "upstream:\n  url: https://api.usmailer.io/v3/send\n  retries: 3\n"}},
		&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop"}, Spec: networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{Host: "shop.acme-retail.com"}}}},
		httpRoute(ns, "api", "*.api.acme-retail.com"),
	)
	relay := deployment(ns, "relay", nil)
	relay.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "relay"}}}}}
	relay.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: "/etc/relay"}}
	web := deployment(ns, "web", nil)
	web.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{
		{Name: "APP_URL", Value: "https://shop.acme-retail.com"},
		{Name: "API_BASE", Value: "https://v2.api.acme-retail.com/orders"},
		{Name: "KAFKA_BROKERS", Value: "kafka.events:9092"},
		{Name: "S3_ENDPOINT", Value: "http://minio.storage:9000"},
	}
	legacy := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "legacy"}, Spec: corev1.ReplicationControllerSpec{
		Selector: map[string]string{"app": "legacy"},
		Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "legacy"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/legacy:1",
				Env: []corev1.EnvVar{{Name: "MAIL_API", Value: "https://api.usmailer.io"}}}}}},
	}}
	create(t, relay, web, legacy)

	views := waitReport(t, ns, func(v map[string]*workloadView) (bool, string) {
		return worst(v, "Deployment/relay") == "fail" && worst(v, "ReplicationController/legacy") == "fail" &&
			worst(v, "Deployment/web") == "warn" && mentions(v["Deployment/web"], "minio.storage"), describe(v)
	})
	if !slices.Contains(views["Deployment/relay"].reasons, "BasisNotValid") {
		t.Errorf("relay reasons %v, want BasisNotValid", views["Deployment/relay"].reasons)
	}

	cm := &corev1.ConfigMap{}
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "relay"}, cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["relay.yaml"] = "upstream:\n  url: https://api.eumailer.fr/send\n"
	if err := k8s.Update(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
	waitReport(t, ns, func(v map[string]*workloadView) (bool, string) {
		return worst(v, "Deployment/relay") == "pass", describe(v)
	})

	// Without the Ingress, the host is no longer the cluster's own: web's
	// APP_URL is egress nobody claims. A deletion enqueues only the workloads
	// whose discovery relied on the cluster, as web's did.
	if err := k8s.Delete(context.Background(), &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop"}}); err != nil {
		t.Fatal(err)
	}
	views = waitReport(t, ns, func(v map[string]*workloadView) (bool, string) {
		return mentions(v["Deployment/web"], "shop.acme-retail.com"), describe(v)
	})
	if !mentions(views["Deployment/web"], "shop.acme-retail.com") || mentions(views["Deployment/web"], "v2.api.acme-retail.com") {
		t.Errorf("web's results name the Ingress's host only: %+v", views["Deployment/web"].results)
	}

	// The same for the HTTPRoute: its wildcard served v2.api.
	if err := k8s.Delete(context.Background(), httpRoute(ns, "api")); err != nil {
		t.Fatal(err)
	}
	waitReport(t, ns, func(v map[string]*workloadView) (bool, string) {
		return mentions(v["Deployment/web"], "v2.api.acme-retail.com"), describe(v)
	})

	// Facts that arrive quiet the names again: a new Ingress serving the
	// host, and a Namespace "storage" making minio.storage a Service.
	create(t, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop-again"}, Spec: networkingv1.IngressSpec{
		Rules: []networkingv1.IngressRule{{Host: "shop.acme-retail.com"}}}}, namespace("storage", "audit"))
	waitReport(t, ns, func(v map[string]*workloadView) (bool, string) {
		return !mentions(v["Deployment/web"], "shop.acme-retail.com") && !mentions(v["Deployment/web"], "minio.storage") &&
			mentions(v["Deployment/web"], "v2.api.acme-retail.com"), describe(v)
	})
}

// httpRoute is a Gateway API HTTPRoute serving hostnames.
func httpRoute(ns, name string, hostnames ...string) *unstructured.Unstructured {
	u := state.NewRoute(state.RouteKinds[0])
	u.SetNamespace(ns)
	u.SetName(name)
	if len(hostnames) > 0 {
		hs := make([]any, len(hostnames))
		for i, h := range hostnames {
			hs[i] = h
		}
		u.Object["spec"] = map[string]any{"hostnames": hs}
	}
	return u
}

// mentions reports whether a result of the workload names s.
func mentions(v *workloadView, s string) bool {
	if v == nil {
		return false
	}
	for _, r := range v.results {
		if strings.Contains(r.Description, s) {
			return true
		}
	}
	return false
}
