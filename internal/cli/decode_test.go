package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Documents are split by kubectl's reader (apimachinery's YAMLReader); each
// is located at the file line its first content is on, and numbered among
// the documents kubectl reads (empty ones are skipped).
func TestSplitDocumentsPositions(t *testing.T) {
	pod := func(name string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + "}\n"
	}
	type at struct {
		name     string
		document int
		line     int
	}
	cases := []struct {
		name, in string
		want     []at
	}{
		{"plain", pod("a") + "---\n" + pod("b"), []at{{"a", 1, 1}, {"b", 2, 5}}},
		{"leading separator", "---\n" + pod("a") + "---\n" + pod("b") + "---\n", []at{{"a", 1, 2}, {"b", 2, 6}}},
		{"leading comment and separator", "# header\n---\n" + pod("a"), []at{{"a", 1, 3}}},
		{"comments before content", "---\n# about a\n\n" + pod("a") + "--- # b follows\n  # indented comment\n" + pod("b"),
			[]at{{"a", 1, 4}, {"b", 2, 9}}},
		{"consecutive separators", pod("a") + "---\n---\n---   \n\n---\n" + pod("b"), []at{{"a", 1, 1}, {"b", 2, 9}}},
		{"comment-only and null documents", "# just a comment\n---\n# another\n---\n~\n---\nnull\n---\n" + pod("a"), []at{{"a", 1, 9}}},
		{"identical documents", pod("a") + "---\n" + pod("a") + "---\n" + pod("a"), []at{{"a", 1, 1}, {"a", 2, 5}, {"a", 3, 9}}},
		{"separator inside a block scalar", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  annotations:\n    note: |\n      text\n      ---\n      more\n---\n" + pod("b"),
			[]at{{"a", 1, 1}, {"b", 2, 11}}},
		{"CRLF", strings.ReplaceAll("# c\n---\n"+pod("a")+"---\n\n"+pod("b"), "\n", "\r\n"), []at{{"a", 1, 3}, {"b", 2, 8}}},
		{"no final newline", pod("a") + "---\n" + strings.TrimSuffix(pod("b"), "\n"), []at{{"a", 1, 1}, {"b", 2, 5}}},
		{"BOM, CRLF and no final newline", "\xef\xbb\xbf" + strings.TrimSuffix(strings.ReplaceAll(pod("a")+"---\n"+pod("b"), "\n", "\r\n"), "\r\n"),
			[]at{{"a", 1, 1}, {"b", 2, 5}}},
		{"end marker then separator", pod("a") + "...\n---\n" + pod("b"), []at{{"a", 1, 1}, {"b", 2, 6}}},
		{"List", "---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n- {apiVersion: v1, kind: Pod, metadata: {name: b}}\n",
			[]at{{"a", 1, 5}, {"b", 1, 8}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := load(t, c.in)
			if len(b.Errors) > 0 {
				t.Fatalf("errors:\n%s", errorsText(b))
			}
			var got []at
			for _, w := range b.Workloads {
				got = append(got, at{w.Object.(*corev1.Pod).Name, w.Origin.Document, w.Origin.Line})
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// A document's raw text starts at file line offset; the reader's documents
// are whole lines, the separator that ended the previous one left out.
func TestSplitDocuments(t *testing.T) {
	in := "# header comment\n" + // 1
		"---\n" + // 2
		"a: 1\n" + // 3
		"---   \n" + // 4
		"# only a comment\n" + // 5
		"--- # comment after the marker\n" + // 6
		"\n" + // 7
		"b: 2\n" + // 8
		"---\n" + // 9
		"---\n" + // 10
		"d: |\n" + // 11
		"  ---\n" + // 12: inside a block scalar, indented: not a separator
		"  text\n" // 13
	docs, err := splitDocuments("f.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		offset, line int
		raw          string
	}{
		{1, 1, "# header comment\n"},
		{3, 3, "a: 1\n"},
		{5, 5, "# only a comment\n"},
		{7, 8, "\nb: 2\n"},
		{10, 11, "---\nd: |\n  ---\n  text\n"},
	}
	if len(docs) != len(want) {
		t.Fatalf("%d documents, want %d: %+v", len(docs), len(want), docs)
	}
	for i, w := range want {
		if d := docs[i]; d.offset != w.offset || d.line != w.line || string(d.raw) != w.raw {
			t.Errorf("document %d: offset %d line %d raw %q; want %d, %d, %q", i+1, d.offset, d.line, d.raw, w.offset, w.line, w.raw)
		}
	}
}

// Input kubectl rejects is bad input: a separator line followed by content.
// "..." ends a document as the YAML library says, it separates nothing.
func TestSplitDocumentsKubectlParity(t *testing.T) {
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
	for _, c := range []struct{ name, in, want string }{
		{"content after separator", pod + "--- {c: 3}\n" + pod, `in.yaml: line 4: invalid YAML: "{c: 3}" after the document separator`},
		{"content after leading separator", "--- {apiVersion: v1, kind: Pod, metadata: {name: p}}\n", `in.yaml: line 1: invalid YAML: "{apiVersion: v1, kind: Pod, metadata: {name: p}}"`},
		{"four dashes", pod + "----\n" + pod, `in.yaml: line 4: invalid YAML: "-" after`},
		{"dashes glued to content", "# c\n---\n" + pod + "---a: 1\r\n", `in.yaml: line 6: invalid YAML: "a: 1" after`},
		{"end marker alone", "...\n" + pod, "in.yaml: document 1 (line 1): invalid YAML"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := load(t, c.in)
			if got := errorsText(b); len(b.Errors) != 1 || !strings.HasPrefix(got, c.want) {
				t.Errorf("errors:\n%s\nwant one starting %q", got, c.want)
			}
			if len(b.Workloads) != 0 {
				t.Errorf("bad input read workloads: %+v", b.Workloads)
			}
		})
	}
	// What follows "..." in the same document is not read, as kubectl does
	// not read it.
	b := load(t, pod+"...\n"+strings.ReplaceAll(pod, "name: a", "name: b"))
	if len(b.Errors) != 0 || len(b.Workloads) != 1 || b.Workloads[0].Object.(*corev1.Pod).Name != "a" {
		t.Errorf("after ...: errors %s, workloads %+v", errorsText(b), b.Workloads)
	}
	r := runMain([]string{"scan", "-f", "-", "--at", "2026-11-22"}, strings.NewReader(pod+"--- {c: 3}\n"))
	if r.code != 2 || !strings.Contains(r.stderr, "<stdin>: line 4: invalid YAML") || r.stdout != "" {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// A JSON file holds one object or a List, as kubectl reads it.
func TestLoadJSON(t *testing.T) {
	b := load(t, `{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}},
  {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"}}
]}`)
	if len(b.Errors) != 0 || len(b.Workloads) != 2 || b.Workloads[1].Origin.Line != 3 || b.Workloads[1].Origin.Item != 1 {
		t.Errorf("errors %s, workloads %+v", errorsText(b), b.Workloads)
	}
}

func load(t *testing.T, content string, args ...string) *Bundle {
	t.Helper()
	if len(args) == 0 {
		args = []string{"-"}
	}
	return Load(args, strings.NewReader(content), "in.yaml", "")
}

func errorsText(b *Bundle) string {
	var s []string
	for _, e := range b.Errors {
		s = append(s, e.Error())
	}
	return strings.Join(s, "\n")
}

func TestLoadKinds(t *testing.T) {
	b := load(t, `apiVersion: v1
kind: Secret
metadata: {name: s, namespace: shop}
data: {password: "!!! not base64, never read !!!"}
stringData: {url: "https://secret.example"}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r}
rules: "whatever: not read"
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
---
apiVersion: example.com/v1
kind: Deployment
metadata: {name: not-apps}
spec: 42
---
apiVersion: v1
kind: Service
metadata: {name: payments, namespace: shop}
spec: {type: ExternalName, externalName: api.payments.example}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {API: "https://api.vendor.example"}
binaryData: {blob: AAAA}
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {dataresidency.io/enforcement: block}
---
apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: i}]
`)
	if len(b.Errors) > 0 {
		t.Fatalf("errors:\n%s", errorsText(b))
	}
	if len(b.Workloads) != 1 || b.Workloads[0].Namespace != "default" {
		t.Errorf("workloads: %+v", b.Workloads)
	}
	if b.ExternalNames["payments.shop"] != "api.payments.example" || len(b.ExternalNames) != 1 {
		t.Errorf("external names: %v", b.ExternalNames)
	}
	if b.ConfigMaps["shop"]["settings"]["API"] != "https://api.vendor.example" {
		t.Errorf("config maps: %v", b.ConfigMaps)
	}
	if len(b.Notices) != 1 || b.Notices[0].Rule != "InvalidEnforcementLabel" {
		t.Errorf("notices: %+v", b.Notices)
	}
}

func TestLoadBadInput(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string
	}{
		{"missing kind", "apiVersion: v1\nmetadata: {name: x}\n", []string{"in.yaml: document 1 (line 1)", "kind: is missing"}},
		{"missing apiVersion", "kind: Deployment\nmetadata: {name: x}\n", []string{"Deployment x: apiVersion: is missing"}},
		{"neither", "---\nfoo: bar\n", []string{"document 1 (line 2)", "apiVersion and kind are missing"}},
		{"not a mapping", "- a\n- b\n", []string{"is not an object"}},
		{"kind not a string", "apiVersion: v1\nkind: [Pod]\n", []string{"kind: must be a string"}},
		{"removed workload API", "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: old}\n", []string{"Deployment old", "extensions/v1beta1 Deployment is not served", "use apps/v1"}},
		{"core Deployment", "apiVersion: v1\nkind: Deployment\nmetadata: {name: typo}\n", []string{"v1 Deployment is not served", "apps/v1"}},
		{"workload type error", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: many}\n", []string{"Deployment d", "cannot be decoded"}},
		{"workload without name", "apiVersion: v1\nkind: Pod\nmetadata: {}\n", []string{"metadata.name: Required value"}},
		{"unknown residency version", "apiVersion: dataresidency.io/v1\nkind: Subprocessor\nmetadata: {name: s}\n", []string{"unknown version dataresidency.io/v1"}},
		{"unknown residency kind", "apiVersion: dataresidency.io/v1alpha1\nkind: Vendor\nmetadata: {name: s}\n", []string{"unknown kind Vendor in dataresidency.io/v1alpha1"}},
		{"duplicate key", "apiVersion: dataresidency.io/v1alpha1\nkind: ProcessingLocation\nmetadata: {name: p}\nspec:\n  country: SE\n  country: US\n", []string{"ProcessingLocation p", "already set"}},
		{"duplicate object", "apiVersion: dataresidency.io/v1alpha1\nkind: ProcessingLocation\nmetadata: {name: p}\nspec: {country: SE}\n---\napiVersion: dataresidency.io/v1alpha1\nkind: ProcessingLocation\nmetadata: {name: p}\nspec: {country: US}\n",
			[]string{"document 2", "ProcessingLocation p: is defined twice (also at in.yaml: document 1"}},
		{"unknown metadata field", "apiVersion: dataresidency.io/v1alpha1\nkind: ProcessingLocation\nmetadata: {name: p, lables: {a: b}}\nspec: {country: SE}\n", []string{"metadata.lables", "unknown field"}},
		{"bad name", "apiVersion: dataresidency.io/v1alpha1\nkind: ProcessingLocation\nmetadata: {name: Oslo_DC}\nspec: {country: NO}\n", []string{"metadata.name"}},
		{"no name", "apiVersion: dataresidency.io/v1alpha1\nkind: ProcessingLocation\nmetadata: {}\nspec: {country: \"NO\"}\n", []string{"metadata.name"}},
		{"Norway in a list", "apiVersion: dataresidency.io/v1alpha1\nkind: TransferBasis\nmetadata: {name: b}\nspec:\n  mechanism: StandardContractualClauses\n  countries:\n  - SE\n  - NO\n",
			[]string{"document 1 (line 8)", "spec.countries[1]", `quote it: "NO"`}},
		{"yes as a country", "apiVersion: dataresidency.io/v1alpha1\nkind: ProcessingLocation\nmetadata: {name: p}\nspec: {country: yes}\n", []string{"boolean true", `quote it: "yes"`}},
		{"yaml syntax", "a: 1\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: [x}\n", []string{"document 2", "invalid YAML", "line 5"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := load(t, c.in)
			if len(b.Errors) == 0 {
				t.Fatalf("no error")
			}
			got := errorsText(b)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("error does not say %q:\n%s", w, got)
				}
			}
		})
	}
}

// A file found in a directory that is not a manifest is skipped with a note;
// named on the command line it is bad input.
func TestLoadDirectories(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("a/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p1, namespace: x}\nspec: {containers: [{name: c, image: i}]}\n")
	write("a/b/pod.json", `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p2"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}`)
	write("a/b/pod.YML", "apiVersion: v1\nkind: Pod\nmetadata: {name: p3}\n")
	write("a/readme.md", "kind: Pod\n")
	values := write("values.yaml", "replicas: 3\nimage: {tag: latest}\n")
	b := Load([]string{dir}, nil, "", "ns")
	if len(b.Errors) > 0 {
		t.Fatalf("errors:\n%s", errorsText(b))
	}
	var names []string
	for _, w := range b.Workloads {
		names = append(names, w.Namespace+"/"+w.Object.(interface{ GetName() string }).GetName())
	}
	if strings.Join(names, ",") != "ns/p3,ns/p2,x/p1" {
		t.Errorf("workloads %v", names)
	}
	if len(b.Notices) != 1 || b.Notices[0].Rule != "SkippedFile" || b.Notices[0].Origin.File != values {
		t.Errorf("notices %+v", b.Notices)
	}
	b = Load([]string{values}, nil, "", "")
	if len(b.Errors) != 1 || !strings.Contains(b.Errors[0].Error(), "apiVersion and kind are missing") {
		t.Errorf("explicit non-manifest: %s", errorsText(b))
	}
}

func TestLoadSizeBound(t *testing.T) {
	old := fileLimit
	fileLimit = 1 << 10
	defer func() { fileLimit = old }()
	b := load(t, strings.Repeat("# padding\n", 200))
	if len(b.Errors) != 1 || !strings.Contains(b.Errors[0].Error(), "in.yaml: larger than 1024 bytes") {
		t.Errorf("%s", errorsText(b))
	}
}

// Every CRD rule is enforced: the validation is the API server's, with the
// CRDs of config/crd/bases; this table keeps one case per rule.
func TestResidencyValidationRules(t *testing.T) {
	const (
		loc    = "apiVersion: dataresidency.io/v1alpha1\nkind: ProcessingLocation\nmetadata: {name: l}\nspec:\n"
		basis  = "apiVersion: dataresidency.io/v1alpha1\nkind: TransferBasis\nmetadata: {name: b}\nspec:\n"
		sub    = "apiVersion: dataresidency.io/v1alpha1\nkind: Subprocessor\nmetadata: {name: s}\nspec:\n  legalName: S\n  country: US\n  purpose: p\n"
		policy = "apiVersion: dataresidency.io/v1alpha1\nkind: ResidencyPolicy\nmetadata: {name: default}\nspec:\n"
	)
	cases := []struct {
		rule, in, field, says string
	}{
		{"country pattern", loc + "  country: Se\n", "spec.country", "^[A-Z]{2}$"},
		{"country length", loc + "  country: USA\n", "spec.country", "expected an ISO 3166-1 alpha-2 country code"},
		{"country required", loc + "  city: Oslo\n", "spec.country", "Required value"},
		{"providerRegion pattern", loc + "  country: SE\n  providerRegion: EU_NORTH\n", "spec.providerRegion", "region code"},
		{"mechanism enum", basis + "  mechanism: Adequacy\n  countries: [US]\n", "spec.mechanism", "Unsupported value"},
		{"countries min 1", basis + "  mechanism: BindingCorporateRules\n  countries: []\n", "spec.countries", "at least 1"},
		{"countries set", basis + "  mechanism: BindingCorporateRules\n  countries: [US, US]\n", "spec.countries[1]", "Duplicate value"},
		{"date pattern", basis + "  mechanism: BindingCorporateRules\n  countries: [US]\n  expiresOn: 2027-3-5\n", "spec.expiresOn", "YYYY-MM-DD"},
		{"real date", basis + "  mechanism: BindingCorporateRules\n  countries: [US]\n  expiresOn: \"2027-02-30\"\n", "spec.expiresOn", "no such day"},
		{"derogation iff Derogation (missing)", basis + "  mechanism: Derogation\n  countries: [US]\n", "spec.derogation", "derogation is required when mechanism is Derogation"},
		{"derogation iff Derogation (extra)", basis + "  mechanism: BindingCorporateRules\n  derogation: ExplicitConsent\n  countries: [US]\n", "spec.derogation", "must not be set otherwise"},
		{"derogation enum", basis + "  mechanism: Derogation\n  derogation: Consent\n  countries: [US]\n", "spec.derogation", "Unsupported value"},
		{"expiresOn after effectiveFrom", basis + "  mechanism: BindingCorporateRules\n  countries: [US]\n  effectiveFrom: \"2026-01-01\"\n  expiresOn: \"2026-01-01\"\n", "spec.expiresOn", "expiresOn must be after effectiveFrom"},
		{"sccModule only for SCCs", basis + "  mechanism: BindingCorporateRules\n  sccModule: ControllerToProcessor\n  countries: [US]\n", "spec.sccModule", "sccModule applies only to"},
		{"sccModule enum", basis + "  mechanism: StandardContractualClauses\n  sccModule: C2P\n  countries: [US]\n", "spec.sccModule", "Unsupported value"},
		{"TIA completedOn required", basis + "  mechanism: BindingCorporateRules\n  countries: [US]\n  transferImpactAssessment: {reference: x}\n", "spec.transferImpactAssessment.completedOn", "Required value"},
		{"TIA nextReviewOn after completedOn", basis + "  mechanism: BindingCorporateRules\n  countries: [US]\n  transferImpactAssessment: {completedOn: \"2026-01-01\", nextReviewOn: \"2025-01-01\"}\n", "spec.transferImpactAssessment.nextReviewOn", "nextReviewOn must be after completedOn"},
		{"supplementaryMeasures enum", basis + "  mechanism: BindingCorporateRules\n  countries: [US]\n  supplementaryMeasures: [Encryption]\n", "spec.supplementaryMeasures[0]", "Unsupported value"},
		{"legalName required", strings.Replace(sub, "  legalName: S\n", "", 1) + "  processingLocations: [l]\n", "spec.legalName", "Required value"},
		{"purpose required", strings.Replace(sub, "  purpose: p\n", "", 1) + "  processingLocations: [l]\n", "spec.purpose", "Required value"},
		{"processingLocations required", sub, "spec.processingLocations", "Required value"},
		{"processingLocations non-empty", sub + "  processingLocations: []\n", "spec.processingLocations", "at least 1"},
		{"object names", sub + "  processingLocations: [AWS_Stockholm]\n", "spec.processingLocations[0]", "not an object name"},
		{"dataAccess enum", sub + "  processingLocations: [l]\n  dataAccess: Anonymous\n", "spec.dataAccess", "Unsupported value"},
		{"data category pattern", sub + "  processingLocations: [l]\n  dataCategories: [User.Name]\n", "spec.dataCategories[0]", "fideslang"},
		{"remote access country", sub + "  processingLocations: [l]\n  remoteAccessCountries: [usa]\n", "spec.remoteAccessCountries[0]", "expected an ISO 3166-1 alpha-2"},
		{"egress host format", sub + "  processingLocations: [l]\n  egress: {hosts: [\"api.example.com:443\"]}\n", "spec.egress.hosts[0]", "not a host name"},
		{"egress CIDR format", sub + "  processingLocations: [l]\n  egress: {cidrs: [\"10.0.0.0/33\"]}\n", "spec.egress.cidrs", "IP address or a CIDR"},
		{"objectionPeriodDays >= 0", sub + "  processingLocations: [l]\n  notice: {notifiedOn: \"2026-11-01\", objectionPeriodDays: -1}\n", "spec.notice.objectionPeriodDays", "greater than or equal to 0"},
		{"notifiedOn required", sub + "  processingLocations: [l]\n  notice: {objectionPeriodDays: 30}\n", "spec.notice.notifiedOn", "Required value"},
		{"raisedOn real date", sub + "  processingLocations: [l]\n  objection: {raisedOn: \"2026-13-01\"}\n", "spec.objection.raisedOn", "YYYY-MM-DD"},
		{"policy named default", strings.Replace(policy, "name: default", "name: prod", 1) + "  defaultEnforcement: deny\n", "", "must be named 'default'"},
		{"defaultEnforcement enum", policy + "  defaultEnforcement: block\n", "spec.defaultEnforcement", "Unsupported value"},
		{"specialCategoriesOutsideEEA enum", policy + "  specialCategoriesOutsideEEA: ignore\n", "spec.specialCategoriesOutsideEEA", "Unsupported value"},
		{"unattributedEgress enum", policy + "  unattributedEgress: allow\n", "spec.unattributedEgress", "Unsupported value"},
		{"allowedClassifications enum", policy + "  allowedClassifications: [EU]\n", "spec.allowedClassifications[0]", "Unsupported value"},
		{"mechanismOverrides reason required", policy + "  mechanismOverrides: [{mechanism: DataPrivacyFramework, invalidFrom: \"2027-06-01\"}]\n", "spec.mechanismOverrides[0].reason", "Required value"},
		{"mechanismOverrides map keys", policy + "  mechanismOverrides:\n  - {mechanism: DataPrivacyFramework, invalidFrom: \"2027-06-01\", reason: a}\n  - {mechanism: DataPrivacyFramework, invalidFrom: \"2027-07-01\", reason: b}\n", "spec.mechanismOverrides[1]", "Duplicate value"},
		{"countryOverrides until after from", policy + "  countryOverrides: [{country: GB, classification: ThirdCountry, from: \"2032-01-01\", until: \"2031-01-01\"}]\n", "spec.countryOverrides[0].until", "until must be after from"},
		{"countryOverrides real date", policy + "  countryOverrides: [{country: GB, classification: ThirdCountry, from: \"2031-02-29\"}]\n", "spec.countryOverrides[0].from", "no such day"},
		{"unknown field", loc + "  country: SE\n  region: eu-north-1\n", "spec.region", "unknown field"},
	}
	for _, c := range cases {
		t.Run(c.rule, func(t *testing.T) {
			b := load(t, c.in)
			if len(b.Errors) == 0 {
				t.Fatalf("accepted:\n%s", c.in)
			}
			got := errorsText(b)
			if c.field != "" && b.Errors[0].Field != c.field {
				t.Errorf("field %q, want %q:\n%s", b.Errors[0].Field, c.field, got)
			}
			if !strings.Contains(got, c.says) {
				t.Errorf("error does not say %q:\n%s", c.says, got)
			}
		})
	}
	// And the valid forms pass, with the schema's defaults applied.
	b := load(t, sub+"  processingLocations: [l]\n  notice: {notifiedOn: \"2026-11-01\"}\n---\n"+loc+"  country: EL\n---\n"+
		basis+"  mechanism: Derogation\n  derogation: ExplicitConsent\n  countries: [US]\n  effectiveFrom: \"2024-02-29\"\n---\n"+policy+"  excludedNamespaces: [kube-system]\n")
	if len(b.Errors) > 0 {
		t.Fatalf("valid objects rejected:\n%s", errorsText(b))
	}
	s := b.Subprocessors[0]
	if s.Spec.DataAccess != "PersonalData" || s.Spec.Notice.ObjectionPeriodDays == nil || *s.Spec.Notice.ObjectionPeriodDays != 30 {
		t.Errorf("defaults not applied: %+v", s.Spec)
	}
	if b.Policy.Spec.DefaultEnforcement != "audit" || b.Policy.Spec.SpecialCategoriesOutsideEEA != "deny" {
		t.Errorf("policy defaults not applied: %+v", b.Policy.Spec)
	}
}

// The embedded CRDs are config/crd/bases: `make manifests` refreshes both.
func TestEmbeddedCRDsMatchConfig(t *testing.T) {
	want, err := filepath.Glob(filepath.Join(repo, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(want) == 0 {
		t.Fatalf("no CRDs in config/crd/bases: %v", err)
	}
	entries, _ := crdFS.ReadDir("crds")
	if len(entries) != len(want) {
		t.Errorf("%d embedded CRDs, %d in config/crd/bases: run `make manifests`", len(entries), len(want))
	}
	for _, p := range want {
		exp, _ := os.ReadFile(p)
		got, err := crdFS.ReadFile("crds/" + filepath.Base(p))
		if err != nil || !bytes.Equal(got, exp) {
			t.Errorf("internal/cli/crds/%s differs from config/crd/bases: run `make manifests`", filepath.Base(p))
		}
	}
	if k := residencyKinds(); strings.Join(k, ",") != "ObservedEgress,ProcessingLocation,ResidencyException,ResidencyPolicy,Subprocessor,TransferBasis" {
		t.Errorf("kinds %v", k)
	}
}

// Every sample of config/samples is valid input, and together they scan clean.
func TestSamplesAreValid(t *testing.T) {
	r := runMain([]string{"register", "-f", filepath.Join(repo, "config", "samples"), "-o", "json", "--at", "2026-11-22"}, nil)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "does not exist") {
		t.Errorf("samples have dangling references:\n%s", r.stderr)
	}
}
