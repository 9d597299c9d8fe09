package chart_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dataresidency/operator/internal/testenv"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dataresidency/operator/internal/webhook"
	"github.com/dataresidency/operator/test/faults/harness"
)

// TestOnAControlPlane applies what kustomize and the chart render to a real
// kube-apiserver: a server-side dry run of both, then the lifecycle an
// operator of the operator goes through. The operator's own writes (the CA in
// the webhook configuration, the certificate in the Secret) must survive a
// re-apply of config/default and a `helm upgrade` (on a control plane of its
// own); `helm uninstall` keeps the CRDs, and so the catalog.
func TestOnAControlPlane(t *testing.T) {
	helm := helmBin(t)
	env := harness.StartCluster(t, harness.Options{NoCRDs: true})
	kc := "--kubeconfig=" + env.Kubeconfig()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	kubectl, _ := exec.LookPath("kubectl")

	t.Run("dry run", func(t *testing.T) {
		for _, set := range []string{
			"",
			"replicaCount=3,webhook.failurePolicy=Ignore,webhook.excludedNamespaces[0]=legacy,networkPolicy.webhookFrom[0].ipBlock.cidr=10.0.0.0/24,extraArgs[0]=--zap-log-level=debug",
		} {
			args := []string{"template", release, "dist/chart", "--namespace", namespace}
			if set != "" {
				args = append(args, "--set", set)
			}
			rendered := run(t, nil, helm, args...)
			// The same request kubectl apply --server-side --dry-run=server
			// sends, without kubectl.
			n := serverSideDryRun(ctx, t, env, rendered)
			t.Logf("helm template --set %q: the API server accepts all %d objects (server-side apply, dry run)", set, n)
			if kubectl == "" {
				continue
			}
			out := run(t, rendered, kubectl, kc, "apply", "--server-side", "--dry-run=server", "-f", "-")
			got := bytes.Count(out, []byte("serverside-applied (server dry run)"))
			if got != n {
				t.Errorf("helm template --set %q | kubectl apply: %d objects applied, want %d:\n%s", set, got, n, out)
			}
			t.Logf("helm template --set %q | kubectl apply --server-side --dry-run=server: %d objects", set, got)
		}
		if kubectl == "" {
			t.Log("kubectl is not on PATH: config/default is not dry-run applied")
			return
		}
		out := run(t, nil, kubectl, kc, "apply", "--server-side", "--dry-run=server", "-k", "config/default")
		t.Logf("kubectl apply --server-side --dry-run=server -k config/default:\n%s", harness.Indent(out))
	})

	t.Run("kustomize re-apply keeps the operator's writes", func(t *testing.T) {
		if kubectl == "" {
			testenv.MissingTool(t, "kubectl is not on PATH")
		}
		run(t, nil, kubectl, kc, "apply", "--server-side", "-k", "config/default")
		operatorWrites(ctx, t, env, namespace)
		run(t, nil, kubectl, kc, "apply", "--server-side", "-k", "config/default")
		checkOperatorWrites(ctx, t, env, namespace)
	})

	const ns = "compliance"
	t.Run("helm install, upgrade, uninstall", func(t *testing.T) {
		// A control plane of its own: the CRDs config/default installed
		// belong to kustomize, and Helm refuses to adopt them. (Deleting them
		// first made the test wait on the API server's CRD finalizer, which
		// took minutes on a loaded CI machine.)
		env := harness.StartCluster(t, harness.Options{NoCRDs: true})
		kc := "--kubeconfig=" + env.Kubeconfig()
		out := run(t, nil, helm, kc, "install", release, "dist/chart", "--namespace", ns, "--create-namespace")
		t.Logf("helm install:\n%s", harness.Indent(out))
		var dep appsv1.Deployment
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "dataresidency-controller-manager"}, &dep); err != nil {
			t.Fatal(err)
		}
		if *dep.Spec.Replicas != 2 || dep.Labels["app.kubernetes.io/managed-by"] != "Helm" {
			t.Errorf("installed Deployment: replicas %d, labels %v", *dep.Spec.Replicas, dep.Labels)
		}
		restrictedPod(ctx, t, env, ns, &dep)
		operatorWrites(ctx, t, env, ns)
		out = run(t, nil, helm, kc, "upgrade", release, "dist/chart", "--namespace", ns, "--set", "replicaCount=3,image.tag=v2")
		t.Logf("helm upgrade:\n%s", harness.Indent(out))
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "dataresidency-controller-manager"}, &dep); err != nil {
			t.Fatal(err)
		}
		if *dep.Spec.Replicas != 3 || dep.Spec.Template.Spec.Containers[0].Image != "dataresidency-operator:v2" {
			t.Errorf("upgraded Deployment: replicas %d, image %s", *dep.Spec.Replicas, dep.Spec.Template.Spec.Containers[0].Image)
		}
		checkOperatorWrites(ctx, t, env, ns)

		out = run(t, nil, helm, kc, "uninstall", release, "--namespace", ns)
		t.Logf("helm uninstall:\n%s", harness.Indent(out))
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "dataresidency-controller-manager"}, &dep)
		if !apierrors.IsNotFound(err) {
			t.Errorf("the Deployment survived helm uninstall: %v", err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "transferbases.dataresidency.io"}, &crd); err != nil {
			t.Errorf("helm uninstall deleted the TransferBasis CRD (and with it the catalog): %v", err)
		}
	})
}

var fakeCA = []byte("-----BEGIN CERTIFICATE-----\nMIIB (the operator's CA)\n-----END CERTIFICATE-----\n")

// operatorWrites does what the operator's certificate rotation does once it
// runs: the CA into the webhook configuration, the certificate into the Secret.
func operatorWrites(ctx context.Context, t *testing.T, env *harness.Env, ns string) {
	t.Helper()
	var vwc admissionregv1.ValidatingWebhookConfiguration
	if err := env.Client.Get(ctx, client.ObjectKey{Name: webhook.DefaultConfigName}, &vwc); err != nil {
		t.Fatal(err)
	}
	for i := range vwc.Webhooks {
		vwc.Webhooks[i].ClientConfig.CABundle = fakeCA
	}
	if err := env.Client.Update(ctx, &vwc, client.FieldOwner("manager")); err != nil {
		t.Fatal(err)
	}
	var s corev1.Secret
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: webhook.DefaultSecretName}, &s); err != nil {
		t.Fatal(err)
	}
	s.Data = map[string][]byte{"tls.crt": []byte("cert"), "tls.key": []byte("key"), "ca.crt": fakeCA}
	if err := env.Client.Update(ctx, &s, client.FieldOwner("manager")); err != nil {
		t.Fatal(err)
	}
}

func checkOperatorWrites(ctx context.Context, t *testing.T, env *harness.Env, ns string) {
	t.Helper()
	var vwc admissionregv1.ValidatingWebhookConfiguration
	if err := env.Client.Get(ctx, client.ObjectKey{Name: webhook.DefaultConfigName}, &vwc); err != nil {
		t.Fatal(err)
	}
	for _, w := range vwc.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, fakeCA) {
			t.Errorf("webhook %s lost the caBundle the operator injected", w.Name)
		}
	}
	var s corev1.Secret
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: webhook.DefaultSecretName}, &s); err != nil {
		t.Fatal(err)
	}
	if string(s.Data["tls.crt"]) != "cert" || !bytes.Equal(s.Data["ca.crt"], fakeCA) {
		t.Errorf("the Secret lost the certificate the operator rotated: %v", s.Data)
	}
}

// serverSideDryRun sends every object of a rendered manifest to the API
// server as a server-side apply with dryRun=All, as `kubectl apply
// --server-side --dry-run=server` does, and returns how many it accepted.
// Objects of kinds the server does not serve yet (a CRD's own custom
// resources) would fail; the chart renders none by default.
func serverSideDryRun(ctx context.Context, t *testing.T, env *harness.Env, manifest []byte) int {
	t.Helper()
	dc, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range parse(t, manifest) {
		u := &unstructured.Unstructured{Object: o}
		gvk := u.GroupVersionKind()
		mapping, err := env.Client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Errorf("%s: %v", id(o), err)
			continue
		}
		var ri dynamic.ResourceInterface = dc.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dc.Resource(mapping.Resource).Namespace(u.GetNamespace())
		}
		body, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ri.Patch(ctx, u.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
			DryRun: []string{metav1.DryRunAll}, FieldManager: "chart-test", Force: ptr.To(true),
		}); err != nil {
			t.Errorf("%s: the API server refuses it: %v", id(o), err)
			continue
		}
		n++
	}
	return n
}

// restrictedPod checks the manager's Pod against the restricted Pod Security
// Standard, as the API server's PodSecurity admission enforces it: a dry-run
// create of a Pod from the Deployment's template in a namespace labelled
// enforce=restricted is admitted, and the same Pod without its container
// securityContext is not (so the check is live).
func restrictedPod(ctx context.Context, t *testing.T, env *harness.Env, ns string, dep *appsv1.Deployment) {
	t.Helper()
	var n corev1.Namespace
	if err := env.Client.Get(ctx, client.ObjectKey{Name: ns}, &n); err != nil {
		t.Fatal(err)
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	n.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	if err := env.Client.Update(ctx, &n); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "psa-check", Labels: dep.Spec.Template.Labels},
		Spec:       *dep.Spec.Template.Spec.DeepCopy(),
	}
	if err := env.Client.Create(ctx, pod, client.DryRunAll); err != nil {
		t.Errorf("the manager's Pod is refused in a namespace enforcing the restricted Pod Security Standard: %v", err)
	} else {
		t.Log("the manager's Pod passes the restricted Pod Security Standard (PodSecurity admission, dry run)")
	}
	weak := pod.DeepCopy()
	weak.Spec.Containers[0].SecurityContext = nil
	if err := env.Client.Create(ctx, weak, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "PodSecurity") {
		t.Errorf("without its securityContext the Pod should violate the restricted standard; got %v", err)
	}
}
