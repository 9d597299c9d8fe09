package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Kyverno's admission controller (cmd/kyverno, hack/kyverno/build.sh) runs
// as its own process outside the cluster, as its development guide runs it:
// --serverIP registers its webhooks by URL on 127.0.0.1, it makes its own
// CA and serving certificate (Secrets in its namespace) and acts with the
// kubeconfig's identity. Only admission runs: no admission reports, no
// background scans (those are other binaries of Kyverno's).
const (
	kyvernoVersion = "v1.19.1"
	kyvernoNS      = "kyverno"
	// kyvernoResourceWebhooks is the configuration Kyverno fills with a
	// webhook for the kinds its policies match, and empties when none does.
	kyvernoResourceWebhooks = "kyverno-resource-validating-webhook-cfg"
)

type kyverno struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  string
	cs   kubernetes.Interface
}

// kyvernoCRDs is Kyverno's CRD directory in the module cache (go mod
// download github.com/kyverno/kyverno@v1.19.1, which hack/kyverno/build.sh ran).
func kyvernoCRDs() (string, error) {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(string(trimNewline(out)), "github.com", "kyverno", "kyverno@"+kyvernoVersion, "config", "crds")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("kyverno's CRDs: %w (go mod download github.com/kyverno/kyverno@%s)", err, kyvernoVersion)
	}
	return dir, nil
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// startKyverno installs Kyverno's CRDs, its namespace and configuration,
// starts the admission controller and waits until it has registered its
// webhook configurations.
func startKyverno(ctx context.Context, bin, kubeconfig, dir string, c client.Client, cs kubernetes.Interface) (*kyverno, error) {
	crds, err := kyvernoCRDs()
	if err != nil {
		return nil, err
	}
	// Server-side: the CRDs are too large for kubectl's last-applied annotation.
	apply := []string{"--kubeconfig", kubeconfig, "apply", "--server-side"}
	for _, sub := range []string{"kyverno", "policies.kyverno.io", "policyreport", "reports"} {
		apply = append(apply, "-f", filepath.Join(crds, sub))
	}
	if out, err := exec.CommandContext(ctx, "kubectl", apply...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("installing Kyverno's CRDs: %v\n%s", err, out)
	}
	if out, err := exec.CommandContext(ctx, "kubectl", "--kubeconfig", kubeconfig, "wait", "--for=condition=Established", "crd", "--all", "--timeout=90s").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("waiting for Kyverno's CRDs: %v\n%s", err, out)
	}
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: kyvernoNS}},
		// Kyverno's chart defaults, its webhooks kept out of the namespaces
		// the ValidatingAdmissionPolicy leaves out.
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: kyvernoNS, Name: "kyverno"}, Data: map[string]string{
			"excludeGroups":         "system:nodes",
			"generateSuccessEvents": "false",
			"resourceFilters":       "[Event,*,*][*/*,kube-system,*][*/*,kube-public,*][*/*,kube-node-lease,*][Node,*,*][Node/?*,*,*][APIService,*,*][APIService/?*,*,*][TokenReview,*,*][SubjectAccessReview,*,*][SelfSubjectAccessReview,*,*][Binding,*,*][Pod/binding,*,*][ReplicaSet,*,*][ReplicaSet/?*,*,*][EphemeralReport,*,*][ClusterEphemeralReport,*,*]",
			"webhooks":              `{"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["kube-system","kyverno","` + operatorNS + `"]}]}}`,
		}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: kyvernoNS, Name: "kyverno-metrics"}, Data: map[string]string{
			"namespaces": `{"include": [], "exclude": []}`,
		}},
	} {
		if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating %s: %w", o.GetName(), err)
		}
	}

	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "kyverno.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--kubeconfig="+kubeconfig,
		"--serverIP=127.0.0.1:"+strconv.Itoa(ports[0]), // webhooks by URL: https://<serverIP><path>
		"--webhookServerHost=127.0.0.1",
		"--webhookServerPort="+strconv.Itoa(ports[0]),
		"--caSecretName=kyverno-svc.kyverno.svc.kyverno-tls-ca",
		"--tlsSecretName=kyverno-svc.kyverno.svc.kyverno-tls-pair",
		"--backgroundServiceAccountName=system:serviceaccount:kyverno:kyverno-background-controller",
		"--admissionReports=false",
		"--metricsHost=127.0.0.1", "--metricsPort="+strconv.Itoa(ports[1]),
		"--controllerRuntimeMetricsAddress=0",
		"--disableLogColor",
	)
	cmd.Env = append(os.Environ(),
		"KYVERNO_NAMESPACE="+kyvernoNS,
		"KYVERNO_SERVICEACCOUNT_NAME=kyverno-admission-controller",
		"KYVERNO_DEPLOYMENT=kyverno-admission-controller", // not looked up when --serverIP is set
		"KYVERNO_POD_NAME=kyverno-bench",                  // its leader election identity
		"KYVERNO_SVC=kyverno-svc",
		"INIT_CONFIG=kyverno",
		"METRICS_CONFIG=kyverno-metrics",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := spawn(cmd); err != nil {
		logFile.Close()
		return nil, err
	}
	k := &kyverno{cmd: cmd, done: make(chan struct{}), log: logPath, cs: cs}
	go func() { _ = cmd.Wait(); logFile.Close(); close(k.done) }()
	logf("kyverno pid %d, webhooks on 127.0.0.1:%d", cmd.Process.Pid, ports[0])
	deadline := time.Now().Add(120 * time.Second)
	for {
		if _, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, kyvernoResourceWebhooks, metav1.GetOptions{}); err == nil {
			return k, nil
		}
		select {
		case <-k.done:
			return nil, fmt.Errorf("kyverno exited: %s", tail(logPath))
		case <-ctx.Done():
			k.stop(context.Background())
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			k.stop(context.Background())
			return nil, fmt.Errorf("kyverno registered no webhooks in 120s: %s", tail(logPath))
		}
	}
}

// serving reports whether Kyverno's resource webhook configuration holds a
// webhook (a policy matches) or none.
func (k *kyverno) serving(ctx context.Context) (bool, error) {
	cfg, err := k.cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, kyvernoResourceWebhooks, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	return len(cfg.Webhooks) > 0, nil
}

// webhookNames are the names of the webhooks Kyverno registered for its policies.
func (k *kyverno) webhookNames(ctx context.Context) []string {
	cfg, err := k.cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, kyvernoResourceWebhooks, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	var out []string
	for _, w := range cfg.Webhooks {
		out = append(out, w.Name)
	}
	return out
}

// stop ends Kyverno (SIGTERM, then SIGKILL) and removes the webhook
// configurations it leaves behind when run with --serverIP (failurePolicy
// Fail: they would refuse every later create).
func (k *kyverno) stop(ctx context.Context) {
	terminate(k.cmd, k.done)
	sel := metav1.ListOptions{LabelSelector: "webhook.kyverno.io/managed-by=kyverno"}
	_ = k.cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().DeleteCollection(ctx, metav1.DeleteOptions{}, sel)
	_ = k.cs.AdmissionregistrationV1().MutatingWebhookConfigurations().DeleteCollection(ctx, metav1.DeleteOptions{}, sel)
}
