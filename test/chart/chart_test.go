// Package chart_test checks the Helm chart in dist/chart: it lints, its
// templates are what hack/gen-chart.sh generates from config/, it renders the
// same objects as kustomize does (for the default values, with cert-manager,
// with the monitoring objects), its values land where they should, and the API
// server accepts what it renders (server-side dry run, then a real install,
// upgrade and uninstall on a local control plane).
//
// It needs bin/helm (`make helm`, which `make test` runs) and kubectl on PATH
// (for `kubectl kustomize` and `kubectl apply`); without them it skips, saying
// so.
package chart_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/dataresidency/operator/internal/testenv"
)

const (
	release   = "dataresidency"
	namespace = "dataresidency-system"
)

func helmBin(t *testing.T) string {
	t.Helper()
	p := filepath.Join(testenv.Root(), "bin", "helm")
	if _, err := os.Stat(p); err != nil {
		testenv.MissingTool(t, "bin/helm is missing: build it with `make helm` (make test does; the build needs the Go module proxy): %v", err)
	}
	return p
}

func kubectlBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kubectl")
	if err != nil {
		testenv.MissingTool(t, "kubectl is not on PATH: it renders config/ (kubectl kustomize) and applies the chart")
	}
	return p
}

func run(t *testing.T, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	out, err := tryRun(stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v", filepath.Base(name), strings.Join(args, " "), err)
	}
	return out
}

func tryRun(stdin []byte, name string, args ...string) ([]byte, error) {
	var out, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Dir = testenv.Root()
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%w\n%s%s", err, stderr.Bytes(), out.Bytes())
	}
	return out.Bytes(), nil
}

type object = map[string]any

func parse(t *testing.T, data []byte) []object {
	t.Helper()
	var objs []object
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatal(err)
		}
		var o object
		if err := yaml.Unmarshal(doc, &o); err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		if len(o) > 0 {
			objs = append(objs, o)
		}
	}
}

func get(o any, path ...string) any {
	for _, p := range path {
		m, ok := o.(map[string]any)
		if !ok {
			return nil
		}
		o = m[p]
	}
	return o
}

func str(o any, path ...string) string { s, _ := get(o, path...).(string); return s }

func id(o object) string {
	return fmt.Sprintf("%s %s/%s", str(o, "kind"), str(o, "metadata", "namespace"), str(o, "metadata", "name"))
}

// helmOnly are the labels and annotations Helm adds (or kustomize adds and
// Helm replaces): the comparison leaves them out.
var (
	helmLabels      = []string{"helm.sh/chart", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by"}
	helmAnnotations = []string{"helm.sh/resource-policy"}
)

// normalize drops Helm's labels and annotations, and empty label and
// annotation maps.
func normalize(objs []object) map[string]object {
	out := map[string]object{}
	for _, o := range objs {
		meta, _ := o["metadata"].(map[string]any)
		for field, drop := range map[string][]string{"labels": helmLabels, "annotations": helmAnnotations} {
			m, _ := meta[field].(map[string]any)
			for _, k := range drop {
				delete(m, k)
			}
			if len(m) == 0 {
				delete(meta, field)
			}
		}
		out[id(o)] = o
	}
	return out
}

func kustomize(t *testing.T, overlay string) []object {
	t.Helper()
	return parse(t, run(t, nil, kubectlBin(t), "kustomize", filepath.Join("config", overlay)))
}

func helmTemplate(t *testing.T, ns string, args ...string) []object {
	t.Helper()
	return parse(t, run(t, nil, helmBin(t), append([]string{"template", release, "dist/chart", "--namespace", ns}, args...)...))
}

// sameObjects fails with a readable difference unless want and got hold the
// same objects.
func sameObjects(t *testing.T, what string, want, got []object) {
	t.Helper()
	w, g := normalize(want), normalize(got)
	for _, k := range slices.Sorted(maps.Keys(w)) {
		if _, ok := g[k]; !ok {
			t.Errorf("%s: the chart lacks %s", what, k)
			continue
		}
		if !reflect.DeepEqual(w[k], g[k]) {
			a, _ := yaml.Marshal(w[k])
			b, _ := yaml.Marshal(g[k])
			t.Errorf("%s: %s differs (- kustomize, + helm):\n%s", what, k, lineDiff(string(a), string(b)))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(g)) {
		if _, ok := w[k]; !ok {
			t.Errorf("%s: the chart adds %s", what, k)
		}
	}
	if !t.Failed() {
		t.Logf("%s: %d objects, the same", what, len(w))
	}
}

// lineDiff is a small LCS diff of two texts, for failure messages.
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	n, m := len(x), len(y)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var sb strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&sb, "+ %s\n", y[j])
			j++
		default:
			fmt.Fprintf(&sb, "- %s\n", x[i])
			i++
		}
	}
	return sb.String()
}

func without(objs []object, kind string) []object {
	return slices.DeleteFunc(slices.Clone(objs), func(o object) bool { return str(o, "kind") == kind })
}

func TestLint(t *testing.T) {
	helm := helmBin(t)
	for _, set := range [][]string{
		nil,
		{"--set", "certManager.enabled=true,metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true,namespace.create=true"},
		{"--set", "webhook.failurePolicy=Ignore,networkPolicy.enabled=false,podDisruptionBudget.enabled=false,crds.install=false"},
	} {
		out := run(t, nil, helm, append([]string{"lint", "--strict", "dist/chart"}, set...)...)
		t.Logf("helm lint --strict %s:\n%s", strings.Join(set, " "), out)
	}
	// The schema rejects what the templates would render into broken objects.
	for _, bad := range []string{"webhook.failurePolicy=Never", "replicaCount=0", "webhook.timeoutSeconds=31", "replicas=3", "image.repository="} {
		if out, err := tryRun(nil, helm, "template", "dist/chart", "--set", bad); err == nil {
			t.Errorf("--set %s rendered:\n%.300s", bad, out)
		}
	}
}

// TestTemplatesUpToDate: dist/chart/templates is what hack/gen-chart.sh
// generates from config/ now.
func TestTemplatesUpToDate(t *testing.T) {
	kubectlBin(t)
	out, err := tryRun(nil, "hack/gen-chart.sh", "--check")
	if err != nil {
		t.Fatalf("%v\nrun hack/gen-chart.sh (make chart) and commit dist/chart/templates", err)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}

// TestRendersWhatKustomizeRenders: with the default values (and
// namespace.create, the one object Helm users get from --create-namespace)
// the chart renders config/default object for object, field for field; with
// certManager.enabled, config/default-certmanager; with the monitoring
// objects on, config/default-monitoring.
func TestRendersWhatKustomizeRenders(t *testing.T) {
	def := kustomize(t, "default")
	sameObjects(t, "default values", without(def, "Namespace"), helmTemplate(t, namespace))
	sameObjects(t, "namespace.create=true", def, helmTemplate(t, namespace, "--set", "namespace.create=true"))
	sameObjects(t, "certManager.enabled=true", kustomize(t, "default-certmanager"),
		helmTemplate(t, namespace, "--set", "namespace.create=true,certManager.enabled=true"))
	sameObjects(t, "metrics.serviceMonitor.enabled=true, metrics.prometheusRule.enabled=true", kustomize(t, "default-monitoring"),
		helmTemplate(t, namespace, "--set", "namespace.create=true,metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true"))
}

func find(t *testing.T, objs []object, kind, name string) object {
	t.Helper()
	for _, o := range objs {
		if str(o, "kind") == kind && str(o, "metadata", "name") == name {
			return o
		}
	}
	t.Fatalf("no %s %s rendered", kind, name)
	return nil
}

func has(objs []object, kind string) bool {
	return slices.ContainsFunc(objs, func(o object) bool { return str(o, "kind") == kind })
}

func toJSON(v any) string { b, _ := yaml.Marshal(v); return string(b) }

// TestValues: each value changes what it says, and only that.
func TestValues(t *testing.T) {
	helmBin(t)
	objs := helmTemplate(t, "compliance", "--set-json", strings.Join([]string{
		`replicaCount=3`,
		`image={"repository":"registry.example.com/dataresidency","tag":"v1.2.3","pullPolicy":"Always"}`,
		`resources={"requests":{"cpu":"200m","memory":"256Mi"},"limits":{"memory":"1Gi"}}`,
		`extraArgs=["--zap-log-level=debug","--workload-workers=8"]`,
		`nodeSelector={"kubernetes.io/os":"linux"}`,
		`tolerations=[{"key":"dedicated","operator":"Equal","value":"infra","effect":"NoSchedule"}]`,
		`priorityClassName="system-cluster-critical"`,
		`podAnnotations={"example.com/team":"privacy"}`,
		`podLabels={"team":"privacy"}`,
		`imagePullSecrets=[{"name":"registry"}]`,
		`webhook={"failurePolicy":"Ignore","timeoutSeconds":10,"excludedNamespaces":["legacy"],"namespaceSelectorExpressions":[{"key":"dataresidency.io/enforcement","operator":"In","values":["deny"]}]}`,
		`networkPolicy={"enabled":true,"webhookFrom":[{"ipBlock":{"cidr":"10.0.0.0/24"}}],"metricsFrom":[],"dnstapFrom":[]}`,
		`podDisruptionBudget={"enabled":true,"minAvailable":2}`,
		`crds={"install":true,"keep":false,"openReports":false}`,
	}, ","))
	for _, o := range objs {
		if ns := str(o, "metadata", "namespace"); ns != "" && ns != "compliance" {
			t.Errorf("%s is in namespace %s, not the release's", id(o), ns)
		}
		if b := toJSON(o); strings.Contains(b, namespace) {
			t.Errorf("%s still names %s", id(o), namespace)
		}
		if str(o, "kind") == "CustomResourceDefinition" {
			if str(o, "metadata", "name") == "reports.openreports.io" {
				t.Errorf("crds.openReports=false renders the Report CRD")
			}
			if get(o, "metadata", "annotations", "helm.sh/resource-policy") != nil {
				t.Errorf("crds.keep=false keeps %s", id(o))
			}
		}
	}
	dep := find(t, objs, "Deployment", "dataresidency-controller-manager")
	pod := get(dep, "spec", "template", "spec").(map[string]any)
	c := pod["containers"].([]any)[0].(map[string]any)
	for _, check := range []struct {
		what      string
		got, want any
	}{
		{"replicas", get(dep, "spec", "replicas"), float64(3)},
		{"image", c["image"], "registry.example.com/dataresidency:v1.2.3"},
		{"pullPolicy", c["imagePullPolicy"], "Always"},
		{"resources", toJSON(c["resources"]), "limits:\n  memory: 1Gi\nrequests:\n  cpu: 200m\n  memory: 256Mi\n"},
		{"last args", toJSON(c["args"].([]any)[len(c["args"].([]any))-2:]), "- --zap-log-level=debug\n- --workload-workers=8\n"},
		{"nodeSelector", toJSON(pod["nodeSelector"]), "kubernetes.io/os: linux\n"},
		{"tolerations", len(pod["tolerations"].([]any)), 1},
		{"priorityClassName", pod["priorityClassName"], "system-cluster-critical"},
		{"imagePullSecrets", toJSON(pod["imagePullSecrets"]), "- name: registry\n"},
		{"podAnnotations", get(dep, "spec", "template", "metadata", "annotations", "example.com/team"), "privacy"},
		{"kept pod annotation", get(dep, "spec", "template", "metadata", "annotations", "kubectl.kubernetes.io/default-container"), "manager"},
		{"podLabels", get(dep, "spec", "template", "metadata", "labels", "team"), "privacy"},
		{"kept pod label", get(dep, "spec", "template", "metadata", "labels", "control-plane"), "controller-manager"},
		{"affinity (default)", get(pod, "affinity", "podAntiAffinity") != nil, true},
	} {
		if !reflect.DeepEqual(check.got, check.want) {
			t.Errorf("%s: got %#v, want %#v", check.what, check.got, check.want)
		}
	}
	vwc := find(t, objs, "ValidatingWebhookConfiguration", "dataresidency-validating-webhook-configuration")
	for _, w := range vwc["webhooks"].([]any) {
		w := w.(map[string]any)
		if w["timeoutSeconds"] != float64(10) {
			t.Errorf("%s: timeoutSeconds %v", w["name"], w["timeoutSeconds"])
		}
		if str(w, "clientConfig", "service", "namespace") != "compliance" {
			t.Errorf("%s calls a Service in %s", w["name"], str(w, "clientConfig", "service", "namespace"))
		}
		switch w["name"] {
		case "workloads.dataresidency.io":
			if w["failurePolicy"] != "Ignore" {
				t.Errorf("workloads webhook failurePolicy %v", w["failurePolicy"])
			}
			want := "matchExpressions:\n- key: kubernetes.io/metadata.name\n  operator: NotIn\n  values:\n  - kube-system\n  - compliance\n  - legacy\n" +
				"- key: dataresidency.io/enforcement\n  operator: In\n  values:\n  - deny\n"
			if got := toJSON(w["namespaceSelector"]); got != want {
				t.Errorf("namespaceSelector:\n%s\nwant:\n%s", got, want)
			}
		case "catalog.dataresidency.io":
			if w["failurePolicy"] != "Ignore" {
				t.Errorf("the catalog webhook must keep failing open: %v", w["failurePolicy"])
			}
		}
	}
	np := find(t, objs, "NetworkPolicy", "dataresidency-controller-manager")
	if got, want := toJSON(get(np, "spec", "ingress")), "- from:\n  - ipBlock:\n      cidr: 10.0.0.0/24\n  ports:\n  - port: webhook-server\n    protocol: TCP\n"; got != want {
		t.Errorf("NetworkPolicy ingress (metricsFrom and dnstapFrom [] must close their ports, not open them):\n%s\nwant:\n%s", got, want)
	}
	if pdb := find(t, objs, "PodDisruptionBudget", "dataresidency-controller-manager"); get(pdb, "spec", "minAvailable") != float64(2) {
		t.Errorf("PDB minAvailable %v", get(pdb, "spec", "minAvailable"))
	}

	// Switched off.
	off := helmTemplate(t, namespace, "--set", "networkPolicy.enabled=false,podDisruptionBudget.enabled=false,crds.install=false")
	for _, k := range []string{"NetworkPolicy", "PodDisruptionBudget", "CustomResourceDefinition", "Namespace", "ServiceMonitor", "PrometheusRule", "Certificate", "Issuer"} {
		if has(off, k) {
			t.Errorf("a %s is rendered though switched off", k)
		}
	}
	// cert-manager with your own issuer: no self-signed Issuer, no Secret
	// access, the manager told not to rotate.
	cm := helmTemplate(t, namespace, "--set", "certManager.enabled=true,certManager.issuerRef.kind=ClusterIssuer,certManager.issuerRef.name=corp-ca")
	if has(cm, "Issuer") || has(cm, "Secret") || has(cm, "Role") && slices.ContainsFunc(cm, func(o object) bool {
		return str(o, "kind") == "Role" && str(o, "metadata", "name") == "dataresidency-manager-role"
	}) {
		t.Errorf("certManager.enabled with an issuerRef renders an Issuer, a Secret or the Secret's Role")
	}
	if got := toJSON(get(find(t, cm, "Certificate", "dataresidency-serving-cert"), "spec", "issuerRef")); got != "kind: ClusterIssuer\nname: corp-ca\n" {
		t.Errorf("issuerRef: %s", got)
	}
	// The monitoring objects take their selecting labels.
	mon := helmTemplate(t, namespace, "--set", "metrics.serviceMonitor.enabled=true,metrics.serviceMonitor.labels.release=prometheus,metrics.serviceMonitor.interval=30s,metrics.prometheusRule.enabled=true,metrics.prometheusRule.labels.release=prometheus")
	sm := find(t, mon, "ServiceMonitor", "dataresidency-controller-manager-metrics-monitor")
	if get(sm, "metadata", "labels", "release") != "prometheus" || get(sm, "spec", "endpoints").([]any)[0].(map[string]any)["interval"] != "30s" {
		t.Errorf("ServiceMonitor labels/interval not applied:\n%s", toJSON(sm))
	}
	pr := find(t, mon, "PrometheusRule", "dataresidency-operator")
	if get(pr, "metadata", "labels", "release") != "prometheus" || !strings.Contains(toJSON(pr), "{{ $labels.subprocessor }}") {
		t.Errorf("PrometheusRule: labels not applied, or its alert templates were not kept literal:\n%.600s", toJSON(pr))
	}
}

// TestEveryReferenceResolves: in every variant, what the Deployment mounts and
// runs as, and what the Services and webhooks point at, is rendered too.
func TestEveryReferenceResolves(t *testing.T) {
	helmBin(t)
	for _, set := range []string{"namespace.create=true", "certManager.enabled=true", "certManager.enabled=true,certManager.issuerRef.name=x,certManager.issuerRef.kind=ClusterIssuer"} {
		objs := helmTemplate(t, namespace, "--set", set)
		names := map[string]bool{}
		for _, o := range objs {
			names[str(o, "kind")+"/"+str(o, "metadata", "name")] = true
			if str(o, "kind") == "Certificate" {
				names["Secret/"+str(o, "spec", "secretName")] = true // cert-manager creates it
			}
		}
		dep := find(t, objs, "Deployment", "dataresidency-controller-manager")
		pod := get(dep, "spec", "template", "spec").(map[string]any)
		refs := []string{"ServiceAccount/" + pod["serviceAccountName"].(string)}
		for _, v := range pod["volumes"].([]any) {
			if s := str(v, "secret", "secretName"); s != "" {
				refs = append(refs, "Secret/"+s)
			}
		}
		vwc := find(t, objs, "ValidatingWebhookConfiguration", "dataresidency-validating-webhook-configuration")
		for _, w := range vwc["webhooks"].([]any) {
			refs = append(refs, "Service/"+str(w, "clientConfig", "service", "name"))
		}
		if ann := str(vwc, "metadata", "annotations", "cert-manager.io/inject-ca-from"); ann != "" {
			refs = append(refs, "Certificate/"+ann[strings.IndexByte(ann, '/')+1:])
		}
		labels := get(dep, "spec", "template", "metadata", "labels").(map[string]any)
		for _, o := range objs {
			var sel map[string]any
			switch str(o, "kind") {
			case "Service":
				sel, _ = get(o, "spec", "selector").(map[string]any)
			case "PodDisruptionBudget", "NetworkPolicy":
				sel, _ = get(o, "spec", selectorField(o), "matchLabels").(map[string]any)
			}
			for k, v := range sel {
				if labels[k] != v {
					t.Errorf("%s: %s selects %s=%v, which the manager's Pods do not carry", set, id(o), k, v)
				}
			}
			for _, s := range asList(get(o, "subjects")) {
				if str(s, "kind") == "ServiceAccount" {
					refs = append(refs, "ServiceAccount/"+str(s, "name"))
				}
			}
			if ref := str(o, "roleRef", "name"); ref != "" {
				refs = append(refs, str(o, "roleRef", "kind")+"/"+ref)
			}
		}
		sort.Strings(refs)
		for _, r := range slices.Compact(refs) {
			if !names[r] {
				t.Errorf("%s: %s is referenced but not rendered", set, r)
			}
		}
	}
}

func selectorField(o object) string {
	if str(o, "kind") == "NetworkPolicy" {
		return "podSelector"
	}
	return "selector"
}

func asList(v any) []any { l, _ := v.([]any); return l }
