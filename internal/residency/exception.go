package residency

import (
	"slices"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// Owner is a workload another is made from.
type Owner struct {
	Kind, Name string
	Labels     map[string]string
}

// FindingException names the ResidencyException a finding is excepted by.
type FindingException struct {
	Name string `json:"name"`
	// ExpiresOn is the first day it no longer applies (maxDays included).
	ExpiresOn v1alpha1.Date `json:"expiresOn"`
	// ApprovedBy and Ticket are the trail.
	ApprovedBy string `json:"approvedBy"`
	Ticket     string `json:"ticket,omitempty"`
}

// ExceptionResult is an exception's standing at the snapshot's time (the
// controllers add Unused when it covers nothing).
type ExceptionResult struct {
	State v1alpha1.ExceptionState
	// ExpiresOn is when it stops applying: spec.expiresOn or approvedOn +
	// the policy's maxDays, whichever comes first.
	ExpiresOn time.Time
	// Problem says why it cannot apply (an unreadable selector), if so.
	Problem string
}

// DefaultExceptionMaxDays is spec.exceptions.maxDays's default.
const DefaultExceptionMaxDays = 365

type compiledException struct {
	FindingException
	result        ExceptionResult
	namespaces    []string
	nsSelector    labels.Selector // nil: by name only
	workloads     []v1alpha1.ExceptedWorkload
	wlSelector    labels.Selector // nil: by kind and name only
	subprocessors []string
	endpoints     []string
	reasons       []string
}

// compileExceptions reads the exceptions at s.at: each one's state and
// effective expiry, its matchers; their dates are transitions.
func (s *Snapshot) compileExceptions(in []*v1alpha1.ResidencyException) {
	for _, x := range in {
		if x == nil || x.Name == "" {
			continue
		}
		ce := &compiledException{
			FindingException: FindingException{Name: x.Name, ApprovedBy: x.Spec.ApprovedBy, Ticket: x.Spec.Ticket},
			namespaces:       x.Spec.Namespaces,
			workloads:        x.Spec.Workloads,
			subprocessors:    namesOf(x.Spec.Subprocessors),
			endpoints:        x.Spec.Endpoints,
			reasons:          x.Spec.Reasons,
		}
		approved, errA := ParseDate(x.Spec.ApprovedOn)
		expires, errE := ParseDate(x.Spec.ExpiresOn)
		switch {
		case errA != nil:
			ce.result = ExceptionResult{State: v1alpha1.ExceptionExpired, Problem: "spec.approvedOn: " + errA.Error()}
		case errE != nil:
			ce.result = ExceptionResult{State: v1alpha1.ExceptionExpired, Problem: "spec.expiresOn: " + errE.Error()}
		default:
			if limit := approved.AddDate(0, 0, s.policy.ExceptionMaxDays); limit.Before(expires) {
				expires = limit
			}
			ce.result.ExpiresOn = expires
			switch {
			case s.at.Before(approved):
				ce.result.State = v1alpha1.ExceptionNotYetApproved
			case !s.at.Before(expires):
				ce.result.State = v1alpha1.ExceptionExpired
			default:
				ce.result.State = v1alpha1.ExceptionActive
			}
			s.consider(approved)
			s.consider(expires)
		}
		ce.ExpiresOn = FormatDate(ce.result.ExpiresOn)
		if x.Spec.NamespaceSelector != nil {
			sel, err := metav1.LabelSelectorAsSelector(x.Spec.NamespaceSelector)
			if err != nil {
				ce.result = ExceptionResult{State: v1alpha1.ExceptionExpired, ExpiresOn: ce.result.ExpiresOn, Problem: "spec.namespaceSelector: " + err.Error()}
			}
			ce.nsSelector = sel
		}
		if x.Spec.WorkloadSelector != nil {
			sel, err := metav1.LabelSelectorAsSelector(x.Spec.WorkloadSelector)
			if err != nil {
				ce.result = ExceptionResult{State: v1alpha1.ExceptionExpired, ExpiresOn: ce.result.ExpiresOn, Problem: "spec.workloadSelector: " + err.Error()}
			}
			ce.wlSelector = sel
		}
		s.exceptions = append(s.exceptions, ce)
	}
	slices.SortFunc(s.exceptions, func(a, b *compiledException) int {
		return a.result.ExpiresOn.Compare(b.result.ExpiresOn) // the first to expire is named first
	})
}

// Exception is an exception's standing at the snapshot's time.
func (s *Snapshot) Exception(name string) (ExceptionResult, bool) {
	for _, x := range s.exceptions {
		if x.Name == name {
			return x.result, true
		}
	}
	return ExceptionResult{}, false
}

// ExceptionNames are the exceptions' names, sorted.
func (s *Snapshot) ExceptionNames() []string {
	out := make([]string, 0, len(s.exceptions))
	for _, x := range s.exceptions {
		out = append(out, x.Name)
	}
	slices.Sort(out)
	return out
}

// Exceptable reports whether the policy lets a finding of this reason be
// excepted: never InvalidAnnotation, nor the policy's neverExcept.
func (p *Policy) Exceptable(r Reason) bool {
	return r != ReasonInvalidAnnotation && r != ReasonNone && !slices.Contains(p.NeverExcept, string(r))
}

// except marks the findings an active exception covers (their verdict and
// reason stay; the workload's verdict no longer counts them).
func (e *evaluation) except() {
	if len(e.s.exceptions) == 0 {
		return
	}
	for i := range e.findings {
		f := &e.findings[i]
		if f.Verdict == Compliant || !e.s.policy.Exceptable(f.Reason) {
			continue
		}
		for _, x := range e.s.exceptions {
			if x.result.State == v1alpha1.ExceptionActive && x.matches(e.w, f) {
				fx := x.FindingException
				f.Exception = &fx
				break
			}
		}
	}
}

func (x *compiledException) matches(w *Workload, f *Finding) bool {
	if !slices.Contains(x.namespaces, w.Ref.Namespace) && (x.nsSelector == nil || !x.nsSelector.Matches(labels.Set(w.NamespaceLabels))) {
		return false
	}
	if (len(x.workloads) > 0 || x.wlSelector != nil) && !x.coversWorkload(w.Ref.Kind, w.Ref.Name, w.Labels) &&
		!slices.ContainsFunc(w.Owners, func(o Owner) bool { return x.coversWorkload(o.Kind, o.Name, o.Labels) }) {
		return false
	}
	if len(x.reasons) > 0 && !slices.Contains(x.reasons, string(f.Reason)) {
		return false
	}
	switch {
	case len(x.subprocessors) == 0 && len(x.endpoints) == 0:
		return true // by reason only
	case f.Subprocessor != "":
		return slices.Contains(x.subprocessors, f.Subprocessor)
	case f.Endpoint != "":
		return slices.Contains(x.endpoints, f.Endpoint)
	}
	return false
}

// coversWorkload reports whether the exception names the workload or
// selects it by its labels.
func (x *compiledException) coversWorkload(kind, name string, lbls map[string]string) bool {
	return slices.ContainsFunc(x.workloads, func(ew v1alpha1.ExceptedWorkload) bool { return ew.Kind == kind && ew.Name == name }) ||
		x.wlSelector != nil && x.wlSelector.Matches(labels.Set(lbls))
}

// exceptedText is how messages and warnings name an exception.
func (fx *FindingException) String() string {
	s := "excepted by ResidencyException " + fx.Name + " until " + string(fx.ExpiresOn) + " (approved by " + strconv.Quote(fx.ApprovedBy)
	if fx.Ticket != "" {
		s += ", " + fx.Ticket
	}
	return s + ")"
}
