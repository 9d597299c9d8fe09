//go:build tools

// Package kube pins the Kubernetes control-plane commands that the tests and the
// local cluster run. It is a module of its own so that the operator's go.mod does
// not inherit k8s.io/kubernetes; hack/controlplane/build.sh builds from here.
package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
