package faults_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/testenv"
	"github.com/dataresidency/operator/test/faults/harness"
)

// TestTwoReplicas runs the manager as config/default does, twice with leader
// election: the replica that does not lead still serves the admission webhook
// (the API server's calls are spread over both), and each serves its metrics
// over HTTPS to authenticated and authorized callers only (the
// metrics-reader ClusterRole of config/default).
func TestTwoReplicas(t *testing.T) {
	env := webhookEnv(t)
	a := harness.NewServing(t)
	b := harness.NewServing(t)
	metricsPort := harness.FreePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	leader := harness.StartManager(t, env, harness.ManagerOptions{LeaderElect: true, Webhook: a,
		Args: []string{"--metrics-bind-address=127.0.0.1:" + strconv.Itoa(metricsPort), "--metrics-secure=true", "--dnstap-bind-address=127.0.0.1:0"}})
	if err := leader.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	// The first replica holds the lease before the second starts.
	lease := &coordinationv1.Lease{}
	harness.Eventually(t, time.Minute, "the first replica to hold the lease", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, types.NamespacedName{Namespace: harness.Namespace, Name: "dataresidency-operator.dataresidency.io"}, lease)
		return err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "", nil
	})
	holder := *lease.Spec.HolderIdentity
	// Both replicas collect dnstap (as config/default runs them): the one
	// that is not the leader listens too, or it never becomes ready.
	follower := harness.StartManager(t, env, harness.ManagerOptions{LeaderElect: true, Webhook: b, Args: []string{"--dnstap-bind-address=127.0.0.1:0"}})
	if err := follower.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: harness.Namespace, Name: lease.Name}, lease); err != nil {
		t.Fatal(err)
	}
	if *lease.Spec.HolderIdentity != holder {
		t.Fatalf("the lease moved to %s: the second replica must be the follower", *lease.Spec.HolderIdentity)
	}
	if l := strings.ToLower(follower.Log()); !strings.Contains(l, "attempting to acquire leader lease") || strings.Contains(l, "successfully acquired lease") {
		t.Fatalf("the second replica is not waiting for the lease:\n%s", follower.Tail(20))
	}

	// Admission through the follower alone.
	harness.RegisterWebhooks(t, env, "https://127.0.0.1:"+strconv.Itoa(b.Port), b.CA)
	expect(t, env, nsDeny, "eu-host", "")
	expect(t, env, nsDeny, "us-mailer", "C-311/18")
	// An accepted risk, so that its expiry is among the metrics.
	if err := env.Client.Create(ctx, &v1alpha1.ResidencyException{ObjectMeta: metav1.ObjectMeta{Name: "faults-grant"},
		Spec: v1alpha1.ResidencyExceptionSpec{Namespaces: []string{"elsewhere"}, Subprocessors: []v1alpha1.ObjectName{"us-mailer"},
			ExpiresOn: "2099-12-01", ApprovedOn: "2099-01-01", ApprovedBy: "dpo", Justification: "metrics"}}); err != nil {
		t.Fatal(err)
	}

	// Metrics: refused without credentials, refused to a ServiceAccount
	// without the role, served to one bound to metrics-reader.
	cs := kubernetes.NewForConfigOrDie(env.Config)
	token := func(sa string) string {
		t.Helper()
		if _, err := cs.CoreV1().ServiceAccounts(harness.Namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		tr, err := cs.CoreV1().ServiceAccounts(harness.Namespace).CreateToken(ctx, sa,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	raw, err := os.ReadFile(filepath.Join(testenv.Root(), "config", "default", "metrics_reader_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(raw, role); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prometheus-metrics-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "prometheus", Namespace: harness.Namespace}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	prometheus, stranger := token("prometheus"), token("stranger")
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the manager's self-signed metrics certificate
	scrape := func(token string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://127.0.0.1:"+strconv.Itoa(metricsPort)+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := scrape(""); code != http.StatusUnauthorized {
		t.Errorf("metrics without a token: HTTP %d, want 401", code)
	}
	if code, _ := scrape(stranger); code != http.StatusForbidden {
		t.Errorf("metrics for a ServiceAccount without the role: HTTP %d, want 403", code)
	}
	// RBAC reaches the authorizer within a moment.
	var body string
	harness.Eventually(t, time.Minute, "metrics served to the metrics-reader", func(context.Context) (bool, error) {
		var code int
		code, body = scrape(prometheus)
		return code == http.StatusOK && strings.Contains(body, "dataresidency_workloads"), nil
	})
	// Every metric the dashboard and the alert rules use is in this real
	// scrape (a histogram's series are its _bucket, _sum and _count).
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	exported := map[string]bool{}
	for name, f := range families {
		exported[name] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			exported[name+"_bucket"], exported[name+"_sum"], exported[name+"_count"] = true, true, true
		}
	}
	used, err := testenv.UsedMetricNames()
	if err != nil {
		t.Fatal(err)
	}
	for f, names := range used {
		for _, n := range names {
			if !exported[n] {
				t.Errorf("%s uses %s, which the running manager does not export", f, n)
			}
		}
	}
	for _, m := range []*harness.Manager{leader, follower} {
		if p := m.Panics(); len(p) > 0 {
			t.Errorf("a manager panicked:\n%s", strings.Join(p, "\n"))
		}
	}
}
