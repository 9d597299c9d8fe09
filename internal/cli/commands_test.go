package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// ukCatalog is a subprocessor in London with no transfer basis: fine while
// the UK adequacy decision holds, a violation from the day it ends.
const ukCatalog = `apiVersion: dataresidency.io/v1alpha1
kind: ProcessingLocation
metadata: {name: aws-eu-west-2}
spec: {country: GB, city: London, provider: AWS, providerRegion: eu-west-2}
---
apiVersion: dataresidency.io/v1alpha1
kind: Subprocessor
metadata: {name: uk-analytics}
spec:
  legalName: UK Analytics Ltd
  country: GB
  purpose: Product analytics
  processingLocations: [aws-eu-west-2]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: reporting
  namespace: shop
  annotations:
    dataresidency.io/subprocessors: uk-analytics
    dataresidency.io/data-categories: user.contact.email
spec:
  selector: {matchLabels: {app: reporting}}
  template:
    metadata: {labels: {app: reporting}}
    spec:
      containers: [{name: app, image: registry.example/reporting:1}]
`

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func decodeScan(t *testing.T, r run) scanJSON {
	t.Helper()
	var got scanJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
	return got
}

// The end of the UK adequacy decision (Decision (EU) 2021/1772, valid until
// 2031-12-27) turns a London location into a third country.
func TestScanAtUKAdequacyEnd(t *testing.T) {
	path := writeTemp(t, "uk.yaml", ukCatalog)
	r := runBinary(t, nil, "scan", "-f", path, "--at", "2031-12-26", "-o", "json")
	if r.code != 0 {
		t.Fatalf("2031-12-26: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got := decodeScan(t, r)
	if len(got.Results) != 1 || got.Results[0].Verdict != "Compliant" || !strings.Contains(got.Results[0].Message, "Decision (EU) 2021/1772") {
		t.Errorf("2031-12-26: %+v", got.Results)
	}

	r = runBinary(t, nil, "scan", "-f", path, "--at", "2032-01-01", "-o", "json")
	if r.code != 1 {
		t.Fatalf("2032-01-01: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	got = decodeScan(t, r)
	if len(got.Results) != 1 {
		t.Fatalf("2032-01-01: %+v", got.Results)
	}
	f := got.Results[0]
	if f.Verdict != "Violation" || f.Reason != "UncoveredTransfer" || f.Country != "GB" || f.Route != "aws-eu-west-2" {
		t.Errorf("2032-01-01: %+v", f)
	}
	for _, w := range []string{"GB", "Decision (EU) 2021/1772", "2031-12-27"} {
		if !strings.Contains(f.Message, w) {
			t.Errorf("message does not name %q: %s", w, f.Message)
		}
	}
	if got.Summary != (Summary{Workloads: 1, Violations: 1}) {
		t.Errorf("summary %+v", got.Summary)
	}
}

// `helm template ... | residencyctl scan -f -`: a multi-document stream on
// stdin gives the same answer as the files.
func TestScanStdinStream(t *testing.T) {
	dir := filepath.Join(repo, "test", "fixtures", "seeds", "000-mailmojo-schrems2")
	var stream bytes.Buffer
	for _, f := range []string{"catalog.yaml", "workloads.yaml"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		stream.Write(data)
		stream.WriteString("\n---\n")
	}
	fromFiles := runBinary(t, nil, "scan", "-f", fixture("seeds", "000-mailmojo-schrems2"), "--at", "2026-11-22", "-o", "json")
	fromStdin := runBinary(t, bytes.NewReader(stream.Bytes()), "scan", "-f", "-", "--at", "2026-11-22", "-o", "json", "--stdin-name", "rendered.yaml")
	if fromStdin.code != fromFiles.code {
		t.Fatalf("exit %d from stdin, %d from files\n%s", fromStdin.code, fromFiles.code, fromStdin.stderr)
	}
	a, b := decodeScan(t, fromFiles), decodeScan(t, fromStdin)
	if a.Summary != b.Summary || len(a.Results) != len(b.Results) {
		t.Fatalf("stdin %+v, files %+v", b.Summary, a.Summary)
	}
	for i := range a.Results {
		x, y := a.Results[i], b.Results[i]
		if x.Resource != y.Resource || x.Reason != y.Reason || x.Verdict != y.Verdict || x.Message != y.Message {
			t.Errorf("result %d differs: %+v vs %+v", i, x, y)
		}
		if y.File != "rendered.yaml" || y.Document == 0 || y.Line == 0 {
			t.Errorf("stdin result not located: %+v", y)
		}
	}
	// Half from stdin, half from a file.
	wl, _ := os.ReadFile(filepath.Join(dir, "workloads.yaml"))
	mixed := runBinary(t, bytes.NewReader(wl), "scan", "-f", "-", "-f", filepath.Join(dir, "catalog.yaml"), "--at", "2026-11-22", "-o", "json")
	if m := decodeScan(t, mixed); m.Summary != a.Summary {
		t.Errorf("stdin + file: %+v, want %+v", m.Summary, a.Summary)
	}
}

// A `kind: List` (kubectl get -o yaml) and typed lists are unpacked.
func TestScanList(t *testing.T) {
	var items []string
	for _, doc := range strings.Split(ukCatalog, "---\n") {
		var b strings.Builder
		for i, line := range strings.Split(strings.TrimRight(doc, "\n"), "\n") {
			if i == 0 {
				b.WriteString("- " + line + "\n")
			} else {
				b.WriteString("  " + line + "\n")
			}
		}
		items = append(items, b.String())
	}
	list := "apiVersion: v1\nkind: List\nmetadata: {}\nitems:\n" + strings.Join(items, "")
	r := runBinary(t, strings.NewReader(list), "scan", "-f", "-", "--at", "2032-01-01", "-o", "json")
	got := decodeScan(t, r)
	if r.code != 1 || got.Summary.Violations != 1 || got.Results[0].Document != 1 {
		t.Fatalf("List: exit %d %+v\n%s", r.code, got, r.stderr)
	}
	if got.Results[0].Line < 5 {
		t.Errorf("the item's line is not located: %d", got.Results[0].Line)
	}

	typed := `apiVersion: dataresidency.io/v1alpha1
kind: ProcessingLocationList
items:
- metadata: {name: aws-eu-west-2}
  spec: {country: GB}
- metadata: {name: bad}
  spec: {country: gb}
`
	r = runBinary(t, strings.NewReader(typed), "scan", "-f", "-")
	if r.code != 2 || !strings.Contains(r.stderr, "document 1, items[1]") || !strings.Contains(r.stderr, "ProcessingLocation bad: spec.country") {
		t.Errorf("typed list: exit %d\n%s", r.code, r.stderr)
	}
}

// seed002AppendixB are the subprocessors of Pindena's Vedlegg B.1 that the
// seed-002 catalog includes (all 14).
var seed002AppendixB = map[string]struct{ country, basis string }{
	"pindena-empatix":         {"NO", ""},
	"pindena-coretrek":        {"NO", ""},
	"pindena-webhuset":        {"NO", ""},
	"pindena-deploi":          {"NO", ""},
	"pindena-aws":             {"LU", "pindena-aws-scc"},
	"pindena-isp-huset":       {"NO", ""},
	"pindena-miss-hosting":    {"NO", ""},
	"pindena-sendgrid":        {"US", "pindena-sendgrid-bcr"},
	"pindena-helpscout":       {"US", "pindena-helpscout-scc"},
	"pindena-link-mobility":   {"NO", ""},
	"pindena-onepagecrm":      {"IE", ""},
	"pindena-atlassian":       {"US", ""},
	"pindena-google":          {"US", ""},
	"pindena-apple-app-store": {"US", ""},
}

func TestRegisterSeed002(t *testing.T) {
	catalog := fixture("seeds", "002-pindena", "catalog.yaml")

	t.Run("json", func(t *testing.T) {
		r := runBinary(t, nil, "register", "-f", catalog, "--at", "2026-11-22", "-o", "json")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		var reg Register
		if err := json.Unmarshal([]byte(r.stdout), &reg); err != nil {
			t.Fatal(err)
		}
		byName := map[string]RegisterSubprocessor{}
		for _, e := range reg.Subprocessors {
			byName[e.Name] = e
		}
		for name, want := range seed002AppendixB {
			e, ok := byName[name]
			if !ok {
				t.Errorf("%s missing from the register", name)
				continue
			}
			if e.Country != want.country || e.LegalName == "" || e.Purpose == "" || e.State == "" {
				t.Errorf("%s: %+v", name, e)
			}
			if len(e.Locations) == 0 {
				t.Errorf("%s: no locations", name)
			}
			for _, l := range e.Locations {
				if l.Classification == "" || l.Country == "" || l.LegalReference == "" {
					t.Errorf("%s: location %+v", name, l)
				}
			}
			if want.basis != "" {
				found := false
				for _, rt := range e.Routes {
					if rt.Basis == want.basis && rt.Covered && rt.BasisState == "Valid" && rt.Mechanism != "" && strings.HasPrefix(rt.Article, "GDPR Art. 46") {
						found = true
					}
				}
				if !found {
					t.Errorf("%s: no route covered by %s: %+v", name, want.basis, e.Routes)
				}
			}
		}
		// C.6 gives no instruction for Atlassian, Google and Apple: uncovered.
		for _, name := range []string{"pindena-atlassian", "pindena-google", "pindena-apple-app-store"} {
			e := byName[name]
			if e.State != "NonCompliant" || len(e.Routes) == 0 || e.Routes[0].Covered || e.Routes[0].Reason != "UncoveredTransfer" {
				t.Errorf("%s: %+v", name, e)
			}
		}
		aws := byName["pindena-aws"]
		if len(aws.Routes) != 1 || aws.Routes[0].Type != "remote-access" || aws.Routes[0].Country != "US" {
			t.Errorf("pindena-aws routes: %+v", aws.Routes)
		}
		if reg.Summary.Subprocessors != len(reg.Subprocessors) || reg.Summary.TransferBases != 3 {
			t.Errorf("summary %+v", reg.Summary)
		}
	})

	t.Run("markdown", func(t *testing.T) {
		r := runBinary(t, nil, "register", "-f", catalog, "--at", "2026-11-22")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		md := r.stdout
		if !strings.Contains(md, "GDPR Art. 30(1)(e)") {
			t.Errorf("no title:\n%s", md)
		}
		for name, want := range seed002AppendixB {
			if !strings.Contains(md, "| "+name+" |") || !strings.Contains(md, "### "+name+": ") {
				t.Errorf("%s missing", name)
			}
			if want.basis != "" && !strings.Contains(md, "| "+want.basis+" |") {
				t.Errorf("basis %s of %s missing", want.basis, name)
			}
		}
		for _, w := range []string{"| EEA |", "| PartiallyAdequate |", "GDPR Art. 46(2)(b), Art. 47", "NO (UncoveredTransfer)"} {
			if !strings.Contains(md, w) {
				t.Errorf("markdown lacks %q", w)
			}
		}
	})

	t.Run("csv", func(t *testing.T) {
		r := runBinary(t, nil, "register", "-f", catalog, "--at", "2026-11-22", "-o", "csv")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := map[string]int{}
		for i, h := range rows[0] {
			col[h] = i
		}
		seen := map[string]bool{}
		bases := map[string]bool{}
		for _, row := range rows[1:] {
			name := row[col["subprocessor"]]
			if want, ok := seed002AppendixB[name]; ok {
				seen[name] = true
				if row[col["entity_country"]] != want.country || row[col["classification"]] == "" {
					t.Errorf("%s: %v", name, row)
				}
				if b := row[col["basis"]]; b != "" {
					bases[name+"/"+b] = true
				}
			}
		}
		for name, want := range seed002AppendixB {
			if !seen[name] {
				t.Errorf("%s missing", name)
			}
			if want.basis != "" && !bases[name+"/"+want.basis] {
				t.Errorf("%s: basis %s missing", name, want.basis)
			}
		}
	})
}

func TestScanSARIF(t *testing.T) {
	r := runBinary(t, nil, "scan", "-f", fixture("seeds", "003-lms-poland"), "--at", "2026-11-22", "-o", "sarif")
	if r.code != 1 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var log struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID   string `json:"id"`
						Help struct {
							Text string `json:"text"`
						} `json:"help"`
						ShortDescription struct {
							Text string `json:"text"`
						} `json:"shortDescription"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &log); err != nil {
		t.Fatalf("SARIF is not JSON: %v", err)
	}
	if log.Version != "2.1.0" || !strings.Contains(log.Schema, "sarif-2.1.0") || len(log.Runs) != 1 {
		t.Fatalf("version %q schema %q runs %d", log.Version, log.Schema, len(log.Runs))
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name != "residencyctl" {
		t.Errorf("driver %q", run.Tool.Driver.Name)
	}
	var ruleIDs []string
	for _, rule := range run.Tool.Driver.Rules {
		ruleIDs = append(ruleIDs, rule.ID)
		if rule.Help.Text == "" || rule.ShortDescription.Text == "" {
			t.Errorf("rule %s without help", rule.ID)
		}
	}
	used := map[string]bool{}
	for _, res := range run.Results {
		used[res.RuleID] = true
		if res.RuleIndex < 0 || res.RuleIndex >= len(ruleIDs) || ruleIDs[res.RuleIndex] != res.RuleID {
			t.Errorf("result %s has ruleIndex %d", res.RuleID, res.RuleIndex)
		}
		switch res.Level {
		case "error", "warning", "note":
		default:
			t.Errorf("level %q", res.Level)
		}
		if len(res.Locations) == 0 || res.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" || res.Locations[0].PhysicalLocation.Region.StartLine == 0 {
			t.Errorf("result without a located file: %+v", res)
		}
	}
	var usedIDs []string
	for id := range used {
		usedIDs = append(usedIDs, id)
	}
	sort.Strings(usedIDs)
	if strings.Join(usedIDs, ",") != strings.Join(ruleIDs, ",") {
		t.Errorf("rules %v, used %v", ruleIDs, usedIDs)
	}
	for _, want := range []string{"BasisNotValid", "UnattributedEgress", "DerogationInUse", "UnknownSubprocessor"} {
		if !used[want] {
			t.Errorf("no %s result", want)
		}
	}
	found := false
	for _, res := range run.Results {
		if res.RuleID == "DerogationInUse" && res.Level == "warning" &&
			res.Locations[0].PhysicalLocation.ArtifactLocation.URI == "test/fixtures/seeds/003-lms-poland/workloads.yaml" {
			found = true
		}
	}
	if !found {
		t.Errorf("DerogationInUse is not a warning located in workloads.yaml")
	}
}

func TestCatalogJSON(t *testing.T) {
	r := runBinary(t, nil, "catalog", "-o", "json", "--at", "2026-11-22")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var v CatalogView
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatal(err)
	}
	var gb, ps bool
	for _, d := range v.AdequacyDecisions {
		if d.Country == "GB" && d.Until == "2031-12-27" && strings.Contains(d.Instrument, "2021/1772") && d.InForce {
			gb = true
		}
	}
	for _, d := range v.DeadMechanisms {
		if d.Mechanism == "PrivacyShield" && d.From == "2020-07-16" && d.State == "Invalidated" && strings.Contains(d.Source, "C-311/18") {
			ps = true
		}
	}
	if !gb || !ps {
		t.Errorf("GB decision until 2031-12-27: %v; PrivacyShield invalid from 2020-07-16: %v\n%s", gb, ps, r.stdout)
	}
	eea := 0
	for _, c := range v.Countries {
		if c.EEA && c.AliasOf == "" {
			eea++
		}
		if c.Code == "CH" && (c.EEA || c.Classification != "Adequate") {
			t.Errorf("CH: %+v", c)
		}
	}
	if eea != 27+3+7 {
		t.Errorf("%d EEA codes, want 37 (EU27, IS LI NO, 7 territories)", eea)
	}

	r = runBinary(t, nil, "catalog")
	for _, w := range []string{"Decision (EU) 2021/1772", "2031-12-27", "PrivacyShield", "2020-07-16", "CJEU C-311/18 (Schrems II)", "SafeHarbor", "2015-10-06"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("catalog table lacks %q", w)
		}
	}
	// After the UK decision ends, GB is a third country.
	r = runBinary(t, nil, "catalog", "-o", "json", "--at", "2032-01-01")
	_ = json.Unmarshal([]byte(r.stdout), &v)
	for _, c := range v.Countries {
		if c.Code == "GB" && c.Classification != "ThirdCountry" {
			t.Errorf("GB in 2032: %+v", c)
		}
	}
}

func TestKubectlPlugin(t *testing.T) {
	if binErr != nil {
		t.Fatal(binErr)
	}
	plugin := filepath.Join(t.TempDir(), PluginName)
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plugin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	r := runProgram(t, plugin, nil, nil, "scan", "--help")
	if !strings.Contains(r.stdout, "kubectl residency scan -f PATH") {
		t.Errorf("plugin usage:\n%s", r.stdout)
	}
	r = runProgram(t, plugin, nil, nil, "--help")
	if !strings.Contains(r.stdout, "kubectl residency [command]") {
		t.Errorf("plugin root usage:\n%s", r.stdout)
	}
	r = runBinary(t, nil, "--help")
	if !strings.Contains(r.stdout, "residencyctl [command]") || strings.Contains(r.stdout, "kubectl residency") {
		t.Errorf("residencyctl usage:\n%s", r.stdout)
	}
	r = runProgram(t, plugin, nil, nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "kubectl residency ") {
		t.Errorf("plugin version: %d %q", r.code, r.stdout)
	}
}

func TestVersion(t *testing.T) {
	r := runBinary(t, nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "residencyctl ") {
		t.Errorf("version: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"scan"},
		{"scan", "-f", "x.yaml", "-o", "xml"},
		{"scan", "-f", "x.yaml", "--at", "2026-02-30"},
		{"scan", "--nope"},
		{"frobnicate"},
		{"register", "-o", "pdf"},
		{"catalog", "-o", "csv"},
		{"scan", "-f", "-", "-f", "-"},
		{"scan", "-f", "/does/not/exist.yaml"},
	} {
		r := runMain(args, nil)
		if r.code != ExitBadInput || r.stderr == "" || r.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
}

// With -o sarif, bad input is reported as SARIF too, located at the field.
func TestScanSARIFBadInput(t *testing.T) {
	r := runBinary(t, nil, "scan", "-f", fixture("malformed", "12-unquoted-norway.yaml"), "-o", "sarif")
	if r.code != 2 {
		t.Fatalf("exit %d", r.code)
	}
	var log sarifLog
	if err := json.Unmarshal([]byte(r.stdout), &log); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) != 1 {
		t.Fatalf("%+v", log)
	}
	res := log.Runs[0].Results[0]
	loc := res.Locations[0].PhysicalLocation
	if res.RuleID != "InvalidInput" || res.Level != "error" || loc.ArtifactLocation.URI != "test/fixtures/malformed/12-unquoted-norway.yaml" ||
		loc.Region == nil || loc.Region.StartLine != 12 || !strings.Contains(res.Message.Text, `quote it: "NO"`) {
		t.Errorf("%+v %+v", res, loc)
	}
}
