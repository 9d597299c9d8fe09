package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/dataresidency/operator/internal/residency"
)

func writeJSON(w io.Writer, v interface{}) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeScanJSON prints {"results": [...], "summary": {...}}.
func writeScanJSON(w io.Writer, rep *ScanReport) error {
	return writeJSON(w, rep)
}

// writeScanTable prints the results grouped by workload, with a summary line.
func writeScanTable(w io.Writer, rep *ScanReport) error {
	for _, wr := range rep.Workloads {
		where := ""
		if wr.Origin.File != "" {
			where = fmt.Sprintf("  [%s:%d]", wr.Origin.File, wr.Origin.Line)
		}
		fmt.Fprintf(w, "%s %s/%s: %s (enforcement: %s)%s\n", wr.Resource.Kind, wr.Resource.Namespace, wr.Resource.Name,
			wr.Result.Verdict, wr.Enforcement, where)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, r := range wr.Results {
			reason := r.Reason
			if reason == "" {
				reason = "-"
			}
			target := r.Subprocessor
			if r.Route != "" {
				target = strings.TrimPrefix(target+" "+r.Route, " ")
				if r.Country != "" {
					target += " (" + r.Country + ")"
				}
			}
			if target == "" && r.Endpoint != "" {
				target = r.Endpoint
			}
			if target == "" {
				target = "-"
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", r.Verdict, reason, target, r.Message)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	s := rep.Summary
	line := fmt.Sprintf("%d %s: %d compliant, %d %s, %d %s (as of %s)",
		s.Workloads, plural(s.Workloads, "workload", "workloads"), s.Compliant,
		s.Warnings, plural(s.Warnings, "warning", "warnings"),
		s.Violations, plural(s.Violations, "violation", "violations"), residency.FormatDate(rep.At))
	if s.Excepted > 0 {
		line += fmt.Sprintf("; %d with accepted risks (ResidencyExceptions)", s.Excepted)
	}
	if s.Undeclared > 0 {
		line += fmt.Sprintf("; %d undeclared", s.Undeclared)
	}
	if s.Excluded > 0 {
		line += fmt.Sprintf("; %d in excluded namespaces not evaluated", s.Excluded)
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// SARIF 2.1.0, the subset code-scanning tools read.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
	// Properties carries the scan's summary and date.
	Properties map[string]interface{} `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string                 `json:"id"`
	Name                 string                 `json:"name"`
	ShortDescription     sarifText              `json:"shortDescription"`
	FullDescription      sarifText              `json:"fullDescription"`
	Help                 sarifText              `json:"help"`
	DefaultConfiguration map[string]string      `json:"defaultConfiguration"`
	Properties           map[string]interface{} `json:"properties,omitempty"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// sarifURI makes a path relative to the working directory, with forward
// slashes, as code-scanning tools expect.
func sarifURI(file string) (uri, base string) {
	if file == "" {
		return "", ""
	}
	p := file
	if filepath.IsAbs(p) {
		if wd, err := os.Getwd(); err == nil {
			if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
				p = rel
			}
		}
	}
	p = filepath.ToSlash(filepath.Clean(p))
	if filepath.IsAbs(file) && strings.HasPrefix(p, "/") {
		return "file://" + p, ""
	}
	return p, "%SRCROOT%"
}

func physical(file string, line int) *sarifPhysical {
	if file == "" {
		return nil
	}
	uri, base := sarifURI(file)
	ph := &sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri, URIBaseID: base}}
	if line > 0 {
		ph.Region = &sarifRegion{StartLine: line}
	}
	return ph
}

// writeInputErrorsSARIF prints bad input as SARIF, so that code scanning
// shows the file and line that stopped the scan.
func writeInputErrorsSARIF(w io.Writer, errs []*InputError) error {
	h := reasonHelp["InvalidInput"]
	results := make([]sarifResult, 0, len(errs))
	for _, e := range errs {
		loc := sarifLocation{PhysicalLocation: physical(e.File, e.Line)}
		if loc.PhysicalLocation == nil {
			loc.PhysicalLocation = physical(StdinName, 0)
		}
		results = append(results, sarifResult{RuleID: "InvalidInput", RuleIndex: 0, Level: "error",
			Message: sarifText{Text: e.Error()}, Locations: []sarifLocation{loc}})
	}
	return writeJSON(w, sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs: []sarifRun{{
			Tool: sarifTool{Driver: sarifDriver{Name: "residencyctl", Version: versionString(),
				InformationURI: "https://github.com/dataresidency/operator", Rules: []sarifRule{{
					ID: "InvalidInput", Name: "InvalidInput",
					ShortDescription:     sarifText{Text: h.Short},
					FullDescription:      sarifText{Text: h.Help},
					Help:                 sarifText{Text: h.Help, Markdown: "**InvalidInput**: " + h.Help},
					DefaultConfiguration: map[string]string{"level": "error"},
				}}}},
			Results: results,
		}},
	})
}

// writeScanSARIF prints the findings that are not Compliant, and the notices
// about the input, as SARIF 2.1.0. The rules are the reason codes that occur.
func writeScanSARIF(w io.Writer, rep *ScanReport) error {
	type pending struct {
		rule string
		res  sarifResult
	}
	var all []pending
	for _, wr := range rep.Workloads {
		for _, r := range wr.Results {
			if r.Verdict == string(residency.Compliant) {
				continue
			}
			fq := fmt.Sprintf("%s/%s/%s/%s", r.Resource.APIVersion, r.Resource.Kind, r.Resource.Namespace, r.Resource.Name)
			loc := sarifLocation{PhysicalLocation: physical(r.File, r.Line),
				LogicalLocations: []sarifLogical{{Name: r.Resource.Name, FullyQualifiedName: fq, Kind: "resource"}}}
			props := map[string]any{"verdict": r.Verdict, "enforcement": r.Enforcement}
			for k, v := range map[string]string{"subprocessor": r.Subprocessor, "route": r.Route, "country": r.Country, "basis": r.Basis, "endpoint": r.Endpoint} {
				if v != "" {
					props[k] = v
				}
			}
			if len(r.Bases) > 0 {
				props["bases"] = r.Bases
			}
			all = append(all, pending{rule: r.Reason, res: sarifResult{
				Level:     levelOf(r.Verdict),
				Message:   sarifText{Text: fmt.Sprintf("%s %s/%s: %s", r.Resource.Kind, r.Resource.Namespace, r.Resource.Name, r.Message)},
				Locations: []sarifLocation{loc},
				PartialFingerprints: map[string]string{
					"residencyFinding/v1": strings.Join([]string{fq, r.Reason, r.Subprocessor, r.Route, r.Endpoint}, "|"),
				},
				Properties: props,
			}})
		}
	}
	for _, n := range rep.Notices {
		if n.Rule == "SkippedFile" {
			continue
		}
		loc := sarifLocation{PhysicalLocation: physical(n.Origin.File, n.Origin.Line)}
		if n.Kind != "" {
			loc.LogicalLocations = []sarifLogical{{Name: n.Name, FullyQualifiedName: n.Kind + "/" + n.Name, Kind: "resource"}}
		}
		if loc.PhysicalLocation == nil && loc.LogicalLocations == nil {
			continue
		}
		all = append(all, pending{rule: n.Rule, res: sarifResult{
			Level: "note", Message: sarifText{Text: n.String()}, Locations: []sarifLocation{loc},
		}})
	}

	var ids []string
	seen := map[string]bool{}
	for _, p := range all {
		if !seen[p.rule] {
			seen[p.rule] = true
			ids = append(ids, p.rule)
		}
	}
	sort.Strings(ids)
	index := map[string]int{}
	rules := make([]sarifRule, 0, len(ids))
	for i, id := range ids {
		index[id] = i
		h, ok := reasonHelp[id]
		if !ok {
			h = ReasonHelp{Short: id, Help: id, Level: "warning"}
		}
		rules = append(rules, sarifRule{
			ID: id, Name: id,
			ShortDescription:     sarifText{Text: h.Short},
			FullDescription:      sarifText{Text: h.Help},
			Help:                 sarifText{Text: h.Help, Markdown: "**" + id + "**: " + h.Help},
			DefaultConfiguration: map[string]string{"level": h.Level},
			Properties:           map[string]interface{}{"tags": []string{"gdpr", "data-residency"}},
		})
	}
	results := make([]sarifResult, 0, len(all))
	for _, p := range all {
		r := p.res
		r.RuleID = p.rule
		r.RuleIndex = index[p.rule]
		results = append(results, r)
	}
	log := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs: []sarifRun{{
			Tool: sarifTool{Driver: sarifDriver{Name: "residencyctl", Version: versionString(),
				InformationURI: "https://github.com/dataresidency/operator", Rules: rules}},
			Results: results,
			Properties: map[string]interface{}{
				"at":      string(residency.FormatDate(rep.At)),
				"summary": rep.Summary,
			},
		}},
	}
	return writeJSON(w, log)
}
