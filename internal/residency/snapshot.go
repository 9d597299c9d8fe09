package residency

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// Inputs are the residency objects a Snapshot is compiled from.
type Inputs struct {
	// Policy is the default ResidencyPolicy's spec; nil: the defaults.
	Policy        *v1alpha1.ResidencyPolicySpec
	Locations     []*v1alpha1.ProcessingLocation
	Bases         []*v1alpha1.TransferBasis
	Subprocessors []*v1alpha1.Subprocessor
	Exceptions    []*v1alpha1.ResidencyException
}

// Bounds on the onward-subprocessor walk: the graph comes from users, and a
// diamond-shaped one has exponentially many paths.
const (
	maxRoutesPerSubprocessor = 4096
	maxWalkSteps             = 16384
)

// Snapshot is everything about the residency objects that does not depend on a
// workload, at one instant: the classification of each location, the state of
// each basis, the standing and routes of each subprocessor, and the findings
// each route yields. It is immutable and safe for concurrent use; it holds until
// NextTransition().
type Snapshot struct {
	at         time.Time
	cat        *Catalog
	policy     Policy
	policyErrs []error

	locations map[string]*compiledLocation
	regions   map[string]string
	bases     map[string]*compiledBasis
	subs      map[string]*compiledSub
	matcher   *EgressMatcher
	// alwaysAllow matches the policy's egressPolicy.alwaysAllow (EgressPlan).
	alwaysAllow *EgressMatcher
	next        time.Time

	// countries caches classifications of countries named by remote access.
	countries map[string]LocationResult
	// regionFindings holds the placement violation of each region whose
	// location's classification the policy does not allow.
	regionFindings map[string]Finding
	// parsed caches what the annotation parsers made of values seen before.
	parsed *annotationCache
	// exceptions are the ResidencyExceptions, the first to expire first.
	exceptions []*compiledException
}

type compiledLocation struct {
	name, country string
	result        LocationResult
}

type compiledBasis struct {
	name       string
	mechanism  v1alpha1.Mechanism
	countries  []string // canonical
	derogation bool
	result     BasisResult
	// article is the legal ground ("GDPR Art. 46(2)(c)"); validity how long a
	// Valid basis holds (", valid until 2027-03-05 (expiresOn)", or empty).
	article, validity string
	// since is the day its state began, until the day it next changes (or empty).
	since, until v1alpha1.Date
}

// cite is how a route it covers names it: "sendgrid-bcr
// (BindingCorporateRules, GDPR Art. 46(2)(b), Art. 47), valid until
// 2027-03-05 (expiresOn)". ground, when set, replaces the article: an
// AdequacyDecision basis covering a partially adequate country names the
// decision of that country.
func (b *compiledBasis) cite(ground string) string {
	if ground == "" {
		ground = b.article
	}
	return b.name + " (" + string(b.mechanism) + ", " + ground + ")" + b.validity
}

func (b *compiledBasis) lists(country string) bool {
	for _, c := range b.countries {
		if c == country {
			return true
		}
	}
	return false
}

// subFacts is what the engine keeps of a Subprocessor spec (copied).
type subFacts struct {
	name          string
	anonymousOnly bool
	approved      []string
	locations     []string
	remote        []string
	bases         []string
	onward        []string
	notice        *v1alpha1.Notice
	objection     *v1alpha1.Objection
	// hosts and cidrs are its egress claims, what egress policies allow.
	hosts, cidrs []string
}

// compiledRoute is one transfer route of a subprocessor with the findings it
// yields for every flow to that subprocessor, built once.
type compiledRoute struct {
	transfer v1alpha1.Transfer
	// known is false for rows of a missing location or onward subprocessor.
	known bool
	eea   bool
	// findings are the route's workload-independent findings.
	findings []Finding
	// subject names the transfer in messages ("transfer to US via sendgrid-us").
	subject string
	// bases, validUntil and anonymous are the route's RouteResult.
	bases      []RouteBasis
	validUntil time.Time
	anonymous  bool
}

type compiledSub struct {
	facts  subFacts
	result SubprocessorResult
	routes []compiledRoute
	// approvedText lists the approved categories for messages.
	approvedText string
	// state findings: objected / objection period pending, when they apply.
	stateFindings []Finding
	// compliant, nonPersonal and anonymous are the single findings of a flow
	// with no problem, with only system.* data, and with no personal data to an
	// AnonymousOnly subprocessor.
	compliant, nonPersonal, anonymous Finding
}

// Compile precomputes everything that does not depend on a workload: the state
// of every location, basis and subprocessor, and the routes of each
// subprocessor. It is valid until NextTransition(). Inputs are not modified and
// not retained: what the snapshot keeps is copied. cat nil means DefaultCatalog().
func Compile(cat *Catalog, in Inputs, at time.Time) *Snapshot {
	if cat == nil {
		cat = DefaultCatalog()
	}
	s := &Snapshot{
		at:             at,
		cat:            cat,
		locations:      make(map[string]*compiledLocation, len(in.Locations)),
		regions:        make(map[string]string),
		bases:          make(map[string]*compiledBasis, len(in.Bases)),
		subs:           make(map[string]*compiledSub, len(in.Subprocessors)),
		countries:      make(map[string]LocationResult),
		regionFindings: make(map[string]Finding),
		parsed:         newAnnotationCache(),
	}
	s.policy, s.policyErrs = PolicyFrom(in.Policy)
	pol := &s.policy

	for _, l := range in.Locations {
		if l == nil || l.Name == "" {
			continue
		}
		country := CanonicalCountry(string(l.Spec.Country))
		cl := &compiledLocation{name: l.Name, country: country, result: Classify(cat, pol, country, at)}
		s.locations[l.Name] = cl
		s.consider(cl.result.ValidUntil)
		if r := l.Spec.ProviderRegion; r != "" {
			if cur, ok := s.regions[r]; !ok || l.Name < cur {
				s.regions[r] = l.Name
			}
		}
	}
	for _, b := range in.Bases {
		if b == nil || b.Name == "" {
			continue
		}
		bf := readBasis(cat, pol, b.Name, &b.Spec)
		cb := &compiledBasis{
			name:       b.Name,
			mechanism:  b.Spec.Mechanism,
			derogation: b.Spec.Mechanism == v1alpha1.MechanismDerogation,
		}
		cb.result, cb.validity = bf.result(at)
		cb.article = bf.article
		cb.since, cb.until = FormatDate(cb.result.Since), FormatDate(cb.result.ValidUntil)
		for _, c := range b.Spec.Countries {
			cb.countries = append(cb.countries, CanonicalCountry(string(c)))
		}
		s.bases[b.Name] = cb
		s.consider(cb.result.ValidUntil)
	}
	facts := make(map[string]*subFacts, len(in.Subprocessors))
	var live []*v1alpha1.Subprocessor
	for _, sp := range in.Subprocessors {
		if sp == nil || sp.Name == "" {
			continue
		}
		live = append(live, sp)
		f := &subFacts{
			name:          sp.Name,
			anonymousOnly: sp.Spec.DataAccess == v1alpha1.DataAccessAnonymousOnly,
			locations:     namesOf(sp.Spec.ProcessingLocations),
			bases:         namesOf(sp.Spec.TransferBases),
			onward:        namesOf(sp.Spec.Subprocessors),
		}
		if eg := sp.Spec.Egress; eg != nil {
			f.hosts, f.cidrs = slices.Clone(eg.Hosts), slices.Clone(eg.CIDRs)
		}
		for _, c := range sp.Spec.DataCategories {
			f.approved = append(f.approved, string(c))
		}
		for _, c := range sp.Spec.RemoteAccessCountries {
			f.remote = append(f.remote, CanonicalCountry(string(c)))
		}
		if sp.Spec.Notice != nil {
			f.notice = sp.Spec.Notice.DeepCopy()
		}
		if sp.Spec.Objection != nil {
			f.objection = sp.Spec.Objection.DeepCopy()
		}
		facts[sp.Name] = f
	}
	names := make([]string, 0, len(facts))
	for n := range facts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		cs := s.compileSub(facts, facts[n])
		s.subs[n] = cs
		s.consider(cs.result.NextTransition)
	}
	s.matcher = NewEgressMatcher(live)
	s.alwaysAllow = claimsMatcher("alwaysAllow", s.policy.Egress.AlwaysAllowHosts, s.policy.Egress.AlwaysAllowCIDRs)
	s.compileExceptions(in.Exceptions)

	for region, name := range s.regions {
		l := s.locations[name]
		if s.policy.Allows(l.result.Classification) {
			continue
		}
		s.regionFindings[region] = Finding{
			Route:   "region:" + region,
			Country: l.country,
			Verdict: Violation,
			Reason:  ReasonClassificationNotAllowed,
			Message: fmt.Sprintf("pods are pinned to region %s, ProcessingLocation %s in %s (%s, %s): the ResidencyPolicy does not allow %s destinations",
				region, name, l.country, l.result.Classification, l.result.LegalReference, l.result.Classification),
		}
	}
	return s
}

func namesOf(ns []v1alpha1.ObjectName) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = string(n)
	}
	return out
}

// consider lowers the snapshot's next transition to t when t is set and earlier.
func (s *Snapshot) consider(t time.Time) {
	if !t.IsZero() && t.After(s.at) && (s.next.IsZero() || t.Before(s.next)) {
		s.next = t
	}
}

// earliest is the earlier of two instants, zero meaning "never".
func earliest(a, b time.Time) time.Time {
	if b.IsZero() {
		return a
	}
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// classifyCountry classifies a country named outside any ProcessingLocation
// (remote access), once per snapshot.
func (s *Snapshot) classifyCountry(country string) LocationResult {
	if r, ok := s.countries[country]; ok {
		return r
	}
	r := Classify(s.cat, &s.policy, country, s.at)
	s.countries[country] = r
	return r
}

// walker collects the routes of one subprocessor, onward ones included.
type walker struct {
	s         *Snapshot
	facts     map[string]*subFacts
	top       string
	rows      []compiledRoute
	next      time.Time
	missLoc   []string
	missBasis []string
	missSub   []string
	cycles    [][]string
	steps     int
	truncated bool
}

func (s *Snapshot) compileSub(facts map[string]*subFacts, f *subFacts) *compiledSub {
	w := &walker{s: s, facts: facts, top: f.name}
	w.walk(f, "", []string{f.name})
	cs := &compiledSub{facts: *f, routes: w.rows}
	cs.approvedText = strings.Join(f.approved, ", ")
	r := &cs.result
	r.MissingLocations, r.MissingBases, r.MissingSubprocessors, r.Cycles = w.missLoc, w.missBasis, w.missSub, w.cycles
	r.NextTransition = w.next
	for _, row := range w.rows {
		r.Transfers = append(r.Transfers, row.transfer)
		r.Routes = append(r.Routes, RouteResult{ValidUntil: row.validUntil, Bases: row.bases, AnonymousOnly: row.anonymous})
	}

	// The objection period.
	var pending bool
	var pendingMsg string
	if n := f.notice; n != nil {
		days := int32(30)
		if n.ObjectionPeriodDays != nil {
			days = max(*n.ObjectionPeriodDays, 0)
		}
		notified, err := ParseDate(n.NotifiedOn)
		if err != nil {
			// Fail closed: without a notice date the period cannot be known to be over.
			pending = true
			pendingMsg = fmt.Sprintf("%s: spec.notice.notifiedOn: %v; the objection period cannot be computed, so it has not ended",
				f.name, err)
		} else {
			ends := notified.AddDate(0, 0, int(days))
			r.ObjectionPeriodEndsOn = ends
			if s.at.Before(ends) {
				pending = true
				pendingMsg = fmt.Sprintf("the objection period for %s runs until %s (notified %s, %d days): no processing before it ends",
					f.name, day(ends), day(notified), days)
				r.NextTransition = earliest(r.NextTransition, ends)
			}
		}
	}

	var problems []string
	problemReason := ReasonNone
	problem := func(reason Reason, msg string) {
		if problemReason == ReasonNone {
			problemReason = reason
		}
		problems = append(problems, msg)
	}
	for _, l := range w.missLoc {
		problem(ReasonUnknownLocation, missingMessage("ProcessingLocation", l))
	}
	for _, b := range w.missBasis {
		problem(ReasonUnknownTransferBasis, missingMessage("TransferBasis", b))
	}
	for _, o := range w.missSub {
		problem(ReasonUnknownSubprocessor, missingMessage("onward Subprocessor", o))
	}
	for _, row := range w.rows {
		if !row.transfer.Covered && row.known {
			problem(Reason(row.transfer.Reason), row.transfer.Message)
		}
	}
	if w.truncated {
		// Fail closed: routes that were not walked cannot be known to be covered.
		problem(ReasonSubprocessorCycle, fmt.Sprintf("onward subprocessors have more than %d routes; the rest were not evaluated",
			maxRoutesPerSubprocessor))
	}

	switch {
	case f.objection != nil:
		r.State = v1alpha1.SubprocessorObjected
		r.Reason = ReasonSubprocessorObjected
		r.Message = objectionMessage(f)
		cs.stateFindings = append(cs.stateFindings, Finding{Subprocessor: f.name, Verdict: Violation,
			Reason: ReasonSubprocessorObjected, Message: r.Message + ": it may not be used"})
	case len(problems) > 0:
		r.State = v1alpha1.SubprocessorNonCompliant
		r.Reason = problemReason
		r.Message = strings.Join(problems, "; ")
	case pending:
		r.State = v1alpha1.SubprocessorPendingObjectionPeriod
		r.Reason = ReasonObjectionPeriodPending
		r.Message = pendingMsg
	default:
		r.State = v1alpha1.SubprocessorApproved
		r.Message = fmt.Sprintf("approved: all %d routes covered", len(w.rows))
		if len(w.cycles) > 0 {
			r.Message += fmt.Sprintf("; onward subprocessors loop (%s)", strings.Join(w.cycles[0], " -> "))
		}
	}
	if pending {
		cs.stateFindings = append(cs.stateFindings, Finding{Subprocessor: f.name, Verdict: Violation,
			Reason: ReasonObjectionPeriodPending, Message: pendingMsg})
	}

	// The findings of each route, for every flow.
	for i := range cs.routes {
		s.routeFindings(f.name, &cs.routes[i])
	}
	var parts []string
	for _, row := range cs.routes {
		parts = append(parts, row.transfer.Message)
	}
	msg := "flow to " + f.name + " is compliant"
	if len(parts) > 0 {
		msg += ": " + strings.Join(parts, "; ")
	}
	cs.compliant = Finding{Subprocessor: f.name, Verdict: Compliant, Message: msg}
	cs.nonPersonal = Finding{Subprocessor: f.name, Verdict: Compliant,
		Message: "flow to " + f.name + " declares only non-personal data (system.*): transfer rules do not apply"}
	cs.anonymous = Finding{Subprocessor: f.name, Verdict: Compliant,
		Message: "flow to " + f.name + " (anonymous data only) declares no personal data: transfer rules do not apply"}
	return cs
}

// missingMessage says that a reference does not exist; path is the name, or
// "onward/.../name" when an onward subprocessor names it.
func missingMessage(kind, path string) string {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return kind + " " + path + " does not exist"
	}
	return kind + " " + path[i+1:] + " named by onward Subprocessor " + path[:i] + " does not exist"
}

func objectionMessage(f *subFacts) string {
	msg := "the controller objected to " + f.name
	if f.objection.RaisedOn != "" {
		msg += " on " + string(f.objection.RaisedOn)
	}
	if f.objection.Reason != "" {
		msg += " (" + f.objection.Reason + ")"
	}
	return msg
}

// routeFindings builds the workload-independent findings of a route.
func (s *Snapshot) routeFindings(top string, row *compiledRoute) {
	t := row.transfer
	base := Finding{Subprocessor: top, Route: t.Route, Country: string(t.Country), Basis: t.Basis, Bases: row.bases}
	if !t.Covered {
		f := base
		f.Verdict, f.Reason, f.Message = Violation, Reason(t.Reason), t.Message
		row.findings = append(row.findings, f)
	}
	if row.known && !s.policy.Allows(t.Classification) {
		f := base
		f.Verdict, f.Reason = Violation, ReasonClassificationNotAllowed
		f.Message = fmt.Sprintf("%s: %s is %s and the ResidencyPolicy allows only %s", row.subject, t.Country,
			t.Classification, classificationsText(s.policy.AllowedClassifications))
		row.findings = append(row.findings, f)
	}
	if t.Covered && t.Basis != "" {
		if b := s.bases[t.Basis]; b != nil && b.derogation {
			f := base
			f.Verdict, f.Reason = Warning, ReasonDerogationInUse
			f.Message = t.Message + ": derogations are a last resort for occasional, non-repetitive transfers (EDPB Guidelines 2/2018)"
			row.findings = append(row.findings, f)
		}
	}
}

func classificationsText(cs []v1alpha1.Classification) string {
	if len(cs) == 0 {
		return "nothing"
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = string(c)
	}
	return strings.Join(parts, ", ")
}

// walk adds the routes of f, prefixed by prefix ("" or "mailjet/"), to the
// walker. stack holds the names on the path from the top subprocessor.
func (w *walker) walk(f *subFacts, prefix string, stack []string) {
	w.steps++
	if w.steps > maxWalkSteps {
		w.truncated = true
		return
	}
	s := w.s
	for _, b := range f.bases {
		if _, ok := s.bases[b]; !ok {
			w.missBasis = append(w.missBasis, prefix+b)
		}
	}
	for _, ln := range f.locations {
		if len(w.rows) >= maxRoutesPerSubprocessor {
			w.truncated = true
			return
		}
		route := prefix + ln
		l, ok := s.locations[ln]
		if !ok {
			w.missLoc = append(w.missLoc, route)
			w.rows = append(w.rows, compiledRoute{transfer: v1alpha1.Transfer{
				Route: route, Covered: false, Reason: string(ReasonUnknownLocation),
				Message: fmt.Sprintf("ProcessingLocation %s named by %s does not exist: where the data goes is unknown", ln, f.name),
			}})
			continue
		}
		w.rows = append(w.rows, w.cover(f, route, "transfer to "+l.country+" via "+route, l.country, l.result, false))
	}
	for _, c := range f.remote {
		if len(w.rows) >= maxRoutesPerSubprocessor {
			w.truncated = true
			return
		}
		route := prefix + "remote-access:" + c
		w.rows = append(w.rows, w.cover(f, route, "remote access from "+c+" ("+route+")", c, s.classifyCountry(c), true))
	}
	for _, o := range f.onward {
		if onStack(stack, o) {
			cycle := append(append([]string(nil), stack...), o)
			w.cycles = append(w.cycles, cycle)
			continue
		}
		of, ok := w.facts[o]
		if !ok {
			route := prefix + o
			w.missSub = append(w.missSub, route)
			w.rows = append(w.rows, compiledRoute{transfer: v1alpha1.Transfer{
				Route: route, Covered: false, Reason: string(ReasonUnknownSubprocessor),
				Message: fmt.Sprintf("onward Subprocessor %s named by %s does not exist: where it takes the data is unknown", o, f.name),
			}})
			continue
		}
		w.walk(of, prefix+o+"/", append(stack, o))
	}
}

func onStack(stack []string, name string) bool {
	for _, n := range stack {
		if n == name {
			return true
		}
	}
	return false
}

// cover decides whether owner's bases cover a route to country of the given
// classification, and builds its row. subject names the transfer in messages.
//
// A route several bases cover rests on the one that covers it longest (a
// derogation only when nothing else does: Art. 49 is a last resort), and its
// message names the others; it stays covered until the last of them ends. A
// route none covers names every basis that lists its country, each with its
// state and since when, the one closest to covering it first.
func (w *walker) cover(owner *subFacts, route, subject, country string, loc LocationResult, remote bool) compiledRoute {
	s := w.s
	w.next = earliest(w.next, loc.ValidUntil)
	row := compiledRoute{known: true, subject: subject, eea: loc.Classification == v1alpha1.ClassificationEEA,
		validUntil: loc.ValidUntil,
		transfer:   v1alpha1.Transfer{Route: route, Country: v1alpha1.CountryCode(country), Classification: loc.Classification}}
	t := &row.transfer
	switch loc.Classification {
	case v1alpha1.ClassificationEEA:
		t.Covered = true
		t.Message = fmt.Sprintf("%s is in the EEA (%s): not a transfer", route, country)
		return row
	case v1alpha1.ClassificationAdequate:
		t.Covered = true
		t.Message = fmt.Sprintf("%s rests on adequacy: %s (GDPR Art. 45)", subject, loc.LegalReference)
		if !loc.ValidUntil.IsZero() {
			t.Message += ", valid until " + day(loc.ValidUntil)
		}
		return row
	}

	// A subprocessor that may receive anonymous data only receives no personal
	// data: its routes are not transfers under GDPR Chapter V. (A workload that
	// declares personal data to it is an AnonymousOnly violation instead.)
	if owner.anonymousOnly {
		t.Covered = true
		row.anonymous = true
		row.validUntil = time.Time{}
		t.Message = fmt.Sprintf("%s (%s) is not a transfer of personal data: %s receives anonymous data only (spec.dataAccess AnonymousOnly), so it needs no basis",
			route, country, owner.name)
		return row
	}

	// PartiallyAdequate or ThirdCountry: a valid basis of the owner that lists
	// the country, of a mechanism that can cover it.
	partial := loc.Classification == v1alpha1.ClassificationPartiallyAdequate
	scope := s.cat.scopeMechanism(country, s.at)
	acceptable := func(m v1alpha1.Mechanism) bool {
		return s.cat.IsArt46(m) || m == v1alpha1.MechanismDerogation || (partial && m == scope)
	}
	covers := func(b *compiledBasis) bool {
		return b.result.State == v1alpha1.BasisValid && acceptable(b.mechanism)
	}
	// coverEnd is when b stops covering the route: its own end, and the end
	// of the partial adequacy it is only acceptable under.
	coverEnd := func(b *compiledBasis) time.Time {
		if s.cat.IsArt46(b.mechanism) || b.derogation {
			return b.result.ValidUntil
		}
		return earliest(b.result.ValidUntil, loc.ValidUntil)
	}
	var listing []*compiledBasis
	for _, bn := range owner.bases {
		b, ok := s.bases[bn]
		if !ok || !b.lists(country) || slices.Contains(listing, b) {
			continue
		}
		listing = append(listing, b)
		w.next = earliest(w.next, b.result.ValidUntil)
	}
	sort.Slice(listing, func(i, j int) bool {
		a, b := listing[i], listing[j]
		if ca, cb := covers(a), covers(b); ca != cb {
			return ca
		} else if ca {
			if ra, rb := rankValid(a), rankValid(b); ra != rb {
				return ra < rb
			}
			if ea, eb := coverEnd(a), coverEnd(b); !ea.Equal(eb) {
				return ea.IsZero() || !eb.IsZero() && ea.After(eb)
			}
			return a.name < b.name
		}
		ra, rb := rankCandidate(a, acceptable), rankCandidate(b, acceptable)
		return ra < rb || ra == rb && a.name < b.name
	})
	for _, b := range listing {
		row.bases = append(row.bases, RouteBasis{Name: b.name, Mechanism: b.mechanism, State: b.result.State,
			Since: b.since, Until: b.until, Covers: covers(b)})
	}
	// cite names a covering basis; an AdequacyDecision basis names the
	// partial decision whose scope it records for this country.
	cite := func(b *compiledBasis) string {
		if b.mechanism != v1alpha1.MechanismAdequacyDecision || !partial {
			return b.cite("")
		}
		ground := s.cat.Article(b.mechanism) + ", " + loc.LegalReference
		if note := s.cat.partialScopeNote(country, s.at); note != "" {
			ground += ": " + note
		}
		return b.cite(ground)
	}
	if len(listing) > 0 && covers(listing[0]) {
		best := listing[0]
		t.Covered = true
		t.Basis = best.name
		t.Message = fmt.Sprintf("%s rests on %s", subject, cite(best))
		row.validUntil = coverEnd(best)
		var others []string
		for _, b := range listing[1:] {
			if covers(b) {
				others = append(others, cite(b))
				row.validUntil = latest(row.validUntil, coverEnd(b))
			}
		}
		if len(others) > 0 {
			t.Message += "; also on " + strings.Join(others, "; and on ")
		}
		return row
	}
	// Not covered: the standing holds until a basis listing the country or
	// the classification changes.
	for _, b := range listing {
		row.validUntil = earliest(row.validUntil, b.result.ValidUntil)
	}
	where := "a third country (" + loc.LegalReference + ")"
	if partial {
		where = "partially adequate (" + loc.LegalReference
		if note := s.cat.partialScopeNote(country, s.at); note != "" {
			where += ": " + note
		}
		where += ")"
	}
	if remote {
		subject += ", a transfer (EDPB Guidelines 05/2021),"
	}
	if len(listing) == 0 {
		t.Reason = string(ReasonUncoveredTransfer)
		t.Message = fmt.Sprintf("%s is not covered: %s is %s and no TransferBasis of %s lists %s", subject, country, where, owner.name, country)
		return row
	}
	// Some list the country; none is valid and acceptable. Name them all, the
	// one closest to covering the route first.
	t.Reason = string(ReasonBasisNotValid)
	t.Basis = listing[0].name
	whys := make([]string, len(listing))
	for i, b := range listing {
		whys[i] = b.result.Message
		if b.result.State == v1alpha1.BasisValid {
			whys[i] = fmt.Sprintf("%s is %s, which cannot cover a transfer to %s, %s", b.name, b.mechanism, country, where)
		}
	}
	if len(listing) == 1 {
		t.Message = fmt.Sprintf("%s has no valid basis: %s", subject, whys[0])
	} else {
		t.Message = fmt.Sprintf("%s has no valid basis: none of the %d TransferBases of %s listing %s is: %s",
			subject, len(listing), owner.name, country, strings.Join(whys, "; "))
	}
	return row
}

// rankValid orders valid bases: non-derogations first.
func rankValid(b *compiledBasis) int {
	if b.derogation {
		return 1
	}
	return 0
}

// rankCandidate orders bases that cannot cover a route by how close they are
// to covering it: an acceptable mechanism in a state that can be fixed first,
// dead ones last.
func rankCandidate(b *compiledBasis, acceptable func(v1alpha1.Mechanism) bool) int {
	r := 0
	if !acceptable(b.mechanism) {
		r += 10
	}
	switch b.result.State {
	case v1alpha1.BasisReviewOverdue, v1alpha1.BasisIncomplete, v1alpha1.BasisNotYetEffective:
		r += 1
	case v1alpha1.BasisExpired:
		r += 2
	case v1alpha1.BasisInvalidated:
		r += 3
	}
	return r
}

// At is the instant the snapshot describes.
func (s *Snapshot) At() time.Time { return s.at }

// Policy is the effective policy.
func (s *Snapshot) Policy() Policy { return s.policy }

// PolicyErrors are the entries of the ResidencyPolicy that could not be read.
func (s *Snapshot) PolicyErrors() []error { return append([]error(nil), s.policyErrs...) }

// Catalog is the catalog the snapshot was compiled with.
func (s *Snapshot) Catalog() *Catalog { return s.cat }

// Location is a ProcessingLocation's classification.
func (s *Snapshot) Location(name string) (LocationResult, bool) {
	l, ok := s.locations[name]
	if !ok {
		return LocationResult{}, false
	}
	return l.result, true
}

// LocationForRegion names the ProcessingLocation whose providerRegion is region
// (the first by name when several are).
func (s *Snapshot) LocationForRegion(region string) (string, bool) {
	n, ok := s.regions[region]
	return n, ok
}

// Basis is a TransferBasis's state.
func (s *Snapshot) Basis(name string) (BasisResult, bool) {
	b, ok := s.bases[name]
	if !ok {
		return BasisResult{}, false
	}
	return b.result, true
}

// Subprocessor is a Subprocessor's standing. The slices are shared: do not modify them.
func (s *Snapshot) Subprocessor(name string) (SubprocessorResult, bool) {
	c, ok := s.subs[name]
	if !ok {
		return SubprocessorResult{}, false
	}
	return c.result, true
}

// Classify classifies any country at the snapshot's time under its policy.
func (s *Snapshot) Classify(country string) LocationResult {
	return Classify(s.cat, &s.policy, country, s.at)
}

// NextTransition is the earliest instant after At() at which any location,
// basis or subprocessor changes by itself; zero if none will.
func (s *Snapshot) NextTransition() time.Time { return s.next }

// Matcher attributes endpoints to the snapshot's Subprocessors.
func (s *Snapshot) Matcher() *EgressMatcher { return s.matcher }

// SubprocessorNames returns the names of the Subprocessors in the snapshot, sorted.
func (s *Snapshot) SubprocessorNames() []string { return sortedKeys(s.subs) }

// BasisNames returns the names of the TransferBases in the snapshot, sorted.
func (s *Snapshot) BasisNames() []string { return sortedKeys(s.bases) }

// LocationNames returns the names of the ProcessingLocations in the snapshot, sorted.
func (s *Snapshot) LocationNames() []string { return sortedKeys(s.locations) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
