package testenv

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
)

// GatewayAPIVersion is the Gateway API release whose CRDs the tests install
// (its standard channel), from the Go module proxy like every other tool.
const GatewayAPIVersion = "v1.6.3"

// GatewayAPIRouteCRDs returns the paths of the upstream HTTPRoute and
// GRPCRoute CRDs of GatewayAPIVersion, downloaded into the module cache with
// `go mod download` (the module is not a dependency of the operator).
func GatewayAPIRouteCRDs(t Skipper) []string {
	t.Helper()
	paths, err := GatewayAPIRouteCRDPaths()
	if err != nil {
		MissingTool(t, "%v", err)
	}
	return paths
}

// GatewayAPIRouteCRDPaths is GatewayAPIRouteCRDs for a TestMain.
func GatewayAPIRouteCRDPaths() ([]string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", "sigs.k8s.io/gateway-api@"+GatewayAPIVersion).Output()
	var mod struct{ Dir, Error string }
	if err == nil {
		err = json.Unmarshal(out, &mod)
	}
	if err != nil || mod.Dir == "" {
		return nil, fmt.Errorf("the Gateway API CRDs (sigs.k8s.io/gateway-api@%s from the module proxy): %v %s", GatewayAPIVersion, err, mod.Error)
	}
	dir := filepath.Join(mod.Dir, "config", "crd", "standard")
	return []string{
		filepath.Join(dir, "gateway.networking.k8s.io_httproutes.yaml"),
		filepath.Join(dir, "gateway.networking.k8s.io_grpcroutes.yaml"),
	}, nil
}
