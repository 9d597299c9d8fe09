package cli

import (
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
)

// Resource names a workload in results. All four fields are always present.
type Resource struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
}

func (r Resource) String() string {
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// ScanResult is one line of `scan -o json`: a finding about a workload. The
// first eight fields are the contract of domain.md; the rest is extra.
type ScanResult struct {
	Resource     Resource `json:"resource"`
	Subprocessor string   `json:"subprocessor"`
	Route        string   `json:"route"`
	Country      string   `json:"country"`
	Verdict      string   `json:"verdict"`
	Reason       string   `json:"reason"`
	Message      string   `json:"message"`

	Basis string `json:"basis,omitempty"`
	// Bases are every TransferBasis listing the route's country, the one
	// named by Basis first, each with its state and since when.
	Bases    []residency.RouteBasis `json:"bases,omitempty"`
	Endpoint string                 `json:"endpoint,omitempty"`
	// Source says where the flow comes from: declared, discovered (where) or
	// observed (how often, when last).
	Source string `json:"source,omitempty"`
	// Exception is the ResidencyException that accepts the finding (Verdict
	// is then Excepted; Reason stays).
	Exception *residency.FindingException `json:"exception,omitempty"`
	// Enforcement is what admission does in the workload's namespace: deny, warn or audit.
	Enforcement string `json:"enforcement"`
	// Subprocessors are all the Subprocessors the workload sends data to.
	Subprocessors []string `json:"subprocessors"`
	// WorkloadVerdict is the workload's worst verdict.
	WorkloadVerdict string `json:"workloadVerdict"`
	File            string `json:"file,omitempty"`
	Document        int    `json:"document,omitempty"`
	Line            int    `json:"line,omitempty"`
}

// Summary counts workloads by their worst verdict.
type Summary struct {
	Workloads  int `json:"workloads"`
	Compliant  int `json:"compliant"`
	Warnings   int `json:"warnings"`
	Violations int `json:"violations"`
	// Undeclared counts the evaluated workloads that declare neither
	// dataresidency.io/subprocessors (names or none) nor
	// dataresidency.io/data-categories, whatever the policy's requireDeclaration.
	Undeclared int `json:"undeclared"`
	// Excepted counts the workloads with a finding a ResidencyException accepts.
	Excepted int `json:"excepted,omitempty"`
	// Excluded counts workloads in the policy's excludedNamespaces (not evaluated).
	Excluded int `json:"excluded"`
}

// ScanReport is the whole answer of a scan.
type ScanReport struct {
	Results []ScanResult `json:"results"`
	Summary Summary      `json:"summary"`
	// At is the instant evaluated; Workloads are the evaluated workloads in input order.
	At time.Time `json:"-"`
	// Snapshot is what the workloads were evaluated against.
	Snapshot  *residency.Snapshot `json:"-"`
	Workloads []WorkloadResult    `json:"-"`
	Notices   []Notice            `json:"-"`
}

// WorkloadResult is the evaluation of one workload.
type WorkloadResult struct {
	Resource    Resource
	Origin      Origin
	Enforcement v1alpha1.Enforcement
	Result      residency.Result
	// Workload is what the engine read of it.
	Workload *residency.Workload
	// Results are its lines in the report.
	Results []ScanResult
}

// Evaluate compiles the bundle's residency objects at at and evaluates every
// workload not in an excluded namespace, in input order. Compliant workloads
// get one Compliant result; the others one result per non-Compliant finding.
func Evaluate(b *Bundle, at time.Time) (*ScanReport, []*InputError) {
	snap := residency.Compile(nil, b.Inputs(), at)
	var errs []*InputError
	if b.Policy != nil {
		o := b.Origins[objectKey{"ResidencyPolicy", b.Policy.Name}]
		for _, err := range snap.PolicyErrors() {
			errs = append(errs, &InputError{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line,
				Kind: "ResidencyPolicy", Name: b.Policy.Name, Msg: err.Error()})
		}
	}
	rep := &ScanReport{At: at, Snapshot: snap, Results: []ScanResult{}, Notices: b.Notices}
	policy := snap.Policy()
	for _, w := range b.Workloads {
		if policy.Excluded(w.Namespace) {
			rep.Summary.Excluded++
			continue
		}
		wr, err := evaluateWorkload(snap, b, w)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Workloads = append(rep.Workloads, wr)
		rep.Results = append(rep.Results, wr.Results...)
		rep.Summary.Workloads++
		if !wr.Result.Declared {
			rep.Summary.Undeclared++
		}
		if wr.Result.Excepted > 0 {
			rep.Summary.Excepted++
		}
		switch wr.Result.Verdict {
		case residency.Violation:
			rep.Summary.Violations++
		case residency.Warning:
			rep.Summary.Warnings++
		default:
			rep.Summary.Compliant++
		}
	}
	return rep, errs
}

func evaluateWorkload(snap *residency.Snapshot, b *Bundle, w Workload) (wr WorkloadResult, ierr *InputError) {
	meta, _ := w.Object.(metav1.Object)
	kind := w.Object.GetObjectKind().GroupVersionKind().Kind
	defer func() {
		if r := recover(); r != nil {
			ierr = &InputError{File: w.Origin.File, Document: w.Origin.Document, Item: w.Origin.Item, Line: w.Origin.Line,
				Kind: kind, Name: meta.GetName(), Msg: fmt.Sprintf("cannot be evaluated (internal error: %v)\n%s", r, debug.Stack())}
		}
	}()
	wl, ok := residency.WorkloadOf(w.Object)
	if !ok {
		return wr, &InputError{File: w.Origin.File, Document: w.Origin.Document, Item: w.Origin.Item, Line: w.Origin.Line,
			Kind: kind, Name: meta.GetName(), Msg: "is not a workload the engine can evaluate"}
	}
	wl.Context = residency.PodContext{
		Namespace:     w.Namespace,
		ConfigMaps:    b.ConfigMaps[w.Namespace],
		ExternalNames: b.ExternalNames,
		Cluster:       b.ClusterFacts(),
	}
	wl.NamespaceLabels = b.Namespaces[w.Namespace]
	wl.Observed, wl.ObservedDropped = b.observedFor(w.Namespace, kind, meta.GetName(), snap.Policy().ObservedRetention, snap.At())
	res := snap.Evaluate(wl)
	ref := Resource{APIVersion: res.Resource.APIVersion, Kind: res.Resource.Kind, Namespace: res.Resource.Namespace, Name: res.Resource.Name}
	enforcement := snap.Policy().Enforcement(b.Namespaces[w.Namespace])
	wr = WorkloadResult{Resource: ref, Origin: w.Origin, Enforcement: enforcement, Result: res, Workload: wl}
	subs := res.Subprocessors
	if subs == nil {
		subs = []string{}
	}
	mk := func(f residency.Finding) ScanResult {
		return ScanResult{
			Resource: ref, Subprocessor: f.Subprocessor, Route: f.Route, Country: f.Country,
			Verdict: string(f.Verdict), Reason: string(f.Reason), Message: f.Message,
			Basis: f.Basis, Bases: f.Bases, Endpoint: f.Endpoint, Source: f.Source, Enforcement: string(enforcement), Subprocessors: subs,
			WorkloadVerdict: string(res.Verdict),
			File:            w.Origin.File, Document: w.Origin.Document, Line: w.Origin.Line,
		}
	}
	if res.Verdict == residency.Compliant && res.Excepted == 0 {
		// One Compliant line per workload: the flows' messages joined.
		var msgs []string
		for _, f := range res.Findings {
			msgs = append(msgs, f.Message)
		}
		line := mk(residency.Finding{Verdict: residency.Compliant, Message: strings.Join(msgs, "; ")})
		if len(res.Findings) == 1 {
			line = mk(res.Findings[0])
		}
		wr.Results = []ScanResult{line}
		return wr, nil
	}
	for _, f := range res.Findings {
		if f.Verdict == residency.Compliant {
			continue
		}
		r := mk(f)
		if x := f.Exception; x != nil {
			// An accepted risk: shown, named, and not counted.
			r.Verdict, r.Exception = "Excepted", x
			r.Message += "; " + x.String()
		}
		wr.Results = append(wr.Results, r)
	}
	return wr, nil
}
