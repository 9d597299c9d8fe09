// Command residencyctl checks Kubernetes manifests against GDPR data residency
// rules offline, prints the transfer register and the built-in legal catalog.
// Installed as kubectl-residency it is the kubectl plugin `kubectl residency`.
// The logic is in internal/cli; this file only wires it to the process.
package main

import (
	"os"

	_ "k8s.io/client-go/plugin/pkg/client/auth"

	"github.com/dataresidency/operator/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
