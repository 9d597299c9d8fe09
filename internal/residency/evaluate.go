package residency

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// specialCategories are the fideslang keys of GDPR Art. 9 (special categories)
// and Art. 10 (criminal convictions) data.
var specialCategories = []string{
	"user.demographic.race_ethnicity",
	"user.demographic.political_opinion",
	"user.demographic.religious_belief",
	"user.demographic.philosophical_belief",
	"user.demographic.union_membership",
	"user.demographic.sexual_orientation",
	"user.health",
	"user.biometrics",
	"user.criminal_history",
}

// IsSpecialCategory reports whether a declared category may hold Art. 9 or
// Art. 10 data: it is, is under, or is an ancestor of a special category
// ("user" may be anything, so it counts: fail closed).
func IsSpecialCategory(key string) bool {
	for _, s := range specialCategories {
		if key == s || isUnder(key, s) || isUnder(s, key) {
			return true
		}
	}
	return false
}

// IsNonPersonalCategory reports whether a category is outside personal data (system.*).
func IsNonPersonalCategory(key string) bool { return key == "system" || isUnder(key, "system") }

// isUnder reports whether key is a strict descendant of ancestor.
func isUnder(key, ancestor string) bool {
	return len(key) > len(ancestor) && key[len(ancestor)] == '.' && key[:len(ancestor)] == ancestor
}

// categoryApproved reports whether an approved key covers a declared one.
func categoryApproved(approved []string, key string) bool {
	for _, a := range approved {
		if key == a || isUnder(key, a) {
			return true
		}
	}
	return false
}

const (
	noFlowsMessage = "no personal data flows declared or discovered"
	// noneMessage is noFlowsMessage for a workload that declares none.
	noneMessage = "declares that no personal data leaves it (" + AnnotationSubprocessors + ": " + NoSubprocessors + "), and no flow was discovered"
)

// flow is one subprocessor a workload sends data to.
type flow struct {
	name     string
	sub      *compiledSub
	endpoint string
	// source is where the flow comes from: "declared", or the origin of the
	// endpoint that led to it.
	source string
}

// Evaluate decides a workload against the snapshot, following domain.md
// "Findings". It reads the workload's declarations (object and pod template:
// the union counts), discovers endpoints in the pod spec and attributes each to
// a Subprocessor, then runs workloadSteps (rules.go) in order; the verdict is
// the worst finding's. Entries that cannot be read are InvalidAnnotation
// violations; the others are still evaluated. Evaluate does not apply
// excludedNamespaces: callers skip namespaces for which Policy().Excluded is true.
func (s *Snapshot) Evaluate(w *Workload) Result {
	if w == nil {
		return Result{Verdict: Compliant, Findings: []Finding{{Verdict: Compliant, Message: noFlowsMessage}}}
	}
	e := newEvaluation(s, w)
	defer e.release()
	for _, step := range workloadSteps {
		step(e)
	}
	return e.result()
}

// evaluation is one workload's evaluation: what it declares and discovers, and
// the findings so far. It is pooled: see release.
type evaluation struct {
	s *Snapshot
	w *Workload

	cats []string // declared data categories, sorted (shared with the annotation cache: read-only)
	// parseErrs are the unreadable entries of the subprocessors, data-categories and egress annotations.
	parseErrs    [3][]ParseError
	eps          []Endpoint // discovered, then declared
	incomplete   []string   // where discovery stopped or skipped a value, if it did
	flows        []flow     // sorted by name
	unattributed int        // endpoints no Subprocessor claims

	declared bool // data-categories are declared
	personal int  // declared categories that are personal data
	special  int  // of those, special categories (Art. 9/10)
	named    int  // Subprocessor names declared (none excluded)
	none     bool // the subprocessors annotation is the declaration none

	findings  []Finding
	flowStart int // len(findings) when the current flow's checks began
}

// sourceDeclared is the source of a flow to a Subprocessor the workload names.
const sourceDeclared = "declared: annotation " + AnnotationSubprocessors

// evaluations recycles the buffers of finished evaluations (bench/notes.md, round 3).
var evaluations = sync.Pool{New: func() any {
	return &evaluation{eps: make([]Endpoint, 0, 32), flows: make([]flow, 0, 16), findings: make([]Finding, 0, 24)}
}}

// Bounds on the buffers a pooled evaluation keeps.
const (
	maxPooledFlows    = 64
	maxPooledFindings = 256
)

// newEvaluation reads w's declarations and builds its flows: the declared
// subprocessors, and those its endpoints are attributed to.
func newEvaluation(s *Snapshot, w *Workload) *evaluation {
	e := evaluations.Get().(*evaluation)
	e.s, e.w = s, w
	var names []string
	names, e.parseErrs[0] = s.parseListUnion(w, AnnotationSubprocessors)
	names = e.readNone(names)
	e.named = len(names)
	e.cats, e.parseErrs[1] = s.parseListUnion(w, AnnotationDataCategories)
	e.eps, e.incomplete, e.parseErrs[2] = s.endpointsOf(w, e.eps)
	for _, n := range names {
		e.flows = append(e.flows, flow{name: n, sub: s.subs[n], source: sourceDeclared})
	}
	e.attributeEndpoints()
	e.countCategories()
	return e
}

// readNone takes the declaration none out of the declared names. Alone, it
// says that no personal data leaves the workload. Beside names (in one value,
// or on the object and its pod template: the union counts) it contradicts
// them: an entry that cannot be read, while the names are still evaluated.
// names may be the annotation cache's: it is never written to.
func (e *evaluation) readNone(names []string) []string {
	i := slices.Index(names, NoSubprocessors)
	switch {
	case i < 0:
		return names
	case len(names) == 1:
		e.none = true
		return nil
	}
	rest := append(slices.Clip(names[:i]), names[i+1:]...)
	e.parseErrs[0] = append(slices.Clip(e.parseErrs[0]), ParseError{Annotation: AnnotationSubprocessors, Index: -1,
		Problem: fmt.Sprintf("%q declares that no personal data leaves the workload, yet Subprocessors are named beside it (%s): keep either %s or the names",
			NoSubprocessors, strings.Join(rest, ", "), NoSubprocessors)})
	return rest
}

// declaresFlows reports whether the workload says what it sends: Subprocessor
// names or none, or data categories (entries that cannot be read say nothing).
func (e *evaluation) declaresFlows() bool { return e.none || e.named > 0 || e.declared }

// attributeEndpoints gives each flow the first endpoint that leads to it,
// adds a flow for each subprocessor only discovered, and counts the endpoints
// no subprocessor claims.
func (e *evaluation) attributeEndpoints() {
	added := false
	for i := range e.eps {
		name, ok := e.s.matcher.Match(e.eps[i])
		if !ok {
			e.unattributed++
			continue
		}
		j := findFlow(e.flows, name)
		if j < 0 {
			e.flows = append(e.flows, flow{name: name, sub: e.s.subs[name], endpoint: e.eps[i].String(), source: e.eps[i].origin()})
			added = true
		} else if e.flows[j].endpoint == "" {
			e.flows[j].endpoint = e.eps[i].String()
		}
	}
	if added {
		sortFlows(e.flows)
	}
}

// countCategories counts the declared categories that are personal data, and
// the special ones among them.
func (e *evaluation) countCategories() {
	e.declared = len(e.cats) > 0
	for _, c := range e.cats {
		if IsNonPersonalCategory(c) {
			continue
		}
		e.personal++
		if IsSpecialCategory(c) {
			e.special++
		}
	}
}

// add records a finding.
func (e *evaluation) add(f Finding) { e.findings = append(e.findings, f) }

// addAt records a finding precomputed for the flow's subprocessor, at the flow's endpoint.
func (e *evaluation) addAt(fl *flow, f Finding) {
	f.Endpoint, f.Source = fl.endpoint, fl.source
	e.findings = append(e.findings, f)
}

// result copies the findings and the flows' subprocessors out of the pooled
// buffers; the verdict is the worst finding's.
func (e *evaluation) result() Result {
	e.except()
	res := Result{Resource: e.w.Ref, Verdict: Compliant, Declared: e.declaresFlows()}
	for i := range e.findings {
		if e.findings[i].Exception != nil {
			res.Excepted++
			continue
		}
		if e.findings[i].Verdict.Worse(res.Verdict) {
			res.Verdict = e.findings[i].Verdict
		}
	}
	res.Findings = append(make([]Finding, 0, len(e.findings)), e.findings...)
	if len(e.flows) > 0 {
		res.Subprocessors = make([]string, len(e.flows))
		for i := range e.flows {
			res.Subprocessors[i] = e.flows[i].name
		}
	}
	return res
}

// release clears e, whose buffers hold this workload's strings, and pools it
// unless a buffer grew large.
func (e *evaluation) release() {
	clear(e.eps)
	clear(e.flows)
	clear(e.findings)
	*e = evaluation{eps: e.eps[:0], flows: e.flows[:0], findings: e.findings[:0]}
	if cap(e.eps) <= maxDiscoveredEndpoints && cap(e.flows) <= maxPooledFlows && cap(e.findings) <= maxPooledFindings {
		evaluations.Put(e)
	}
}

// parseListUnion parses a list annotation on the object and on its pod
// template; the union counts. Errors carry the annotation key. The result may
// be shared with the snapshot's cache: read-only.
func (s *Snapshot) parseListUnion(w *Workload, key string) ([]string, []ParseError) {
	a, okA := w.Annotations[key]
	b, okB := w.TemplateAnnotations[key]
	switch {
	case okA && okB && a != b:
		la, ea := s.parsed.list(key, a)
		lb, eb := s.parsed.list(key, b)
		return mergeSorted(la, lb), append(append([]ParseError(nil), ea...), eb...)
	case okA:
		return s.parsed.list(key, a)
	case okB:
		return s.parsed.list(key, b)
	}
	return nil, nil
}

// endpointsOf appends to eps the discovered endpoints followed by the
// declared ones, then the observed ones; incomplete says where discovery
// stopped, if it did.
func (s *Snapshot) endpointsOf(w *Workload, eps []Endpoint) (_ []Endpoint, incomplete []string, _ []ParseError) {
	eps, incomplete = discoverEgressInto(eps, w.PodSpec, w.Context) // nil PodSpec: none
	a, okA := w.Annotations[AnnotationEgress]
	b, okB := w.TemplateAnnotations[AnnotationEgress]
	var errs []ParseError
	if okA {
		ea, e := s.parsed.egress(a)
		eps, errs = append(eps, ea...), append(errs, e...)
	}
	if okB && (!okA || a != b) {
		eb, e := s.parsed.egress(b)
		eps, errs = append(eps, eb...), append(errs, e...)
	}
	eps, incomplete = observedInto(eps, w, incomplete)
	return eps, incomplete, errs
}

// seenBefore reports whether eps[i] repeats an earlier endpoint.
func seenBefore(eps []Endpoint, i int) bool {
	e := &eps[i]
	for j := 0; j < i; j++ {
		o := &eps[j]
		if o.Host == e.Host && o.Addr == e.Addr && o.Prefix == e.Prefix && o.Port == e.Port {
			return true
		}
	}
	return false
}

func findFlow(flows []flow, name string) int {
	for i := range flows {
		if flows[i].name == name {
			return i
		}
	}
	return -1
}

// sortFlows is an insertion sort by name: flows are few.
func sortFlows(flows []flow) {
	for i := 1; i < len(flows); i++ {
		for j := i; j > 0 && flows[j].name < flows[j-1].name; j-- {
			flows[j], flows[j-1] = flows[j-1], flows[j]
		}
	}
}

func mergeSorted(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var v string
		switch {
		case j >= len(b) || (i < len(a) && a[i] < b[j]):
			v, i = a[i], i+1
		case i >= len(a) || b[j] < a[i]:
			v, j = b[j], j+1
		default:
			v, i, j = a[i], i+1, j+1
		}
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

func joinCategories(cats []string, keep func(string) bool) string {
	var b strings.Builder
	for _, c := range cats {
		if !keep(c) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c)
	}
	return b.String()
}
