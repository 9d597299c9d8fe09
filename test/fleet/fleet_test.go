// Package fleet_test makes the organisation's register from two clusters
// (each a real API server with the operator running) and files, and reads
// the HTML register in a real browser.
package fleet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/cli"
	"github.com/dataresidency/operator/internal/testenv"
	"github.com/dataresidency/operator/test/faults/harness"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.Cleanup()
	os.Exit(code)
}

const catalog = `apiVersion: dataresidency.io/v1alpha1
kind: ProcessingLocation
metadata: {name: us-east}
spec: {country: US, provider: AWS, providerRegion: us-east-1}
---
apiVersion: dataresidency.io/v1alpha1
kind: ProcessingLocation
metadata: {name: eu-north}
spec: {country: SE, provider: AWS, providerRegion: eu-north-1}
---
apiVersion: dataresidency.io/v1alpha1
kind: TransferBasis
metadata: {name: mailer-scc}
spec: {mechanism: StandardContractualClauses, countries: [US], reference: "DPA Annex 3", expiresOn: "2027-01-20",
  transferImpactAssessment: {completedOn: "2026-01-10", nextReviewOn: "2027-06-01"}}
---
apiVersion: dataresidency.io/v1alpha1
kind: Subprocessor
metadata: {name: mailer}
spec:
  legalName: "Mailer, Inc."
  country: US
  purpose: E-mail delivery
  dataCategories: [user.contact.email]
  processingLocations: [us-east]
  transferBases: [mailer-scc]
---
apiVersion: dataresidency.io/v1alpha1
kind: Subprocessor
metadata: {name: nordhost}
spec:
  legalName: "Nordhost AB"
  country: SE
  purpose: Hosting
  dataCategories: [user.contact.email, user.name]
  processingLocations: [eu-north]
`

// cluster starts a control plane with the operator and the catalog, and
// Deployments using the named subprocessors.
func cluster(t *testing.T, ns string, workloads map[string]string) *harness.Env {
	t.Helper()
	env := harness.StartCluster(t, harness.Options{})
	env.Create(t, catalog)
	env.CreateNamespace(t, ns, nil)
	for name, sub := range workloads {
		labels := map[string]string{"app": name}
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{
			v1alpha1.AnnotationSubprocessors: sub, v1alpha1.AnnotationDataCategories: "user.contact.email"}},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/" + name + ":1"}}}}}}
		if err := env.Client.Create(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	m := harness.StartManager(t, env, harness.ManagerOptions{})
	if err := m.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	return env
}

func register(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = cli.Main(append([]string{"residencyctl", "register"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestFleetRegister(t *testing.T) {
	eu := cluster(t, "shop", map[string]string{"checkout": "nordhost", "mailer": "mailer"})
	us := cluster(t, "crm", map[string]string{"crm": "mailer", "campaigns": "mailer"})
	// Drift: in the second cluster the SCCs were let lapse.
	var tb v1alpha1.TransferBasis
	if err := us.Client.Get(context.Background(), client.ObjectKey{Name: "mailer-scc"}, &tb); err != nil {
		t.Fatal(err)
	}
	tb.Spec.ExpiresOn = "2026-11-30"
	if err := us.Client.Update(context.Background(), &tb); err != nil {
		t.Fatal(err)
	}
	// The operators have counted the workloads.
	for env, want := range map[*harness.Env]int32{eu: 1, us: 2} {
		harness.Eventually(t, time.Minute, "workload counts", func(ctx context.Context) (bool, error) {
			var s v1alpha1.Subprocessor
			err := env.Client.Get(ctx, client.ObjectKey{Name: "mailer"}, &s)
			return err == nil && s.Status.WorkloadCount == want, err
		})
	}

	code, out, errOut := register("--kubeconfigs", eu.Kubeconfig(), "--kubeconfigs", us.Kubeconfig(), "-o", "json", "--at", "2026-12-06")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var reg cli.Register
	if err := json.Unmarshal([]byte(out), &reg); err != nil {
		t.Fatal(err)
	}
	if len(reg.Sources) != 2 || len(reg.Subprocessors) != 2 {
		t.Fatalf("sources %+v, %d subprocessors", reg.Sources, len(reg.Subprocessors))
	}
	if len(reg.Drift) != 1 || reg.Drift[0].Kind != "TransferBasis" || reg.Drift[0].Name != "mailer-scc" || !strings.Contains(reg.Drift[0].Detail, us.Cluster.Server()) {
		t.Errorf("drift: %+v", reg.Drift)
	}
	for _, s := range reg.Subprocessors {
		if s.Name != "mailer" {
			continue
		}
		if len(s.Presence) != 2 || *s.Presence[0].Workloads != 1 || *s.Presence[1].Workloads != 2 {
			t.Errorf("mailer's clusters and workloads: %+v", s.Presence)
		}
		if len(s.Routes) != 1 || len(s.Routes[0].Sources) != 2 || !strings.HasSuffix(s.Routes[0].Sources[0], ": covered") ||
			!strings.HasSuffix(s.Routes[0].Sources[1], ": NOT covered") {
			t.Errorf("mailer's route by cluster: %+v", s.Routes)
		}
	}
	t.Logf("drift: %+v", reg.Drift)

	// One cluster unreachable: named, and the exit status says so.
	dead := filepath.Join(t.TempDir(), "kubeconfig")
	kc, _ := os.ReadFile(eu.Kubeconfig())
	if err := os.WriteFile(dead, regexp.MustCompile(`https://127\.0\.0\.1:\d+`).ReplaceAll(kc, []byte("https://127.0.0.1:1")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = register("--kubeconfigs", eu.Kubeconfig(), "--kubeconfigs", dead, "--request-timeout", "3s", "--at", "2026-12-06")
	if code == 0 || !strings.Contains(out, "127.0.0.1:1") || !strings.Contains(errOut, "could not be read") {
		t.Errorf("an unreachable cluster: exit %d\n%s\n%s", code, out, errOut)
	}

	// The HTML register, with files beside the clusters, in a real browser.
	files := filepath.Join(t.TempDir(), "residency.yaml")
	if err := os.WriteFile(files, []byte(catalog), 0o644); err != nil {
		t.Fatal(err)
	}
	// The seed agreements' catalog too: a register of many pages.
	code, html, errOut := register("--kubeconfigs", eu.Kubeconfig(), "--kubeconfigs", us.Kubeconfig(), "-f", files,
		"-f", filepath.Join(testenv.Root(), "config", "samples"), "-o", "html",
		"--organisation", "Shop AS", "--at", "2026-12-06")
	if code != 0 {
		t.Fatalf("html: exit %d: %s", code, errOut)
	}
	browse(t, html)
}

// browse opens the register in headless Chromium: a screenshot and a PDF
// print; the PDF has the sections, every page with table rows carries the
// table's header, and the page logs no console error.
func browse(t *testing.T, html string) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		testenv.MissingTool(t, "chromium is not installed (apt-get install chromium poppler-utils; .ci/run does)")
		return
	}
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		testenv.MissingTool(t, "pdftotext is not installed (apt-get install poppler-utils)")
		return
	}
	if strings.Contains(html, "http://") || strings.Contains(html, "https://") && strings.Contains(html, "<link") || strings.Contains(html, "<script src") {
		t.Errorf("the HTML register loads external assets")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "register.html")
	if err := os.WriteFile(page, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		cmd := exec.Command(chromium, append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
			"--user-data-dir=" + filepath.Join(dir, "profile")}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	logs := run("--screenshot="+filepath.Join(dir, "register.png"), "--window-size=1280,1600", "file://"+page)
	logs += run("--no-pdf-header-footer", "--print-to-pdf="+filepath.Join(dir, "register.pdf"), "file://"+page)
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "CONSOLE") && (strings.Contains(l, "ERROR") || strings.Contains(l, "Uncaught")) {
			t.Errorf("console error: %s", l)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "register.png")); err != nil || fi.Size() < 10_000 {
		t.Errorf("no screenshot: %v", err)
	}
	text, err := exec.Command(pdftotext, "-layout", filepath.Join(dir, "register.pdf"), "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	pages := strings.Split(strings.TrimRight(string(text), "\f\n"), "\f")
	all := string(text)
	for _, want := range []string{"Register of transfers of personal data", "Shop AS", "As of", "2026-12-06", "Generated by",
		"Summary", "Catalog drift between sources", "What changes by 2027-03-06", "mailer-scc", "Subprocessors",
		"mailer: Mailer, Inc.", "nordhost: Nordhost AB", "Transfer bases", "Accepted risks in force"} {
		if !strings.Contains(all, want) {
			t.Errorf("the PDF lacks %q", want)
		}
	}
	// Table headers on every page that holds table rows: the route and basis
	// tables name a mechanism in every row, under a Mechanism header.
	if len(pages) < 6 {
		t.Errorf("the register is %d pages: too short to show headers repeated", len(pages))
	}
	mechanism := regexp.MustCompile(`StandardContractualClauses|BindingCorporateRules|DataPrivacyFramework|PrivacyShield`)
	prose := regexp.MustCompile(`(?m)^.*(requires a transfer impact assessment|Policy override).*$`)
	for i, p := range pages {
		if mechanism.MatchString(prose.ReplaceAllString(p, "")) && !strings.Contains(p, "Mechanism") {
			t.Errorf("page %d has table rows without their header", i+1)
		}
	}
	t.Logf("PDF: %d pages; screenshot and PDF in %s", len(pages), dir)
	if t.Failed() {
		t.Logf("PDF text:\n%s", text)
	}
}
