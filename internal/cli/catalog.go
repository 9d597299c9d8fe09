package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dataresidency/operator/internal/residency"
)

// The built-in catalog as a DPO reads it: what residencyctl and the operator
// believe about the EEA, adequacy decisions and dead transfer mechanisms.

// CatalogView is `catalog -o json`.
type CatalogView struct {
	// At is the date the classifications are given for.
	At                string             `json:"at"`
	Countries         []CatalogCountry   `json:"countries"`
	AdequacyDecisions []CatalogDecision  `json:"adequacyDecisions"`
	DeadMechanisms    []CatalogDead      `json:"deadMechanisms"`
	Mechanisms        []CatalogMechanism `json:"mechanisms"`
	Regions           []CatalogRegion    `json:"regions"`
}

// CatalogRegion is a cloud region and its country.
type CatalogRegion struct {
	Provider   string `json:"provider"`
	Region     string `json:"region"`
	City       string `json:"city,omitempty"`
	Country    string `json:"country"`
	Unverified bool   `json:"unverified,omitempty"`
}

// CatalogCountry is a country the catalog knows, classified at At.
type CatalogCountry struct {
	Code           string `json:"code"`
	Name           string `json:"name"`
	Membership     string `json:"membership,omitempty"`
	EEA            bool   `json:"eea"`
	Of             string `json:"of,omitempty"`
	AliasOf        string `json:"aliasOf,omitempty"`
	Classification string `json:"classification"`
	LegalReference string `json:"legalReference"`
	ValidUntil     string `json:"validUntil,omitempty"`
}

// CatalogDecision is an adequacy decision.
type CatalogDecision struct {
	Country        string `json:"country,omitempty"`
	Entity         string `json:"entity"`
	Instrument     string `json:"instrument"`
	Adopted        string `json:"adopted"`
	Until          string `json:"until,omitempty"`
	Scope          string `json:"scope"`
	ScopeNote      string `json:"scopeNote,omitempty"`
	ScopeMechanism string `json:"scopeMechanism,omitempty"`
	Note           string `json:"note,omitempty"`
	Unverified     bool   `json:"unverified,omitempty"`
	InForce        bool   `json:"inForce"`
}

// CatalogDead is a transfer mechanism that no longer carries transfers.
type CatalogDead struct {
	Mechanism  string `json:"mechanism"`
	State      string `json:"state"`
	From       string `json:"from"`
	Source     string `json:"source"`
	Instrument string `json:"instrument"`
}

// CatalogMechanism is a mechanism and its place in GDPR Chapter V.
type CatalogMechanism struct {
	Mechanism string `json:"mechanism"`
	Article   string `json:"article"`
	Art46     bool   `json:"art46"`
}

// BuildCatalogView describes the built-in catalog, classifying each country at at.
func BuildCatalogView(at time.Time) *CatalogView {
	cat := residency.DefaultCatalog()
	v := &CatalogView{At: date(at)}
	for _, r := range cat.Regions() {
		v.Regions = append(v.Regions, CatalogRegion{Provider: r.Provider, Region: r.Region, City: r.City, Country: r.Country, Unverified: r.Unverified})
	}
	for _, c := range cat.Countries() {
		r := cat.Classify(c.Code, at)
		v.Countries = append(v.Countries, CatalogCountry{Code: c.Code, Name: c.Name, Membership: string(c.Membership),
			EEA: c.EEA, Of: c.Of, AliasOf: c.AliasOf, Classification: string(r.Classification),
			LegalReference: r.LegalReference, ValidUntil: date(r.ValidUntil)})
	}
	for _, d := range cat.Decisions() {
		v.AdequacyDecisions = append(v.AdequacyDecisions, CatalogDecision{Country: d.Country, Entity: d.Entity,
			Instrument: d.Instrument, Adopted: date(d.Adopted), Until: date(d.Until), Scope: string(d.Scope),
			ScopeNote: d.ScopeNote, ScopeMechanism: string(d.ScopeMechanism), Note: d.Note, Unverified: d.Unverified,
			InForce: !at.Before(d.Adopted) && (d.Until.IsZero() || at.Before(d.Until))})
	}
	for _, d := range cat.DeadMechanisms() {
		v.DeadMechanisms = append(v.DeadMechanisms, CatalogDead{Mechanism: string(d.Mechanism), State: string(d.State),
			From: date(d.From), Source: d.Citation(), Instrument: d.Instrument})
	}
	for _, m := range cat.Mechanisms() {
		v.Mechanisms = append(v.Mechanisms, CatalogMechanism{Mechanism: string(m.Mechanism), Article: m.Article, Art46: m.Art46})
	}
	return v
}

func writeCatalogTable(w io.Writer, v *CatalogView) error {
	fmt.Fprintf(w, "Built-in legal catalog, classifications as of %s. Any row can be overridden by the ResidencyPolicy (mechanismOverrides, countryOverrides).\n", v.At)
	var tw *tabwriter.Writer
	section := func(title, header string) {
		if tw != nil {
			_ = tw.Flush()
		}
		fmt.Fprintf(w, "\n%s\n", title)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, header)
	}

	section("EEA (EU 27, EEA EFTA states, EU territories)", "CODE\tNAME\tMEMBERSHIP\tNOTE")
	for _, c := range v.Countries {
		if !c.EEA {
			continue
		}
		note := ""
		if c.Of != "" {
			note = "part of " + c.Of
		}
		if c.AliasOf != "" {
			note = "alias of " + c.AliasOf
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Code, c.Name, c.Membership, note)
	}

	section("Other countries the catalog names", "CODE\tNAME\tCLASSIFICATION\tLEGAL REFERENCE\tCHANGES ON")
	for _, c := range v.Countries {
		if c.EEA {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Code, c.Name, c.Classification, c.LegalReference, dash(c.ValidUntil))
	}

	section("Adequacy decisions (GDPR Art. 45; Directive 95/46/EC Art. 25(6))", "COUNTRY\tENTITY\tINSTRUMENT\tADOPTED\tUNTIL\tSCOPE\tIN FORCE\tNOTE")
	for _, d := range v.AdequacyDecisions {
		instr := d.Instrument
		if d.Unverified {
			instr += " (unverified)"
		}
		scope := d.Scope
		if d.ScopeNote != "" {
			scope += ": " + d.ScopeNote
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", dash(d.Country), d.Entity, instr, d.Adopted, dash(d.Until), scope, yesNo(d.InForce), d.Note)
	}

	section("Dead transfer mechanisms", "MECHANISM\tSTATE\tFROM\tSOURCE\tINSTRUMENT")
	for _, d := range v.DeadMechanisms {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Mechanism, d.State, d.From, d.Source, d.Instrument)
	}

	section("Transfer mechanisms (GDPR Chapter V)", "MECHANISM\tARTICLE\tART. 46 SAFEGUARD")
	for _, m := range v.Mechanisms {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Mechanism, m.Article, yesNo(m.Art46))
	}

	section("Cloud regions", "PROVIDER\tREGION\tCITY\tCOUNTRY")
	for _, r := range v.Regions {
		country := r.Country
		if r.Unverified {
			country += " (unverified)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Provider, r.Region, dash(r.City), country)
	}
	return tw.Flush()
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
