package cli

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// test/fixtures/malformed/expected.yaml: one defect per file. Exit 2 names the
// file, the document and (where given) the field; exit 1 gives the findings.

type malformedCase struct {
	File     string `json:"file"`
	ExitCode int    `json:"exitCode"`
	Document int    `json:"document"`
	Field    string `json:"field"`
	Problem  string `json:"problem"`
	// Args are extra scan flags for this file.
	Args    []string           `json:"args"`
	Results []expectedWorkload `json:"results"`
	Subs    []struct {
		Name  string `json:"name"`
		State string `json:"state"`
	} `json:"subprocessors"`
}

// conveys is what each message must say, in words of our own: expected.yaml's
// `problem` is prose, "not its exact text".
var conveys = map[string][]string{
	"01-bad-yaml.yaml":                      {"invalid YAML", "unexpected end of stream"},
	"02-unknown-kind.yaml":                  {"unknown kind TransferBase in dataresidency.io/v1alpha1", "TransferBasis"},
	"03-missing-required-field.yaml":        {"Required value"},
	"04-bad-country-code.yaml":              {`"se"`, "^[A-Z]{2}$"},
	"05-derogation-without-derogation.yaml": {"derogation is required when mechanism is Derogation and must not be set otherwise"},
	"06-derogation-on-scc.yaml":             {"derogation is required when mechanism is Derogation and must not be set otherwise"},
	"07-expires-before-effective.yaml":      {"expiresOn must be after effectiveFrom"},
	"08-unknown-field.yaml":                 {"unknown field"},
	"09-bad-date.yaml":                      {"not a date of the form YYYY-MM-DD", `"05.03.2021"`},
	"10-policy-not-default.yaml":            {"there is one ResidencyPolicy and it must be named 'default'"},
	"11-bad-egress-host.yaml":               {"not a host name or *.wildcard", "https://api.sendgrid.com"},
	"12-unquoted-norway.yaml":               {"must be a string, not a boolean", `quote it: "NO"`},
	"13-unknown-mechanism.yaml":             {`Unsupported value: "SCC"`, "StandardContractualClauses"},
}

func TestMalformedFixtures(t *testing.T) {
	var exp struct {
		Files []malformedCase `json:"files"`
	}
	readYAML(t, fixture("malformed", "expected.yaml"), &exp)
	if len(exp.Files) != 15 {
		t.Errorf("expected.yaml lists %d files, want 15", len(exp.Files))
	}
	for _, c := range exp.Files {
		c := c
		t.Run(c.File, func(t *testing.T) {
			path := fixture("malformed", c.File)
			r := runBinary(t, nil, append([]string{"scan", "-f", path, "--at", "2026-11-22", "-o", "json"}, c.Args...)...)
			if r.code != c.ExitCode {
				t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, c.ExitCode, r.stdout, r.stderr)
			}
			if c.ExitCode == 2 {
				if r.stdout != "" {
					t.Errorf("bad input printed results:\n%s", r.stdout)
				}
				first := strings.SplitN(r.stderr, "\n", 2)[0]
				want := []string{path, "document " + strconv.Itoa(c.Document)}
				if c.Field != "" {
					want = append(want, c.Field)
				}
				want = append(want, conveys[c.File]...)
				for _, w := range want {
					if !strings.Contains(first, w) {
						t.Errorf("error does not say %q:\n%s", w, r.stderr)
					}
				}
				if _, ok := conveys[c.File]; !ok {
					t.Errorf("no message check for %s", c.File)
				}
				return
			}
			checkScan(t, r, expectedRun{ExitCode: c.ExitCode, Results: c.Results})
			if len(c.Subs) > 0 {
				reg := runBinary(t, nil, "register", "-f", path, "--at", "2026-11-22", "-o", "json")
				var got Register
				if err := json.Unmarshal([]byte(reg.stdout), &got); err != nil {
					t.Fatalf("register: %v\n%s", err, reg.stderr)
				}
				for _, s := range c.Subs {
					found := false
					for _, e := range got.Subprocessors {
						if e.Name == s.Name {
							found = true
							if e.State != s.State {
								t.Errorf("%s: state %s, want %s", s.Name, e.State, s.State)
							}
						}
					}
					if !found {
						t.Errorf("%s not in the register", s.Name)
					}
				}
			}
		})
	}
}

// A dangling reference is bad input (exit 2), naming the file, the document
// and the field; with --strict-references=false it is a finding, as in the
// cluster (exit 1, as expected.yaml says), and still located on stderr.
func TestMissingReferenceIsLocated(t *testing.T) {
	path := fixture("malformed", "14-missing-reference.yaml")
	r := runBinary(t, nil, "scan", "-f", path, "--at", "2026-11-22")
	if r.code != 2 || !strings.Contains(r.stderr, "error: "+path+": document 4") || !strings.Contains(r.stderr, "spec.processingLocations[0]") ||
		!strings.Contains(r.stderr, "ProcessingLocation aws-eu-north-9 does not exist") || r.stdout != "" {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, nil, "scan", "-f", path, "--at", "2026-11-22", "--strict-references=false")
	if r.code != 1 {
		t.Fatalf("--strict-references=false: exit %d\n%s", r.code, r.stderr)
	}
	for _, w := range []string{"warning: " + path, "document 4", "spec.processingLocations[0]", "ProcessingLocation aws-eu-north-9 does not exist"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("--strict-references=false: stderr does not say %q:\n%s", w, r.stderr)
		}
	}
}
