package residency

import (
	"slices"
	"strings"
	"time"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// RouteBasis is a TransferBasis that lists a route's country, as that route
// sees it at the snapshot's time.
type RouteBasis struct {
	Name      string                      `json:"name"`
	Mechanism v1alpha1.Mechanism          `json:"mechanism"`
	State     v1alpha1.TransferBasisState `json:"state"`
	// Since is the day the state began, when known: the judgment's or the
	// override's date for an Invalidated basis, expiresOn for an Expired one,
	// nextReviewOn for a ReviewOverdue one.
	Since v1alpha1.Date `json:"since,omitempty"`
	// Until is the day the state next changes by itself, if any.
	Until v1alpha1.Date `json:"until,omitempty"`
	// Covers is true for a basis that covers the route: Valid, and of a
	// mechanism that can carry a transfer to the route's country.
	Covers bool `json:"covers"`
}

// String reads "cloudflare-dpf (DataPrivacyFramework): Invalidated since
// 2027-06-01", "cloudflare-scc (StandardContractualClauses): Valid until
// 2027-11-15".
func (b RouteBasis) String() string {
	s := b.Name + " (" + string(b.Mechanism) + "): " + string(b.State)
	if b.Since != "" && b.State != v1alpha1.BasisValid {
		s += " since " + string(b.Since)
	}
	if b.Until != "" {
		s += " until " + string(b.Until)
	}
	return s
}

// RouteBasesText lists bases as a DPO reads them, separated by "; ".
func RouteBasesText(bases []RouteBasis) string {
	parts := make([]string, len(bases))
	for i, b := range bases {
		parts[i] = b.String()
	}
	return strings.Join(parts, "; ")
}

// RouteResult is what the engine knows of a route beyond its status row
// (v1alpha1.Transfer).
type RouteResult struct {
	// ValidUntil, for a covered route, is the latest instant until which what
	// covers it now (a basis, an adequacy decision) keeps covering it; for a
	// route not covered, the first instant its standing may change. Zero:
	// not known to change.
	ValidUntil time.Time
	// Bases are the TransferBases of the route's owner that list its country,
	// the one the route rests on (or is found not valid against) first.
	Bases []RouteBasis
	// AnonymousOnly is true when the route's owner receives anonymous data
	// only (spec.dataAccess AnonymousOnly): the route is then not a transfer
	// of personal data.
	AnonymousOnly bool
}

// Equal reports whether two findings are the same in every field.
func (f *Finding) Equal(g *Finding) bool {
	return f.Subprocessor == g.Subprocessor && f.Endpoint == g.Endpoint && f.Route == g.Route &&
		f.Country == g.Country && f.Basis == g.Basis && f.Verdict == g.Verdict && f.Reason == g.Reason &&
		f.Message == g.Message && slices.Equal(f.Bases, g.Bases) &&
		(f.Exception == nil) == (g.Exception == nil) && (f.Exception == nil || *f.Exception == *g.Exception)
}

// latest is the later of two ends, zero meaning "no end".
func latest(a, b time.Time) time.Time {
	if a.IsZero() || b.IsZero() {
		return time.Time{}
	}
	if b.After(a) {
		return b
	}
	return a
}
