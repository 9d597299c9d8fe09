package testenv

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
)

// The upstream projects whose policy CRDs the egress tests install, from the
// Go module proxy. network-policy-api is a dependency of the operator (its
// types); Cilium is not (its CRD and, in hack/ciliumcheck, its rule validation).
const (
	CiliumVersion           = "v1.20.2"
	NetworkPolicyAPIVersion = "v0.3.0"
)

// EgressPolicyCRDs returns the paths of Cilium's CiliumNetworkPolicy CRD and
// network-policy-api's ClusterNetworkPolicy CRD (experimental channel: its
// domainNames are experimental).
func EgressPolicyCRDs(t Skipper) []string {
	t.Helper()
	cilium, err := moduleDir("github.com/cilium/cilium@" + CiliumVersion)
	if err != nil {
		MissingTool(t, "%v", err)
	}
	npa, err := moduleDir("sigs.k8s.io/network-policy-api@" + NetworkPolicyAPIVersion)
	if err != nil {
		MissingTool(t, "%v", err)
	}
	return []string{
		filepath.Join(cilium, "pkg", "k8s", "apis", "cilium.io", "client", "crds", "v2", "ciliumnetworkpolicies.yaml"),
		filepath.Join(npa, "config", "crd", "experimental", "policy.networking.k8s.io_clusternetworkpolicies.yaml"),
	}
}

// moduleDir downloads a module into the module cache and returns its directory.
func moduleDir(mod string) (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", mod).Output()
	var m struct{ Dir, Error string }
	if err == nil {
		err = json.Unmarshal(out, &m)
	}
	if err != nil || m.Dir == "" {
		return "", fmt.Errorf("%s from the module proxy: %v %s", mod, err, m.Error)
	}
	return m.Dir, nil
}
