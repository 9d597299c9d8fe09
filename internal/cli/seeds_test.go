package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The seed fixtures' expected.yaml files are the assertions: for each seed,
// `residencyctl scan -f test/fixtures/seeds/<seed> --at <at> -o json` must give
// the exit code, the summary and, per workload, the enforcement, the
// subprocessors, the verdict, exactly the listed reason codes (optional ones
// allowed) and the listed key findings; excluded workloads must not appear.

type expectedWorkload struct {
	Resource        Resource            `json:"resource"`
	Enforcement     string              `json:"enforcement"`
	Subprocessors   []string            `json:"subprocessors"`
	Verdict         string              `json:"verdict"`
	Reasons         []string            `json:"reasons"`
	OptionalReasons []string            `json:"optionalReasons"`
	Findings        []map[string]string `json:"findings"`
}

type expectedRun struct {
	At       string             `json:"at"`
	ExitCode int                `json:"exitCode"`
	Summary  *Summary           `json:"summary"`
	Results  []expectedWorkload `json:"results"`
	Excluded []struct {
		Resource Resource `json:"resource"`
	} `json:"excluded"`
}

type expectedSeed struct {
	Seed string `json:"seed"`
	expectedRun
	Scenarios []expectedRun `json:"scenarios"`
}

type scanJSON struct {
	Results []ScanResult `json:"results"`
	Summary Summary      `json:"summary"`
}

func readYAML(t *testing.T, path string, into interface{}) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repo, path))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func seedDirs(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(repo, "test", "fixtures", "seeds", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no seed fixtures: %v", err)
	}
	var out []string
	for _, d := range dirs {
		out = append(out, filepath.Base(d))
	}
	sort.Strings(out)
	return out
}

func TestSeedFixtures(t *testing.T) {
	seeds := seedDirs(t)
	if len(seeds) != 5 {
		t.Errorf("want 5 seed fixtures, have %v", seeds)
	}
	for _, seed := range seeds {
		var exp expectedSeed
		readYAML(t, fixture("seeds", seed, "expected.yaml"), &exp)
		runs := append([]expectedRun{exp.expectedRun}, exp.Scenarios...)
		for i, er := range runs {
			er := er
			if i > 0 && er.Excluded == nil {
				er.Excluded = exp.Excluded
			}
			t.Run(seed+"@"+er.At, func(t *testing.T) {
				r := runBinary(t, nil, "scan", "-f", fixture("seeds", seed), "--at", er.At, "-o", "json")
				checkScan(t, r, er)
			})
		}
	}
}

// checkScan compares a `scan -o json` run with an expectation.
func checkScan(t *testing.T, r run, er expectedRun) {
	t.Helper()
	if r.code != er.ExitCode {
		t.Errorf("exit code %d, want %d; stderr:\n%s", r.code, er.ExitCode, r.stderr)
	}
	var got scanJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
	if er.Summary != nil {
		s := got.Summary
		s.Excluded = 0
		if s != *er.Summary {
			t.Errorf("summary %+v, want %+v", got.Summary, *er.Summary)
		}
	}
	byResource := map[Resource][]ScanResult{}
	for _, res := range got.Results {
		byResource[res.Resource] = append(byResource[res.Resource], res)
	}
	expected := map[Resource]bool{}
	for _, w := range er.Results {
		expected[w.Resource] = true
		results, ok := byResource[w.Resource]
		if !ok {
			t.Errorf("%s: no result", w.Resource)
			continue
		}
		checkWorkload(t, w, results)
	}
	for res := range byResource {
		if !expected[res] {
			t.Errorf("%s: in the results but not expected", res)
		}
	}
	for _, x := range er.Excluded {
		if _, ok := byResource[x.Resource]; ok {
			t.Errorf("%s: excluded, but in the results", x.Resource)
		}
	}
}

func checkWorkload(t *testing.T, w expectedWorkload, results []ScanResult) {
	t.Helper()
	worst := "Compliant"
	reasons := map[string]bool{}
	compliant := 0
	for _, r := range results {
		if r.Verdict == "Compliant" {
			compliant++
			continue
		}
		reasons[r.Reason] = true
		if r.Verdict == "Violation" || worst == "Compliant" {
			worst = r.Verdict
		}
		if r.WorkloadVerdict != w.Verdict {
			t.Errorf("%s: workloadVerdict %s, want %s", w.Resource, r.WorkloadVerdict, w.Verdict)
		}
	}
	if worst != w.Verdict {
		t.Errorf("%s: verdict %s, want %s\n%s", w.Resource, worst, w.Verdict, dumpResults(results))
	}
	if w.Verdict == "Compliant" && (compliant != 1 || len(results) != 1) {
		t.Errorf("%s: a compliant workload appears with exactly one Compliant result, got %d results", w.Resource, len(results))
	}
	want := map[string]bool{}
	for _, r := range w.Reasons {
		want[r] = true
		if !reasons[r] {
			t.Errorf("%s: reason %s missing\n%s", w.Resource, r, dumpResults(results))
		}
	}
	optional := map[string]bool{}
	for _, r := range w.OptionalReasons {
		optional[r] = true
	}
	for r := range reasons {
		if !want[r] && !optional[r] {
			t.Errorf("%s: unexpected reason %s\n%s", w.Resource, r, dumpResults(results))
		}
	}
	if w.Enforcement != "" && results[0].Enforcement != w.Enforcement {
		t.Errorf("%s: enforcement %s, want %s", w.Resource, results[0].Enforcement, w.Enforcement)
	}
	if w.Subprocessors != nil {
		got := append([]string(nil), results[0].Subprocessors...)
		wantSubs := append([]string(nil), w.Subprocessors...)
		sort.Strings(got)
		sort.Strings(wantSubs)
		if strings.Join(got, ",") != strings.Join(wantSubs, ",") {
			t.Errorf("%s: subprocessors %v, want %v", w.Resource, got, wantSubs)
		}
	}
	for _, f := range w.Findings {
		if !findingMatches(f, results) {
			t.Errorf("%s: no result matches finding %v\n%s", w.Resource, f, dumpResults(results))
		}
	}
}

// findingMatches reports whether some result has every key of f: reason,
// subprocessor, route, basis, endpoint exactly; annotation and entry in the message.
func findingMatches(f map[string]string, results []ScanResult) bool {
	for _, r := range results {
		ok := true
		for k, v := range f {
			switch k {
			case "reason":
				ok = ok && r.Reason == v
			case "subprocessor":
				ok = ok && r.Subprocessor == v
			case "route":
				ok = ok && r.Route == v
			case "basis":
				ok = ok && r.Basis == v
			case "endpoint":
				ok = ok && r.Endpoint == v
			case "country":
				ok = ok && r.Country == v
			case "annotation", "entry":
				ok = ok && strings.Contains(r.Message, v)
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func dumpResults(results []ScanResult) string {
	var b strings.Builder
	for _, r := range results {
		b.WriteString("    " + r.Verdict + " " + r.Reason + " sub=" + r.Subprocessor + " route=" + r.Route +
			" basis=" + r.Basis + " endpoint=" + r.Endpoint + ": " + r.Message + "\n")
	}
	return b.String()
}

// The JSON shape is the contract of domain.md: every key present, even when empty.
func TestScanJSONShape(t *testing.T) {
	r := runBinary(t, nil, "scan", "-f", fixture("seeds", "001-mailmojo-dpa"), "--at", "2026-11-22", "-o", "json")
	var raw struct {
		Results []map[string]json.RawMessage `json:"results"`
		Summary map[string]json.RawMessage   `json:"summary"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Results) == 0 {
		t.Fatal("no results")
	}
	for _, res := range raw.Results {
		for _, k := range []string{"resource", "subprocessor", "route", "country", "verdict", "reason", "message"} {
			if _, ok := res[k]; !ok {
				t.Errorf("result without %q: %v", k, res)
			}
		}
		var ref map[string]json.RawMessage
		_ = json.Unmarshal(res["resource"], &ref)
		for _, k := range []string{"apiVersion", "kind", "namespace", "name"} {
			if _, ok := ref[k]; !ok {
				t.Errorf("resource without %q: %s", k, res["resource"])
			}
		}
	}
	for _, k := range []string{"workloads", "compliant", "warnings", "violations"} {
		if _, ok := raw.Summary[k]; !ok {
			t.Errorf("summary without %q", k)
		}
	}
}
