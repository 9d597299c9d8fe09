package webhook

import (
	"crypto/x509"
	"errors"
	"net/http"
	"net/url"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Defaults of the names config/default installs (after its namePrefix
// "dataresidency-"); the manager's flags override them.
const (
	DefaultServiceName = "dataresidency-webhook-service"
	DefaultSecretName  = "dataresidency-webhook-server-cert"
	DefaultConfigName  = "dataresidency-validating-webhook-configuration"
)

// The one exception to "the operator never reads Secrets": the certificate
// rotator keeps the webhook's serving certificate in one named Secret of the
// operator's own namespace (a namespaced Role, restricted by resourceNames;
// see docs/webhook.md). Its informer lists and watches only that Secret, with a
// metadata.name field selector, which the API server authorizes against
// resourceNames. The same holds for the webhook configuration whose caBundle it
// keeps (cluster-scoped, hence in the ClusterRole).
// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,resourceNames=dataresidency-webhook-server-cert,verbs=get;list;watch;update
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,resourceNames=dataresidency-validating-webhook-configuration,verbs=get;list;watch;update;patch

// CertRotation configures the operator's own rotation of its serving
// certificate with open-policy-agent/cert-controller: a self-signed CA and a
// server certificate for the webhook Service, kept in SecretName (which the
// manager's Pod mounts at CertDir) and injected as caBundle into the webhook
// configurations.
type CertRotation struct {
	// Namespace is the operator's namespace, where the Secret and Service are.
	Namespace string
	// SecretName is the Secret holding the certificates. It must exist
	// (config/default installs it empty); the rotator fills it.
	SecretName string
	// ServiceName is the webhook Service the certificate is issued for.
	ServiceName string
	// CertDir is where the Secret is mounted.
	CertDir string
	// ConfigNames are the ValidatingWebhookConfigurations to inject the CA into.
	ConfigNames []string
}

// AddCertRotation adds the rotator to mgr. The returned channel is closed
// once the certificate is mounted in CertDir and the CA is injected: register
// the webhooks on the server then (the server reads its certificate on start).
func AddCertRotation(mgr ctrl.Manager, c CertRotation) (<-chan struct{}, error) {
	if c.Namespace == "" {
		return nil, errors.New("certificate rotation needs the operator's namespace (--namespace or $POD_NAMESPACE)")
	}
	if c.SecretName == "" || c.ServiceName == "" || c.CertDir == "" || len(c.ConfigNames) == 0 {
		return nil, errors.New("certificate rotation needs a Secret, a Service, a certificate directory and webhook configuration names")
	}
	ready := make(chan struct{})
	svc := c.ServiceName + "." + c.Namespace + ".svc"
	cr := &rotator.CertRotator{
		SecretKey:      types.NamespacedName{Namespace: c.Namespace, Name: c.SecretName},
		CertDir:        c.CertDir,
		CAName:         "dataresidency-webhook-ca",
		CAOrganization: "dataresidency.io",
		DNSName:        svc,
		ExtraDNSNames:  []string{svc + ".cluster.local", c.ServiceName + "." + c.Namespace, c.ServiceName},
		IsReady:        ready,
		FieldOwner:     "dataresidency-operator",
		ExtKeyUsages:   &[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// Every replica serves the webhook, so every replica rotates (the
		// Secret's resourceVersion arbitrates concurrent writes) and every
		// replica waits for its own mount.
		RequireLeaderElection: false,
		EnableReadinessCheck:  true,
	}
	for _, n := range c.ConfigNames {
		cr.Webhooks = append(cr.Webhooks, rotator.WebhookInfo{Name: n, Type: rotator.Validating})
	}
	selectors := map[string]string{
		"/api/v1/namespaces/" + url.PathEscape(c.Namespace) + "/secrets": c.SecretName,
	}
	if len(c.ConfigNames) == 1 {
		selectors["/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"] = c.ConfigNames[0]
	}
	if err := rotator.AddRotator(narrowedManager{Manager: mgr, selectors: selectors}, cr); err != nil {
		return nil, err
	}
	return ready, nil
}

// narrowedManager hands the rotator a rest.Config whose list and watch
// requests on the Secrets of the namespace (and on the webhook
// configurations) carry a metadata.name field selector: the rotator's
// informers then see only the objects it manages, and need RBAC on those
// names only instead of on every Secret of the namespace. The rotator builds
// its cache from GetConfig and offers no other hook to scope it.
type narrowedManager struct {
	ctrl.Manager
	selectors map[string]string // collection path -> the one name to list
}

func (m narrowedManager) GetConfig() *rest.Config {
	cfg := rest.CopyConfig(m.Manager.GetConfig())
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &nameSelectingTransport{next: rt, selectors: m.selectors}
	})
	return cfg
}

type nameSelectingTransport struct {
	next      http.RoundTripper
	selectors map[string]string
}

func (t *nameSelectingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		return t.next.RoundTrip(req)
	}
	name, ok := t.selectors[req.URL.Path]
	if !ok {
		return t.next.RoundTrip(req)
	}
	q := req.URL.Query()
	if q.Get("fieldSelector") != "" {
		return t.next.RoundTrip(req)
	}
	q.Set("fieldSelector", "metadata.name="+name)
	r := req.Clone(req.Context())
	r.URL.RawQuery = q.Encode()
	return t.next.RoundTrip(r)
}
