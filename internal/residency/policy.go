package residency

import (
	"fmt"
	"slices"
	"strings"
	"time"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// dateLayout is the form of every v1alpha1.Date.
const dateLayout = "2006-01-02"

// ParseDate reads a v1alpha1.Date as the start of that day in UTC. It accepts
// exactly YYYY-MM-DD with a real calendar day.
func ParseDate(d v1alpha1.Date) (time.Time, error) {
	s := string(d)
	if len(s) != len(dateLayout) {
		return time.Time{}, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	return t, nil
}

// FormatDate writes t's UTC day as a v1alpha1.Date; the zero time is "".
func FormatDate(t time.Time) v1alpha1.Date {
	if t.IsZero() {
		return ""
	}
	return v1alpha1.Date(t.UTC().Format(dateLayout))
}

// day is FormatDate as a plain string, for messages.
func day(t time.Time) string { return string(FormatDate(t)) }

// DefaultExcludedNamespaces are excluded when the policy does not say.
var DefaultExcludedNamespaces = []string{"kube-system"}

// MechanismOverride is a policy entry that invalidates a mechanism from a date.
type MechanismOverride struct {
	Mechanism   v1alpha1.Mechanism
	InvalidFrom time.Time
	// Reason is the legal source cited in messages ("CJEU C-703/25 P").
	Reason string
}

// CountryOverride is a policy entry that reclassifies a country in [From, Until).
type CountryOverride struct {
	// Country is canonical (EL is GR).
	Country        string
	Classification v1alpha1.Classification
	// From is zero when the override always applied; Until zero when open-ended.
	From, Until time.Time
	// Reason is the legal reference the classification then carries.
	Reason string
}

// appliesAt reports whether the override is in force at t.
func (o CountryOverride) appliesAt(t time.Time) bool {
	return !t.Before(o.From) && (o.Until.IsZero() || t.Before(o.Until))
}

// Policy is the effective ResidencyPolicy: the spec with its defaults filled in
// and its dates read.
type Policy struct {
	DefaultEnforcement              v1alpha1.Enforcement
	AllowedClassifications          []v1alpha1.Classification
	RequireTransferImpactAssessment []v1alpha1.Mechanism
	SpecialCategoriesOutsideEEA     v1alpha1.RuleAction
	UnattributedEgress              v1alpha1.RuleAction
	// RequireDeclaration is for namespaces without a valid
	// dataresidency.io/require-declaration label: see RequireDeclarationFor.
	RequireDeclaration v1alpha1.RuleAction
	ExcludedNamespaces []string
	MechanismOverrides []MechanismOverride
	CountryOverrides   []CountryOverride
	// ObservedRetention is how long an observed name counts after it was
	// last resolved.
	ObservedRetention time.Duration
	// ExceptionMaxDays caps a ResidencyException's duration from its
	// approval; NeverExcept are reason codes none may cover.
	ExceptionMaxDays int
	NeverExcept      []string
	// Egress configures the egress policies of namespaces labelled
	// dataresidency.io/egress.
	Egress EgressSettings
}

// DefaultObservedRetention is spec.observedEgress.retention's default.
const DefaultObservedRetention = 7 * 24 * time.Hour

// minObservedRetention is the least retention the CRD accepts.
const minObservedRetention = time.Minute

// DefaultPolicy is the policy of a cluster without a ResidencyPolicy.
func DefaultPolicy() Policy {
	return Policy{
		DefaultEnforcement: v1alpha1.EnforcementAudit,
		AllowedClassifications: []v1alpha1.Classification{
			v1alpha1.ClassificationEEA, v1alpha1.ClassificationAdequate,
			v1alpha1.ClassificationPartiallyAdequate, v1alpha1.ClassificationThirdCountry,
		},
		SpecialCategoriesOutsideEEA: v1alpha1.RuleDeny,
		UnattributedEgress:          v1alpha1.RuleWarn,
		RequireDeclaration:          v1alpha1.RuleIgnore,
		ExcludedNamespaces:          append([]string(nil), DefaultExcludedNamespaces...),
		ObservedRetention:           DefaultObservedRetention,
		ExceptionMaxDays:            DefaultExceptionMaxDays,
		Egress:                      DefaultEgressSettings(),
	}
}

func validClassification(c v1alpha1.Classification) bool {
	switch c {
	case v1alpha1.ClassificationEEA, v1alpha1.ClassificationAdequate,
		v1alpha1.ClassificationPartiallyAdequate, v1alpha1.ClassificationThirdCountry:
		return true
	}
	return false
}

func validEnforcement(e v1alpha1.Enforcement) bool {
	switch e {
	case v1alpha1.EnforcementDeny, v1alpha1.EnforcementWarn, v1alpha1.EnforcementAudit:
		return true
	}
	return false
}

// PolicyFrom reads a ResidencyPolicy spec; nil gives the defaults. Entries that
// cannot be read are reported, each error naming its field, and handled so that
// nothing passes that the author meant to stop:
//   - an unknown defaultEnforcement, specialCategoriesOutsideEEA,
//     unattributedEgress or requireDeclaration falls back to its default;
//   - an unknown allowedClassifications entry is dropped (an allow-list that
//     ends up empty allows nothing);
//   - a mechanismOverrides entry whose invalidFrom cannot be read invalidates
//     its mechanism from the beginning of time (fail closed);
//   - a countryOverrides entry that cannot be read is dropped.
func PolicyFrom(spec *v1alpha1.ResidencyPolicySpec) (Policy, []error) {
	p := DefaultPolicy()
	if spec == nil {
		return p, nil
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if spec.DefaultEnforcement != "" {
		if validEnforcement(spec.DefaultEnforcement) {
			p.DefaultEnforcement = spec.DefaultEnforcement
		} else {
			fail("spec.defaultEnforcement: %q is not one of deny, warn, audit", spec.DefaultEnforcement)
		}
	}
	if len(spec.AllowedClassifications) > 0 {
		p.AllowedClassifications = nil
		for i, c := range spec.AllowedClassifications {
			if !validClassification(c) {
				fail("spec.allowedClassifications[%d]: %q is not one of EEA, Adequate, PartiallyAdequate, ThirdCountry", i, c)
				continue
			}
			if !containsClassification(p.AllowedClassifications, c) {
				p.AllowedClassifications = append(p.AllowedClassifications, c)
			}
		}
	}
	cat := DefaultCatalog()
	for i, m := range spec.RequireTransferImpactAssessment {
		if cat.Article(m) == "" {
			fail("spec.requireTransferImpactAssessment[%d]: %q is not a mechanism", i, m)
		}
		p.RequireTransferImpactAssessment = append(p.RequireTransferImpactAssessment, m)
	}
	switch spec.SpecialCategoriesOutsideEEA {
	case "":
	case v1alpha1.RuleDeny, v1alpha1.RuleWarn, v1alpha1.RuleAllow:
		p.SpecialCategoriesOutsideEEA = spec.SpecialCategoriesOutsideEEA
	default:
		fail("spec.specialCategoriesOutsideEEA: %q is not one of deny, warn, allow", spec.SpecialCategoriesOutsideEEA)
	}
	switch spec.UnattributedEgress {
	case "":
	case v1alpha1.RuleDeny, v1alpha1.RuleWarn, v1alpha1.RuleIgnore:
		p.UnattributedEgress = spec.UnattributedEgress
	default:
		fail("spec.unattributedEgress: %q is not one of deny, warn, ignore", spec.UnattributedEgress)
	}
	switch spec.RequireDeclaration {
	case "":
	case v1alpha1.RuleIgnore, v1alpha1.RuleWarn, v1alpha1.RuleDeny:
		p.RequireDeclaration = spec.RequireDeclaration
	default:
		fail("spec.requireDeclaration: %q is not one of ignore, warn, deny", spec.RequireDeclaration)
	}
	if oe := spec.ObservedEgress; oe != nil && oe.Retention != nil {
		if r := oe.Retention.Duration; r >= minObservedRetention {
			p.ObservedRetention = r
		} else {
			fail("spec.observedEgress.retention: %s is less than %s; the default %s applies", r, minObservedRetention, DefaultObservedRetention)
		}
	}
	if ex := spec.Exceptions; ex != nil {
		if ex.MaxDays > 0 {
			p.ExceptionMaxDays = int(ex.MaxDays)
		}
		p.NeverExcept = append([]string(nil), ex.NeverExcept...)
	}
	p.Egress = egressSettingsFrom(spec.EgressPolicy, fail)
	if spec.ExcludedNamespaces != nil {
		p.ExcludedNamespaces = append([]string{}, spec.ExcludedNamespaces...)
	}
	for i, o := range spec.MechanismOverrides {
		field := fmt.Sprintf("spec.mechanismOverrides[%d]", i)
		if cat.Article(o.Mechanism) == "" {
			fail("%s.mechanism: %q is not a mechanism", field, o.Mechanism)
			continue
		}
		from, err := ParseDate(o.InvalidFrom)
		if err != nil {
			fail("%s.invalidFrom: %v; the override applies from the beginning", field, err)
			from = time.Time{}
		}
		reason := o.Reason
		if reason == "" {
			reason = "ResidencyPolicy mechanismOverrides"
		}
		p.MechanismOverrides = append(p.MechanismOverrides,
			MechanismOverride{Mechanism: o.Mechanism, InvalidFrom: from, Reason: reason})
	}
	for i, o := range spec.CountryOverrides {
		field := fmt.Sprintf("spec.countryOverrides[%d]", i)
		co := CountryOverride{Country: CanonicalCountry(string(o.Country)), Classification: o.Classification, Reason: o.Reason}
		ok := true
		if !validCountryCode(string(o.Country)) {
			fail("%s.country: %q is not an ISO 3166-1 alpha-2 code", field, o.Country)
			ok = false
		}
		if !validClassification(o.Classification) {
			fail("%s.classification: %q is not one of EEA, Adequate, PartiallyAdequate, ThirdCountry", field, o.Classification)
			ok = false
		}
		if o.From != "" {
			t, err := ParseDate(o.From)
			if err != nil {
				fail("%s.from: %v", field, err)
				ok = false
			}
			co.From = t
		}
		if o.Until != "" {
			t, err := ParseDate(o.Until)
			if err != nil {
				fail("%s.until: %v", field, err)
				ok = false
			}
			co.Until = t
		}
		if ok && !co.Until.IsZero() && !co.Until.After(co.From) {
			fail("%s.until: %s is not after from %s", field, o.Until, o.From)
			ok = false
		}
		if !ok {
			continue
		}
		if co.Reason == "" {
			co.Reason = "ResidencyPolicy countryOverrides"
		}
		p.CountryOverrides = append(p.CountryOverrides, co)
	}
	return p, errs
}

func containsClassification(cs []v1alpha1.Classification, c v1alpha1.Classification) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// Allows reports whether personal data may go to a destination of this classification.
func (p Policy) Allows(c v1alpha1.Classification) bool {
	return containsClassification(p.AllowedClassifications, c)
}

// RequiresTIA reports whether bases of this mechanism need a transfer impact assessment.
func (p Policy) RequiresTIA(m v1alpha1.Mechanism) bool {
	for _, x := range p.RequireTransferImpactAssessment {
		if x == m {
			return true
		}
	}
	return false
}

// Enforcement is what admission does in a namespace with these labels: the
// dataresidency.io/enforcement label when it is deny, warn or audit, else the
// policy's default. EnforcementLabelError tells callers to warn about a bad label.
func (p Policy) Enforcement(namespaceLabels map[string]string) v1alpha1.Enforcement {
	if v, ok := enforcementLabel.value(namespaceLabels); ok {
		return v1alpha1.Enforcement(v)
	}
	return p.DefaultEnforcement
}

// EnforcementLabelError explains a dataresidency.io/enforcement label value that
// is not deny, warn or audit; nil when the label is absent or valid.
func EnforcementLabelError(namespaceLabels map[string]string) error {
	if e := enforcementLabelError(namespaceLabels); e != nil {
		return e
	}
	return nil
}

// RequireDeclarationFor is what a workload that declares nothing is in a
// namespace with these labels (the rule Undeclared applies): the
// dataresidency.io/require-declaration label when it is ignore, warn or deny,
// for teams that adopt declarations one namespace at a time; else the
// policy's requireDeclaration. RequireDeclarationLabelError tells callers to
// warn about a bad label.
func (p Policy) RequireDeclarationFor(namespaceLabels map[string]string) v1alpha1.RuleAction {
	if v, ok := requireDeclarationLabel.value(namespaceLabels); ok {
		return v1alpha1.RuleAction(v)
	}
	return p.RequireDeclaration
}

// RequireDeclarationLabelError explains a dataresidency.io/require-declaration
// label value that is not ignore, warn or deny; nil when the label is absent or valid.
func RequireDeclarationLabelError(namespaceLabels map[string]string) error {
	if e := requireDeclarationLabelError(namespaceLabels); e != nil {
		return e
	}
	return nil
}

// NamespaceLabelErrors explains every dataresidency.io/ label of a Namespace
// whose value the operator cannot read (it is then ignored and the
// ResidencyPolicy applies): what the webhook warns about and residencyctl
// reports as notices.
func NamespaceLabelErrors(namespaceLabels map[string]string) []*LabelError {
	var out []*LabelError
	for _, e := range [...]*LabelError{enforcementLabelError(namespaceLabels), requireDeclarationLabelError(namespaceLabels), egressLabel.err(namespaceLabels)} {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

// LabelError is a Namespace label whose value is not one the operator reads.
type LabelError struct {
	Label, Value string
	// Allowed lists the values read; Fallback says what applies instead.
	Allowed, Fallback string
}

func (e *LabelError) Error() string {
	return fmt.Sprintf("label %s=%q is not one of %s; %s", e.Label, e.Value, e.Allowed, e.Fallback)
}

func enforcementLabelError(labels map[string]string) *LabelError { return enforcementLabel.err(labels) }

func requireDeclarationLabelError(labels map[string]string) *LabelError {
	return requireDeclarationLabel.err(labels)
}

// namespaceOverride is a Namespace label that overrides a ResidencyPolicy
// setting for its namespace; a value it does not allow is ignored and reported.
type namespaceOverride struct {
	label    string
	allowed  []string
	fallback string
}

var (
	enforcementLabel = namespaceOverride{v1alpha1.LabelEnforcement, []string{"deny", "warn", "audit"},
		"the ResidencyPolicy defaultEnforcement applies"}
	requireDeclarationLabel = namespaceOverride{v1alpha1.LabelRequireDeclaration, []string{"ignore", "warn", "deny"},
		"the ResidencyPolicy requireDeclaration applies"}
)

// value is the label's value when it is set and allowed.
func (o namespaceOverride) value(labels map[string]string) (string, bool) {
	v, ok := labels[o.label]
	return v, ok && slices.Contains(o.allowed, v)
}

// err explains a set value that is not allowed; nil otherwise.
func (o namespaceOverride) err(labels map[string]string) *LabelError {
	v, ok := labels[o.label]
	if !ok || slices.Contains(o.allowed, v) {
		return nil
	}
	return &LabelError{Label: o.label, Value: v, Allowed: strings.Join(o.allowed, ", "), Fallback: o.fallback}
}

// Excluded reports whether a namespace is never evaluated nor blocked.
func (p Policy) Excluded(namespace string) bool {
	for _, n := range p.ExcludedNamespaces {
		if n == namespace {
			return true
		}
	}
	return false
}

// mechanismOverride returns the earliest override of m, if any.
func (p Policy) mechanismOverride(m v1alpha1.Mechanism) (MechanismOverride, bool) {
	var best MechanismOverride
	found := false
	for _, o := range p.MechanismOverrides {
		if o.Mechanism == m && (!found || o.InvalidFrom.Before(best.InvalidFrom)) {
			best, found = o, true
		}
	}
	return best, found
}
