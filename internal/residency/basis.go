package residency

import (
	"fmt"
	"sort"
	"strings"
	"time"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// basisFacts is a TransferBasis spec with its dates read, ready to be asked
// about any instant.
type basisFacts struct {
	name      string
	mechanism v1alpha1.Mechanism
	// bad names the first field that cannot be read ("spec.expiresOn: ..."), if any.
	bad string

	effectiveFrom, expiresOn time.Time
	hasTIA                   bool
	tiaCompletedOn           time.Time
	tiaNextReviewOn          time.Time
	tiaReference             string

	dead        DeadMechanism
	isDead      bool
	override    MechanismOverride
	hasOverride bool
	requiresTIA bool
	article     string
}

func readBasis(cat *Catalog, p *Policy, name string, spec *v1alpha1.TransferBasisSpec) basisFacts {
	f := basisFacts{name: name, mechanism: spec.Mechanism}
	f.dead, f.isDead = cat.Dead(spec.Mechanism)
	if p != nil {
		f.override, f.hasOverride = p.mechanismOverride(spec.Mechanism)
		f.requiresTIA = p.RequiresTIA(spec.Mechanism)
	}
	f.article = cat.Article(spec.Mechanism)
	if spec.Mechanism == v1alpha1.MechanismAdequacyDecision {
		f.article = adequacyArticle(cat, f.article, spec.Countries)
	}
	if spec.Mechanism == v1alpha1.MechanismDerogation {
		if a := cat.DerogationArticle(spec.Derogation); a != "" {
			f.article = a + ", " + string(spec.Derogation)
		}
	}
	readDate := func(field string, d v1alpha1.Date, into *time.Time) {
		if d == "" {
			return
		}
		t, err := ParseDate(d)
		if err != nil {
			if f.bad == "" {
				f.bad = field + ": " + err.Error()
			}
			return
		}
		*into = t
	}
	readDate("spec.effectiveFrom", spec.EffectiveFrom, &f.effectiveFrom)
	readDate("spec.expiresOn", spec.ExpiresOn, &f.expiresOn)
	if tia := spec.TransferImpactAssessment; tia != nil {
		f.hasTIA = true
		f.tiaReference = tia.Reference
		readDate("spec.transferImpactAssessment.completedOn", tia.CompletedOn, &f.tiaCompletedOn)
		readDate("spec.transferImpactAssessment.nextReviewOn", tia.NextReviewOn, &f.tiaNextReviewOn)
	}
	return f
}

// stateAt is the state of the basis at t, with the message explaining it.
func (f *basisFacts) stateAt(at time.Time) (v1alpha1.TransferBasisState, string) {
	if f.isDead && !at.Before(f.dead.From) {
		verb := "invalid"
		if f.dead.State == v1alpha1.BasisExpired {
			verb = "expired"
		}
		return f.dead.State, fmt.Sprintf("%s is %s, %s since %s (%s)", f.name, f.mechanism, verb, day(f.dead.From), f.dead.Source)
	}
	if f.hasOverride && !at.Before(f.override.InvalidFrom) {
		if f.override.InvalidFrom.IsZero() {
			return v1alpha1.BasisInvalidated, fmt.Sprintf("%s is %s, invalid (%s; ResidencyPolicy mechanismOverrides)",
				f.name, f.mechanism, f.override.Reason)
		}
		return v1alpha1.BasisInvalidated, fmt.Sprintf("%s is %s, invalid since %s (%s)",
			f.name, f.mechanism, day(f.override.InvalidFrom), f.override.Reason)
	}
	if f.article == "" {
		return v1alpha1.BasisIncomplete, fmt.Sprintf("%s: spec.mechanism %q is not a transfer mechanism", f.name, f.mechanism)
	}
	if f.bad != "" {
		return v1alpha1.BasisIncomplete, fmt.Sprintf("%s: %s", f.name, f.bad)
	}
	if !f.effectiveFrom.IsZero() && at.Before(f.effectiveFrom) {
		return v1alpha1.BasisNotYetEffective, fmt.Sprintf("%s is %s, not effective until %s (effectiveFrom)",
			f.name, f.mechanism, day(f.effectiveFrom))
	}
	if !f.expiresOn.IsZero() && !at.Before(f.expiresOn) {
		return v1alpha1.BasisExpired, fmt.Sprintf("%s is %s, expired since %s (expiresOn)", f.name, f.mechanism, day(f.expiresOn))
	}
	if f.requiresTIA {
		switch {
		case !f.hasTIA:
			return v1alpha1.BasisIncomplete, fmt.Sprintf(
				"%s is %s and the ResidencyPolicy requires a transfer impact assessment for it: none is recorded",
				f.name, f.mechanism)
		case f.tiaCompletedOn.IsZero():
			return v1alpha1.BasisIncomplete, fmt.Sprintf(
				"%s is %s and the ResidencyPolicy requires a transfer impact assessment for it: its completedOn is missing",
				f.name, f.mechanism)
		case at.Before(f.tiaCompletedOn):
			return v1alpha1.BasisIncomplete, fmt.Sprintf(
				"%s is %s and the ResidencyPolicy requires a transfer impact assessment for it: not completed until %s",
				f.name, f.mechanism, day(f.tiaCompletedOn))
		}
	}
	if f.hasTIA && !f.tiaNextReviewOn.IsZero() && !at.Before(f.tiaNextReviewOn) {
		ref := ""
		if f.tiaReference != "" {
			ref = " " + f.tiaReference
		}
		return v1alpha1.BasisReviewOverdue, fmt.Sprintf("%s is %s, transfer impact assessment%s review overdue since %s (nextReviewOn)",
			f.name, f.mechanism, ref, day(f.tiaNextReviewOn))
	}
	return v1alpha1.BasisValid, fmt.Sprintf("%s is %s (%s), valid", f.name, f.mechanism, f.article)
}

// stateOnly is stateAt without building the message.
func (f *basisFacts) stateOnly(at time.Time) v1alpha1.TransferBasisState {
	s, _ := f.stateAt(at)
	return s
}

type basisCandidate struct {
	at    time.Time
	cause string
}

// transitions are the instants at which the state may change, in order, with
// what causes each.
func (f *basisFacts) transitions() []basisCandidate {
	var cs []basisCandidate
	add := func(t time.Time, cause string) {
		if !t.IsZero() {
			cs = append(cs, basisCandidate{t, cause})
		}
	}
	if f.isDead {
		add(f.dead.From, f.dead.Source)
	}
	if f.hasOverride {
		add(f.override.InvalidFrom, f.override.Reason)
	}
	add(f.effectiveFrom, "effectiveFrom")
	add(f.expiresOn, "expiresOn")
	if f.requiresTIA {
		add(f.tiaCompletedOn, "transferImpactAssessment.completedOn")
	}
	add(f.tiaNextReviewOn, "transferImpactAssessment.nextReviewOn")
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].at.Before(cs[j].at) })
	return cs
}

// nextChange is the earliest instant after t at which the state differs from
// cur, with what causes it; zero when the state never changes by itself.
func (f *basisFacts) nextChange(at time.Time, cur v1alpha1.TransferBasisState) (time.Time, string) {
	for _, c := range f.transitions() {
		if c.at.After(at) && f.stateOnly(c.at) != cur {
			return c.at, c.cause
		}
	}
	return time.Time{}, ""
}

// since is when the state cur, the state at t, began: the latest transition
// at or before t with another state just before it; zero when the basis was
// always in that state.
func (f *basisFacts) since(at time.Time, cur v1alpha1.TransferBasisState) time.Time {
	cs := f.transitions()
	for i := len(cs) - 1; i >= 0; i-- {
		if c := cs[i]; !c.at.After(at) && f.stateOnly(c.at.Add(-time.Nanosecond)) != cur {
			return c.at
		}
	}
	return time.Time{}
}

// EvaluateBasis is the state of a TransferBasis at t under policy p (nil: no
// policy), in this precedence: its mechanism is dead in the catalog
// (Invalidated, Expired) or invalidated by a mechanismOverride; a field cannot
// be read (Incomplete); effectiveFrom is ahead (NotYetEffective); expiresOn has
// passed (Expired); the policy requires a transfer impact assessment and there
// is none (Incomplete); its nextReviewOn has passed (ReviewOverdue); else Valid.
// ValidUntil is the next instant the state changes by itself.
func EvaluateBasis(cat *Catalog, p *Policy, name string, spec *v1alpha1.TransferBasisSpec, at time.Time) BasisResult {
	if spec == nil {
		return BasisResult{State: v1alpha1.BasisIncomplete, Message: name + ": no spec"}
	}
	f := readBasis(cat, p, name, spec)
	r, _ := f.result(at)
	return r
}

// result is the BasisResult at t and, for a Valid basis that ends, how long
// routes it covers say it holds: ", valid until 2027-03-05 (expiresOn)".
func (f *basisFacts) result(at time.Time) (BasisResult, string) {
	state, msg := f.stateAt(at)
	until, cause := f.nextChange(at, state)
	validity := ""
	if state == v1alpha1.BasisValid && !until.IsZero() {
		msg += fmt.Sprintf(" until %s (%s)", day(until), cause)
		validity = fmt.Sprintf(", valid until %s (%s)", day(until), cause)
	}
	return BasisResult{State: state, Since: f.since(at, state), ValidUntil: until, Message: msg}, validity
}

// adequacyArticle is the article of an AdequacyDecision basis followed by the
// decisions it can invoke for the countries it lists: "GDPR Art. 45; Decision
// (EU) 2019/419 for JP". A country's decision is the latest the catalog has
// that such a basis records (a full one, or a partial one whose scope an
// AdequacyDecision basis records: CA, JP).
func adequacyArticle(cat *Catalog, article string, countries []v1alpha1.CountryCode) string {
	var parts []string
	seen := map[string]bool{}
	for _, c := range countries {
		code := CanonicalCountry(string(c))
		if seen[code] {
			continue
		}
		seen[code] = true
		ds := cat.byCountry[code]
		for i := len(ds) - 1; i >= 0; i-- {
			if m := ds[i].ScopeMechanism; m == "" || m == v1alpha1.MechanismAdequacyDecision {
				parts = append(parts, ds[i].Reference()+" for "+code)
				break
			}
		}
	}
	if len(parts) == 0 {
		return article
	}
	return article + "; " + strings.Join(parts, ", ")
}
