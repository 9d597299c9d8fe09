package findings

import (
	"slices"
	"testing"
	"time"

	"github.com/dataresidency/operator/internal/residency"
)

func TestStoreIndexesAndNotifies(t *testing.T) {
	s := New()
	var changes []Change
	s.OnChange(func(c Change) { changes = append(changes, c) })
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	k := Key{Kind: "Deployment", Namespace: "shop", Name: "mailer"}
	res := residency.Result{Verdict: residency.Compliant, Subprocessors: []string{"sendgrid"}, Findings: []residency.Finding{{Subprocessor: "sendgrid", Verdict: residency.Compliant}}}
	s.Set(Entry{Key: k, UID: "u1", Result: res, Locations: []string{"sendgrid-us"}}, now)

	if got := s.UsingSubprocessors("Deployment", "sendgrid"); !slices.Equal(got, []Key{k}) {
		t.Errorf("UsingSubprocessors = %v", got)
	}
	if got := s.UsingSubprocessors("Pod", "sendgrid"); len(got) != 0 {
		t.Errorf("kind filter ignored: %v", got)
	}
	if s.CountSubprocessor("sendgrid") != 1 || s.CountLocation("sendgrid-us") != 1 {
		t.Errorf("counts %d %d", s.CountSubprocessor("sendgrid"), s.CountLocation("sendgrid-us"))
	}
	if len(changes) != 1 || changes[0].Namespace != "shop" || !slices.Equal(changes[0].Subprocessors, []string{"sendgrid"}) {
		t.Errorf("changes = %+v", changes)
	}

	// The same result again: no notification, Since kept, evaluations counted.
	s.Set(Entry{Key: k, UID: "u1", Result: res, Locations: []string{"sendgrid-us"}}, now.Add(time.Hour))
	e, _ := s.Get(k)
	if len(changes) != 1 || !e.Since.Equal(now) || e.Evaluations != 2 {
		t.Errorf("unchanged re-evaluation: %d changes, since %s, %d evaluations", len(changes), e.Since, e.Evaluations)
	}

	// Moving to another subprocessor notifies both and reindexes.
	res2 := residency.Result{Verdict: residency.Violation, Subprocessors: []string{"mailjet"}, Declared: true}
	s.Set(Entry{Key: k, UID: "u1", Result: res2}, now.Add(2*time.Hour))
	if !slices.Equal(changes[1].Subprocessors, []string{"mailjet", "sendgrid"}) || s.CountSubprocessor("sendgrid") != 0 {
		t.Errorf("change %+v, sendgrid count %d", changes[1], s.CountSubprocessor("sendgrid"))
	}
	if sum := s.Summary(); sum != (Summary{Workloads: 1, Violations: 1}) {
		t.Errorf("summary %+v", sum)
	}
	s.Delete(k)
	if sum := s.Summary(); sum.Workloads != 0 || len(s.Namespaces()) != 0 || s.CountSubprocessor("mailjet") != 0 {
		t.Errorf("after delete: %+v %v", sum, s.Namespaces())
	}
}

// Undeclared workloads are counted apart from their verdict, and a workload
// that starts declaring (its findings unchanged, under requireDeclaration:
// ignore) moves the counts.
func TestStoreCountsUndeclared(t *testing.T) {
	s := New()
	changes := 0
	s.OnChange(func(Change) { changes++ })
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	nothing := []residency.Finding{{Verdict: residency.Compliant, Message: "no personal data flows declared or discovered"}}
	set := func(ns, name string, declared bool, at time.Duration) {
		s.Set(Entry{Key: Key{Kind: "Deployment", Namespace: ns, Name: name},
			Result: residency.Result{Verdict: residency.Compliant, Findings: nothing, Declared: declared}}, now.Add(at))
	}
	set("shop", "a", false, 0)
	set("shop", "b", true, 0)
	set("shop", "c", false, 0)
	set("blog", "d", false, 0)
	if sum := s.Summary(); sum != (Summary{Workloads: 4, Compliant: 4, Undeclared: 3}) {
		t.Errorf("summary %+v", sum)
	}
	want := map[string][2]int{"shop": {1, 3}, "blog": {0, 1}}
	if got := s.ByNamespaceDeclared(); len(got) != 2 || got["shop"] != want["shop"] || got["blog"] != want["blog"] {
		t.Errorf("ByNamespaceDeclared = %v, want %v", got, want)
	}
	before := changes
	set("shop", "a", true, time.Hour)
	if changes != before+1 {
		t.Errorf("declaring notified %d times, want once", changes-before)
	}
	if sum := s.Summary(); sum.Undeclared != 2 {
		t.Errorf("after a declares: %+v", sum)
	}
}
