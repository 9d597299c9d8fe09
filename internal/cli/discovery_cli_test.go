package cli

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// A directory scan that meets a file whose YAML does not parse fails with
// exit 2 naming the file, as naming that file with -f does; it is not
// skipped as "not a Kubernetes manifest".
func TestScanDirectoryWithBrokenYAMLFails(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(ukCatalog), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n   namespace: shop\n"
	if err := os.WriteFile(filepath.Join(dir, "b.yaml"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runBinary(t, nil, "scan", "-f", dir)
	if r.code != 2 || !strings.Contains(r.stderr, "b.yaml") {
		t.Fatalf("exit %d, want 2 naming b.yaml\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if r2 := runBinary(t, nil, "scan", "-f", filepath.Join(dir, "b.yaml")); r2.code != 2 {
		t.Errorf("named with -f: exit %d, want 2", r2.code)
	}
}

// A Job with generateName and no name, which `kubectl create` accepts, is
// scanned and reported as the webhook names it: the prefix and a star.
func TestScanGenerateName(t *testing.T) {
	job := ukCatalog + `---
apiVersion: batch/v1
kind: Job
metadata:
  generateName: export-
  namespace: shop
  annotations:
    dataresidency.io/subprocessors: uk-analytics
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: export, image: registry.example/export:1}]
`
	r := runBinary(t, nil, "scan", "-f", writeTemp(t, "job.yaml", job), "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got := decodeScan(t, r)
	found := false
	for _, res := range got.Results {
		if res.Resource.Kind == "Job" && res.Resource.Name == "export-*" {
			found = true
		}
	}
	if !found || got.Summary.Workloads != 2 {
		t.Errorf("the Job export-* is not in the results: %+v", got)
	}
}

// What the input says of the cluster keeps names quiet: a Namespace in it
// makes "kafka.events:9092" a Service, an Ingress or a Gateway API route
// serving a host makes it the workload's own. A ReplicationController is
// scanned like any workload.
func TestScanClusterFactsFromInput(t *testing.T) {
	rc := `---
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy, namespace: shop}
spec:
  template:
    spec:
      containers:
      - name: app
        image: registry.example/legacy:1
        env:
        - {name: APP_URL, value: "https://shop.acme-retail.com"}
        - {name: API_BASE, value: "https://v2.api.acme-retail.com/orders"}
        - {name: KAFKA_BROKERS, value: "kafka.events:9092"}
        - {name: ALERTS, value: "https://hooks.slack.com/services/T0/B0/x"}
`
	facts := `---
apiVersion: v1
kind: Namespace
metadata: {name: events}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: shop}
spec:
  rules: [{host: Shop.Acme-Retail.com}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: shop}
spec:
  hostnames: ["*.api.acme-retail.com"]
`
	unattributed := func(input string) []string {
		t.Helper()
		r := runBinary(t, nil, "scan", "-f", writeTemp(t, "in.yaml", input), "-o", "json")
		if r.code > 1 {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		var out []string
		for _, res := range decodeScan(t, r).Results {
			if res.Resource.Kind != "ReplicationController" {
				continue
			}
			if res.Reason == "UnattributedEgress" {
				out = append(out, res.Endpoint)
			}
		}
		sort.Strings(out)
		return out
	}
	if got, want := unattributed(ukCatalog+rc), []string{"hooks.slack.com", "kafka.events:9092", "shop.acme-retail.com", "v2.api.acme-retail.com"}; !slices.Equal(got, want) {
		t.Errorf("without the facts: unattributed %v, want %v", got, want)
	}
	if got, want := unattributed(ukCatalog+rc+facts), []string{"hooks.slack.com"}; !slices.Equal(got, want) {
		t.Errorf("with the Namespace, Ingress and HTTPRoute: unattributed %v, want %v", got, want)
	}
}
