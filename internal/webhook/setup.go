package webhook

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/dataresidency/operator/internal/residency"
	"github.com/dataresidency/operator/internal/state"
)

// Paths the webhooks are served on (the +kubebuilder:webhook markers in doc.go).
const (
	WorkloadsPath = "/validate-workloads"
	CatalogPath   = "/validate-catalog"
)

// Options configure the webhooks.
type Options struct {
	// Namespace is the operator's own namespace: never evaluated nor blocked,
	// so that the operator can always be repaired.
	Namespace string
	// ExemptNamespaces are never evaluated nor blocked either; nil means
	// kube-system. (config/default also keeps both out with a namespaceSelector;
	// this holds where that selector is missing, as in tests.)
	ExemptNamespaces []string
	// NamespaceWait bounds the wait for a just-created Namespace to reach the
	// cache (default 2s, within the 5s admission timeout).
	NamespaceWait time.Duration
	// CatalogBudget bounds the catalog webhook's impact scan (default 3s).
	CatalogBudget time.Duration
}

// Webhooks are the two admission handlers, ready to be registered.
type Webhooks struct {
	Workloads *WorkloadValidator
	Catalog   *CatalogValidator

	synced atomic.Bool
}

// Setup builds the webhooks on the manager's cache and registers, before the
// manager starts, the informers they read (Namespaces as metadata only, the
// seven workload kinds, ConfigMaps and Services), so that these sync with the
// cache instead of on the first request. It takes the shared snapshot provider
// (controllers.Setup's, which also registers the field index it relies on,
// state.SetupIndexes).
//
// Setup does not serve anything: call Register once the serving certificate
// is in place.
func Setup(ctx context.Context, mgr ctrl.Manager, st *state.Provider, opts Options) (*Webhooks, error) {
	if st == nil {
		return nil, errors.New("webhook.Setup: a state.Provider is required")
	}
	exempt := map[string]bool{}
	if opts.ExemptNamespaces == nil {
		opts.ExemptNamespaces = []string{metav1.NamespaceSystem}
	}
	for _, ns := range opts.ExemptNamespaces {
		exempt[ns] = true
	}
	if opts.Namespace != "" {
		exempt[opts.Namespace] = true
	}
	if opts.NamespaceWait <= 0 {
		opts.NamespaceWait = 2 * time.Second
	}
	if opts.CatalogBudget <= 0 {
		opts.CatalogBudget = 3 * time.Second
	}
	reader := mgr.GetCache()
	nsMeta := &metav1.PartialObjectMetadata{}
	nsMeta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	// What PodContext and the catalog's impact analysis read (Ingresses:
	// the hosts the cluster serves are not egress).
	warm := []client.Object{nsMeta, &corev1.ConfigMap{}, &corev1.Service{}, &networkingv1.Ingress{}}
	for _, k := range residency.WorkloadKinds() {
		warm = append(warm, k.New().(client.Object))
	}
	for _, gvk := range st.Routes.Kinds {
		warm = append(warm, state.NewRoute(gvk))
	}
	for _, o := range warm {
		if _, err := mgr.GetCache().GetInformer(ctx, o); err != nil {
			return nil, err
		}
	}
	w := &Webhooks{
		Workloads: &WorkloadValidator{State: st, Reader: reader, Exempt: exempt, NamespaceWait: opts.NamespaceWait},
		Catalog:   &CatalogValidator{State: st, Reader: reader, Exempt: exempt, Budget: opts.CatalogBudget},
	}
	// Mark the webhooks ready once the cache has synced, for the readiness
	// probe, on every replica: each serves the webhooks, leader or not.
	err := mgr.Add(everyReplica(func(ctx context.Context) error {
		if mgr.GetCache().WaitForCacheSync(ctx) {
			w.synced.Store(true)
		}
		<-ctx.Done()
		return nil
	}))
	return w, err
}

// everyReplica is a runnable that does not wait for leader election.
type everyReplica func(context.Context) error

func (f everyReplica) Start(ctx context.Context) error { return f(ctx) }
func (everyReplica) NeedLeaderElection() bool          { return false }

var _ manager.LeaderElectionRunnable = everyReplica(nil)

// Register serves the two webhooks on srv.
func (w *Webhooks) Register(srv webhook.Server) {
	srv.Register(WorkloadsPath, Serve(w.Workloads))
	srv.Register(CatalogPath, Serve(w.Catalog))
}

// Serve returns the HTTP handler of an admission handler: controller-runtime's
// admission.Webhook, which decodes the AdmissionReview, recovers panics
// (answering 500), logs per request and completes the response.
func Serve(h admission.Handler) http.Handler {
	return &admission.Webhook{Handler: h, RecoverPanic: ptr.To(true)}
}

// Synced reports whether the cache the webhooks read has synced.
func (w *Webhooks) Synced() bool { return w.synced.Load() }

// ReadyCheck is a readiness check for the manager: ready once the cache has
// synced and served reports the server started and reachable. served is nil
// until the server is registered (the certificate may not be there yet).
func (w *Webhooks) ReadyCheck(served func() healthz.Checker) healthz.Checker {
	return func(req *http.Request) error {
		if !w.Synced() {
			return errors.New("the webhooks' cache has not synced yet")
		}
		chk := served()
		if chk == nil {
			return errors.New("the webhook server is waiting for its certificate")
		}
		return chk(req)
	}
}
