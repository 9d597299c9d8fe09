// Package testenv starts a real kube-apiserver and etcd (built from the module
// proxy by `make envtest`) with the residency CRDs installed, for integration
// tests. It only wraps controller-runtime's envtest with the project's paths.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// K8sVersion is the version of the control-plane binaries the tests run.
const K8sVersion = "v1.36.3"

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

// Options adjust the environment.
type Options struct {
	// ExtraCRDPaths are installed besides config/crd/bases.
	ExtraCRDPaths []string
	// WebhookPaths are directories or files of webhook configurations to install.
	WebhookPaths []string
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
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     append([]string{filepath.Join(Root(), "config", "crd", "bases")}, opts.ExtraCRDPaths...),
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
