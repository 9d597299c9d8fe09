// Package crd_test applies the samples and a table of invalid objects to a
// real kube-apiserver, asserting that the schema (OpenAPI and CEL) accepts the
// former and rejects each of the latter naming the offending field.
package crd_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/dataresidency/operator/internal/testenv"
)

var (
	k8s client.Client
	env *testenv.Environment
)

func TestMain(m *testing.M) {
	var err error
	env, err = testenv.Start(testenv.Options{})
	if err != nil {
		if errors.Is(err, testenv.ErrNoAssets) && !testenv.InCI() {
			println("skipping CRD tests:", err.Error())
			os.Exit(0)
		}
		println(err.Error())
		os.Exit(1)
	}
	k8s, err = client.New(env.Config, client.Options{})
	if err != nil {
		println(err.Error())
		os.Exit(1)
	}
	code := m.Run()
	_ = env.Stop()
	os.Exit(code)
}

// readDocs splits a multi-document YAML file into objects.
func readDocs(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufioReader(data))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", path, i, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatalf("%s: document %d: %v", path, i, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		out = append(out, u)
	}
	return out
}

func TestSamplesAreAccepted(t *testing.T) {
	dir := filepath.Join(testenv.Root(), "config", "samples")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	var n int
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		for _, obj := range readDocs(t, f) {
			n++
			if err := k8s.Create(context.Background(), obj); err != nil {
				t.Errorf("%s: %s %s rejected: %v", filepath.Base(f), obj.GetKind(), obj.GetName(), err)
			}
		}
	}
	if n == 0 {
		t.Fatalf("no samples found in %s", dir)
	}
	t.Logf("%d sample objects accepted", n)
}

func obj(kind, name, spec string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	doc := "apiVersion: dataresidency.io/v1alpha1\nkind: " + kind + "\nmetadata: {name: " + name + "}\nspec:\n" + spec
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		panic(err)
	}
	return u
}

const (
	validSub = `  legalName: Example AS
  country: "NO" # quoted: YAML 1.1 reads a bare NO as false
  purpose: testing
  processingLocations: [somewhere]
`
	validBasis = `  mechanism: StandardContractualClauses
  countries: [US]
`
)

func TestInvalidObjectsAreRejectedNamingTheField(t *testing.T) {
	cases := []struct {
		name  string
		obj   *unstructured.Unstructured
		field string // the field the API server must name
		text  string // a fragment of the message, when it matters
	}{
		{"location country lower case", obj("ProcessingLocation", "l1", "  country: se\n"), "spec.country", ""},
		{"location country three letters", obj("ProcessingLocation", "l2", "  country: SWE\n"), "spec.country", ""},
		{"location country missing", obj("ProcessingLocation", "l3", "  city: Oslo\n"), "spec.country", "Required"},
		{"location region with spaces", obj("ProcessingLocation", "l4", "  country: SE\n  providerRegion: eu north 1\n"), "spec.providerRegion", ""},
		{"basis unknown mechanism", obj("TransferBasis", "b1", "  mechanism: Handshake\n  countries: [US]\n"), "spec.mechanism", "Unsupported value"},
		{"basis no countries", obj("TransferBasis", "b2", "  mechanism: StandardContractualClauses\n  countries: []\n"), "spec.countries", ""},
		{"basis bad country", obj("TransferBasis", "b3", "  mechanism: StandardContractualClauses\n  countries: [usa]\n"), "spec.countries[0]", ""},
		{"derogation missing", obj("TransferBasis", "b4", "  mechanism: Derogation\n  countries: [US]\n"), "spec.derogation", "derogation is required when mechanism is Derogation"},
		{"derogation without Derogation mechanism", obj("TransferBasis", "b5", validBasis+"  derogation: ExplicitConsent\n"), "spec.derogation", "must not be set otherwise"},
		{"unknown derogation", obj("TransferBasis", "b6", "  mechanism: Derogation\n  countries: [US]\n  derogation: BecauseWeSaidSo\n"), "spec.derogation", "Unsupported value"},
		{"expiresOn before effectiveFrom", obj("TransferBasis", "b7", validBasis+"  effectiveFrom: \"2024-05-01\"\n  expiresOn: \"2023-05-01\"\n"), "spec.expiresOn", "expiresOn must be after effectiveFrom"},
		{"malformed date", obj("TransferBasis", "b8", validBasis+"  expiresOn: \"2027-13-01\"\n"), "spec.expiresOn", ""},
		{"sccModule on BCR", obj("TransferBasis", "b9", "  mechanism: BindingCorporateRules\n  countries: [US]\n  sccModule: ControllerToProcessor\n"), "spec.sccModule", "sccModule applies only"},
		{"unknown supplementary measure", obj("TransferBasis", "b10", validBasis+"  supplementaryMeasures: [Prayer]\n"), "spec.supplementaryMeasures[0]", "Unsupported value"},
		{"TIA review before completion", obj("TransferBasis", "b11", validBasis+"  transferImpactAssessment: {completedOn: \"2024-01-10\", nextReviewOn: \"2023-01-10\"}\n"), "spec.transferImpactAssessment.nextReviewOn", "nextReviewOn must be after completedOn"},
		{"subprocessor without locations", obj("Subprocessor", "s1", "  legalName: X\n  country: US\n  purpose: p\n  processingLocations: []\n"), "spec.processingLocations", ""},
		{"subprocessor locations missing", obj("Subprocessor", "s2", "  legalName: X\n  country: US\n  purpose: p\n"), "spec.processingLocations", "Required"},
		{"subprocessor negative objection period", obj("Subprocessor", "s3", validSub+"  notice: {notifiedOn: \"2026-11-01\", objectionPeriodDays: -1}\n"), "spec.notice.objectionPeriodDays", ""},
		{"subprocessor bad data category", obj("Subprocessor", "s4", validSub+"  dataCategories: [\"User.Contact\"]\n"), "spec.dataCategories[0]", ""},
		{"subprocessor unknown dataAccess", obj("Subprocessor", "s5", validSub+"  dataAccess: Sometimes\n"), "spec.dataAccess", "Unsupported value"},
		{"subprocessor bad egress host", obj("Subprocessor", "s6", validSub+"  egress: {hosts: [\"https://api.sendgrid.com\"]}\n"), "spec.egress.hosts[0]", ""},
		{"subprocessor bad cidr", obj("Subprocessor", "s7", validSub+"  egress: {cidrs: [\"167.89.0.0/33\"]}\n"), "spec.egress.cidrs", "IP address or a CIDR"},
		{"subprocessor bad remote access country", obj("Subprocessor", "s8", validSub+"  remoteAccessCountries: [America]\n"), "spec.remoteAccessCountries[0]", ""},
		{"subprocessor missing legalName", obj("Subprocessor", "s9", "  country: US\n  purpose: p\n  processingLocations: [x]\n"), "spec.legalName", "Required"},
		{"policy not named default", obj("ResidencyPolicy", "strict", "  defaultEnforcement: deny\n"), "", "must be named 'default'"},
		{"policy unknown enforcement", obj("ResidencyPolicy", "default", "  defaultEnforcement: block\n"), "spec.defaultEnforcement", "Unsupported value"},
		{"policy unknown classification", obj("ResidencyPolicy", "default", "  allowedClassifications: [Friendly]\n"), "spec.allowedClassifications[0]", "Unsupported value"},
		{"policy override without reason", obj("ResidencyPolicy", "default", "  mechanismOverrides: [{mechanism: DataPrivacyFramework, invalidFrom: \"2027-06-01\"}]\n"), "spec.mechanismOverrides[0].reason", "Required"},
		{"policy country override bad until", obj("ResidencyPolicy", "default", "  countryOverrides: [{country: GB, classification: ThirdCountry, from: \"2032-01-01\", until: \"2031-01-01\"}]\n"), "spec.countryOverrides[0].until", "until must be after from"},
		{"policy unknown special-category action", obj("ResidencyPolicy", "default", "  specialCategoriesOutsideEEA: shrug\n"), "spec.specialCategoriesOutsideEEA", "Unsupported value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := k8s.Create(context.Background(), tc.obj)
			if err == nil {
				_ = k8s.Delete(context.Background(), tc.obj)
				t.Fatalf("accepted, want rejection naming %q", tc.field)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			status := err.(apierrors.APIStatus).Status()
			var fields []string
			found := tc.field == ""
			if status.Details != nil {
				for _, c := range status.Details.Causes {
					fields = append(fields, c.Field)
					if c.Field == tc.field {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("rejection names fields %q, want %q: %v", fields, tc.field, err)
			}
			if tc.text != "" && !strings.Contains(err.Error(), tc.text) {
				t.Errorf("message %q does not contain %q", err.Error(), tc.text)
			}
		})
	}
}

func TestDefaultsAreApplied(t *testing.T) {
	ctx := context.Background()
	sub := obj("Subprocessor", "defaults-sub", validSub+"  notice: {notifiedOn: \"2026-11-01\"}\n")
	if err := k8s.Create(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := unstructured.NestedString(sub.Object, "spec", "dataAccess"); got != "PersonalData" {
		t.Errorf("dataAccess defaulted to %q, want PersonalData", got)
	}
	if got, _, _ := unstructured.NestedInt64(sub.Object, "spec", "notice", "objectionPeriodDays"); got != 30 {
		t.Errorf("objectionPeriodDays defaulted to %d, want 30", got)
	}
	_ = k8s.Delete(ctx, sub)
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// TestKubectlApplyAndGet is what a user does first: apply the CRDs and the
// samples with kubectl, then list everything in the residency category.
func TestKubectlApplyAndGet(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		testenv.MissingTool(t, "kubectl not on PATH")
	}
	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kcfg, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kcfg, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", path}, args...)...)
		cmd.Dir = testenv.Root()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("apply", "-f", "config/crd/bases")
	run("apply", "-f", "config/samples")
	out := run("get", "residency")
	t.Logf("kubectl get residency:\n%s", out)
	for _, want := range []string{
		"processinglocation.dataresidency.io/aws-eu-north-1", "CLASSIFICATION",
		"transferbasis.dataresidency.io/", "MECHANISM", "PrivacyShield",
		"subprocessor.dataresidency.io/", "LEGAL NAME",
		"residencypolicy.dataresidency.io/default", "ENFORCEMENT",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl get residency lacks %q", want)
		}
	}
}

// TestServerVersion proves which release the suite ran on: the one of
// KUBEBUILDER_ASSETS's directory name (bin/k8s/<version>, as `make test` and
// `make test-oldest` set it), so a run on the oldest supported release cannot
// quietly run on another.
func TestServerVersion(t *testing.T) {
	want := filepath.Base(testenv.AssetsDir())
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	v, err := dc.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != want {
		t.Fatalf("kube-apiserver is %s, want %s (from %s)", v.GitVersion, want, testenv.AssetsDir())
	}
	t.Logf("kube-apiserver %s", v.GitVersion)
}
