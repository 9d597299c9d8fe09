package cli

import (
	_ "embed"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
)

// registerHTML is the register as one self-contained document (no external
// asset): a title page, the summary, the sources and their drift, what
// changes in the next 90 days, one section per subprocessor, the transfer
// bases and the accepted risks. Its print stylesheet repeats table headers
// on every page, so that printing to PDF gives a document an auditor files.
//
//go:embed register.html.tmpl
var registerHTML string

var registerTemplate = template.Must(template.New("register").Funcs(template.FuncMap{
	"join":   func(s []string) string { return strings.Join(s, ", ") },
	"counts": countsText,
	"access": accessText,
}).Parse(registerHTML))

// upcoming is a date in the next 90 days that changes the register.
type upcoming struct {
	On, What, Object string
}

// upcomingChanges lists what changes by itself within 90 days of at: bases
// expiring or changing state, transfer impact assessments due for review,
// objection periods ending, accepted risks expiring.
func upcomingChanges(r *Register, at time.Time) []upcoming {
	until := at.AddDate(0, 0, 90)
	within := func(d string) bool {
		t, err := residency.ParseDate(residencyDate(d))
		return err == nil && !t.Before(at) && t.Before(until)
	}
	var out []upcoming
	for _, b := range r.TransferBases {
		if within(b.ValidUntil) {
			out = append(out, upcoming{b.ValidUntil, "TransferBasis changes state (" + b.State + " until then)", b.Name})
		}
		if within(b.TIANextReviewOn) && b.TIANextReviewOn != b.ValidUntil {
			out = append(out, upcoming{b.TIANextReviewOn, "transfer impact assessment due for review", b.Name})
		}
	}
	for _, s := range r.Subprocessors {
		if within(s.ObjectionPeriodEndsOn) {
			out = append(out, upcoming{s.ObjectionPeriodEndsOn, "objection period ends", s.Name})
		}
	}
	for _, x := range r.AcceptedRisks {
		if within(x.ExpiresOn) {
			out = append(out, upcoming{x.ExpiresOn, "accepted risk expires (approved by " + x.ApprovedBy + ")", x.Name})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].On < out[j].On })
	return out
}

// writeRegisterHTML writes the register as HTML.
func writeRegisterHTML(w io.Writer, r *Register, organisation string, at time.Time) error {
	return registerTemplate.Execute(w, struct {
		*Register
		Organisation, Version string
		Upcoming              []upcoming
		Until                 string
	}{r, organisation, versionString(), upcomingChanges(r, at), date(at.AddDate(0, 0, 90))})
}

// residencyDate types a register date for ParseDate.
func residencyDate(d string) v1alpha1.Date { return v1alpha1.Date(d) }
