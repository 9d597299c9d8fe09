package harness

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/dataresidency/operator/internal/testcerts"
	"github.com/dataresidency/operator/internal/testenv"
	"github.com/dataresidency/operator/internal/webhook"
)

// Serving is where a manager serves its webhooks: a port on 127.0.0.1 and a
// directory holding tls.crt and tls.key, signed by CA.
type Serving struct {
	Port    int
	CertDir string
	CA      []byte // PEM
}

// NewServing generates a CA and a serving certificate for 127.0.0.1
// (internal/testcerts) and picks a free port.
func NewServing(t testing.TB) *Serving {
	t.Helper()
	dir := t.TempDir()
	s, err := testcerts.NewLocalServing()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	return &Serving{Port: FreePort(t), CertDir: dir, CA: s.CAPEM}
}

// URL is the base URL of the webhook server.
func (s *Serving) URL() string { return "https://127.0.0.1:" + strconv.Itoa(s.Port) }

// RegisterWebhooks creates the ValidatingWebhookConfiguration config/default
// installs (config/webhook/manifests.yaml with its namespaceSelector), calling
// baseURL instead of the Service, trusting caPEM.
func RegisterWebhooks(t testing.TB, env *Env, baseURL string, caPEM []byte) *admissionregv1.ValidatingWebhookConfiguration {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.Root(), "config", "webhook", "manifests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var vwc admissionregv1.ValidatingWebhookConfiguration
	if err := yaml.UnmarshalStrict(data, &vwc); err != nil {
		t.Fatal(err)
	}
	vwc.Name = webhook.DefaultConfigName
	for i := range vwc.Webhooks {
		w := &vwc.Webhooks[i]
		w.ClientConfig = admissionregv1.WebhookClientConfig{URL: ptr.To(baseURL + *w.ClientConfig.Service.Path), CABundle: caPEM}
		if w.Name == "workloads.dataresidency.io" {
			// config/default's webhook_namespace_selector_patch.yaml.
			w.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"kube-system", Namespace},
			}}}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := env.Client.Create(ctx, &vwc); err != nil {
		t.Fatalf("register the webhooks: %v", err)
	}
	return &vwc
}

// WebhookConfiguration reads the registered configuration back.
func WebhookConfiguration(t testing.TB, env *Env) *admissionregv1.ValidatingWebhookConfiguration {
	t.Helper()
	var vwc admissionregv1.ValidatingWebhookConfiguration
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: webhook.DefaultConfigName}, &vwc); err != nil {
		t.Fatal(err)
	}
	return &vwc
}
