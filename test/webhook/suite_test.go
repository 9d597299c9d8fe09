// Package webhook_test runs the admission webhooks against a real API server:
// envtest's kube-apiserver with config/webhook/manifests.yaml installed calls
// an in-process manager that serves the webhooks on envtest's local port.
package webhook_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/state"
	"github.com/dataresidency/operator/internal/testenv"
	"github.com/dataresidency/operator/internal/webhook"
)

const operatorNS = "dataresidency-system"

var (
	scheme = runtime.NewScheme()
	env    *testenv.Environment
	k8s    client.Client
	// warned is a client whose responses' warnings are captured.
	warned   client.Client
	warnings = &warningLog{}
	clk      = &offsetClock{}
	provider *state.Provider
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))
}

// offsetClock is real time shifted by an offset, so a test can stand a few
// seconds before a legal transition and watch the webhook cross it.
type offsetClock struct{ offset atomic.Int64 }

func (c *offsetClock) Now() time.Time                  { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *offsetClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }
func (c *offsetClock) standBefore(t time.Time, d time.Duration) {
	c.offset.Store(int64(time.Until(t.Add(-d))))
}
func (c *offsetClock) reset() { c.offset.Store(0) }

// warningLog captures the warnings of API responses.
type warningLog struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningLog) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

// take returns and forgets the warnings captured so far.
func (w *warningLog) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	// The upstream Gateway API route CRDs: hosts their routes serve are not egress.
	routeCRDs, err := testenv.GatewayAPIRouteCRDPaths()
	if err != nil && testenv.InCI() {
		println(err.Error())
		os.Exit(1)
	}
	env, err = testenv.Start(testenv.Options{
		ExtraCRDPaths: routeCRDs,
		WebhookPaths:  []string{filepath.Join(testenv.Root(), "config", "webhook", "manifests.yaml")},
	})
	if err != nil {
		if errors.Is(err, testenv.ErrNoAssets) && !testenv.InCI() {
			println("skipping webhook tests:", err.Error())
			os.Exit(0)
		}
		println(err.Error())
		os.Exit(1)
	}
	code := run(m)
	_ = env.Stop()
	os.Exit(code)
}

func run(m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := startManager(ctx); err != nil {
		println("starting the manager:", err.Error())
		return 1
	}
	var err error
	if k8s, err = client.New(env.Config, client.Options{Scheme: scheme}); err != nil {
		println(err.Error())
		return 1
	}
	wcfg := rest.CopyConfig(env.Config)
	wcfg.WarningHandler = warnings
	if warned, err = client.New(wcfg, client.Options{Scheme: scheme}); err != nil {
		println(err.Error())
		return 1
	}
	if err := seed(ctx); err != nil {
		println("seeding:", err.Error())
		return 1
	}
	return m.Run()
}

// startManager runs what cmd/manager runs for the webhooks, on envtest's
// serving host, port and certificate, with certificate rotation off.
func startManager(ctx context.Context) error {
	o := env.WebhookInstallOptions
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer: ctrlwebhook.NewServer(ctrlwebhook.Options{
			Host: o.LocalServingHost, Port: o.LocalServingPort, CertDir: o.LocalServingCertDir,
		}),
	})
	if err != nil {
		return err
	}
	routes, err := state.SetupIndexes(ctx, mgr.GetFieldIndexer(), mgr.GetRESTMapper())
	if err != nil {
		return err
	}
	provider, err = state.NewProvider(ctx, mgr.GetCache(), nil, clk)
	if err != nil {
		return err
	}
	provider.Routes = state.Routes{Kinds: routes, Reader: mgr.GetCache()}
	wh, err := webhook.Setup(ctx, mgr, provider, webhook.Options{Namespace: operatorNS})
	if err != nil {
		return err
	}
	wh.Register(mgr.GetWebhookServer())
	go func() {
		if err := mgr.Start(ctx); err != nil {
			println("manager:", err.Error())
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !wh.Synced() || mgr.GetWebhookServer().StartedChecker()(nil) != nil {
		if time.Now().After(deadline) {
			return errors.New("the webhooks did not become ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// The namespaces of the tests.
const (
	nsDeny = "shop"
	nsWarn = "shop-warn"
)

// seed creates the namespaces and the catalog, and waits until the webhooks'
// cache sees the catalog.
func seed(ctx context.Context) error {
	enf := func(v string) map[string]string { return map[string]string{v1alpha1.LabelEnforcement: v} }
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsDeny, Labels: enf("deny")}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsWarn, Labels: enf("warn")}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNS, Labels: enf("deny")}},
	}
	objs = append(objs, catalog()...)
	for _, o := range objs {
		if err := k8s.Create(ctx, o); err != nil {
			return err
		}
	}
	// kube-system exists already: ask it to deny, which must not matter.
	var ks corev1.Namespace
	if err := k8s.Get(ctx, client.ObjectKey{Name: "kube-system"}, &ks); err != nil {
		return err
	}
	ks.Labels[v1alpha1.LabelEnforcement] = "deny"
	if err := k8s.Update(ctx, &ks); err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		snap, err := provider.Snapshot(ctx)
		if err == nil {
			_, a := snap.Subprocessor("twilio-sendgrid")
			_, b := snap.Subprocessor("postmark")
			_, c := snap.Subprocessor("listmonk-cloud")
			if a && b && c {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return errors.New("the catalog did not reach the cache")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
