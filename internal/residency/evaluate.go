package residency

import (
	"fmt"
	"strings"
	"sync"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
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

const noFlowsMessage = "no personal data flows declared or discovered"

// flow is one subprocessor a workload sends data to.
type flow struct {
	name     string
	sub      *compiledSub
	endpoint string
}

// Evaluate decides a workload against the snapshot, following domain.md
// "Findings". It reads the three annotations (object and pod template: the
// union counts), discovers endpoints in the pod spec, attributes every endpoint
// to a Subprocessor, and checks each flow, each of its routes and the pod's
// placement. Entries that cannot be read are InvalidAnnotation violations; the
// others are still evaluated. Evaluate does not apply excludedNamespaces: callers
// skip namespaces for which Policy().Excluded is true.
func (s *Snapshot) Evaluate(w *Workload) Result {
	if w == nil {
		return Result{Verdict: Compliant, Findings: []Finding{{Verdict: Compliant, Message: noFlowsMessage}}}
	}
	res := Result{Resource: w.Ref, Verdict: Compliant}

	names, nameErrs := s.parseListUnion(w, AnnotationSubprocessors)
	cats, catErrs := s.parseListUnion(w, AnnotationDataCategories)
	scratch := endpointScratch.Get().(*[]Endpoint)
	defer func() {
		clear(*scratch) // drop the strings
		*scratch = (*scratch)[:0]
		if cap(*scratch) <= maxDiscoveredEndpoints {
			endpointScratch.Put(scratch)
		}
	}()
	eps, epErrs := s.endpointsOf(w, (*scratch)[:0])
	*scratch = eps

	var buf [16]flow
	flows := buf[:0]
	for _, n := range names {
		flows = append(flows, flow{name: n, sub: s.subs[n]})
	}
	attributedExtra := false
	unattributed := 0
	for i := range eps {
		name, ok := s.matcher.Match(eps[i])
		if !ok {
			unattributed++
			continue
		}
		j := findFlow(flows, name)
		if j < 0 {
			flows = append(flows, flow{name: name, sub: s.subs[name], endpoint: eps[i].String()})
			attributedExtra = true
		} else if flows[j].endpoint == "" {
			flows[j].endpoint = eps[i].String()
		}
	}
	if attributedExtra {
		sortFlows(flows)
	}
	regions := PlacementRegions(w.PodSpec)

	// Findings gather in a buffer on the stack and are copied out once, at their size.
	var fbuf [24]Finding
	findings := fbuf[:0]
	for _, errs := range [...][]ParseError{nameErrs, catErrs, epErrs} {
		for _, e := range errs {
			findings = append(findings, Finding{Verdict: Violation, Reason: ReasonInvalidAnnotation,
				Message: e.Error() + ": a declaration that cannot be read cannot be trusted"})
		}
	}

	personal, special := 0, 0
	for _, c := range cats {
		if IsNonPersonalCategory(c) {
			continue
		}
		personal++
		if IsSpecialCategory(c) {
			special++
		}
	}
	declared := len(cats) > 0

	for i := range flows {
		fl := &flows[i]
		start := len(findings)
		cs := fl.sub
		switch {
		case cs == nil:
			findings = append(findings, Finding{Subprocessor: fl.name, Endpoint: fl.endpoint, Verdict: Violation,
				Reason:  ReasonUnknownSubprocessor,
				Message: "Subprocessor " + fl.name + " is not defined: no agreement records where it processes data or on what ground"})
			continue
		case declared && personal == 0:
			f := cs.nonPersonal
			f.Endpoint = fl.endpoint
			findings = append(findings, f)
			continue
		case cs.facts.anonymousOnly && personal == 0:
			f := cs.anonymous
			f.Endpoint = fl.endpoint
			findings = append(findings, f)
			continue
		case cs.facts.anonymousOnly:
			findings = append(findings, Finding{Subprocessor: fl.name, Endpoint: fl.endpoint, Verdict: Violation,
				Reason: ReasonAnonymousOnly,
				Message: fmt.Sprintf("%s may receive anonymous data only, but the workload declares personal data (%s)",
					fl.name, joinCategories(cats, func(c string) bool { return !IsNonPersonalCategory(c) }))})
			continue
		}
		for _, f := range cs.stateFindings {
			f.Endpoint = fl.endpoint
			findings = append(findings, f)
		}
		if declared && len(cs.facts.approved) > 0 {
			approved := cs.facts.approved
			notApproved := func(c string) bool { return !IsNonPersonalCategory(c) && !categoryApproved(approved, c) }
			for _, c := range cats {
				if notApproved(c) {
					findings = append(findings, Finding{Subprocessor: fl.name, Endpoint: fl.endpoint, Verdict: Violation,
						Reason: ReasonCategoryNotApproved,
						Message: fmt.Sprintf("%s is not approved to receive %s (approved: %s)",
							fl.name, joinCategories(cats, notApproved), cs.approvedText)})
					break
				}
			}
		}
		specialVerdict := Compliant
		if special > 0 {
			switch s.policy.SpecialCategoriesOutsideEEA {
			case v1alpha1.RuleWarn:
				specialVerdict = Warning
			case v1alpha1.RuleAllow:
			default:
				specialVerdict = Violation
			}
		}
		for r := range cs.routes {
			row := &cs.routes[r]
			for _, f := range row.findings {
				f.Endpoint = fl.endpoint
				findings = append(findings, f)
			}
			if specialVerdict != Compliant && row.known && !row.eea {
				t := row.transfer
				findings = append(findings, Finding{Subprocessor: fl.name, Endpoint: fl.endpoint, Route: t.Route,
					Country: string(t.Country), Basis: t.Basis, Verdict: specialVerdict, Reason: ReasonSpecialCategoryOutsideEEA,
					Message: fmt.Sprintf("%s carries special-category data (%s, GDPR Art. 9/10) outside the EEA (%s); the ResidencyPolicy's specialCategoriesOutsideEEA is %s",
						row.subject, joinCategories(cats, IsSpecialCategory), t.Classification, s.policy.SpecialCategoriesOutsideEEA)})
			}
		}
		if len(findings) == start {
			f := cs.compliant
			f.Endpoint = fl.endpoint
			findings = append(findings, f)
		}
	}

	if unattributed > 0 && s.policy.UnattributedEgress != v1alpha1.RuleIgnore {
		verdict := Warning
		if s.policy.UnattributedEgress == v1alpha1.RuleDeny {
			verdict = Violation
		}
		for i := range eps {
			if _, ok := s.matcher.Match(eps[i]); ok || seenBefore(eps, i) {
				continue
			}
			ep := eps[i].String()
			findings = append(findings, Finding{Endpoint: ep, Verdict: verdict, Reason: ReasonUnattributedEgress,
				Message: fmt.Sprintf("endpoint %s (%s) is claimed by no Subprocessor: if personal data goes there, record its vendor as a Subprocessor with spec.egress",
					ep, eps[i].Source)})
		}
	}

	for _, r := range regions {
		if f, ok := s.regionFindings[r]; ok {
			findings = append(findings, f)
		}
	}

	if len(findings) == 0 {
		findings = append(findings, Finding{Verdict: Compliant, Message: noFlowsMessage})
	}
	for i := range findings {
		if findings[i].Verdict.Worse(res.Verdict) {
			res.Verdict = findings[i].Verdict
		}
	}
	res.Findings = append(make([]Finding, 0, len(findings)), findings...)

	if len(flows) > 0 {
		res.Subprocessors = make([]string, len(flows))
		for i := range flows {
			res.Subprocessors[i] = flows[i].name
		}
	}
	return res
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

// endpointScratch holds the endpoints of one evaluation: they are read only
// while it runs (findings keep strings, not endpoints), so the slice is reused.
var endpointScratch = sync.Pool{New: func() any { s := make([]Endpoint, 0, 32); return &s }}

// endpointsOf appends to eps the discovered endpoints followed by the declared ones.
func (s *Snapshot) endpointsOf(w *Workload, eps []Endpoint) ([]Endpoint, []ParseError) {
	if w.PodSpec != nil {
		eps = discoverEgressInto(eps, w.PodSpec, w.Context)
	}
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
	return eps, errs
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
