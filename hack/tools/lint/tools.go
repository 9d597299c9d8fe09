//go:build tools

// Package lint pins the linter `make lint` runs: golangci-lint with Kube API
// Linter compiled in as a module plugin (KAL's own golangci-lint command, the
// binary `golangci-lint custom` would produce), built from the module proxy.
// A module of its own so the operator's go.mod inherits neither.
package lint

import (
	_ "sigs.k8s.io/kube-api-linter/cmd/golangci-lint-kube-api-linter"
)
