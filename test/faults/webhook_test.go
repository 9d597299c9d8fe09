package faults_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/test/faults/harness"
)

// A small catalog for the webhook tests: one vendor whose only basis is the
// invalidated Privacy Shield (every flow to it is a violation), one in the EEA.
const webhookCatalog = `apiVersion: dataresidency.io/v1alpha1
kind: ResidencyPolicy
metadata: {name: default}
spec: {defaultEnforcement: audit}
---
apiVersion: dataresidency.io/v1alpha1
kind: ProcessingLocation
metadata: {name: us-east}
spec: {country: US}
---
apiVersion: dataresidency.io/v1alpha1
kind: ProcessingLocation
metadata: {name: eu-north}
spec: {country: SE}
---
apiVersion: dataresidency.io/v1alpha1
kind: TransferBasis
metadata: {name: mailer-ps}
spec: {mechanism: PrivacyShield, countries: [US], reference: "Privacy Shield self-certification"}
---
# Unused by the Subprocessors; it expires, so the expiry alert's metric has a
# series (TestTwoReplicas checks every metric the alerts use is exported).
apiVersion: dataresidency.io/v1alpha1
kind: TransferBasis
metadata: {name: group-bcr}
spec: {mechanism: BindingCorporateRules, countries: [US], reference: "Group BCR", expiresOn: "2099-12-31"}
---
apiVersion: dataresidency.io/v1alpha1
kind: Subprocessor
metadata: {name: us-mailer}
spec:
  legalName: "US Mailer, Inc."
  country: US
  purpose: E-mail delivery
  dataCategories: [user.contact.email, user.name]
  processingLocations: [us-east]
  transferBases: [mailer-ps]
---
apiVersion: dataresidency.io/v1alpha1
kind: Subprocessor
metadata: {name: eu-host}
spec:
  legalName: "EU Host AB"
  country: SE
  purpose: Hosting
  dataCategories: [user.contact.email, user.name]
  processingLocations: [eu-north]
`

// The namespaces of the webhook tests: a governed one that denies, a governed
// one that only audits, and the two the namespaceSelector leaves out.
const (
	nsDeny  = "shop"
	nsAudit = "back-office"
)

func webhookEnv(t *testing.T) *harness.Env {
	t.Helper()
	env := harness.StartCluster(t, harness.Options{})
	env.Create(t, webhookCatalog)
	env.CreateNamespace(t, nsDeny, map[string]string{v1alpha1.LabelEnforcement: "deny"})
	env.CreateNamespace(t, nsAudit, map[string]string{v1alpha1.LabelEnforcement: "audit"})
	return env
}

var seq struct {
	sync.Mutex
	n int
}

// tryCreate creates a Deployment using vendor and returns the API server's
// answer and how long it took.
func tryCreate(env *harness.Env, ns, vendor string) (time.Duration, error) {
	seq.Lock()
	seq.n++
	name := fmt.Sprintf("app-%d", seq.n)
	seq.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	begin := time.Now()
	err := env.Client.Create(ctx, deployment(ns, name, []string{vendor}))
	return time.Since(begin), err
}

// expect asserts that creating a Deployment in ns is admitted (wantErr "")
// or refused with an error containing wantErr.
func expect(t *testing.T, env *harness.Env, ns, vendor, wantErr string) time.Duration {
	t.Helper()
	took, err := tryCreate(env, ns, vendor)
	switch {
	case wantErr == "" && err != nil:
		t.Errorf("%s: a Deployment using %s was refused after %s: %v", ns, vendor, took.Round(time.Millisecond), err)
	case wantErr != "" && err == nil:
		t.Errorf("%s: a Deployment using %s was admitted after %s, want an error containing %q", ns, vendor, took.Round(time.Millisecond), wantErr)
	case wantErr != "" && !strings.Contains(err.Error(), wantErr):
		t.Errorf("%s: a Deployment using %s: %v; want an error containing %q", ns, vendor, err, wantErr)
	default:
		verdict := "admitted"
		if err != nil {
			verdict = "refused: " + firstLine(err.Error(), 160)
		}
		t.Logf("%-20s %-9s %6s  %s", ns, vendor, took.Round(time.Millisecond), verdict)
	}
	return took
}

func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}

// TestWebhookUnreachable: with every replica gone, failurePolicy Fail refuses
// workloads in the governed namespaces (in audit ones too: the API server
// cannot know the enforcement without the webhook), while kube-system, the
// operator's own namespace and catalog changes keep working; once the manager
// is back, admission works again without anyone touching the webhook
// configuration.
func TestWebhookUnreachable(t *testing.T) {
	env := webhookEnv(t)
	serving := harness.NewServing(t)
	harness.RegisterWebhooks(t, env, serving.URL(), serving.CA)
	registered := harness.WebhookConfiguration(t, env).ResourceVersion
	log := filepath.Join(t.TempDir(), "manager.log")

	m := harness.StartManager(t, env, harness.ManagerOptions{LeaderElect: true, Webhook: serving, Log: log})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := m.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	t.Log("manager up: the webhook decides")
	expect(t, env, nsDeny, "eu-host", "")
	expect(t, env, nsDeny, "us-mailer", "denied the request: data residency")
	expect(t, env, nsAudit, "us-mailer", "")

	m.Kill()
	t.Log("manager killed (SIGKILL): nothing listens on the webhook's port")
	for _, ns := range []string{nsDeny, nsAudit} {
		took := expect(t, env, ns, "eu-host", `failed calling webhook "workloads.dataresidency.io"`)
		if took > 5*time.Second {
			t.Errorf("refusing with nobody listening took %s", took)
		}
	}
	for _, ns := range []string{"kube-system", harness.Namespace} {
		expect(t, env, ns, "us-mailer", "") // never sent to the webhook
	}
	// The catalog webhook fails open: the DPO can still record a change.
	env.Create(t, `apiVersion: dataresidency.io/v1alpha1
kind: TransferBasis
metadata: {name: mailer-scc}
spec: {mechanism: StandardContractualClauses, countries: [US], reference: "SCC 2021 module 2"}`)
	t.Log("a TransferBasis was created while the webhook was down (catalog webhook: failurePolicy Ignore)")

	m2 := harness.StartManager(t, env, harness.ManagerOptions{LeaderElect: true, Webhook: serving, Log: log})
	restarted := time.Now()
	if err := m2.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("manager restarted: ready (serving admissions) after %.1fs", time.Since(restarted).Seconds())
	expect(t, env, nsDeny, "eu-host", "")
	expect(t, env, nsDeny, "us-mailer", "denied the request: data residency")
	expect(t, env, nsAudit, "us-mailer", "")
	if rv := harness.WebhookConfiguration(t, env).ResourceVersion; rv != registered {
		t.Errorf("the webhook configuration changed (resourceVersion %s -> %s): recovery must not need anyone to touch it", registered, rv)
	}
	if p := m2.Panics(); len(p) > 0 {
		t.Errorf("the manager panicked:\n%s", strings.Join(p, "\n"))
	}
	m2.Stop()
}

// blackHole accepts TCP connections and never answers (not even the TLS
// handshake): a webhook that hangs.
func blackHole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "https://" + l.Addr().String()
}

// stalling serves TLS with a certificate the API server trusts, reads the
// AdmissionReview, and never answers it: a webhook stuck in its handler.
func stalling(t *testing.T, s *harness.Serving) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(s.CertDir, "tls.crt"), filepath.Join(s.CertDir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		close(stop)
		_ = srv.Close()
	})
	return "https://" + l.Addr().String()
}

// TestWebhookSilent: a webhook that accepts connections and never answers
// costs each request the configuration's timeoutSeconds (5), not the API
// server's 30 s default: the workloads webhook (Fail) refuses after about
// 5 s, the catalog webhook (Ignore) admits after about 5 s, and namespaces
// outside the selector are not delayed at all.
func TestWebhookSilent(t *testing.T) {
	for _, hang := range []string{"no TLS handshake", "no HTTP response"} {
		t.Run(hang, func(t *testing.T) {
			env := webhookEnv(t)
			serving := harness.NewServing(t)
			url := blackHole(t)
			if hang == "no HTTP response" {
				url = stalling(t, serving)
			}
			vwc := harness.RegisterWebhooks(t, env, url, serving.CA)
			for _, w := range vwc.Webhooks {
				if w.TimeoutSeconds == nil || *w.TimeoutSeconds != 5 {
					t.Fatalf("webhook %s: timeoutSeconds %v, want 5 (config/webhook)", w.Name, w.TimeoutSeconds)
				}
			}
			for _, ns := range []string{nsDeny, nsAudit} {
				took := expect(t, env, ns, "eu-host", `failed calling webhook "workloads.dataresidency.io"`)
				if took < 4*time.Second || took >= 10*time.Second {
					t.Errorf("%s: refused after %s; want the 5 s timeoutSeconds (under 10 s)", ns, took.Round(time.Millisecond))
				}
			}
			took := expect(t, env, "kube-system", "eu-host", "")
			if took > 2*time.Second {
				t.Errorf("kube-system is outside the selector, yet its request took %s", took)
			}
			begin := time.Now()
			env.Create(t, `apiVersion: dataresidency.io/v1alpha1
kind: TransferBasis
metadata: {name: mailer-scc}
spec: {mechanism: StandardContractualClauses, countries: [US], reference: "SCC 2021 module 2"}`)
			took = time.Since(begin)
			t.Logf("%-20s %-9s %6s  admitted (catalog webhook, failurePolicy Ignore)", "(cluster)", "TransferBasis", took.Round(time.Millisecond))
			if took < 4*time.Second || took >= 10*time.Second {
				t.Errorf("the catalog change took %s; want the 5 s timeoutSeconds (under 10 s)", took.Round(time.Millisecond))
			}
			var tb v1alpha1.TransferBasis
			if err := env.Client.Get(context.Background(), client.ObjectKey{Name: "mailer-scc"}, &tb); err != nil {
				t.Errorf("the TransferBasis admitted by failurePolicy Ignore is not there: %v", err)
			}
		})
	}
}
