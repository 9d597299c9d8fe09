// Command manager runs the data residency operator: the reconcilers of the
// residency kinds, and (unless ENABLE_WEBHOOKS=false) the admission webhooks.
package main

import (
	"crypto/tls"
	"flag"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	_ "k8s.io/client-go/plugin/pkg/client/auth"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/dataresidency/operator/controllers"
)

var scheme = controllers.NewScheme()

// defaultGCPercent is the manager's GOGC unless the environment sets one: its
// heap is mostly the long-lived informer cache (bench/notes.md, round 2).
const defaultGCPercent = 50

func main() {
	var (
		metricsAddr, probeAddr, namespace, webhookCertDir string
		leaderElect, secureMetrics, enableHTTP2           bool
		webhookPort, workers                              int
		pprofAddr                                         string
		qps                                               float64
		burst                                             int
	)
	flag.Float64Var(&qps, "kube-api-qps", 100, "Requests per second the manager may send to the API server (client-side limit; API Priority and Fairness still applies).")
	flag.IntVar(&burst, "kube-api-burst", 200, "Burst above --kube-api-qps.")
	flag.IntVar(&workers, "workload-workers", 4, "Concurrent reconciles per workload kind and for Reports.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "0", "Address to serve net/http/pprof on, for profiling (\"0\" disables it).")
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "Address the metrics endpoint binds to (\"0\" disables it). Served over HTTPS with authentication and authorization unless --metrics-secure=false.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS, authenticating and authorizing requests through the API server.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz probes bind to.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader among replicas before running the reconcilers (the webhook is served by every replica).")
	flag.StringVar(&namespace, "namespace", os.Getenv("POD_NAMESPACE"), "Namespace the operator runs in (defaults to $POD_NAMESPACE): the leader-election lease lives there and admission never blocks it.")
	flag.StringVar(&webhookCertDir, "webhook-cert-dir", "", "Directory holding tls.crt and tls.key for the webhook server (default $TMPDIR/k8s-webhook-server/serving-certs); the rotated certificate's Secret is mounted there.")
	flag.IntVar(&webhookPort, "webhook-port", 9443, "Port the webhook server listens on.")
	var wh webhookFlags
	wh.bind(flag.CommandLine)
	var observed controllers.ObservedOptions
	var dnstapTLS bool
	flag.StringVar(&observed.BindAddress, "dnstap-bind-address", "0", "Address the dnstap collector listens on for the cluster DNS (CoreDNS's \"dnstap tcp://<service>:6000 full\"); \"0\" disables it. See docs/observed-egress.md.")
	flag.BoolVar(&dnstapTLS, "dnstap-tls", false, "Serve dnstap over TLS with the webhook's certificate (--webhook-cert-dir): CoreDNS's \"dnstap tls://<service>:6000 full { skipverify }\".")
	flag.StringVar(&observed.ClusterDomain, "cluster-domain", "cluster.local", "The cluster's DNS domain: names under it are the cluster's own, never egress.")
	flag.DurationVar(&observed.FlushInterval, "observed-flush-interval", time.Second, "How long a name a workload resolves for the first time waits before it is written to its ObservedEgress.")
	flag.DurationVar(&observed.Refresh, "observed-refresh", 30*time.Second, "How often further resolutions of names already recorded are written (counts, last seen).")
	flag.BoolVar(&enableHTTP2, "enable-http2", false, "Enable HTTP/2 for the metrics and webhook servers (off by default: CVE-2023-44487, CVE-2023-39325).")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{BindAddress: metricsAddr, SecureServing: secureMetrics, TLSOpts: tlsOpts}
	if secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	leaderNS := namespace
	webhookServer := webhook.NewServer(webhook.Options{
		Port:    webhookPort,
		CertDir: webhookCertDir,
		TLSOpts: tlsOpts,
	})
	cfg := ctrl.GetConfigOrDie()
	cfg.QPS, cfg.Burst = float32(qps), burst
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		PprofBindAddress:        pprofAddr,
		Scheme:                  scheme,
		NewCache:                controllers.NewCache,
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  probeAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        "dataresidency-operator.dataresidency.io",
		LeaderElectionNamespace: leaderNS,
		WebhookServer:           webhookServer,
	})
	if err != nil {
		log.Error(err, "unable to create the manager")
		os.Exit(1)
	}
	ctx := ctrl.SetupSignalHandler()
	if dnstapTLS {
		observed.TLSCertDir = webhookCertDir
		if observed.TLSCertDir == "" {
			observed.TLSCertDir = filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs")
		}
	}
	ctrls, err := controllers.Setup(ctx, mgr, controllers.Options{Workers: workers, Observed: observed, OperatorNamespace: namespace})
	if err != nil {
		log.Error(err, "unable to set up the controllers")
		os.Exit(1)
	}
	ready, err := setupWebhooks(ctx, mgr, ctrls.State, webhookServer, namespace, webhookCertDir, wh)
	if err != nil {
		log.Error(err, "unable to set up the admission webhooks")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "unable to set up the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", ready); err != nil {
		log.Error(err, "unable to set up the ready check")
		os.Exit(1)
	}
	log.Info("starting the manager", "namespace", namespace, "leaderElection", leaderElect)
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "manager stopped with an error")
		os.Exit(1)
	}
}
