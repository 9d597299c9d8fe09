package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// scan and register with a ResidencyException in the input: before its
// expiry the violation is Excepted (exit 0) and the register lists the
// accepted risk with its approver and ticket; --at after it, the violation
// is back (exit 1) and the register lists none.
func TestScanAndRegisterWithException(t *testing.T) {
	p := filepath.Join(t.TempDir(), "in.yaml")
	// observedCatalog's vendor, a Deployment that declares a flow to it, and
	// the exception.
	input := observedCatalog[:strings.Index(observedCatalog, "---\napiVersion: apps/v1")] + `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkout
  namespace: shop
  annotations: {dataresidency.io/subprocessors: tracker, dataresidency.io/data-categories: user.contact.email}
spec:
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec: {containers: [{name: app, image: shop/checkout:1}]}
---
apiVersion: dataresidency.io/v1alpha1
kind: ResidencyException
metadata: {name: checkout-tracker}
spec:
  namespaces: [shop]
  workloads: [{kind: Deployment, name: checkout}]
  subprocessors: [tracker]
  expiresOn: "2027-03-01"
  approvedOn: "2026-12-01"
  approvedBy: dpo@shop.example
  ticket: DPO-142
  justification: migration to the EU region by March
`
	if err := os.WriteFile(p, []byte(input), 0o644); err != nil {
		t.Fatal(err)
	}
	scan := func(at string) (run, []ScanResult) {
		r := runMain([]string{"scan", "-f", p, "-o", "json", "--at", at}, nil)
		var out struct {
			Results []ScanResult `json:"results"`
		}
		_ = json.Unmarshal([]byte(r.stdout), &out)
		return r, out.Results
	}
	r, res := scan("2027-02-28")
	if r.code != 0 || len(res) != 1 || res[0].Verdict != "Excepted" || res[0].Reason != "BasisNotValid" || res[0].Exception == nil ||
		res[0].Exception.Name != "checkout-tracker" {
		t.Fatalf("before expiry: exit %d %+v\n%s", r.code, res, r.stderr)
	}
	r, res = scan("2027-03-01")
	if r.code != 1 || len(res) != 1 || res[0].Verdict != "Violation" || res[0].Exception != nil {
		t.Fatalf("at expiry: exit %d %+v", r.code, res)
	}
	reg := runMain([]string{"register", "-f", p, "--at", "2027-02-28"}, nil)
	if !strings.Contains(reg.stdout, "## Accepted risks in force (ResidencyExceptions)") ||
		!strings.Contains(reg.stdout, "| checkout-tracker | shop, Deployment checkout | tracker | migration to the EU region by March | dpo@shop.example | 2026-12-01 | DPO-142 | 2027-03-01 |") {
		t.Errorf("register:\n%s\n%s", reg.stdout, reg.stderr)
	}
	if reg := runMain([]string{"register", "-f", p, "--at", "2027-03-02"}, nil); !strings.Contains(reg.stdout, "## Accepted risks in force (ResidencyExceptions)\n\nNone.") {
		t.Errorf("register after expiry still lists it:\n%s", reg.stdout)
	}
}
