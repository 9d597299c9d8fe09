// Package egress_test checks the egress policies the operator writes with
// the code of the projects that enforce them: Cilium's own rule validation
// (the CiliumNetworkPolicy.Parse and api.Rule.Sanitize the Cilium agent runs
// on every policy, built from github.com/cilium/cilium in hack/ciliumcheck).
package egress_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dataresidency/operator/internal/cli"
	"github.com/dataresidency/operator/internal/testenv"
)

// ciliumcheck builds hack/ciliumcheck (its own module, pinned to the Cilium
// release testenv.CiliumVersion names) and returns the binary's path.
func ciliumcheck(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(testenv.Root(), "hack", "ciliumcheck")
	out, err := exec.Command("go", "list", "-C", dir, "-m", "-f", "{{.Version}}", "github.com/cilium/cilium").Output()
	if err != nil || strings.TrimSpace(string(out)) != testenv.CiliumVersion {
		t.Fatalf("hack/ciliumcheck pins cilium %q, the tests install the CRD of %s: %v", strings.TrimSpace(string(out)), testenv.CiliumVersion, err)
	}
	bin := filepath.Join(t.TempDir(), "ciliumcheck")
	build := exec.Command("go", "build", "-C", dir, "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		testenv.MissingTool(t, "building hack/ciliumcheck: %v\n%s", err, out)
	}
	return bin
}

// TestCiliumAcceptsEveryRule renders, with residencyctl egress, the Cilium
// policies of every seed's workloads in both modes, and has Cilium's own
// validation read each of them; a policy it rejects (from hack/ciliumcheck's
// testdata) shows the check can fail.
func TestCiliumAcceptsEveryRule(t *testing.T) {
	bin := ciliumcheck(t)
	if out, err := exec.Command(bin, filepath.Join(testenv.Root(), "hack", "ciliumcheck", "testdata", "invalid.yaml")).CombinedOutput(); err == nil {
		t.Fatalf("ciliumcheck accepted the invalid policies:\n%s", out)
	}
	seeds, err := filepath.Glob(filepath.Join(testenv.Root(), "test", "fixtures", "seeds", "*"))
	if err != nil || len(seeds) < 5 {
		t.Fatalf("seed fixtures: %v %v", seeds, err)
	}
	dir := t.TempDir()
	var files []string
	policies := 0
	for _, seed := range seeds {
		for _, mode := range []string{"enforce", "audit"} {
			var stdout, stderr bytes.Buffer
			args := []string{"residencyctl", "egress", "-f", seed, "--backend", "Cilium", "--mode", mode}
			if code := cli.Main(args, nil, &stdout, &stderr); code != 0 {
				t.Fatalf("residencyctl %v: exit %d\n%s", args, code, stderr.String())
			}
			n := strings.Count(stdout.String(), "kind: CiliumNetworkPolicy")
			if n == 0 {
				t.Fatalf("%s: no CiliumNetworkPolicy written\n%s", seed, stderr.String())
			}
			policies += n
			f := filepath.Join(dir, filepath.Base(seed)+"-"+mode+".yaml")
			if err := os.WriteFile(f, stdout.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
	}
	out, err := exec.Command(bin, files...).CombinedOutput()
	if err != nil {
		t.Fatalf("Cilium rejects generated policies: %v\n%s", err, out)
	}
	if ok := strings.Count(string(out), "\nok ") + boolInt(strings.HasPrefix(string(out), "ok ")); ok != policies {
		t.Fatalf("Cilium read %d policies, %d were written:\n%s", ok, policies, out)
	}
	t.Logf("Cilium %s's Parse/Sanitize accepts all %d generated policies (5 seeds, enforce and audit)", testenv.CiliumVersion, policies)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
