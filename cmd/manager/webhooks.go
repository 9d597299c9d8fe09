package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/dataresidency/operator/internal/state"
	residencywebhook "github.com/dataresidency/operator/internal/webhook"
)

// webhookFlags configure the admission webhooks and their certificate.
type webhookFlags struct {
	disableCertRotation bool
	serviceName         string
	secretName          string
	configNames         string
}

func (f *webhookFlags) bind(fs *flag.FlagSet) {
	fs.BoolVar(&f.disableCertRotation, "disable-cert-rotation", false,
		"Do not rotate the webhook's serving certificate: serve the tls.crt/tls.key found in --webhook-cert-dir as they are "+
			"(cert-manager, or running outside the cluster). By default the operator keeps a self-signed CA and certificate in "+
			"the --webhook-secret-name Secret of --namespace and injects the CA into --webhook-config-names.")
	fs.StringVar(&f.serviceName, "webhook-service-name", residencywebhook.DefaultServiceName,
		"Service that fronts the webhook server, in --namespace: the certificate is issued for <name>.<namespace>.svc.")
	fs.StringVar(&f.secretName, "webhook-secret-name", residencywebhook.DefaultSecretName,
		"Secret in --namespace where the rotated certificate is kept (mounted at --webhook-cert-dir); the only Secret the operator touches.")
	fs.StringVar(&f.configNames, "webhook-config-names", residencywebhook.DefaultConfigName,
		"Comma-separated ValidatingWebhookConfigurations whose caBundle the rotation keeps current.")
}

// setupWebhooks wires the admission webhooks into mgr, unless
// ENABLE_WEBHOOKS=false, and returns the readiness check to serve: ready once
// the webhooks' cache has synced and the server answers. With certificate
// rotation, the handlers (and so the server, which reads its certificate when
// it starts) are registered only once the rotated certificate is mounted.
func setupWebhooks(ctx context.Context, mgr ctrl.Manager, st *state.Provider, srv webhook.Server,
	namespace, certDir string, f webhookFlags) (healthz.Checker, error) {
	log := ctrl.Log.WithName("setup")
	if os.Getenv("ENABLE_WEBHOOKS") == "false" {
		log.Info("admission webhooks disabled (ENABLE_WEBHOOKS=false)")
		return healthz.Ping, nil
	}
	// controllers.Setup registered the cache indexes the webhooks read through.
	wh, err := residencywebhook.Setup(ctx, mgr, st, residencywebhook.Options{Namespace: namespace})
	if err != nil {
		return nil, err
	}
	var serving atomic.Bool
	served := func() healthz.Checker {
		if !serving.Load() {
			return nil
		}
		return srv.StartedChecker()
	}
	register := func() {
		wh.Register(srv)
		// The manager starts the server as soon as it is first asked for it.
		_ = mgr.GetWebhookServer()
		serving.Store(true)
	}
	if f.disableCertRotation {
		register()
		return wh.ReadyCheck(served), nil
	}
	if certDir == "" {
		certDir = filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs")
	}
	var names []string
	for _, n := range strings.Split(f.configNames, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	ready, err := residencywebhook.AddCertRotation(mgr, residencywebhook.CertRotation{
		Namespace: namespace, SecretName: f.secretName, ServiceName: f.serviceName,
		CertDir: certDir, ConfigNames: names,
	})
	if err != nil {
		return nil, err
	}
	go func() {
		select {
		case <-ready:
			log.Info("webhook certificate in place; serving the admission webhooks")
			register()
		case <-ctx.Done():
		}
	}()
	return wh.ReadyCheck(served), nil
}
