package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// An accepted risk through its life: the violation is skipped in the Report
// and counted as excepted while the exception is Active, a grant matching
// nothing is Unused, InvalidAnnotation is never excepted, and at expiresOn
// (offset clock) the violation returns by itself, with an Event.
func TestExceptionLifecycle(t *testing.T) {
	expires := time.Date(2031, 3, 1, 0, 0, 0, 0, time.UTC)
	clk.standBefore(expires, 20*time.Second)
	t.Cleanup(clk.reset)
	startManager(t)
	const ns = "exc-shop"
	flow := map[string]string{v1alpha1.AnnotationSubprocessors: "x1-tracker", v1alpha1.AnnotationDataCategories: "user.contact.email"}
	create(t, namespace(ns, "deny"), location("x1-us", "US"), basis("x1-ps", v1alpha1.MechanismPrivacyShield, "US"),
		subprocessor("x1-tracker", []string{"x1-us"}, []string{"x1-ps"}),
		deployment(ns, "checkout", flow),
		deployment(ns, "broken", map[string]string{v1alpha1.AnnotationSubprocessors: "Not A Name"}))
	waitWorkloadReport(t, ns, "Deployment/checkout", func(rs []resultView) bool { return has(rs, "fail", "BasisNotValid") })

	grant := func(name string, mut func(*v1alpha1.ResidencyExceptionSpec)) *v1alpha1.ResidencyException {
		x := &v1alpha1.ResidencyException{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.ResidencyExceptionSpec{
			Namespaces: []string{ns}, ExpiresOn: "2031-03-01", ApprovedOn: "2031-01-15", ApprovedBy: "dpo@shop.example",
			Justification: "migration to the EU region", Ticket: "DPO-142"}}
		mut(&x.Spec)
		return x
	}
	create(t,
		grant("x1-checkout-tracker", func(s *v1alpha1.ResidencyExceptionSpec) {
			s.Workloads = []v1alpha1.ExceptedWorkload{{Kind: "Deployment", Name: "checkout"}}
			s.Subprocessors = []v1alpha1.ObjectName{"x1-tracker"}
		}),
		grant("x1-stale", func(s *v1alpha1.ResidencyExceptionSpec) { s.Subprocessors = []v1alpha1.ObjectName{"x1-gone"} }),
		grant("x1-unreadable", func(s *v1alpha1.ResidencyExceptionSpec) { s.Reasons = []string{"InvalidAnnotation"} }))

	rs := waitWorkloadReport(t, ns, "Deployment/checkout", func(rs []resultView) bool { return has(rs, "skip", "BasisNotValid") && !has(rs, "fail", "") })
	for _, r := range rs {
		if r.result == "skip" && (r.props["exception"] != "x1-checkout-tracker" || r.props["exceptionExpiresOn"] != "2031-03-01" ||
			r.props["exceptionApprovedBy"] != "dpo@shop.example" || !strings.Contains(r.description, "excepted by ResidencyException x1-checkout-tracker until 2031-03-01")) {
			t.Errorf("the skipped result does not name the exception: %+v", r)
		}
	}
	waitWorkloadReport(t, ns, "Deployment/broken", func(rs []resultView) bool { return has(rs, "fail", "InvalidAnnotation") && !has(rs, "skip", "") })

	x := &v1alpha1.ResidencyException{ObjectMeta: metav1.ObjectMeta{Name: "x1-checkout-tracker"}}
	eventually(t, x, func(x *v1alpha1.ResidencyException) (bool, string) {
		return x.Status.State == v1alpha1.ExceptionActive && x.Status.WorkloadCount == 1 && slices.Equal(x.Status.Workloads, []string{"Deployment exc-shop/checkout"}) &&
			x.Status.ExpiresOn == "2031-03-01", fmt.Sprintf("%+v", x.Status)
	})
	for _, name := range []string{"x1-stale", "x1-unreadable"} {
		eventually(t, &v1alpha1.ResidencyException{ObjectMeta: metav1.ObjectMeta{Name: name}}, func(x *v1alpha1.ResidencyException) (bool, string) {
			return x.Status.State == v1alpha1.ExceptionUnused, fmt.Sprintf("%+v", x.Status)
		})
	}
	pol := &v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pol), pol); err == nil {
		eventually(t, pol, func(p *v1alpha1.ResidencyPolicy) (bool, string) {
			return p.Status.Summary != nil && p.Status.Summary.Excepted >= 1, fmt.Sprintf("%+v", p.Status.Summary)
		})
	}

	// The clock passes expiresOn: the violation is back, the exception says so.
	waitWorkloadReportFor(t, 40*time.Second, ns, "Deployment/checkout", func(rs []resultView) bool { return has(rs, "fail", "BasisNotValid") && !has(rs, "skip", "") })
	if clk.Now().Before(expires) {
		t.Errorf("the violation returned before the exception expired: now %s", clk.Now())
	}
	eventually(t, x, func(x *v1alpha1.ResidencyException) (bool, string) {
		return x.Status.State == v1alpha1.ExceptionExpired, fmt.Sprintf("%+v", x.Status)
	})
	deadline := time.Now().Add(timeout)
	for {
		var evs eventsv1.EventList
		if err := k8s.List(context.Background(), &evs); err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(evs.Items, func(e eventsv1.Event) bool {
			return e.Reason == "ExceptionExpired" && e.Regarding.Name == "x1-checkout-tracker" && strings.Contains(e.Note, "DPO-142")
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ExceptionExpired Event")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type resultView struct {
	result, rule, description string
	props                     map[string]string
}

func has(rs []resultView, result, rule string) bool {
	return slices.ContainsFunc(rs, func(r resultView) bool { return r.result == result && (rule == "" || r.rule == rule) })
}

// waitWorkloadReport polls the namespace's Reports until the workload's results satisfy cond.
func waitWorkloadReport(t *testing.T, ns, workload string, cond func([]resultView) bool) []resultView {
	t.Helper()
	return waitWorkloadReportFor(t, timeout, ns, workload, cond)
}

func waitWorkloadReportFor(t *testing.T, timeout time.Duration, ns, workload string, cond func([]resultView) bool) []resultView {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		views, _ := reportsOf(t, ns)
		var rs []resultView
		if v := views[workload]; v != nil {
			for _, r := range v.results {
				rs = append(rs, resultView{string(r.Result), r.Rule, r.Description, r.Properties})
			}
		}
		if cond(rs) {
			return rs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s: Report not as expected within %s: %+v", ns, workload, timeout, rs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
