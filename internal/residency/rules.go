package residency

import (
	"fmt"
	"slices"
	"strings"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// The rules of domain.md "Findings", in the order a workload's findings are
// reported. Evaluate runs workloadSteps; eachFlow runs flowChecks on every flow.

// workloadSteps are the rules for a whole workload, in order.
var workloadSteps = [...]func(*evaluation){
	(*evaluation).invalidDeclarations,
	(*evaluation).undeclared,
	(*evaluation).eachFlow,
	(*evaluation).unattributedEgress,
	(*evaluation).discoveryIncomplete,
	(*evaluation).placement,
	(*evaluation).noFlows,
}

// flowChecks decide one flow, in order: a check that returns done decides the
// flow and the rest are skipped. The checks after unknownSubprocessor may use fl.sub.
var flowChecks = [...]func(e *evaluation, fl *flow) (done bool){
	(*evaluation).unknownSubprocessor,
	(*evaluation).nonPersonalOnly,
	(*evaluation).anonymousOnly,
	(*evaluation).subprocessorState,
	(*evaluation).categoriesNotApproved,
	(*evaluation).routes,
	(*evaluation).compliantFlow,
}

// invalidDeclarations: an entry that cannot be read is a violation (fail closed).
func (e *evaluation) invalidDeclarations() {
	for _, errs := range e.parseErrs {
		for _, pe := range errs {
			e.add(Finding{Verdict: Violation, Reason: ReasonInvalidAnnotation,
				Message: pe.Error() + ": a declaration that cannot be read cannot be trusted"})
		}
	}
}

// undeclared: a workload that says neither to which Subprocessors it sends
// personal data (or none) nor which categories it sends is judged on what
// discovery happens to find, and "nothing found" then reads as "checked and
// fine". The policy's requireDeclaration, or its namespace's
// dataresidency.io/require-declaration label, makes that a Warning (warn) or a
// Violation (deny); the message lists what was found, so that the
// declaration is a copy-paste.
func (e *evaluation) undeclared() {
	if e.declaresFlows() {
		return
	}
	verdict := Warning
	rule := e.s.policy.RequireDeclarationFor(e.w.NamespaceLabels)
	switch rule {
	case v1alpha1.RuleWarn:
	case v1alpha1.RuleDeny:
		verdict = Violation
	default:
		return
	}
	e.add(Finding{Verdict: verdict, Reason: ReasonUndeclared, Message: e.undeclaredMessage(rule)})
}

// Bounds on what an Undeclared message lists.
const (
	maxUndeclaredSubprocessors = 10
	maxUndeclaredEndpoints     = 3
)

// undeclaredMessage says where the requirement comes from, what was found and
// the annotations to add.
func (e *evaluation) undeclaredMessage(rule v1alpha1.RuleAction) string {
	var b strings.Builder
	b.WriteString("the workload does not declare what personal data it sends, nor to whom (")
	if v, ok := e.w.NamespaceLabels[v1alpha1.LabelRequireDeclaration]; ok && v1alpha1.RuleAction(v) == rule {
		fmt.Fprintf(&b, "namespace label %s=%s", v1alpha1.LabelRequireDeclaration, rule)
	} else {
		fmt.Fprintf(&b, "ResidencyPolicy requireDeclaration: %s", rule)
	}
	b.WriteString("). ")
	none := AnnotationSubprocessors + ": " + NoSubprocessors
	if len(e.flows) == 0 && e.unattributed == 0 {
		fmt.Fprintf(&b, "Nothing was discovered in its pod spec. Declare %s if no personal data leaves it, or %s: <Subprocessor names> plus %s: <fideslang keys>",
			none, AnnotationSubprocessors, AnnotationDataCategories)
		return b.String()
	}
	b.WriteString("Found:")
	names := make([]string, 0, min(len(e.flows), maxUndeclaredSubprocessors))
	for i := range e.flows {
		fl := &e.flows[i]
		if i == maxUndeclaredSubprocessors {
			fmt.Fprintf(&b, " and %d more Subprocessors;", len(e.flows)-i)
			break
		}
		names = append(names, fl.name)
		fmt.Fprintf(&b, " %s (%s);", fl.name, fl.endpoint)
	}
	if e.unattributed > 0 {
		b.WriteString(" endpoints no Subprocessor claims:")
		shown := 0
		for i := range e.eps {
			if _, ok := e.s.matcher.Match(e.eps[i]); ok || seenBefore(e.eps, i) {
				continue
			}
			if shown == maxUndeclaredEndpoints {
				b.WriteString(" and more")
				break
			}
			if shown > 0 {
				b.WriteString(",")
			}
			b.WriteString(" ")
			b.WriteString(e.eps[i].String())
			shown++
		}
		b.WriteString(";")
	}
	if len(names) > 0 {
		fmt.Fprintf(&b, " declare %s: %s plus %s: <the fideslang keys it sends>, or %s if no personal data leaves it",
			AnnotationSubprocessors, strings.Join(names, ", "), AnnotationDataCategories, none)
	} else {
		fmt.Fprintf(&b, " declare %s if no personal data leaves it, or %s: <Subprocessor names> plus %s: <fideslang keys>",
			none, AnnotationSubprocessors, AnnotationDataCategories)
	}
	return b.String()
}

// eachFlow runs flowChecks on every flow, in name order.
func (e *evaluation) eachFlow() {
	for i := range e.flows {
		fl := &e.flows[i]
		e.flowStart = len(e.findings)
		for _, check := range flowChecks {
			if check(e, fl) {
				break
			}
		}
	}
}

// unknownSubprocessor: a flow to an undefined Subprocessor rests on no recorded agreement.
func (e *evaluation) unknownSubprocessor(fl *flow) bool {
	if fl.sub != nil {
		return false
	}
	e.add(Finding{Subprocessor: fl.name, Endpoint: fl.endpoint, Verdict: Violation,
		Reason:  ReasonUnknownSubprocessor,
		Message: "Subprocessor " + fl.name + " is not defined: no agreement records where it processes data or on what ground"})
	return true
}

// nonPersonalOnly: when every declared category is system.*, transfer rules do not apply.
func (e *evaluation) nonPersonalOnly(fl *flow) bool {
	if !e.declared || e.personal > 0 {
		return false
	}
	e.addAt(fl, fl.sub.nonPersonal)
	return true
}

// anonymousOnly: an AnonymousOnly subprocessor may receive no personal category;
// a flow that declares none carries no personal data.
func (e *evaluation) anonymousOnly(fl *flow) bool {
	if !fl.sub.facts.anonymousOnly {
		return false
	}
	if e.personal == 0 {
		e.addAt(fl, fl.sub.anonymous)
		return true
	}
	e.add(Finding{Subprocessor: fl.name, Endpoint: fl.endpoint, Verdict: Violation,
		Reason: ReasonAnonymousOnly,
		Message: fmt.Sprintf("%s may receive anonymous data only, but the workload declares personal data (%s)",
			fl.name, joinCategories(e.cats, isPersonalCategory))})
	return true
}

// subprocessorState: the controller objected to the subprocessor, or its
// objection period has not ended (findings built with the snapshot).
func (e *evaluation) subprocessorState(fl *flow) bool {
	for _, f := range fl.sub.stateFindings {
		e.addAt(fl, f)
	}
	return false
}

// categoriesNotApproved: a subprocessor that lists data categories may receive
// only those (one finding naming all the others).
func (e *evaluation) categoriesNotApproved(fl *flow) bool {
	approved := fl.sub.facts.approved
	if !e.declared || len(approved) == 0 {
		return false
	}
	notApproved := func(c string) bool { return !IsNonPersonalCategory(c) && !categoryApproved(approved, c) }
	if slices.ContainsFunc(e.cats, notApproved) {
		e.add(Finding{Subprocessor: fl.name, Endpoint: fl.endpoint, Verdict: Violation,
			Reason: ReasonCategoryNotApproved,
			Message: fmt.Sprintf("%s is not approved to receive %s (approved: %s)",
				fl.name, joinCategories(e.cats, notApproved), fl.sub.approvedText)})
	}
	return false
}

// routes: each transfer route's own findings (built with the snapshot:
// uncovered, classification not allowed, derogation in use), each followed by
// special-category data leaving the EEA when the policy does not allow it.
func (e *evaluation) routes(fl *flow) bool {
	special := e.specialCategoryVerdict()
	for r := range fl.sub.routes {
		row := &fl.sub.routes[r]
		for _, f := range row.findings {
			e.addAt(fl, f)
		}
		if special != Compliant && row.known && !row.eea {
			e.add(e.specialOutsideEEA(fl, row, special))
		}
	}
	return false
}

// compliantFlow: a flow no check found anything about is compliant, and says
// which routes it has.
func (e *evaluation) compliantFlow(fl *flow) bool {
	if len(e.findings) == e.flowStart {
		e.addAt(fl, fl.sub.compliant)
	}
	return true
}

// unattributedEgress: each endpoint no Subprocessor claims, once, as the
// policy's unattributedEgress says (Warning by default).
func (e *evaluation) unattributedEgress() {
	rule := e.s.policy.UnattributedEgress
	if e.unattributed == 0 || rule == v1alpha1.RuleIgnore {
		return
	}
	verdict := Warning
	if rule == v1alpha1.RuleDeny {
		verdict = Violation
	}
	for i := range e.eps {
		if _, ok := e.s.matcher.Match(e.eps[i]); ok || seenBefore(e.eps, i) {
			continue
		}
		ep := &e.eps[i]
		where := ep.Source
		if ep.Origin == OriginObserved {
			where = ep.origin()
		}
		e.add(Finding{Endpoint: ep.String(), Source: ep.origin(), Verdict: verdict, Reason: ReasonUnattributedEgress,
			Message: fmt.Sprintf("endpoint %s (%s) is claimed by no Subprocessor: if personal data goes there, record its vendor as a Subprocessor with spec.egress",
				ep.String(), where)})
	}
}

// discoveryIncomplete: a bound on discovery kept part of the pod spec or its
// ConfigMaps from being read, so endpoints may go unseen: a Warning saying
// where, whatever the policy says of unattributed egress.
func (e *evaluation) discoveryIncomplete() {
	if len(e.incomplete) == 0 {
		return
	}
	e.add(Finding{Verdict: Warning, Reason: ReasonDiscoveryIncomplete,
		Message: "endpoint discovery did not read the whole pod spec (" + strings.Join(e.incomplete, "; ") +
			"): endpoints there are not checked; declare them in " + AnnotationEgress})
}

// placement: pods pinned to a provider region whose location's classification
// the policy does not allow (findings built with the snapshot).
func (e *evaluation) placement() {
	for _, r := range PlacementRegions(e.w.PodSpec) {
		if f, ok := e.s.regionFindings[r]; ok {
			e.add(f)
		}
	}
}

// noFlows: a workload nothing was found about has no flow; it says so.
func (e *evaluation) noFlows() {
	if len(e.findings) == 0 {
		msg := noFlowsMessage
		if e.none {
			msg = noneMessage
		}
		e.add(Finding{Verdict: Compliant, Message: msg})
	}
}

// specialCategoryVerdict is the verdict on special-category data outside the
// EEA under the policy: Compliant when allowed or when none is declared.
func (e *evaluation) specialCategoryVerdict() Verdict {
	if e.special == 0 {
		return Compliant
	}
	switch e.s.policy.SpecialCategoriesOutsideEEA {
	case v1alpha1.RuleWarn:
		return Warning
	case v1alpha1.RuleAllow:
		return Compliant
	}
	return Violation
}

// specialOutsideEEA is the finding that a route takes special-category data outside the EEA.
func (e *evaluation) specialOutsideEEA(fl *flow, row *compiledRoute, verdict Verdict) Finding {
	t := &row.transfer
	return Finding{Subprocessor: fl.name, Endpoint: fl.endpoint, Route: t.Route,
		Country: string(t.Country), Basis: t.Basis, Bases: row.bases, Verdict: verdict, Reason: ReasonSpecialCategoryOutsideEEA,
		Message: fmt.Sprintf("%s carries special-category data (%s, GDPR Art. 9/10) outside the EEA (%s); the ResidencyPolicy's specialCategoriesOutsideEEA is %s",
			row.subject, joinCategories(e.cats, IsSpecialCategory), t.Classification, e.s.policy.SpecialCategoriesOutsideEEA)}
}

// isPersonalCategory reports whether a category is personal data (not system.*).
func isPersonalCategory(key string) bool { return !IsNonPersonalCategory(key) }
