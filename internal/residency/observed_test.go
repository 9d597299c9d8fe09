package residency

import (
	"strings"
	"testing"
	"time"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// What a workload's pods resolved is judged as what its spec names: a name
// claimed by a vendor on Privacy Shield is BasisNotValid (C-311/18) though the
// spec says nothing, an EEA vendor's is Compliant, an unclaimed name is
// UnattributedEgress; each finding says it was observed, how often and when.
func TestObservedNamesAreJudgedLikeDiscoveredOnes(t *testing.T) {
	in := Inputs{
		Locations: []*v1alpha1.ProcessingLocation{mkLoc("us-east", "US", "us-east-1"), mkLoc("eu-north", "SE", "eu-north-1")},
		Bases:     []*v1alpha1.TransferBasis{mkBasis("tracker-ps", v1alpha1.MechanismPrivacyShield, []string{"US"})},
		Subprocessors: []*v1alpha1.Subprocessor{
			mkSub("tracker", locs("us-east"), bases("tracker-ps"), approved("user.contact.email"), hosts("api.tracker.example")),
			mkSub("nordmail", locs("eu-north"), approved("user.contact.email"), hosts("*.nordmail.example")),
		},
	}
	snap := Compile(nil, in, today)
	last := today.Add(-2 * time.Hour)
	w, _ := WorkloadOf(deployment("checkout", nil))
	w.Observed = []ObservedHost{
		{Name: "api.tracker.example", Count: 214, FirstSeen: last.Add(-time.Hour), LastSeen: last},
		{Name: "smtp.nordmail.example", Count: 3, FirstSeen: last, LastSeen: last},
		{Name: "cdn.unknown.example", Count: 1, FirstSeen: last, LastSeen: last},
		{Name: "not a host name", Count: 1, FirstSeen: last, LastSeen: last},
	}
	res := snap.Evaluate(w)
	if res.Verdict != Violation {
		t.Fatalf("verdict %s: %+v", res.Verdict, res.Findings)
	}
	byReason := map[Reason][]Finding{}
	for _, f := range res.Findings {
		byReason[f.Reason] = append(byReason[f.Reason], f)
	}
	ps := byReason[ReasonBasisNotValid]
	if len(ps) != 1 || ps[0].Subprocessor != "tracker" || !strings.Contains(ps[0].Message, "C-311/18") ||
		ps[0].Source != "observed: resolved api.tracker.example 214 times, last 2026-11-21T22:00Z" || ps[0].Endpoint != "api.tracker.example" {
		t.Errorf("BasisNotValid: %+v", ps)
	}
	un := byReason[ReasonUnattributedEgress]
	if len(un) != 1 || un[0].Endpoint != "cdn.unknown.example" || !strings.Contains(un[0].Message, "(observed: resolved cdn.unknown.example 1 time, last 2026-11-21T22:00Z)") {
		t.Errorf("UnattributedEgress: %+v", un)
	}
	var nord bool
	for _, f := range res.Findings {
		if f.Subprocessor == "nordmail" && f.Verdict == Compliant && strings.HasPrefix(f.Source, "observed: resolved smtp.nordmail.example 3 times") {
			nord = true
		}
	}
	if !nord || strings.Join(res.Subprocessors, ",") != "nordmail,tracker" {
		t.Errorf("the EEA vendor's flow: %v %+v", res.Subprocessors, res.Findings)
	}

	// The same names in the spec: the verdicts agree, the sources differ.
	d := deployment("checkout", nil, "TRACKER_URL", "https://api.tracker.example/v1")
	spec := evalDeployment(t, snap, d)
	for _, f := range spec.Findings {
		if f.Reason == ReasonBasisNotValid && f.Source != `discovered: env TRACKER_URL of container "app"` {
			t.Errorf("discovered source: %q", f.Source)
		}
	}

	// Names beyond what an ObservedEgress keeps: the evaluation says so.
	w.Observed, w.ObservedDropped = nil, 40
	res = snap.Evaluate(w)
	if len(res.Findings) == 0 || res.Findings[len(res.Findings)-1].Reason != ReasonDiscoveryIncomplete ||
		!strings.Contains(res.Findings[len(res.Findings)-1].Message, "40 resolutions of names beyond the 1000") {
		t.Errorf("dropped names: %+v", res.Findings)
	}
}

func TestLiveObservations(t *testing.T) {
	hosts := []ObservedHost{
		{Name: "a.example.com", LastSeen: today.Add(-8 * 24 * time.Hour)},
		{Name: "b.example.com", LastSeen: today.Add(-6 * 24 * time.Hour)},
		{Name: "c.example.com", LastSeen: today.Add(-time.Hour)},
	}
	live, expires := LiveObservations(hosts, DefaultObservedRetention, today)
	if len(live) != 2 || live[0].Name != "b.example.com" || !expires.Equal(today.Add(24*time.Hour)) {
		t.Errorf("live %v, expires %v", live, expires)
	}
	if live, expires := LiveObservations(hosts, time.Minute, today); len(live) != 0 || !expires.IsZero() {
		t.Errorf("all expired: %v %v", live, expires)
	}
	p, errs := PolicyFrom(&v1alpha1.ResidencyPolicySpec{ObservedEgress: &v1alpha1.ObservedEgressPolicy{Retention: nil}})
	if p.ObservedRetention != DefaultObservedRetention || len(errs) != 0 {
		t.Errorf("default retention %v %v", p.ObservedRetention, errs)
	}
}
