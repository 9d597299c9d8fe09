package residency

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

func TestExceptions(t *testing.T) {
	x := func(name string, mut func(*v1alpha1.ResidencyExceptionSpec)) *v1alpha1.ResidencyException {
		e := &v1alpha1.ResidencyException{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.ResidencyExceptionSpec{
			Namespaces: []string{"shop"}, Subprocessors: []v1alpha1.ObjectName{"tracker"}, ExpiresOn: "2027-03-01",
			ApprovedOn: "2026-11-01", ApprovedBy: "dpo", Justification: "migration", Ticket: "DPO-142"}}
		if mut != nil {
			mut(&e.Spec)
		}
		return e
	}
	in := func(pol *v1alpha1.ResidencyPolicySpec, xs ...*v1alpha1.ResidencyException) Inputs {
		return Inputs{Policy: pol,
			Locations:     []*v1alpha1.ProcessingLocation{mkLoc("us-east", "US", "us-east-1")},
			Bases:         []*v1alpha1.TransferBasis{mkBasis("tracker-ps", v1alpha1.MechanismPrivacyShield, []string{"US"})},
			Subprocessors: []*v1alpha1.Subprocessor{mkSub("tracker", locs("us-east"), bases("tracker-ps"))},
			Exceptions:    xs}
	}
	flow := flowAnn("tracker", "user.contact.email")
	eval := func(s *Snapshot, ann map[string]string) Result {
		return evalDeployment(t, s, deployment("checkout", ann))
	}

	// Active: the violation keeps its verdict and reason, marked; the
	// workload's verdict no longer counts it.
	s := Compile(nil, in(nil, x("grant", nil)), today)
	res := eval(s, flow)
	if res.Verdict != Compliant || res.Excepted != 1 || res.Findings[0].Verdict != Violation || res.Findings[0].Reason != ReasonBasisNotValid ||
		res.Findings[0].Exception == nil || res.Findings[0].Exception.Name != "grant" || res.Findings[0].Exception.ExpiresOn != "2027-03-01" {
		t.Fatalf("active: %+v", res)
	}
	if xr, _ := s.Exception("grant"); xr.State != v1alpha1.ExceptionActive || !s.NextTransition().Equal(utc("2027-03-01")) {
		t.Errorf("state %+v, next transition %v", xr, s.NextTransition())
	}
	// At expiresOn it no longer applies.
	if res := eval(Compile(nil, in(nil, x("grant", nil)), utc("2027-03-01")), flow); res.Verdict != Violation || res.Excepted != 0 {
		t.Errorf("at expiresOn: %+v", res)
	}
	// Before approvedOn: not yet.
	if s := Compile(nil, in(nil, x("grant", func(sp *v1alpha1.ResidencyExceptionSpec) { sp.ApprovedOn = "2026-12-01" })), today); eval(s, flow).Verdict != Violation {
		t.Errorf("before approvedOn the exception applied")
	} else if xr, _ := s.Exception("grant"); xr.State != v1alpha1.ExceptionNotYetApproved {
		t.Errorf("before approvedOn: %+v", xr)
	}
	// The policy's maxDays caps it: approved 2026-11-01 + 30 days.
	capped := Compile(nil, in(&v1alpha1.ResidencyPolicySpec{Exceptions: &v1alpha1.ExceptionsPolicy{MaxDays: 30}}, x("grant", nil)), today)
	if xr, _ := capped.Exception("grant"); !xr.ExpiresOn.Equal(utc("2026-12-01")) || xr.State != v1alpha1.ExceptionActive {
		t.Errorf("maxDays 30: %+v", xr)
	}
	// InvalidAnnotation never; the policy's neverExcept neither.
	bad := map[string]string{AnnotationSubprocessors: "tracker, Not A Name", AnnotationDataCategories: "user.contact.email"}
	byReason := Compile(nil, in(nil, x("any", func(sp *v1alpha1.ResidencyExceptionSpec) {
		sp.Subprocessors, sp.Reasons = nil, []string{"InvalidAnnotation", "BasisNotValid"}
	})), today)
	for _, f := range eval(byReason, bad).Findings {
		if f.Reason == ReasonInvalidAnnotation && f.Exception != nil {
			t.Errorf("InvalidAnnotation was excepted")
		}
		if f.Reason == ReasonBasisNotValid && f.Exception == nil {
			t.Errorf("BasisNotValid, listed in reasons, was not excepted")
		}
	}
	never := Compile(nil, in(&v1alpha1.ResidencyPolicySpec{Exceptions: &v1alpha1.ExceptionsPolicy{NeverExcept: []string{"BasisNotValid"}}}, x("grant", nil)), today)
	if eval(never, flow).Verdict != Violation {
		t.Errorf("the policy's neverExcept was excepted")
	}
	// Scope: another namespace, another workload, a namespace selector.
	other := Compile(nil, in(nil, x("grant", func(sp *v1alpha1.ResidencyExceptionSpec) {
		sp.Workloads = []v1alpha1.ExceptedWorkload{{Kind: "Deployment", Name: "billing"}}
	})), today)
	if eval(other, flow).Verdict != Violation {
		t.Errorf("an exception for billing covered checkout")
	}
	sel := Compile(nil, in(nil, x("grant", func(sp *v1alpha1.ResidencyExceptionSpec) {
		sp.Namespaces, sp.NamespaceSelector = nil, &metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop"}}
	})), today)
	w, _ := WorkloadOf(deployment("checkout", flow))
	if sel.Evaluate(w).Verdict != Violation {
		t.Errorf("a selector matched a namespace without labels")
	}
	// A workload selector: the Deployment's own labels.
	bySel := Compile(nil, in(nil, x("grant", func(sp *v1alpha1.ResidencyExceptionSpec) {
		sp.WorkloadSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"migration": "eu-2027"}}
	})), today)
	d := deployment("checkout", flow)
	if evalDeployment(t, bySel, d).Verdict != Violation {
		t.Errorf("a workload selector matched a workload without the label")
	}
	d.Labels = map[string]string{"migration": "eu-2027"}
	if res := evalDeployment(t, bySel, d); res.Verdict != Compliant || res.Excepted != 1 {
		t.Errorf("a workload selector did not match the labelled workload: %+v", res)
	}
	w.NamespaceLabels = map[string]string{"team": "shop"}
	if res := sel.Evaluate(w); res.Verdict != Compliant || !strings.Contains(res.Findings[0].Exception.String(), `approved by "dpo", DPO-142`) {
		t.Errorf("a selector did not match: %+v", res)
	}
}
