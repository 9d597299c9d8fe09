// Package harness runs the operator the way it runs in production, as its own
// process (bin/manager, built once per test binary), against a real control
// plane (etcd and kube-apiserver from test/cluster, with real authentication
// and RBAC), so that tests can kill it, cut it off, restart what is under it,
// and feed it bad input. test/faults, test/badinput and test/chart use it.
//
// Nothing here builds the control plane: without bin/k8s/<version>/etcd and
// kube-apiserver (make envtest) the tests skip.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/dataresidency/operator/controllers"
	"github.com/dataresidency/operator/internal/testenv"
	"github.com/dataresidency/operator/test/cluster"
)

// Namespace is the operator's namespace, as in config/default.
const Namespace = "dataresidency-system"

// Env is a running control plane.
type Env struct {
	Cluster *cluster.Cluster
	Config  *rest.Config
	Client  client.Client
}

// Kubeconfig is the admin kubeconfig's path.
func (e *Env) Kubeconfig() string { return e.Cluster.Kubeconfig() }

// Options configure StartCluster.
type Options struct {
	// NoCRDs leaves the CRDs out (the chart test installs them itself).
	NoCRDs bool
	// Full runs the whole cluster: kube-controller-manager, kube-scheduler
	// and kwok's nodes too, so that Deployments get Running Pods with
	// addresses (in 127.0.0.0/8: they can send real traffic from them).
	Full bool
	// CoreDNS, DNSTap and DNSRecords run the cluster DNS (Full only): see
	// cluster.Options.
	CoreDNS, DNSTap string
	DNSRecords      map[string]string
}

// Skip skips t if the control-plane binaries are missing or with -short.
func Skip(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts kube-apiserver and etcd; skipped with -short")
	}
	opts := cluster.Options{SkipControllerManager: true, SkipScheduler: true, SkipKwok: true}
	if missing := cluster.MissingBinaries("", opts); len(missing) > 0 {
		t.Skipf("control-plane binaries missing in %s: %s; build them with `make envtest` (this test builds none)",
			cluster.DefaultBinDir(), strings.Join(missing, ", "))
	}
}

// StartCluster starts etcd and kube-apiserver in a temporary directory, installs
// the CRDs of config/crd (unless NoCRDs) and creates the operator's namespace;
// everything is stopped when the test ends.
func StartCluster(t testing.TB, opts Options) *Env {
	t.Helper()
	Skip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	begin := time.Now()
	copts := cluster.Options{Dir: t.TempDir(), SkipControllerManager: true, SkipScheduler: true, SkipKwok: true}
	if opts.Full {
		copts = cluster.Options{Dir: copts.Dir, CoreDNS: opts.CoreDNS, DNSTap: opts.DNSTap, DNSRecords: opts.DNSRecords}
		if missing := cluster.MissingBinaries("", copts); len(missing) > 0 {
			testenv.MissingTool(t, "cluster binaries missing in %s: %s; build them with `hack/controlplane/build.sh cluster`",
				cluster.DefaultBinDir(), strings.Join(missing, ", "))
		}
	}
	c, err := cluster.Start(ctx, copts)
	if err != nil {
		t.Fatalf("start the control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop the control plane: %v", err)
		}
	})
	t.Logf("control plane up in %.1fs (%s)", time.Since(begin).Seconds(), c.Server())
	cfg := c.RESTConfig()
	scheme := controllers.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{Cluster: c, Config: cfg, Client: cl}
	if !opts.NoCRDs {
		e.InstallCRDs(t)
	}
	e.CreateNamespace(t, Namespace, nil)
	return e
}

// InstallCRDs creates the CRDs of config/crd and waits until they are served.
func (e *Env) InstallCRDs(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := e.Client
	var err error
	var names []string
	for _, dir := range []string{"bases", "external"} {
		files, _ := filepath.Glob(filepath.Join(testenv.Root(), "config", "crd", dir, "*.yaml"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var crd apiextensionsv1.CustomResourceDefinition
			if err := yaml.UnmarshalStrict(data, &crd); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if err := cl.Create(ctx, &crd); err != nil {
				t.Fatalf("create CRD %s: %v", crd.Name, err)
			}
			names = append(names, crd.Name)
		}
	}
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		for _, n := range names {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := cl.Get(ctx, client.ObjectKey{Name: n}, &crd); err != nil {
				return false, nil
			}
			established := false
			for _, c := range crd.Status.Conditions {
				established = established || (c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue)
			}
			if !established {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("CRDs not established: %v", err)
	}
	// The API server's discovery (and so our RESTMapper) may lag behind.
	gvks := []schema.GroupVersionKind{
		{Group: "dataresidency.io", Version: "v1alpha1", Kind: "TransferBasis"},
		openreports.SchemeGroupVersion.WithKind("Report"),
	}
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		for _, gvk := range gvks {
			if _, err := e.Client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("CRDs not discoverable: %v", err)
	}
}

// Create creates the objects of multi-document YAML with the admin client.
func (e *Env) Create(t testing.TB, docs string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, doc := range strings.Split(docs, "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		if len(u.Object) == 0 {
			continue
		}
		if err := e.Client.Create(ctx, u); err != nil {
			t.Fatalf("create %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}

// CreateNamespace creates a namespace (it may exist already).
func (e *Env) CreateNamespace(t testing.TB, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := e.Client.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

var build struct {
	once sync.Once
	path string
	err  error
}

// ManagerBinary builds cmd/manager once per test binary (go build's cache makes
// it a link when nothing changed) and returns its path. $MANAGER_BINARY, if
// set, is used instead.
func ManagerBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("MANAGER_BINARY"); p != "" {
		return p
	}
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "dataresidency-manager-")
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(dir, "manager")
		begin := time.Now()
		cmd := exec.Command("go", "build", "-o", build.path, "./cmd/manager")
		cmd.Dir = testenv.Root()
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/manager: %v\n%s", err, out)
			return
		}
		fmt.Fprintf(os.Stderr, "harness: built the manager in %.1fs\n", time.Since(begin).Seconds())
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// Cleanup removes the manager binary built by ManagerBinary; call it from
// TestMain after m.Run.
func Cleanup() {
	if build.path != "" {
		_ = os.RemoveAll(filepath.Dir(build.path))
	}
}

// ManagerOptions configure a manager process.
type ManagerOptions struct {
	// LeaderElect runs with --leader-elect, as config/default does.
	LeaderElect bool
	// Webhook serves the admission webhooks with this certificate (else
	// ENABLE_WEBHOOKS=false).
	Webhook *Serving
	// Args are more flags.
	Args []string
	// Log is the file the process writes to (appended); default a file in
	// t.TempDir(). Restarts of "the same" manager share it.
	Log string
}

// Manager is a manager process.
type Manager struct {
	t         testing.TB
	cmd       *exec.Cmd
	done      chan struct{}
	LogPath   string
	ProbePort int
	Started   time.Time
}

// StartManager starts bin/manager against env. The process is killed when the
// test ends (and by the kernel if the test binary dies first).
func StartManager(t testing.TB, env *Env, o ManagerOptions) *Manager {
	t.Helper()
	bin := ManagerBinary(t)
	probe := FreePort(t)
	if o.Log == "" {
		o.Log = filepath.Join(t.TempDir(), "manager.log")
	}
	args := []string{
		"--kubeconfig=" + env.Kubeconfig(),
		"--namespace=" + Namespace,
		"--metrics-bind-address=0",
		"--health-probe-bind-address=127.0.0.1:" + strconv.Itoa(probe),
		"--zap-log-level=info",
	}
	if o.LeaderElect {
		args = append(args, "--leader-elect")
	}
	environ := os.Environ()
	if o.Webhook != nil {
		args = append(args, "--webhook-port="+strconv.Itoa(o.Webhook.Port), "--webhook-cert-dir="+o.Webhook.CertDir, "--disable-cert-rotation")
	} else {
		environ = append(environ, "ENABLE_WEBHOOKS=false")
	}
	args = append(args, o.Args...)
	logFile, err := os.OpenFile(o.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "### %s %s %s\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Env = environ
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := spawn(cmd); err != nil {
		t.Fatalf("start the manager: %v", err)
	}
	m := &Manager{t: t, cmd: cmd, done: make(chan struct{}), LogPath: o.Log, ProbePort: probe, Started: time.Now()}
	go func() {
		_ = cmd.Wait()
		close(m.done)
	}()
	t.Cleanup(func() { m.Kill() })
	return m
}

// Pid is the process id.
func (m *Manager) Pid() int { return m.cmd.Process.Pid }

// Exited reports whether the process has exited.
func (m *Manager) Exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (m *Manager) Kill() {
	if m.Exited() {
		return
	}
	_ = syscall.Kill(m.cmd.Process.Pid, syscall.SIGKILL)
	<-m.done
}

// Stop sends SIGTERM and waits up to 20s, then SIGKILL.
func (m *Manager) Stop() {
	if m.Exited() {
		return
	}
	_ = syscall.Kill(m.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(20 * time.Second):
		m.Kill()
	}
}

// Log returns what the process wrote so far.
func (m *Manager) Log() string {
	b, _ := os.ReadFile(m.LogPath)
	return string(b)
}

// Tail returns the last n lines of the log.
func (m *Manager) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(m.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Panics lists the log lines that report a panic (a crash, or one the
// controller or webhook runtime recovered from).
func (m *Manager) Panics() []string {
	var out []string
	for _, l := range strings.Split(m.Log(), "\n") {
		if strings.HasPrefix(l, "panic:") || strings.Contains(l, "Observed a panic") || strings.Contains(l, "goroutine ") && strings.Contains(l, "[running]") {
			out = append(out, l)
		}
	}
	return out
}

// WaitReady waits until /readyz answers 200 (the caches synced and, with
// webhooks, the webhook server serving).
func (m *Manager) WaitReady(ctx context.Context) error {
	url := "http://127.0.0.1:" + strconv.Itoa(m.ProbePort) + "/readyz"
	hc := &http.Client{Timeout: time.Second}
	for {
		if m.Exited() {
			return fmt.Errorf("the manager exited; last lines:\n%s", m.Tail(30))
		}
		if resp, err := hc.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the manager is not ready: %w; last lines:\n%s", ctx.Err(), m.Tail(30))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// The parent-death signal fires when the thread that started the child exits,
// and the Go runtime may retire threads: start children from one goroutine
// locked to its thread for the life of the program (as test/cluster does).
var spawner struct {
	once sync.Once
	reqs chan spawnRequest
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func spawn(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread()
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- spawnRequest{cmd, done}
	return <-done
}

// Eventually polls cond every 200ms until it holds or timeout passes, and
// returns how long it took.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) time.Duration {
	t.Helper()
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		ok, err := cond(ctx)
		if err != nil {
			last = err
			return false, nil
		}
		return ok, nil
	})
	if err != nil {
		if last != nil {
			err = errors.Join(err, last)
		}
		t.Fatalf("%s: not within %s: %v", what, timeout, err)
	}
	return time.Since(begin)
}

// Indent indents text for log output.
func Indent(b []byte) string {
	return "  " + strings.ReplaceAll(string(bytes.TrimRight(b, "\n")), "\n", "\n  ")
}
