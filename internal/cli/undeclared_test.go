package cli

import (
	"strings"
	"testing"
)

// undeclaredInput: Brevo in France; namespaces that enforce deny, one of each
// dataresidency.io/require-declaration value and one with a typo; workloads
// that declare nothing, none, or what they send. %s is the policy's
// requireDeclaration.
const undeclaredInput = `apiVersion: dataresidency.io/v1alpha1
kind: ResidencyPolicy
metadata: {name: default}
spec: {requireDeclaration: %s}
---
apiVersion: dataresidency.io/v1alpha1
kind: ProcessingLocation
metadata: {name: brevo-fr}
spec: {country: FR}
---
apiVersion: dataresidency.io/v1alpha1
kind: Subprocessor
metadata: {name: brevo}
spec:
  legalName: Sendinblue SAS
  country: FR
  purpose: E-mail delivery
  processingLocations: [brevo-fr]
  egress: {hosts: [api.brevo.com]}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {dataresidency.io/enforcement: deny}}
---
apiVersion: v1
kind: Namespace
metadata: {name: adopting, labels: {dataresidency.io/enforcement: deny, dataresidency.io/require-declaration: warn}}
---
apiVersion: v1
kind: Namespace
metadata: {name: legacy, labels: {dataresidency.io/enforcement: deny, dataresidency.io/require-declaration: ignore}}
---
apiVersion: v1
kind: Namespace
metadata: {name: typo, labels: {dataresidency.io/enforcement: deny, dataresidency.io/require-declaration: always}}
---
apiVersion: v1
kind: Pod
metadata: {name: renderer, namespace: shop}
spec: {containers: [{name: app, image: app}]}
---
apiVersion: v1
kind: Pod
metadata: {name: thumbnailer, namespace: shop, annotations: {dataresidency.io/subprocessors: none}}
spec: {containers: [{name: app, image: app}]}
---
apiVersion: v1
kind: Pod
metadata: {name: notifier, namespace: shop}
spec: {containers: [{name: app, image: app, env: [{name: BREVO_API, value: "https://api.brevo.com/v3"}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: mailer, namespace: shop, annotations: {dataresidency.io/subprocessors: brevo, dataresidency.io/data-categories: user.contact.email}}
spec: {containers: [{name: app, image: app}]}
---
apiVersion: v1
kind: Pod
metadata: {name: mixed, namespace: shop, annotations: {dataresidency.io/subprocessors: "none, brevo"}}
spec: {containers: [{name: app, image: app}]}
---
apiVersion: v1
kind: Pod
metadata: {name: renderer, namespace: adopting}
spec: {containers: [{name: app, image: app}]}
---
apiVersion: v1
kind: Pod
metadata: {name: renderer, namespace: legacy}
spec: {containers: [{name: app, image: app}]}
---
apiVersion: v1
kind: Pod
metadata: {name: renderer, namespace: typo}
spec: {containers: [{name: app, image: app}]}
`

// residencyctl scan gives the verdicts the webhook gives (test/webhook,
// internal/webhook): under ignore nothing changes; under deny what declares
// nothing is an Undeclared Violation, none is a declaration, and the
// namespace label overrides the policy.
func TestScanRequireDeclaration(t *testing.T) {
	type want struct{ verdict, reasons string }
	for _, tc := range []struct {
		policy     string
		exit       int
		want       map[string]want // namespace/name -> verdict and its results' reasons
		violations int
	}{
		{"ignore", 1, map[string]want{
			"shop/renderer": {"Compliant", ""}, "shop/thumbnailer": {"Compliant", ""}, "shop/notifier": {"Compliant", ""},
			"shop/mailer": {"Compliant", ""}, "shop/mixed": {"Violation", "InvalidAnnotation"},
			"adopting/renderer": {"Warning", "Undeclared"}, "legacy/renderer": {"Compliant", ""}, "typo/renderer": {"Compliant", ""},
		}, 1},
		{"deny", 1, map[string]want{
			"shop/renderer": {"Violation", "Undeclared"}, "shop/thumbnailer": {"Compliant", ""}, "shop/notifier": {"Violation", "Undeclared"},
			"shop/mailer": {"Compliant", ""}, "shop/mixed": {"Violation", "InvalidAnnotation"},
			"adopting/renderer": {"Warning", "Undeclared"}, "legacy/renderer": {"Compliant", ""}, "typo/renderer": {"Violation", "Undeclared"},
		}, 4},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			path := writeTemp(t, "in.yaml", strings.Replace(undeclaredInput, "%s", tc.policy, 1))
			r := runMain([]string{"scan", "-f", path, "-o", "json"}, nil)
			if r.code != tc.exit {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, tc.exit, r.stdout, r.stderr)
			}
			got := decodeScan(t, r)
			verdicts, reasons := map[string]string{}, map[string][]string{}
			for _, res := range got.Results {
				k := res.Resource.Namespace + "/" + res.Resource.Name
				verdicts[k] = res.WorkloadVerdict
				if res.Reason != "" {
					reasons[k] = append(reasons[k], res.Reason)
				}
				if res.Reason == "Undeclared" {
					for _, s := range []string{"does not declare what personal data it sends", "dataresidency.io/subprocessors: none"} {
						if !strings.Contains(res.Message, s) {
							t.Errorf("%s: message %q lacks %q", k, res.Message, s)
						}
					}
					if k == "shop/notifier" && !strings.Contains(res.Message, "declare dataresidency.io/subprocessors: brevo plus") {
						t.Errorf("%s: the discovered flow is not in the message: %s", k, res.Message)
					}
				}
			}
			for k, w := range tc.want {
				if verdicts[k] != w.verdict || strings.Join(reasons[k], ",") != w.reasons {
					t.Errorf("%s: %s %v, want %s %s", k, verdicts[k], reasons[k], w.verdict, w.reasons)
				}
			}
			// renderer x4 and notifier declare nothing, whatever the policy.
			if s := got.Summary; s.Workloads != 8 || s.Undeclared != 5 || s.Violations != tc.violations {
				t.Errorf("summary %+v", s)
			}
			if !strings.Contains(r.stderr, `dataresidency.io/require-declaration="always" is not one of ignore, warn, deny`) {
				t.Errorf("no notice about the typo label:\n%s", r.stderr)
			}

			table := runMain([]string{"scan", "-f", path}, nil)
			if !strings.Contains(table.stdout, "; 5 undeclared") {
				t.Errorf("table summary:\n%s", table.stdout)
			}
		})
	}
}
