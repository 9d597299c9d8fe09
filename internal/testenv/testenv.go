// Package testenv starts a real kube-apiserver and etcd (built from the module
// proxy by `make envtest`) with the residency CRDs installed, for integration
// tests. It only wraps controller-runtime's envtest with the project's paths.
package testenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// K8sVersion is the version of the control-plane binaries the tests run.
const K8sVersion = "v1.37.2"

// Root is the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// AssetsDir returns where kube-apiserver and etcd are: KUBEBUILDER_ASSETS when
// set, else bin/k8s/<version> of the repository.
func AssetsDir() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	return filepath.Join(Root(), "bin", "k8s", K8sVersion)
}

// ErrNoAssets is returned when the control-plane binaries are not built.
var ErrNoAssets = errors.New("kube-apiserver and etcd are not built: run `make envtest`")

// ReadObjects reads every object of a multi-document YAML file (or of every
// *.yaml file of a directory), in order.
func ReadObjects(path string) ([]*unstructured.Unstructured, error) {
	files := []string{path}
	if fi, err := os.Stat(path); err != nil {
		return nil, err
	} else if fi.IsDir() {
		files, _ = filepath.Glob(filepath.Join(path, "*.yaml"))
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for i := 1; ; i++ {
			doc, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", f, i, err)
			}
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(doc, &u.Object); err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", f, i, err)
			}
			if len(u.Object) > 0 {
				out = append(out, u)
			}
		}
	}
	return out, nil
}

// OpenReportsCRDPath is the directory of the OpenReports Report CRD.
func OpenReportsCRDPath() string { return filepath.Join(Root(), "config", "crd", "external") }

// Options adjust the environment.
type Options struct {
	// ExtraCRDPaths are installed besides config/crd/bases.
	ExtraCRDPaths []string
	// WebhookPaths are directories or files of webhook configurations to install.
	WebhookPaths []string
	// WithoutOpenReports leaves out the OpenReports Report CRD
	// (config/crd/external), as in a cluster where nobody installed it.
	WithoutOpenReports bool
}

// Environment is a running control plane.
type Environment struct {
	*envtest.Environment
	Config *rest.Config
}

// Start starts kube-apiserver and etcd with the residency CRDs installed.
func Start(opts Options) (*Environment, error) {
	assets := AssetsDir()
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return nil, fmt.Errorf("%w (looked in %s)", ErrNoAssets, assets)
		}
	}
	crds := []string{filepath.Join(Root(), "config", "crd", "bases")}
	if !opts.WithoutOpenReports {
		crds = append(crds, OpenReportsCRDPath())
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     append(crds, opts.ExtraCRDPaths...),
		ErrorIfCRDPathMissing: true,
	}
	if len(opts.WebhookPaths) > 0 {
		env.WebhookInstallOptions = envtest.WebhookInstallOptions{Paths: opts.WebhookPaths}
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	return &Environment{Environment: env, Config: cfg}, nil
}

// InCI reports whether the tests run in CI (the CI environment variable is
// set, as .ci/run sets it): what a developer's machine may lack, CI must have.
func InCI() bool { return os.Getenv("CI") != "" }

// Skipper is the part of testing.TB that MissingTool needs.
type Skipper interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// MissingTool skips the test when a tool it needs is not there, except in CI,
// where a missing tool fails the test: a green CI run must never be a run
// that quietly checked nothing.
func MissingTool(t Skipper, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("in CI every tool must be there: "+format, args...)
	}
	t.Skipf(format, args...)
}

// MonitoringFiles are the dashboard and the alert rules the project ships.
var MonitoringFiles = []string{"config/grafana/dashboard.json", "config/prometheus/rules.yaml"}

// usedMetric matches the metric names of the manager (ours and
// controller-runtime's) in PromQL expressions.
var usedMetric = regexp.MustCompile(`\b(?:dataresidency|controller_runtime)_[a-z_]+\b`)

// UsedMetricNames returns, per file of MonitoringFiles, the metric names its
// expressions use, so tests can check them against what the manager exports.
func UsedMetricNames() (map[string][]string, error) {
	out := map[string][]string{}
	for _, f := range MonitoringFiles {
		raw, err := os.ReadFile(filepath.Join(Root(), f))
		if err != nil {
			return nil, err
		}
		for _, n := range usedMetric.FindAllString(string(raw), -1) {
			if !strings.HasPrefix(n, "dataresidency_operator") { // object names, not metrics
				out[f] = append(out[f], n)
			}
		}
	}
	return out, nil
}
