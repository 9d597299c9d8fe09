package residency

import (
	"reflect"
	"strings"
	"testing"
	"time"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// world is a small catalog of residency objects the snapshot tests share.
func world() Inputs {
	return Inputs{
		Locations: []*v1alpha1.ProcessingLocation{
			mkLoc("aws-eu-north-1", "SE", "eu-north-1"),
			mkLoc("gcp-europe-west3", "DE", "europe-west3"),
			mkLoc("gcp-europe-west6", "CH", "europe-west6"),
			mkLoc("aws-eu-west-2", "GB", "eu-west-2"),
			mkLoc("us-east", "US", "us-east-1"),
			mkLoc("gcp-us-central1", "US", "us-central1"),
			mkLoc("tokyo", "JP", "ap-northeast-1"),
			mkLoc("singapore", "SG", "ap-southeast-1"),
			mkLoc("athens", "EL", ""),
		},
		Bases: []*v1alpha1.TransferBasis{
			mkBasis("scc-us", "StandardContractualClauses", []string{"US"}),
			mkBasis("bcr-us", "BindingCorporateRules", []string{"US"}),
			mkBasis("dpf-us", "DataPrivacyFramework", []string{"US"}),
			mkBasis("ps-us", "PrivacyShield", []string{"US"}),
			mkBasis("consent-us", "Derogation", []string{"US"}),
			mkBasis("adequacy-us", "AdequacyDecision", []string{"US"}),
			mkBasis("appi-jp", "AdequacyDecision", []string{"JP"}),
			mkBasis("dpf-sg", "DataPrivacyFramework", []string{"SG"}),
			mkBasis("scc-sg", "StandardContractualClauses", []string{"SG"}),
			mkBasis("scc-us-later", "StandardContractualClauses", []string{"US"}, effective("2027-02-01")),
			mkBasis("scc-us-expiring", "StandardContractualClauses", []string{"US"}, expires("2027-03-05")),
		},
	}
}

func TestSubprocessorRouteCoverage(t *testing.T) {
	tests := []struct {
		name     string
		sub      *v1alpha1.Subprocessor
		route    string
		country  string
		class    v1alpha1.Classification
		covered  bool
		basis    string
		reason   Reason
		contains []string
	}{
		{"EEA needs no basis", mkSub("a", locs("aws-eu-north-1")), "aws-eu-north-1", "SE", "EEA", true, "", "",
			[]string{"aws-eu-north-1 is in the EEA (SE): not a transfer"}},
		{"EL is Greece", mkSub("a", locs("athens")), "athens", "GR", "EEA", true, "", "", nil},
		{"adequate needs no basis", mkSub("a", locs("gcp-europe-west6")), "gcp-europe-west6", "CH", "Adequate", true, "", "",
			[]string{"transfer to CH via gcp-europe-west6 rests on adequacy: Decision 2000/518/EC (GDPR Art. 45)"}},
		{"GB adequate until 2031", mkSub("a", locs("aws-eu-west-2")), "aws-eu-west-2", "GB", "Adequate", true, "", "",
			[]string{"transfer to GB via aws-eu-west-2 rests on adequacy: Decision (EU) 2021/1772 (GDPR Art. 45), valid until 2031-12-27"}},
		{"US without basis", mkSub("a", locs("us-east")), "us-east", "US", "PartiallyAdequate", false, "", ReasonUncoveredTransfer,
			[]string{"transfer to US via us-east is not covered", "partially adequate (Decision (EU) 2023/1795",
				"Data Privacy Framework", "no TransferBasis of a lists US"}},
		{"US on DPF", mkSub("a", locs("us-east"), bases("dpf-us")), "us-east", "US", "PartiallyAdequate", true, "dpf-us", "",
			[]string{"rests on dpf-us (DataPrivacyFramework, GDPR Art. 45 (Decision (EU) 2023/1795))"}},
		{"US on SCC", mkSub("a", locs("us-east"), bases("scc-us")), "us-east", "US", "PartiallyAdequate", true, "scc-us", "",
			[]string{"GDPR Art. 46(2)(c)"}},
		{"US on Privacy Shield", mkSub("sendgrid", locs("us-east"), bases("ps-us")), "us-east", "US", "PartiallyAdequate", false, "ps-us",
			ReasonBasisNotValid,
			[]string{"transfer to US via us-east has no valid basis: ps-us is PrivacyShield, invalid since 2020-07-16 (CJEU C-311/18)"}},
		{"US on an adequacy-decision basis is out of the DPF's scope", mkSub("a", locs("us-east"), bases("adequacy-us")),
			"us-east", "US", "PartiallyAdequate", false, "adequacy-us", ReasonBasisNotValid,
			[]string{"adequacy-us is AdequacyDecision, which cannot cover a transfer to US"}},
		{"JP on APPI adequacy", mkSub("a", locs("tokyo"), bases("appi-jp")), "tokyo", "JP", "PartiallyAdequate", true, "appi-jp", "",
			[]string{"transfer to JP via tokyo rests on appi-jp (AdequacyDecision, GDPR Art. 45, Decision (EU) 2019/419: only businesses under the APPI bound by the Supplementary Rules)"}},
		{"JP without basis", mkSub("a", locs("tokyo")), "tokyo", "JP", "PartiallyAdequate", false, "", ReasonUncoveredTransfer,
			[]string{"APPI"}},
		{"third country on DPF", mkSub("a", locs("singapore"), bases("dpf-sg")), "singapore", "SG", "ThirdCountry", false, "dpf-sg",
			ReasonBasisNotValid, []string{"a third country (no adequacy decision)"}},
		{"third country on SCC", mkSub("a", locs("singapore"), bases("scc-sg", "dpf-sg")), "singapore", "SG", "ThirdCountry", true, "scc-sg", "", nil},
		{"basis for another country", mkSub("a", locs("singapore"), bases("scc-us")), "singapore", "SG", "ThirdCountry", false, "",
			ReasonUncoveredTransfer, nil},
		{"derogation covers but is least preferred", mkSub("a", locs("us-east"), bases("consent-us", "scc-us")),
			"us-east", "US", "PartiallyAdequate", true, "scc-us", "", nil},
		{"derogation alone covers", mkSub("a", locs("us-east"), bases("consent-us")), "us-east", "US", "PartiallyAdequate", true,
			"consent-us", "", []string{"GDPR Art. 49(1)(a)"}},
		{"several valid: by name", mkSub("a", locs("us-east"), bases("scc-us", "bcr-us")), "us-east", "US", "PartiallyAdequate", true,
			"bcr-us", "", nil},
		{"valid wins over dead", mkSub("a", locs("us-east"), bases("ps-us", "scc-us")), "us-east", "US", "PartiallyAdequate", true,
			"scc-us", "", nil},
		{"best candidate is the fixable one", mkSub("a", locs("us-east"), bases("ps-us", "scc-us-later")), "us-east", "US",
			"PartiallyAdequate", false, "scc-us-later", ReasonBasisNotValid,
			[]string{"none of the 2 TransferBases of a listing US is: scc-us-later is StandardContractualClauses, not effective until 2027-02-01 (effectiveFrom); ps-us is PrivacyShield, invalid since 2020-07-16 (CJEU C-311/18)"}},
		{"remote access from the US is a transfer", mkSub("a", locs("aws-eu-north-1"), remote("US")), "remote-access:US", "US",
			"PartiallyAdequate", false, "", ReasonUncoveredTransfer,
			[]string{"remote access from US (remote-access:US), a transfer (EDPB Guidelines 05/2021), is not covered"}},
		{"remote access on SCC", mkSub("a", locs("aws-eu-north-1"), remote("US"), bases("scc-us")), "remote-access:US", "US",
			"PartiallyAdequate", true, "scc-us", "", nil},
		{"remote access from the EEA", mkSub("a", locs("aws-eu-north-1"), remote("NO")), "remote-access:NO", "NO", "EEA", true, "", "", nil},
		{"missing location", mkSub("a", locs("nowhere")), "nowhere", "", "", false, "", ReasonUnknownLocation,
			[]string{"ProcessingLocation nowhere named by a does not exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := world()
			in.Subprocessors = []*v1alpha1.Subprocessor{tt.sub}
			s := Compile(nil, in, today)
			r, ok := s.Subprocessor(tt.sub.Name)
			if !ok {
				t.Fatal("subprocessor missing")
			}
			tr, ok := transferByRoute(r, tt.route)
			if !ok {
				t.Fatalf("route %s missing in %+v", tt.route, r.Transfers)
			}
			if string(tr.Country) != tt.country || tr.Classification != tt.class || tr.Covered != tt.covered ||
				tr.Basis != tt.basis || tr.Reason != string(tt.reason) {
				t.Errorf("transfer = %+v\nwant country=%s class=%s covered=%v basis=%s reason=%s",
					tr, tt.country, tt.class, tt.covered, tt.basis, tt.reason)
			}
			wantContains(t, "message", tr.Message, tt.contains...)
			wantState := v1alpha1.SubprocessorApproved
			if !tt.covered {
				wantState = v1alpha1.SubprocessorNonCompliant
			}
			if r.State != wantState {
				t.Errorf("state = %s, want %s (%s)", r.State, wantState, r.Message)
			}
		})
	}
}

func TestSubprocessorOnwardRoutes(t *testing.T) {
	in := world()
	in.Subprocessors = []*v1alpha1.Subprocessor{
		mkSub("class-manager", locs("gcp-europe-west3"), onward("mailjet", "zendesk")),
		mkSub("mailjet", locs("aws-eu-north-1", "gcp-us-central1"), bases("scc-us"), onward("rackspace")),
		mkSub("rackspace", locs("us-east")), // no basis of its own: the parent's bases do not count
		mkSub("zendesk", locs("us-east"), bases("bcr-us"), onward("ghost")),
		mkSub("loop-a", locs("aws-eu-north-1"), onward("loop-b")),
		mkSub("loop-b", locs("gcp-europe-west3"), onward("loop-a")),
	}
	s := Compile(nil, in, today)
	r, _ := s.Subprocessor("class-manager")
	var routes []string
	for _, tr := range r.Transfers {
		routes = append(routes, tr.Route)
	}
	want := []string{"gcp-europe-west3", "mailjet/aws-eu-north-1", "mailjet/gcp-us-central1", "mailjet/rackspace/us-east",
		"zendesk/us-east", "zendesk/ghost"}
	if !reflect.DeepEqual(routes, want) {
		t.Fatalf("routes = %v\nwant %v", routes, want)
	}
	check := func(route string, covered bool, basis string, reason Reason) {
		t.Helper()
		tr, _ := transferByRoute(r, route)
		if tr.Covered != covered || tr.Basis != basis || tr.Reason != string(reason) {
			t.Errorf("%s = %+v, want covered=%v basis=%q reason=%q", route, tr, covered, basis, reason)
		}
	}
	check("mailjet/gcp-us-central1", true, "scc-us", "")
	check("mailjet/rackspace/us-east", false, "", ReasonUncoveredTransfer)
	check("zendesk/us-east", true, "bcr-us", "")
	check("zendesk/ghost", false, "", ReasonUnknownSubprocessor)
	if r.State != v1alpha1.SubprocessorNonCompliant {
		t.Errorf("state = %s", r.State)
	}
	if !reflect.DeepEqual(r.MissingSubprocessors, []string{"zendesk/ghost"}) {
		t.Errorf("MissingSubprocessors = %v", r.MissingSubprocessors)
	}
	wantContains(t, "message", r.Message, "onward Subprocessor ghost named by onward Subprocessor zendesk does not exist",
		"transfer to US via mailjet/rackspace/us-east is not covered")

	la, _ := s.Subprocessor("loop-a")
	if !reflect.DeepEqual(la.Cycles, [][]string{{"loop-a", "loop-b", "loop-a"}}) {
		t.Errorf("loop-a cycles = %v", la.Cycles)
	}
	if len(la.Transfers) != 2 || la.State != v1alpha1.SubprocessorApproved {
		t.Errorf("loop-a = %s with %d routes, want Approved with 2", la.State, len(la.Transfers))
	}
}

// A diamond-shaped onward graph many levels deep has exponentially many paths;
// the walk is bounded and fails closed.
func TestSubprocessorWalkIsBounded(t *testing.T) {
	in := world()
	const levels = 20
	for i := 0; i < levels; i++ {
		next := []string{}
		if i+1 < levels {
			next = []string{name2("l", i+1, 0), name2("l", i+1, 1)}
		}
		for j := 0; j < 2; j++ {
			in.Subprocessors = append(in.Subprocessors, mkSub(name2("l", i, j), locs("aws-eu-north-1"), onward(next...)))
		}
	}
	start := time.Now()
	s := Compile(nil, in, today)
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("Compile took %v", d)
	}
	r, _ := s.Subprocessor(name2("l", 0, 0))
	if r.State != v1alpha1.SubprocessorNonCompliant || len(r.Transfers) > maxRoutesPerSubprocessor {
		t.Errorf("state %s with %d routes", r.State, len(r.Transfers))
	}
}

func name2(p string, i, j int) string {
	return p + "-" + string(rune('0'+i/10)) + string(rune('0'+i%10)) + "-" + string(rune('0'+j))
}

func TestSubprocessorStates(t *testing.T) {
	tests := []struct {
		name     string
		sub      *v1alpha1.Subprocessor
		state    v1alpha1.SubprocessorState
		reason   Reason
		endsOn   string
		contains string
	}{
		{"approved", mkSub("a", locs("aws-eu-north-1")), v1alpha1.SubprocessorApproved, "", "", "approved"},
		{"pending: notified 10 days ago, 30-day period", mkSub("a", locs("aws-eu-north-1"), notified("2026-11-12", 30)),
			v1alpha1.SubprocessorPendingObjectionPeriod, ReasonObjectionPeriodPending, "2026-12-12", "runs until 2026-12-12"},
		{"period over", mkSub("a", locs("aws-eu-north-1"), notified("2026-10-23", 30)),
			v1alpha1.SubprocessorApproved, "", "2026-11-22", ""},
		{"default period is 30 days", &v1alpha1.Subprocessor{ObjectMeta: mkSub("a").ObjectMeta, Spec: v1alpha1.SubprocessorSpec{
			ProcessingLocations: objNames([]string{"aws-eu-north-1"}), Notice: &v1alpha1.Notice{NotifiedOn: "2026-11-01"}}},
			v1alpha1.SubprocessorPendingObjectionPeriod, ReasonObjectionPeriodPending, "2026-12-01", ""},
		{"unreadable notice fails closed", mkSub("a", locs("aws-eu-north-1"), notified("last week", 30)),
			v1alpha1.SubprocessorPendingObjectionPeriod, ReasonObjectionPeriodPending, "", "spec.notice.notifiedOn"},
		{"objected wins", mkSub("a", locs("nowhere"), notified("2026-11-12", 30), objected("2026-11-15", "US law")),
			v1alpha1.SubprocessorObjected, ReasonSubprocessorObjected, "2026-12-12", "objected to a on 2026-11-15 (US law)"},
		{"non-compliant wins over pending", mkSub("a", locs("us-east"), notified("2026-11-12", 30)),
			v1alpha1.SubprocessorNonCompliant, ReasonUncoveredTransfer, "2026-12-12", "not covered"},
		{"missing basis", mkSub("a", locs("aws-eu-north-1"), bases("gone")),
			v1alpha1.SubprocessorNonCompliant, ReasonUnknownTransferBasis, "", "TransferBasis gone does not exist"},
		{"missing location", mkSub("a", locs("nowhere")),
			v1alpha1.SubprocessorNonCompliant, ReasonUnknownLocation, "", "ProcessingLocation nowhere does not exist"},
		{"missing onward", mkSub("a", locs("aws-eu-north-1"), onward("ghost")),
			v1alpha1.SubprocessorNonCompliant, ReasonUnknownSubprocessor, "", "onward Subprocessor ghost does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := world()
			in.Subprocessors = []*v1alpha1.Subprocessor{tt.sub}
			r, _ := Compile(nil, in, today).Subprocessor("a")
			if r.State != tt.state || r.Reason != tt.reason {
				t.Errorf("state = %s/%s, want %s/%s (%s)", r.State, r.Reason, tt.state, tt.reason, r.Message)
			}
			var ends time.Time
			if tt.endsOn != "" {
				ends = utc(tt.endsOn)
			}
			if !r.ObjectionPeriodEndsOn.Equal(ends) {
				t.Errorf("ObjectionPeriodEndsOn = %v, want %v", r.ObjectionPeriodEndsOn, ends)
			}
			wantContains(t, "message", r.Message, tt.contains)
		})
	}
}

func TestSnapshotTransitions(t *testing.T) {
	in := world()
	in.Subprocessors = []*v1alpha1.Subprocessor{
		mkSub("expiring", locs("us-east"), bases("scc-us-expiring")),
		mkSub("pending", locs("aws-eu-north-1"), notified("2026-11-12", 30)),
		mkSub("uk", locs("aws-eu-west-2")),
		mkSub("later", locs("us-east"), bases("scc-us-later")),
	}
	s := Compile(nil, in, today)
	sub := func(n string) time.Time { r, _ := s.Subprocessor(n); return r.NextTransition }
	if got := sub("expiring"); !got.Equal(utc("2027-03-05")) {
		t.Errorf("expiring.NextTransition = %v", got)
	}
	if got := sub("pending"); !got.Equal(utc("2026-12-12")) {
		t.Errorf("pending.NextTransition = %v", got)
	}
	if got := sub("uk"); !got.Equal(utc("2031-12-27")) {
		t.Errorf("uk.NextTransition = %v", got)
	}
	if got := sub("later"); !got.Equal(utc("2027-02-01")) {
		t.Errorf("later.NextTransition = %v", got)
	}
	if got := s.NextTransition(); !got.Equal(utc("2026-12-12")) {
		t.Errorf("NextTransition = %v, want the objection period's end", got)
	}
	// Recompiling at each transition walks the timeline; each step changes something.
	s2 := Compile(nil, in, s.NextTransition())
	if r, _ := s2.Subprocessor("pending"); r.State != v1alpha1.SubprocessorApproved {
		t.Errorf("pending at its period's end = %s", r.State)
	}
	if got := s2.NextTransition(); !got.Equal(utc("2027-02-01")) {
		t.Errorf("then NextTransition = %v, want 2027-02-01", got)
	}
	s3 := Compile(nil, in, utc("2027-02-01"))
	if r, _ := s3.Subprocessor("later"); r.State != v1alpha1.SubprocessorApproved {
		t.Errorf("later on 2027-02-01 = %s", r.State)
	}
	if l, _ := s.Location("aws-eu-west-2"); !l.ValidUntil.Equal(utc("2031-12-27")) {
		t.Errorf("GB location ValidUntil = %v", l.ValidUntil)
	}
	if b, _ := s.Basis("scc-us-expiring"); !b.ValidUntil.Equal(utc("2027-03-05")) {
		t.Errorf("basis ValidUntil = %v", b.ValidUntil)
	}
	empty := Compile(nil, Inputs{Locations: []*v1alpha1.ProcessingLocation{mkLoc("se", "SE", "")}}, today)
	if !empty.NextTransition().IsZero() {
		t.Errorf("nothing changes, NextTransition = %v", empty.NextTransition())
	}
}

func TestSnapshotAccessors(t *testing.T) {
	in := world()
	in.Policy = &v1alpha1.ResidencyPolicySpec{DefaultEnforcement: "nope"}
	in.Subprocessors = []*v1alpha1.Subprocessor{mkSub("a", locs("aws-eu-north-1"))}
	s := Compile(nil, in, today)
	if !s.At().Equal(today) {
		t.Error("At")
	}
	if len(s.PolicyErrors()) != 1 || s.Policy().DefaultEnforcement != v1alpha1.EnforcementAudit {
		t.Errorf("policy errors %v", s.PolicyErrors())
	}
	if n, ok := s.LocationForRegion("eu-north-1"); !ok || n != "aws-eu-north-1" {
		t.Errorf("LocationForRegion = %s %v", n, ok)
	}
	if _, ok := s.LocationForRegion("mars-1"); ok {
		t.Error("unknown region found")
	}
	if l, ok := s.Location("athens"); !ok || l.Classification != v1alpha1.ClassificationEEA {
		t.Errorf("athens = %+v", l)
	}
	if _, ok := s.Location("nowhere"); ok {
		t.Error("unknown location found")
	}
	if _, ok := s.Basis("nowhere"); ok {
		t.Error("unknown basis found")
	}
	if _, ok := s.Subprocessor("nowhere"); ok {
		t.Error("unknown subprocessor found")
	}
	if c := s.Classify("US"); c.Classification != v1alpha1.ClassificationPartiallyAdequate {
		t.Errorf("Classify(US) = %s", c.Classification)
	}
	if s.Matcher() == nil || s.Catalog() != DefaultCatalog() {
		t.Error("Matcher/Catalog")
	}
}

// Compile neither modifies its inputs nor keeps them: changing them afterwards
// changes nothing.
func TestCompileCopiesInputs(t *testing.T) {
	in := world()
	in.Subprocessors = []*v1alpha1.Subprocessor{
		mkSub("a", locs("us-east"), bases("scc-us"), remote("US"), approved("user.contact"), hosts("api.a.example"),
			notified("2026-11-12", 30)),
	}
	before := []any{}
	for _, o := range in.Locations {
		before = append(before, o.DeepCopy())
	}
	for _, o := range in.Bases {
		before = append(before, o.DeepCopy())
	}
	for _, o := range in.Subprocessors {
		before = append(before, o.DeepCopy())
	}
	s := Compile(nil, in, today)
	after := []any{}
	for _, o := range in.Locations {
		after = append(after, o)
	}
	for _, o := range in.Bases {
		after = append(after, o)
	}
	for _, o := range in.Subprocessors {
		after = append(after, o)
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatal("Compile modified its inputs")
	}
	want, _ := s.Subprocessor("a")
	want.Transfers = append([]v1alpha1.Transfer(nil), want.Transfers...)
	sp := in.Subprocessors[0]
	sp.Spec.ProcessingLocations[0] = "aws-eu-north-1"
	sp.Spec.RemoteAccessCountries[0] = "CN"
	sp.Spec.TransferBases[0] = "gone"
	sp.Spec.DataCategories[0] = "user"
	sp.Spec.Egress.Hosts[0] = "evil.example"
	*sp.Spec.Notice.ObjectionPeriodDays = 0
	in.Bases[0].Spec.Countries[0] = "SG"
	got, _ := s.Subprocessor("a")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("snapshot changed with its inputs:\n got %+v\nwant %+v", got, want)
	}
	r := s.Evaluate(&Workload{Ref: ResourceRef{Name: "w"},
		Annotations: map[string]string{v1alpha1.AnnotationEgress: "api.a.example", v1alpha1.AnnotationDataCategories: "user.contact.email"}})
	if !reflect.DeepEqual(r.Subprocessors, []string{"a"}) {
		t.Errorf("attribution changed with the inputs: %v", r.Subprocessors)
	}
	if len(findingsWith(r, ReasonCategoryNotApproved)) != 0 {
		t.Error("approved categories changed with the inputs")
	}
}

func TestCompileIgnoresNilAndNameless(t *testing.T) {
	in := Inputs{
		Locations:     []*v1alpha1.ProcessingLocation{nil, mkLoc("", "SE", "")},
		Bases:         []*v1alpha1.TransferBasis{nil},
		Subprocessors: []*v1alpha1.Subprocessor{nil, mkSub("")},
	}
	s := Compile(nil, in, today)
	if len(s.locations)+len(s.bases)+len(s.subs) != 0 {
		t.Error("nil or nameless objects compiled")
	}
	if !strings.Contains(s.Evaluate(nil).Findings[0].Message, "no personal data flows") {
		t.Error("Evaluate(nil)")
	}
}

// An AnonymousOnly subprocessor receives no personal data: its third-country
// routes need no basis and it is Approved (seed 001: Sentry in the US).
func TestAnonymousOnlySubprocessorNeedsNoBasis(t *testing.T) {
	s := Compile(DefaultCatalog(), Inputs{
		Locations:     []*v1alpha1.ProcessingLocation{mkLoc("sentry-us", "US", "")},
		Subprocessors: []*v1alpha1.Subprocessor{mkSub("sentry", locs("sentry-us"), remote("US"), anonymousOnly())},
	}, utc("2026-11-22"))
	r, ok := s.Subprocessor("sentry")
	if !ok || r.State != v1alpha1.SubprocessorApproved {
		t.Fatalf("state = %s (%s), want Approved", r.State, r.Message)
	}
	for _, tr := range r.Transfers {
		if !tr.Covered || !strings.Contains(tr.Message, "anonymous data only") {
			t.Errorf("route %s: covered=%v %q", tr.Route, tr.Covered, tr.Message)
		}
	}
	// Declaring personal data to it is still a violation.
	res := evalDeployment(t, s, deployment("app", flowAnn("sentry", "user.contact.email")))
	mustFinding(t, res, ReasonAnonymousOnly)
}
