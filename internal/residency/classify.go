package residency

import (
	"fmt"
	"sort"
	"time"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// Legal references of classifications that rest on no instrument.
const (
	refEEAMember   = "EEA member state"
	refEUTerritory = "EEA (EU territory)"
	refNoDecision  = "no adequacy decision"
	refMalformed   = "not an ISO 3166-1 alpha-2 code"
)

// Classify is what GDPR Chapter V makes of a country at t under policy p: a
// countryOverrides entry in force takes precedence over the catalog. Unknown and
// malformed codes are ThirdCountry (fail closed). ValidUntil is the next instant
// the classification changes by itself: an override boundary, the adoption of a
// decision, or its end (GB: 2031-12-27).
func Classify(cat *Catalog, p *Policy, country string, at time.Time) LocationResult {
	code := CanonicalCountry(country)
	r := classifyAt(cat, p, code, at)
	r.ValidUntil = nextClassificationChange(cat, p, code, at, r.Classification)
	return r
}

// Classify is the catalog's classification of a country at t, without policy overrides.
func (c *Catalog) Classify(country string, at time.Time) LocationResult {
	return Classify(c, nil, country, at)
}

// classifyAt is the classification at t without ValidUntil.
func classifyAt(cat *Catalog, p *Policy, code string, at time.Time) LocationResult {
	if !validCountryCode(code) {
		return LocationResult{Classification: v1alpha1.ClassificationThirdCountry, LegalReference: refMalformed}
	}
	if p != nil {
		for _, o := range p.CountryOverrides {
			if o.Country == code && o.appliesAt(at) {
				return LocationResult{Classification: o.Classification, LegalReference: o.Reason}
			}
		}
	}
	if ci, ok := cat.byCode[code]; ok && ci.EEA {
		ref := refEEAMember
		if ci.Membership == MemberEUTerritory {
			ref = refEUTerritory
		}
		return LocationResult{Classification: v1alpha1.ClassificationEEA, LegalReference: ref}
	}
	var ended string
	for _, d := range cat.byCountry[code] {
		end, override, overridden := decisionEnd(p, d)
		if !at.Before(d.Adopted) && (end.IsZero() || at.Before(end)) {
			c := v1alpha1.ClassificationAdequate
			if d.Scope == ScopePartial {
				c = v1alpha1.ClassificationPartiallyAdequate
			}
			return LocationResult{Classification: c, LegalReference: d.Reference()}
		}
		switch {
		case overridden && !at.Before(end):
			// The decision is the mechanism a mechanismOverrides entry
			// invalidated (the DPF is the US partial adequacy): one legal
			// event, one story.
			ended = fmt.Sprintf("%s (%s) invalid since %s (%s)", d.Reference(), d.ScopeMechanism, day(end), override.Reason)
			if override.InvalidFrom.IsZero() {
				ended = fmt.Sprintf("%s (%s) invalid (%s)", d.Reference(), d.ScopeMechanism, override.Reason)
			}
		case !end.IsZero() && !at.Before(end):
			ended = d.Reference() + " ended " + day(end)
		}
	}
	if ended != "" {
		return LocationResult{Classification: v1alpha1.ClassificationThirdCountry, LegalReference: ended}
	}
	return LocationResult{Classification: v1alpha1.ClassificationThirdCountry, LegalReference: refNoDecision}
}

// decisionEnd is the first day decision d no longer applies under policy p:
// its own end, or the invalidFrom of a mechanismOverrides entry of the
// mechanism that records its scope (DataPrivacyFramework for Decision (EU)
// 2023/1795) when earlier; overridden tells which. An override without a date
// ends it from its adoption. AdequacyDecision, which records the scope of
// several decisions (CA, JP), ends none of them.
func decisionEnd(p *Policy, d AdequacyDecision) (end time.Time, o MechanismOverride, overridden bool) {
	end = d.Until
	if p == nil || d.ScopeMechanism == "" || d.ScopeMechanism == v1alpha1.MechanismAdequacyDecision {
		return end, o, false
	}
	o, ok := p.mechanismOverride(d.ScopeMechanism)
	if !ok {
		return end, o, false
	}
	from := o.InvalidFrom
	if from.Before(d.Adopted) {
		from = d.Adopted
	}
	if !end.IsZero() && !from.Before(end) {
		return end, o, false
	}
	return from, o, true
}

// nextClassificationChange is the earliest instant after t at which the
// classification of code differs from cur; zero when none is known.
func nextClassificationChange(cat *Catalog, p *Policy, code string, at time.Time, cur v1alpha1.Classification) time.Time {
	var candidates []time.Time
	add := func(t time.Time) {
		if !t.IsZero() && t.After(at) {
			candidates = append(candidates, t)
		}
	}
	if p != nil {
		for _, o := range p.CountryOverrides {
			if o.Country == code {
				add(o.From)
				add(o.Until)
			}
		}
	}
	for _, d := range cat.byCountry[code] {
		add(d.Adopted)
		add(d.Until)
		if end, _, overridden := decisionEnd(p, d); overridden {
			add(end)
		}
	}
	if len(candidates) == 0 {
		return time.Time{}
	}
	sort.Slice(candidates, func(i, j int) bool { return candidates[i].Before(candidates[j]) })
	for _, t := range candidates {
		if classifyAt(cat, p, code, t).Classification != cur {
			return t
		}
	}
	return time.Time{}
}

// partialDecision is the partial adequacy decision for country in force at t, if any.
func (c *Catalog) partialDecision(country string, at time.Time) (AdequacyDecision, bool) {
	for _, d := range c.byCountry[country] {
		if d.Scope == ScopePartial && d.inForce(at) {
			return d, true
		}
	}
	return AdequacyDecision{}, false
}

// scopeMechanism is the mechanism that puts a recipient inside the partial
// adequacy decision for country in force at t: DataPrivacyFramework for the US
// today (PrivacyShield and SafeHarbor before), AdequacyDecision for CA and JP,
// and AdequacyDecision for a country a policy override made partially adequate.
func (c *Catalog) scopeMechanism(country string, at time.Time) v1alpha1.Mechanism {
	if d, ok := c.partialDecision(country, at); ok && d.ScopeMechanism != "" {
		return d.ScopeMechanism
	}
	return v1alpha1.MechanismAdequacyDecision
}

// partialScopeNote says who the partial decision for country in force at t covers.
func (c *Catalog) partialScopeNote(country string, at time.Time) string {
	d, _ := c.partialDecision(country, at)
	return d.ScopeNote
}
