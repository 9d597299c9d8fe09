package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dataresidency/operator/internal/testenv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// catalogObjects reads the residency objects of a file as the loader does, for
// creating them in a cluster.
func catalogObjects(t *testing.T, path string) []client.Object {
	t.Helper()
	b := Load([]string{filepath.Join(repo, path)}, nil, "", "")
	if len(b.Errors) > 0 {
		t.Fatalf("%s:\n%s", path, errorsText(b))
	}
	var objs []client.Object
	for _, l := range b.Locations {
		objs = append(objs, l)
	}
	for _, x := range b.Bases {
		objs = append(objs, x)
	}
	for _, s := range b.Subprocessors {
		objs = append(objs, s)
	}
	if b.Policy != nil {
		objs = append(objs, b.Policy)
	}
	return objs
}

func TestReadCluster(t *testing.T) {
	objs := catalogObjects(t, fixture("seeds", "002-pindena", "catalog.yaml"))
	c := fake.NewClientBuilder().WithScheme(clusterScheme).WithObjects(objs...).Build()
	b, err := readCluster(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	fromFile := Load([]string{filepath.Join(repo, fixture("seeds", "002-pindena", "catalog.yaml"))}, nil, "", "")
	if len(b.Subprocessors) != len(fromFile.Subprocessors) || len(b.Bases) != len(fromFile.Bases) ||
		len(b.Locations) != len(fromFile.Locations) || b.Policy == nil {
		t.Fatalf("read %d/%d/%d objects and policy %v", len(b.Subprocessors), len(b.Bases), len(b.Locations), b.Policy != nil)
	}
	at := mustDate(t, "2026-11-22")
	a, x := BuildRegister(b, at, "cluster"), BuildRegister(fromFile, at, "cluster")
	ja, _ := json.Marshal(a.Subprocessors)
	jx, _ := json.Marshal(stripSources(x.Subprocessors))
	if string(ja) != string(jx) {
		t.Errorf("register from the cluster differs from the register from the file")
	}
}

func stripSources(s []RegisterSubprocessor) []RegisterSubprocessor {
	out := append([]RegisterSubprocessor(nil), s...)
	for i := range out {
		out[i].Source = nil
	}
	return out
}

func mustDate(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := parseAt(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Without -f and without a cluster, register says so and exits 3.
func TestRegisterWithoutCluster(t *testing.T) {
	home := t.TempDir()
	r := runBinaryEnv(t, nil, []string{"HOME=" + home, "KUBECONFIG=" + filepath.Join(home, "none"), "KUBERNETES_SERVICE_HOST=", "KUBERNETES_SERVICE_PORT="}, "register")
	if r.code != ExitError || !strings.Contains(r.stderr, "no cluster to read the residency objects from") || !strings.Contains(r.stderr, "-f PATH") {
		t.Errorf("no kubeconfig: exit %d\n%s", r.code, r.stderr)
	}
	// A kubeconfig whose server does not answer.
	kc := writeKubeconfig(t, "https://127.0.0.1:1", nil)
	r = runBinary(t, nil, "register", "--kubeconfig", kc, "--request-timeout", "2s")
	if r.code != ExitError || !strings.Contains(r.stderr, "127.0.0.1:1") {
		t.Errorf("unreachable cluster: exit %d\n%s", r.code, r.stderr)
	}
	r = runBinaryEnv(t, nil, []string{"KUBECONFIG=" + kc}, "register", "--context", "nope")
	if r.code != ExitError || !strings.Contains(r.stderr, "nope") {
		t.Errorf("unknown context: exit %d\n%s", r.code, r.stderr)
	}
}

func writeKubeconfig(t *testing.T, server string, fill func(*clientcmdapi.AuthInfo, *clientcmdapi.Cluster)) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cluster := &clientcmdapi.Cluster{Server: server, InsecureSkipTLSVerify: fill == nil}
	user := &clientcmdapi.AuthInfo{}
	if fill != nil {
		fill(user, cluster)
	}
	cfg.Clusters["test"] = cluster
	cfg.AuthInfos["test"] = user
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	cfg.CurrentContext = "test"
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// register against a real API server (kube-apiserver and etcd of `make
// envtest`), with the CRDs of config/crd/bases: the cluster mode end to end.
func TestRegisterFromAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(repo, "bin", "k8s", testenv.K8sVersion)
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			testenv.MissingTool(t, "no control plane binaries in %s (make envtest)", assets)
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(repo, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("envtest: %v", err)
	}
	defer func() { _ = env.Stop() }()
	c, err := client.New(cfg, client.Options{Scheme: clusterScheme})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range catalogObjects(t, fixture("seeds", "002-pindena", "catalog.yaml")) {
		if err := c.Create(context.Background(), o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
	kc := writeKubeconfig(t, cfg.Host, func(u *clientcmdapi.AuthInfo, cl *clientcmdapi.Cluster) {
		cl.CertificateAuthorityData = cfg.CAData
		u.ClientCertificateData, u.ClientKeyData, u.Token = cfg.CertData, cfg.KeyData, cfg.BearerToken
	})
	r := runBinary(t, nil, "register", "--kubeconfig", kc, "--at", "2026-11-22", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var reg Register
	if err := json.Unmarshal([]byte(r.stdout), &reg); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(reg.Source, "cluster ") {
		t.Errorf("source %q", reg.Source)
	}
	names := map[string]bool{}
	for _, e := range reg.Subprocessors {
		names[e.Name] = true
	}
	for name := range seed002AppendixB {
		if !names[name] {
			t.Errorf("%s not in the register read from the cluster", name)
		}
	}
	// The same objects, as the API server stores them, are valid scan input.
	var list unstructured.UnstructuredList
	list.SetAPIVersion("dataresidency.io/v1alpha1")
	list.SetKind("SubprocessorList")
	if err := c.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	js, err := list.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := yaml.JSONToYAML(js)
	if !strings.Contains(string(data), "resourceVersion") || !strings.Contains(string(data), "managedFields") {
		t.Fatalf("not what kubectl get prints:\n%s", data)
	}
	if b := Load([]string{"-"}, strings.NewReader(string(data)), "get.yaml", ""); len(b.Errors) > 0 {
		t.Errorf("kubectl get -o yaml output is not valid input:\n%s", errorsText(b))
	}
}
