package residency

import (
	"strings"
	"testing"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// requireDeclaration is a policy with only requireDeclaration set.
func requireDeclaration(r v1alpha1.RuleAction) *v1alpha1.ResidencyPolicySpec {
	return &v1alpha1.ResidencyPolicySpec{RequireDeclaration: r}
}

// nsLabel is a Namespace's dataresidency.io/require-declaration label.
func nsLabel(v string) map[string]string {
	return map[string]string{v1alpha1.LabelRequireDeclaration: v}
}

// The rule Undeclared under ignore (the default), warn and deny, the
// declaration none, flows found but not declared, and the namespace override.
func TestEvaluateUndeclared(t *testing.T) {
	const (
		none    = "dataresidency.io/subprocessors: none"
		howTo   = "dataresidency.io/subprocessors: <Subprocessor names> plus dataresidency.io/data-categories: <fideslang keys>"
		eeaSMTP = "smtp.eu-mail.eu:587"
	)
	tests := []struct {
		name     string
		policy   *v1alpha1.ResidencyPolicySpec
		labels   map[string]string // the Namespace's
		ann      map[string]string
		env      []string
		verdict  Verdict
		declared bool
		// undeclared is the verdict of the Undeclared finding ("": none).
		undeclared Verdict
		contains   []string // in the Undeclared finding's message
		reasons    []Reason // every reason, in order ("" for Compliant)
	}{
		// ignore, the default: today's verdicts.
		{name: "nothing, no policy", verdict: Compliant, reasons: []Reason{ReasonNone}},
		{name: "nothing, ignore", policy: requireDeclaration(v1alpha1.RuleIgnore), verdict: Compliant, reasons: []Reason{ReasonNone}},
		{name: "discovered compliant flow, ignore", policy: requireDeclaration(v1alpha1.RuleIgnore), env: []string{"SMTP", eeaSMTP},
			verdict: Compliant, reasons: []Reason{ReasonNone}},

		// warn and deny.
		{name: "nothing, warn", policy: requireDeclaration(v1alpha1.RuleWarn), verdict: Warning, undeclared: Warning,
			contains: []string{"does not declare what personal data it sends", "(ResidencyPolicy requireDeclaration: warn)",
				"Nothing was discovered", "Declare " + none + " if no personal data leaves it", howTo},
			reasons: []Reason{ReasonUndeclared}},
		{name: "nothing, deny", policy: requireDeclaration(v1alpha1.RuleDeny), verdict: Violation, undeclared: Violation,
			contains: []string{"(ResidencyPolicy requireDeclaration: deny)", none},
			reasons:  []Reason{ReasonUndeclared}},

		// What counts as a declaration.
		{name: "none, deny", policy: requireDeclaration(v1alpha1.RuleDeny), ann: flowAnn("none", ""),
			verdict: Compliant, declared: true, reasons: []Reason{ReasonNone}},
		{name: "none with spaces and a repeat, deny", policy: requireDeclaration(v1alpha1.RuleDeny), ann: flowAnn(" none , none,", ""),
			verdict: Compliant, declared: true, reasons: []Reason{ReasonNone}},
		{name: "categories only, deny", policy: requireDeclaration(v1alpha1.RuleDeny), ann: flowAnn("", "system.operations"),
			verdict: Compliant, declared: true, reasons: []Reason{ReasonNone}},
		{name: "subprocessors only, deny", policy: requireDeclaration(v1alpha1.RuleDeny), ann: flowAnn("eu-mail", ""),
			verdict: Compliant, declared: true, reasons: []Reason{ReasonNone}},
		{name: "egress only is not a declaration, deny", policy: requireDeclaration(v1alpha1.RuleDeny),
			ann:     map[string]string{v1alpha1.AnnotationEgress: eeaSMTP},
			verdict: Violation, undeclared: Violation,
			contains: []string{"Found: eu-mail (smtp.eu-mail.eu:587);", "declare dataresidency.io/subprocessors: eu-mail plus dataresidency.io/data-categories:"},
			reasons:  []Reason{ReasonUndeclared, ReasonNone}},
		{name: "only unreadable entries declare nothing, warn", policy: requireDeclaration(v1alpha1.RuleWarn), ann: flowAnn("Bad_Name", "Not A Category"),
			verdict: Violation, undeclared: Warning,
			reasons: []Reason{ReasonInvalidAnnotation, ReasonInvalidAnnotation, ReasonUndeclared}},

		// none is a declaration, not a Subprocessor; beside names it cannot be read.
		{name: "none beside a name", policy: requireDeclaration(v1alpha1.RuleDeny), ann: flowAnn("none,eu-mail", "user.name"),
			verdict: Violation, declared: true, reasons: []Reason{ReasonInvalidAnnotation, ReasonNone}},
		{name: "none discovered flows are still judged", policy: requireDeclaration(v1alpha1.RuleDeny), ann: flowAnn("none", ""),
			env: []string{"API", "https://api.old-sendgrid.eu/v3"}, verdict: Violation, declared: true,
			reasons: []Reason{ReasonBasisNotValid}},

		// Found but not declared: still Undeclared, and the message is the fix.
		{name: "discovered compliant flow, warn", policy: requireDeclaration(v1alpha1.RuleWarn), env: []string{"SMTP", eeaSMTP},
			verdict: Warning, undeclared: Warning,
			contains: []string{"Found: eu-mail (" + eeaSMTP + ");", "declare dataresidency.io/subprocessors: eu-mail plus dataresidency.io/data-categories: <the fideslang keys it sends>, or " + none},
			reasons:  []Reason{ReasonUndeclared, ReasonNone}},
		{name: "discovered flows and an unclaimed endpoint, deny", policy: requireDeclaration(v1alpha1.RuleDeny),
			env:     []string{"SMTP", eeaSMTP, "ERRORS", "https://o1.ingest.sentry.io", "API", "https://api.unknown-vendor.eu/v1"},
			verdict: Violation, undeclared: Violation,
			contains: []string{"eu-mail (" + eeaSMTP + "); sentry (o1.ingest.sentry.io);", "endpoints no Subprocessor claims: api.unknown-vendor.eu;",
				"declare dataresidency.io/subprocessors: eu-mail, sentry plus"},
			reasons: []Reason{ReasonUndeclared, ReasonNone, ReasonNone, ReasonUnattributedEgress}},
		{name: "only an unclaimed endpoint, warn", policy: requireDeclaration(v1alpha1.RuleWarn),
			env: []string{"API", "https://api.unknown-vendor.eu/v1"}, verdict: Warning, undeclared: Warning,
			contains: []string{"Found: endpoints no Subprocessor claims: api.unknown-vendor.eu; declare " + none, howTo},
			reasons:  []Reason{ReasonUndeclared, ReasonUnattributedEgress}},

		// The namespace label overrides the policy, both ways; a bad value does not.
		{name: "label deny over policy ignore", labels: nsLabel("deny"), verdict: Violation, undeclared: Violation,
			contains: []string{"(namespace label dataresidency.io/require-declaration=deny)"}, reasons: []Reason{ReasonUndeclared}},
		{name: "label warn over policy deny", policy: requireDeclaration(v1alpha1.RuleDeny), labels: nsLabel("warn"),
			verdict: Warning, undeclared: Warning, contains: []string{"(namespace label dataresidency.io/require-declaration=warn)"},
			reasons: []Reason{ReasonUndeclared}},
		{name: "label ignore over policy deny", policy: requireDeclaration(v1alpha1.RuleDeny), labels: nsLabel("ignore"),
			verdict: Compliant, reasons: []Reason{ReasonNone}},
		{name: "bad label value: the policy applies", policy: requireDeclaration(v1alpha1.RuleWarn), labels: nsLabel("Deny"),
			verdict: Warning, undeclared: Warning, contains: []string{"(ResidencyPolicy requireDeclaration: warn)"},
			reasons: []Reason{ReasonUndeclared}},
		{name: "label deny, declared", labels: nsLabel("deny"), ann: flowAnn("none", ""), verdict: Compliant, declared: true,
			reasons: []Reason{ReasonNone}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := evalWorld(tt.policy)
			w, _ := WorkloadOf(deployment("app", tt.ann, tt.env...))
			w.NamespaceLabels = tt.labels
			r := s.Evaluate(w)
			if r.Verdict != tt.verdict || r.Declared != tt.declared {
				t.Errorf("verdict %s declared %v, want %s %v\n%s", r.Verdict, r.Declared, tt.verdict, tt.declared, dumpFindings(r))
			}
			var reasons []Reason
			for _, f := range r.Findings {
				reasons = append(reasons, f.Reason)
			}
			if strings.Join(reasonStrings(reasons), ",") != strings.Join(reasonStrings(tt.reasons), ",") {
				t.Errorf("reasons %q, want %q\n%s", reasons, tt.reasons, dumpFindings(r))
			}
			if tt.undeclared == "" {
				if fs := findingsWith(r, ReasonUndeclared); len(fs) != 0 {
					t.Errorf("unexpected Undeclared finding\n%s", dumpFindings(r))
				}
				return
			}
			f := mustFinding(t, r, ReasonUndeclared)
			if f.Verdict != tt.undeclared {
				t.Errorf("Undeclared is a %s, want %s", f.Verdict, tt.undeclared)
			}
			if f.Subprocessor != "" || f.Endpoint != "" || f.Route != "" {
				t.Errorf("Undeclared is about the workload, not a flow: %+v", f)
			}
			wantContains(t, "Undeclared message", f.Message, tt.contains...)
		})
	}
}

func reasonStrings(rs []Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// none is a declaration, not an UnknownSubprocessor named none; beside names,
// wherever they are written, it is an InvalidAnnotation that says why, and the
// names are still evaluated.
func TestEvaluateNone(t *testing.T) {
	s := evalWorld(requireDeclaration(v1alpha1.RuleDeny))

	alone := evalDeployment(t, s, deployment("app", flowAnn("none", "")))
	if alone.Verdict != Compliant || len(alone.Findings) != 1 || alone.Findings[0].Message != noneMessage || alone.Subprocessors != nil {
		t.Errorf("none alone:\n%s", dumpFindings(alone))
	}
	wantContains(t, "message", alone.Findings[0].Message, "declares that no personal data leaves it (dataresidency.io/subprocessors: none)")

	for _, tt := range []struct {
		name        string
		object, pod string // the annotation on the object and on its pod template
	}{
		{"in one value", "", "eu-mail, none"},
		{"object none, template names", "none", "eu-mail"},
		{"object names, template none", "eu-mail", "none"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := deployment("app", flowAnn(tt.pod, "user.name"))
			if tt.object != "" {
				d.Annotations = map[string]string{v1alpha1.AnnotationSubprocessors: tt.object}
			}
			if tt.pod == "" {
				delete(d.Spec.Template.Annotations, v1alpha1.AnnotationSubprocessors)
			}
			r := evalDeployment(t, s, d)
			if len(findingsWith(r, ReasonUnknownSubprocessor)) != 0 {
				t.Errorf("none read as a Subprocessor name:\n%s", dumpFindings(r))
			}
			f := mustFinding(t, r, ReasonInvalidAnnotation)
			wantContains(t, "message", f.Message, "annotation dataresidency.io/subprocessors", `"none" declares that no personal data leaves the workload`,
				"Subprocessors are named beside it (eu-mail)")
			if r.Verdict != Violation || !r.Declared || strings.Join(r.Subprocessors, ",") != "eu-mail" {
				t.Errorf("verdict %s declared %v subprocessors %v\n%s", r.Verdict, r.Declared, r.Subprocessors, dumpFindings(r))
			}
			if len(findingsWith(r, ReasonNone)) != 1 {
				t.Errorf("the name beside none is not evaluated:\n%s", dumpFindings(r))
			}
		})
	}

	// The annotation cache shares parsed names between evaluations: taking
	// none out of one workload's names must not change them for the next.
	both := deployment("app", flowAnn("eu-mail,none", ""))
	first := evalDeployment(t, s, both)
	second := evalDeployment(t, s, both)
	if dumpFindings(first) != dumpFindings(second) {
		t.Errorf("a second evaluation differs:\n%s\nwant\n%s", dumpFindings(second), dumpFindings(first))
	}
}

func TestPolicyRequireDeclaration(t *testing.T) {
	p, errs := PolicyFrom(nil)
	if len(errs) != 0 || p.RequireDeclaration != v1alpha1.RuleIgnore {
		t.Errorf("default requireDeclaration %q, errors %v", p.RequireDeclaration, errs)
	}
	p, errs = PolicyFrom(&v1alpha1.ResidencyPolicySpec{RequireDeclaration: "always"})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `spec.requireDeclaration: "always" is not one of ignore, warn, deny`) ||
		p.RequireDeclaration != v1alpha1.RuleIgnore {
		t.Errorf("bad requireDeclaration: %q, errors %v", p.RequireDeclaration, errs)
	}
	p, _ = PolicyFrom(requireDeclaration(v1alpha1.RuleWarn))
	tests := []struct {
		labels map[string]string
		want   v1alpha1.RuleAction
		bad    bool
	}{
		{nil, v1alpha1.RuleWarn, false},
		{map[string]string{v1alpha1.LabelEnforcement: "deny"}, v1alpha1.RuleWarn, false},
		{nsLabel("deny"), v1alpha1.RuleDeny, false},
		{nsLabel("ignore"), v1alpha1.RuleIgnore, false},
		{nsLabel("warn"), v1alpha1.RuleWarn, false},
		{nsLabel("allow"), v1alpha1.RuleWarn, true},
		{nsLabel(""), v1alpha1.RuleWarn, true},
	}
	for _, tt := range tests {
		if got := p.RequireDeclarationFor(tt.labels); got != tt.want {
			t.Errorf("RequireDeclarationFor(%v) = %s, want %s", tt.labels, got, tt.want)
		}
		err := RequireDeclarationLabelError(tt.labels)
		if (err != nil) != tt.bad {
			t.Errorf("RequireDeclarationLabelError(%v) = %v, want error %v", tt.labels, err, tt.bad)
		}
		if err != nil && !strings.Contains(err.Error(), "is not one of ignore, warn, deny; the ResidencyPolicy requireDeclaration applies") {
			t.Errorf("RequireDeclarationLabelError: %v", err)
		}
	}
	both := map[string]string{v1alpha1.LabelEnforcement: "block", v1alpha1.LabelRequireDeclaration: "yes"}
	errs2 := NamespaceLabelErrors(both)
	if len(errs2) != 2 || errs2[0].Label != v1alpha1.LabelEnforcement || errs2[1].Label != v1alpha1.LabelRequireDeclaration {
		t.Errorf("NamespaceLabelErrors = %v", errs2)
	}
	if errs2 := NamespaceLabelErrors(nsLabel("deny")); len(errs2) != 0 {
		t.Errorf("NamespaceLabelErrors(valid) = %v", errs2)
	}
}
