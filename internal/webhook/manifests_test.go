package webhook

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dataresidency/operator/internal/testenv"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// rendered is what `kubectl kustomize` makes of an overlay, by kind.
type rendered struct {
	webhooks     []admissionregv1.ValidatingWebhookConfiguration
	services     []corev1.Service
	secrets      []corev1.Secret
	deployments  []appsv1.Deployment
	roles        []rbacv1.Role
	clusterRoles []rbacv1.ClusterRole
	kinds        map[string]int
}

func kustomize(t *testing.T, dir string) *rendered {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		testenv.MissingTool(t, "kubectl is not installed")
	}
	var out, stderr bytes.Buffer
	cmd := exec.Command(kubectl, "kustomize", filepath.Join("..", "..", "config", dir))
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl kustomize config/%s: %v\n%s", dir, err, stderr.String())
	}
	r := &rendered{kinds: map[string]int{}}
	dec := utilyaml.NewYAMLReader(bufio.NewReader(&out))
	for {
		doc, err := dec.Read()
		if err != nil {
			break
		}
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		r.kinds[meta.Kind]++
		var into any
		switch meta.Kind {
		case "ValidatingWebhookConfiguration":
			r.webhooks = append(r.webhooks, admissionregv1.ValidatingWebhookConfiguration{})
			into = &r.webhooks[len(r.webhooks)-1]
		case "Service":
			r.services = append(r.services, corev1.Service{})
			into = &r.services[len(r.services)-1]
		case "Secret":
			r.secrets = append(r.secrets, corev1.Secret{})
			into = &r.secrets[len(r.secrets)-1]
		case "Deployment":
			r.deployments = append(r.deployments, appsv1.Deployment{})
			into = &r.deployments[len(r.deployments)-1]
		case "Role":
			r.roles = append(r.roles, rbacv1.Role{})
			into = &r.roles[len(r.roles)-1]
		case "ClusterRole":
			r.clusterRoles = append(r.clusterRoles, rbacv1.ClusterRole{})
			into = &r.clusterRoles[len(r.clusterRoles)-1]
		default:
			continue
		}
		if err := yaml.UnmarshalStrict(doc, into); err != nil {
			t.Fatalf("%s: %v", meta.Kind, err)
		}
	}
	return r
}

func TestKustomizeDefault(t *testing.T) {
	r := kustomize(t, "default")
	const ns = "dataresidency-system"
	for _, k := range []string{"Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "Service", "Secret", "ValidatingWebhookConfiguration"} {
		if r.kinds[k] == 0 {
			t.Errorf("config/default installs no %s", k)
		}
	}
	if len(r.webhooks) != 1 || r.webhooks[0].Name != DefaultConfigName {
		t.Fatalf("want one ValidatingWebhookConfiguration %s (the --webhook-config-names default), got %d", DefaultConfigName, len(r.webhooks))
	}
	// The webhook's Service (config/default also has the metrics Service).
	i := slices.IndexFunc(r.services, func(s corev1.Service) bool { return s.Name == DefaultServiceName && s.Namespace == ns })
	if i < 0 {
		t.Fatalf("want the Service %s/%s (the --webhook-service-name default), got %+v", ns, DefaultServiceName, r.services)
	}
	svc := r.services[i]
	if len(r.deployments) != 1 {
		t.Fatalf("want one Deployment, got %d", len(r.deployments))
	}
	dep := r.deployments[0]
	if !matches(svc.Spec.Selector, dep.Spec.Template.Labels) {
		t.Errorf("the Service selects %v, the manager's Pods carry %v", svc.Spec.Selector, dep.Spec.Template.Labels)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 443 || !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool {
		return p.Name == svc.Spec.Ports[0].TargetPort.String() && p.ContainerPort == 9443
	}) {
		t.Errorf("the Service's port 443 must target the manager's webhook port 9443: %+v / %+v", svc.Spec.Ports, c.Ports)
	}

	byName := map[string]admissionregv1.ValidatingWebhook{}
	for _, w := range r.webhooks[0].Webhooks {
		byName[w.Name] = w
		s := w.ClientConfig.Service
		if s == nil || s.Name != svc.Name || s.Namespace != svc.Namespace {
			t.Errorf("webhook %s does not reference the Service %s/%s: %+v", w.Name, svc.Namespace, svc.Name, s)
		}
		if w.SideEffects == nil || *w.SideEffects != admissionregv1.SideEffectClassNone || w.TimeoutSeconds == nil || *w.TimeoutSeconds != 5 ||
			w.MatchPolicy == nil || *w.MatchPolicy != admissionregv1.Equivalent || !slices.Equal(w.AdmissionReviewVersions, []string{"v1"}) {
			t.Errorf("webhook %s: want sideEffects None, timeoutSeconds 5, matchPolicy Equivalent, admissionReviewVersions [v1]", w.Name)
		}
	}
	wl, ok := byName["workloads.dataresidency.io"]
	if !ok || wl.ClientConfig.Service.Path == nil || *wl.ClientConfig.Service.Path != WorkloadsPath || *wl.FailurePolicy != admissionregv1.Fail {
		t.Fatalf("workloads webhook: %+v", wl)
	}
	var resources []string
	for _, rule := range wl.Rules {
		resources = append(resources, rule.Resources...)
		if slices.Contains(rule.Operations, admissionregv1.Delete) {
			t.Errorf("the workloads webhook intercepts DELETE")
		}
	}
	for _, want := range []string{"pods", "pods/ephemeralcontainers", "deployments", "statefulsets", "daemonsets", "replicasets", "jobs", "cronjobs"} {
		if !slices.Contains(resources, want) {
			t.Errorf("the workloads webhook does not cover %s", want)
		}
	}
	sel := wl.NamespaceSelector
	if sel == nil || len(sel.MatchExpressions) != 1 || sel.MatchExpressions[0].Key != "kubernetes.io/metadata.name" ||
		sel.MatchExpressions[0].Operator != "NotIn" || !slices.Contains(sel.MatchExpressions[0].Values, "kube-system") ||
		!slices.Contains(sel.MatchExpressions[0].Values, ns) {
		t.Errorf("the workloads webhook must leave kube-system and %s out: %+v", ns, sel)
	}
	cat, ok := byName["catalog.dataresidency.io"]
	if !ok || *cat.ClientConfig.Service.Path != CatalogPath || *cat.FailurePolicy != admissionregv1.Ignore {
		t.Fatalf("catalog webhook: %+v", cat)
	}

	// The certificate rotation: the Secret exists, is mounted where the
	// manager reads it, and the RBAC reaches exactly it and the configuration.
	if len(r.secrets) != 1 || r.secrets[0].Name != DefaultSecretName || r.secrets[0].Namespace != ns {
		t.Fatalf("want the Secret %s/%s (the --webhook-secret-name default), got %+v", ns, DefaultSecretName, r.secrets)
	}
	mounted := false
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == DefaultSecretName {
			for _, m := range c.VolumeMounts {
				mounted = mounted || (m.Name == v.Name && m.MountPath == "/tmp/k8s-webhook-server/serving-certs" && slices.Contains(c.Args, "--webhook-cert-dir="+m.MountPath))
			}
		}
	}
	if !mounted {
		t.Errorf("the manager does not mount %s at its --webhook-cert-dir", DefaultSecretName)
	}
	secretRule := false
	for _, role := range r.roles {
		for _, rule := range role.Rules {
			if slices.Contains(rule.Resources, "secrets") {
				secretRule = true
				if role.Namespace != ns || !slices.Equal(rule.ResourceNames, []string{DefaultSecretName}) {
					t.Errorf("Role %s/%s: Secrets beyond %s: %+v", role.Namespace, role.Name, DefaultSecretName, rule)
				}
			}
		}
	}
	if !secretRule {
		t.Errorf("no Role lets the rotation update %s", DefaultSecretName)
	}
	vwcRule := false
	for _, cr := range r.clusterRoles {
		for _, rule := range cr.Rules {
			if slices.Contains(rule.Resources, "secrets") || slices.Contains(rule.Resources, "*") {
				t.Errorf("ClusterRole %s grants Secrets: %+v", cr.Name, rule)
			}
			if slices.Contains(rule.Resources, "validatingwebhookconfigurations") {
				vwcRule = true
				if !slices.Equal(rule.ResourceNames, []string{DefaultConfigName}) {
					t.Errorf("ClusterRole %s: webhook configurations beyond %s: %+v", cr.Name, DefaultConfigName, rule)
				}
			}
		}
	}
	if !vwcRule {
		t.Errorf("no ClusterRole lets the rotation inject the CA into %s", DefaultConfigName)
	}
}

func TestKustomizeDefaultCertManager(t *testing.T) {
	r := kustomize(t, "default-certmanager")
	if len(r.secrets) != 0 {
		t.Errorf("cert-manager creates the Secret; the overlay still installs %d", len(r.secrets))
	}
	for _, role := range r.roles {
		for _, rule := range role.Rules {
			if slices.Contains(rule.Resources, "secrets") {
				t.Errorf("with cert-manager the operator needs no Secret access: Role %s", role.Name)
			}
		}
	}
	if len(r.deployments) != 1 || !slices.Contains(r.deployments[0].Spec.Template.Spec.Containers[0].Args, "--disable-cert-rotation") {
		t.Errorf("the manager must run with --disable-cert-rotation")
	}
	if len(r.webhooks) != 1 || !strings.HasSuffix(r.webhooks[0].Annotations["cert-manager.io/inject-ca-from"], "/dataresidency-serving-cert") {
		t.Errorf("the webhook configuration lacks the cainjector annotation")
	}
	if r.kinds["Certificate"] != 1 || r.kinds["Issuer"] != 1 {
		t.Errorf("want a Certificate and an Issuer: %v", r.kinds)
	}
}

func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
