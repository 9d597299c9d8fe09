package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/dataresidency/operator/test/cluster"
)

// The e2e tests run real control-plane processes. They build nothing: without
// the binaries (make dev-cluster, or hack/controlplane/build.sh cluster) they
// are skipped.
func requireBinaries(t *testing.T, opts cluster.Options) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a local cluster; skipped with -short")
	}
	if missing := cluster.MissingBinaries("", opts); len(missing) > 0 {
		if os.Getenv("E2E_REQUIRED") != "" {
			t.Fatalf("E2E_REQUIRED is set but control-plane binaries are missing: %v", missing)
		}
		t.Skipf("control-plane binaries missing in %s: %s; build them with `make dev-cluster` or "+
			"`hack/controlplane/build.sh cluster` (this test builds nothing)",
			cluster.DefaultBinDir(), strings.Join(missing, ", "))
	}
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startCluster starts a cluster in a temporary directory and registers its
// Stop as a cleanup (in case the test fails before stopping it itself).
func startCluster(t *testing.T, opts cluster.Options) *cluster.Cluster {
	t.Helper()
	requireBinaries(t, opts)
	opts.Dir = t.TempDir()
	opts.Log = logWriter{t}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	begin := time.Now()
	c, err := cluster.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Logf("cluster started in %.1fs (kubeconfig %s)", time.Since(begin).Seconds(), c.Kubeconfig())
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop cluster: %v", err)
		}
	})
	return c
}

// stopAndCheck stops c and asserts that none of its processes is left.
func stopAndCheck(t *testing.T, c *cluster.Cluster) {
	t.Helper()
	procs := c.Processes()
	if err := c.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for _, p := range procs {
		// Our own children, reaped by Stop: the pid must be gone entirely.
		if err := syscall.Kill(p.Pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after Stop (kill 0: %v)", p.Name, p.Pid, err)
		}
		if cluster.ProcessAlive(p) {
			t.Errorf("%s (pid %d) alive after Stop", p.Name, p.Pid)
		}
	}
}

func poll(ctx context.Context, t *testing.T, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	begin := time.Now()
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	t.Logf("%s after %.1fs", what, time.Since(begin).Seconds())
}

func createNamespace(ctx context.Context, t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The ServiceAccount admission plugin rejects pods until the service
	// account controller has created "default".
	poll(ctx, t, "ServiceAccount "+name+"/default", func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
}

var pauseContainer = []corev1.Container{{Name: "pause", Image: "registry.k8s.io/pause:3.10"}}

// TestClusterE2E starts the full cluster (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok), runs workloads on the
// simulated nodes, stops it and checks that no process is left.
func TestClusterE2E(t *testing.T) {
	c := startCluster(t, cluster.Options{})
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fake := map[string]string{} // node -> region
	for _, n := range nodes.Items {
		if n.Annotations[cluster.KwokNodeAnnotation] == "fake" {
			fake[n.Name] = n.Labels[cluster.LabelRegion]
		}
	}
	for _, want := range cluster.DefaultNodes() {
		if got, ok := fake[want.Name]; !ok || got != want.Region {
			t.Fatalf("node %s: region %q, want %q (nodes: %v)", want.Name, got, want.Region, fake)
		}
	}

	t.Run("DeploymentRunsOnSimulatedNodes", func(t *testing.T) {
		const ns = "e2e-deployment"
		createNamespace(ctx, t, cs, ns)
		labels := map[string]string{"app": "pause"}
		dep := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "pause", Namespace: ns},
			Spec: appsv1.DeploymentSpec{
				Replicas: new(int32(3)),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: pauseContainer},
				},
			},
		}
		if _, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var last string
		poll(ctx, t, "3 pods Running on simulated nodes", func(ctx context.Context) (bool, error) {
			pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=pause"})
			if err != nil {
				return false, err
			}
			running := 0
			var states []string
			for _, p := range pods.Items {
				states = append(states, fmt.Sprintf("%s:%s@%s", p.Name, p.Status.Phase, p.Spec.NodeName))
				if _, onFake := fake[p.Spec.NodeName]; onFake && p.Status.Phase == corev1.PodRunning {
					running++
				}
			}
			last = strings.Join(states, " ")
			return running == 3 && len(pods.Items) == 3, nil
		})
		t.Logf("pods: %s", last)
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "pause", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status.ReadyReplicas != 3 {
			// The deployment controller catches up shortly after the pods.
			poll(ctx, t, "deployment 3/3 ready", func(ctx context.Context) (bool, error) {
				d, err := cs.AppsV1().Deployments(ns).Get(ctx, "pause", metav1.GetOptions{})
				return err == nil && d.Status.ReadyReplicas == 3, nil
			})
		}

		// Deleting the deployment: the garbage collector removes its replica
		// set and pods, kwok finalizes the pods' deletion.
		if err := cs.AppsV1().Deployments(ns).Delete(ctx, "pause", metav1.DeleteOptions{
			PropagationPolicy: new(metav1.DeletePropagationForeground),
		}); err != nil {
			t.Fatal(err)
		}
		poll(ctx, t, "deployment and its pods gone", func(ctx context.Context) (bool, error) {
			pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=pause"})
			if err != nil {
				return false, err
			}
			_, err = cs.AppsV1().Deployments(ns).Get(ctx, "pause", metav1.GetOptions{})
			return len(pods.Items) == 0 && err != nil, nil
		})
	})

	t.Run("RegionNodeSelector", func(t *testing.T) {
		const ns = "e2e-region"
		createNamespace(ctx, t, cs, ns)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "us-only", Namespace: ns},
			Spec: corev1.PodSpec{
				NodeSelector: map[string]string{cluster.LabelRegion: "us-east-1"},
				Containers:   pauseContainer,
			},
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var got *corev1.Pod
		poll(ctx, t, "pod us-only Running", func(ctx context.Context) (bool, error) {
			got, err = cs.CoreV1().Pods(ns).Get(ctx, "us-only", metav1.GetOptions{})
			return err == nil && got.Status.Phase == corev1.PodRunning, nil
		})
		if got.Spec.NodeName != "kwok-us-east-1a" {
			t.Fatalf("pod us-only runs on %q, want kwok-us-east-1a", got.Spec.NodeName)
		}
		if got.Status.PodIP == "" {
			t.Errorf("pod us-only has no pod IP")
		}
	})

	stopAndCheck(t, c)
}

// TestControlPlaneOnly starts just etcd and kube-apiserver (the options tests
// use when they need no pods) and checks authentication as the admin.
func TestControlPlaneOnly(t *testing.T) {
	c := startCluster(t, cluster.Options{SkipControllerManager: true, SkipScheduler: true, SkipKwok: true})
	if got := len(c.Processes()); got != 2 {
		t.Fatalf("%d processes, want 2 (etcd, kube-apiserver)", got)
	}
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ui := review.Status.UserInfo
	if ui.Username != "kubernetes-admin" || !strings.Contains(strings.Join(ui.Groups, ","), "system:masters") {
		t.Fatalf("authenticated as %q %v, want kubernetes-admin in system:masters", ui.Username, ui.Groups)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != 0 {
		t.Fatalf("%d nodes without kwok, want none", len(nodes.Items))
	}
	stopAndCheck(t, c)
}
