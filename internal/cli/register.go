package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
)

// The transfer register: what a DPO hands an auditor for GDPR Art. 30(1)(e)
// ("transfers of personal data to a third country ... and the documentation of
// suitable safeguards"): per subprocessor who it is, what it receives, where it
// processes it, and per route out of the EEA the ground it rests on.

// Register is the register as of At.
type Register struct {
	At            string                 `json:"at"`
	Source        string                 `json:"source"`
	Summary       RegisterSummary        `json:"summary"`
	Subprocessors []RegisterSubprocessor `json:"subprocessors"`
	TransferBases []RegisterBasis        `json:"transferBases"`
	Policy        *RegisterPolicy        `json:"policy,omitempty"`
	// AcceptedRisks are the ResidencyExceptions in force at At (Active):
	// known non-compliance a DPO accepted until a date.
	AcceptedRisks []RegisterException `json:"acceptedRisks"`
	// Sources are where it was read from (several clusters and files with
	// repeated --context, --kubeconfigs and -f); Drift the catalog objects
	// that differ between them.
	Sources []RegisterSource `json:"sources,omitempty"`
	Drift   []RegisterDrift  `json:"drift,omitempty"`
}

// RegisterException is an accepted risk in force.
type RegisterException struct {
	Name          string   `json:"name"`
	Namespaces    []string `json:"namespaces,omitempty"`
	Workloads     []string `json:"workloads,omitempty"`
	Subprocessors []string `json:"subprocessors,omitempty"`
	Endpoints     []string `json:"endpoints,omitempty"`
	Reasons       []string `json:"reasons,omitempty"`
	Justification string   `json:"justification"`
	Ticket        string   `json:"ticket,omitempty"`
	ApprovedBy    string   `json:"approvedBy"`
	ApprovedOn    string   `json:"approvedOn"`
	ExpiresOn     string   `json:"expiresOn"`
}

// RegisterSummary counts the register's rows.
type RegisterSummary struct {
	Subprocessors        int            `json:"subprocessors"`
	SubprocessorsByState map[string]int `json:"subprocessorsByState"`
	ThirdCountryRoutes   int            `json:"thirdCountryRoutes"`
	UncoveredRoutes      int            `json:"uncoveredRoutes"`
	TransferBases        int            `json:"transferBases"`
	TransferBasesByState map[string]int `json:"transferBasesByState"`
}

// RegisterPolicy is what of the ResidencyPolicy bears on the register.
type RegisterPolicy struct {
	RequireTransferImpactAssessment []string `json:"requireTransferImpactAssessment,omitempty"`
	MechanismOverrides              []string `json:"mechanismOverrides,omitempty"`
	CountryOverrides                []string `json:"countryOverrides,omitempty"`
}

// RegisterSubprocessor is one subprocessor's entry.
type RegisterSubprocessor struct {
	Name               string `json:"name"`
	LegalName          string `json:"legalName"`
	RegistrationNumber string `json:"registrationNumber,omitempty"`
	// Country is the country of establishment (jurisdiction), with its classification.
	Country               string   `json:"country"`
	CountryClassification string   `json:"countryClassification"`
	Address               string   `json:"address,omitempty"`
	Purpose               string   `json:"purpose"`
	DataAccess            string   `json:"dataAccess"`
	DataCategories        []string `json:"dataCategories"`
	State                 string   `json:"state"`
	StateReason           string   `json:"stateReason,omitempty"`
	StateMessage          string   `json:"stateMessage,omitempty"`
	NotifiedOn            string   `json:"notifiedOn,omitempty"`
	ObjectionPeriodEndsOn string   `json:"objectionPeriodEndsOn,omitempty"`
	ObjectedOn            string   `json:"objectedOn,omitempty"`
	OnwardSubprocessors   []string `json:"onwardSubprocessors,omitempty"`
	TransferBases         []string `json:"transferBases,omitempty"`

	Locations []RegisterLocation `json:"locations"`
	// Routes are the routes out of the EEA: processing locations, remote access
	// and onward subprocessors' routes. Those of a subprocessor that receives
	// anonymous data only are not transfers of personal data: they are in
	// NotTransfers instead.
	Routes []RegisterRoute `json:"routes"`
	// NotTransfers are the routes out of the EEA that carry no personal data
	// (spec.dataAccess AnonymousOnly), with Note saying why.
	NotTransfers []RegisterRoute `json:"notTransfers,omitempty"`
	Note         string          `json:"note,omitempty"`
	Source       *Origin         `json:"source,omitempty"`
	// Presence lists the sources that define it, with their workloads.
	Presence []RegisterPresence `json:"presence,omitempty"`
}

// RegisterLocation is one processing location of a subprocessor.
type RegisterLocation struct {
	Name                     string `json:"name"`
	Country                  string `json:"country"`
	City                     string `json:"city,omitempty"`
	Provider                 string `json:"provider,omitempty"`
	ProviderRegion           string `json:"providerRegion,omitempty"`
	Classification           string `json:"classification"`
	LegalReference           string `json:"legalReference,omitempty"`
	ClassificationValidUntil string `json:"classificationValidUntil,omitempty"`
	// Missing is true when the ProcessingLocation does not exist.
	Missing bool `json:"missing,omitempty"`
}

// RegisterRoute is one route to a country outside the EEA.
type RegisterRoute struct {
	Route string `json:"route"`
	// Type is location, remote-access or onward (an onward subprocessor's route).
	Type           string `json:"type"`
	Via            string `json:"via,omitempty"`
	Country        string `json:"country"`
	Classification string `json:"classification"`
	LegalReference string `json:"legalReference,omitempty"`
	Covered        bool   `json:"covered"`
	Basis          string `json:"basis,omitempty"`
	Mechanism      string `json:"mechanism,omitempty"`
	Article        string `json:"article,omitempty"`
	BasisState     string `json:"basisState,omitempty"`
	EffectiveFrom  string `json:"effectiveFrom,omitempty"`
	ExpiresOn      string `json:"expiresOn,omitempty"`
	// ValidUntil: for a covered route, the latest date until which what
	// covers it now keeps covering it (the basis that carries it longest);
	// for one not covered, when its standing may change.
	ValidUntil string `json:"validUntil,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Message    string `json:"message"`
	// Bases are every TransferBasis of the subprocessor listing the route's
	// country, Basis first, each with its state and since when.
	Bases []residency.RouteBasis `json:"bases"`
	// Sources are the sources in which the route exists, each with its
	// coverage there (fleet registers).
	Sources []string `json:"sources,omitempty"`
}

// RegisterBasis is one transfer basis.
type RegisterBasis struct {
	Name                  string   `json:"name"`
	Mechanism             string   `json:"mechanism"`
	Article               string   `json:"article"`
	Derogation            string   `json:"derogation,omitempty"`
	SCCModule             string   `json:"sccModule,omitempty"`
	Countries             []string `json:"countries"`
	Reference             string   `json:"reference,omitempty"`
	EffectiveFrom         string   `json:"effectiveFrom,omitempty"`
	ExpiresOn             string   `json:"expiresOn,omitempty"`
	TIACompletedOn        string   `json:"tiaCompletedOn,omitempty"`
	TIANextReviewOn       string   `json:"tiaNextReviewOn,omitempty"`
	TIAReference          string   `json:"tiaReference,omitempty"`
	SupplementaryMeasures []string `json:"supplementaryMeasures,omitempty"`
	State                 string   `json:"state"`
	ValidUntil            string   `json:"validUntil,omitempty"`
	Message               string   `json:"message,omitempty"`
	UsedBy                []string `json:"usedBy"`
}

func date(t time.Time) string { return string(residency.FormatDate(t)) }

// BuildRegister compiles the bundle's residency objects at at into the register.
func BuildRegister(b *Bundle, at time.Time, source string) *Register {
	snap := residency.Compile(nil, b.Inputs(), at)
	cat := snap.Catalog()
	reg := &Register{At: date(at), Source: source,
		Summary:       RegisterSummary{SubprocessorsByState: map[string]int{}, TransferBasesByState: map[string]int{}},
		Subprocessors: []RegisterSubprocessor{}, TransferBases: []RegisterBasis{}}

	locs := map[string]*v1alpha1.ProcessingLocation{}
	for _, l := range b.Locations {
		locs[l.Name] = l
	}
	bases := map[string]*v1alpha1.TransferBasis{}
	for _, tb := range b.Bases {
		bases[tb.Name] = tb
	}
	usedBy := map[string][]string{}

	subs := append([]*v1alpha1.Subprocessor(nil), b.Subprocessors...)
	sort.Slice(subs, func(i, j int) bool { return subs[i].Name < subs[j].Name })
	for _, s := range subs {
		res, _ := snap.Subprocessor(s.Name)
		e := RegisterSubprocessor{
			Name: s.Name, LegalName: s.Spec.LegalName, RegistrationNumber: s.Spec.RegistrationNumber,
			Country: string(s.Spec.Country), CountryClassification: string(snap.Classify(string(s.Spec.Country)).Classification),
			Address: s.Spec.Address, Purpose: s.Spec.Purpose, DataAccess: string(s.Spec.DataAccess),
			DataCategories: []string{}, State: string(res.State), StateReason: string(res.Reason), StateMessage: res.Message,
			ObjectionPeriodEndsOn: date(res.ObjectionPeriodEndsOn),
			Locations:             []RegisterLocation{}, Routes: []RegisterRoute{},
		}
		if e.DataAccess == "" {
			e.DataAccess = string(v1alpha1.DataAccessPersonalData)
		}
		for _, c := range s.Spec.DataCategories {
			e.DataCategories = append(e.DataCategories, string(c))
		}
		if s.Spec.Notice != nil {
			e.NotifiedOn = string(s.Spec.Notice.NotifiedOn)
		}
		if s.Spec.Objection != nil {
			e.ObjectedOn = string(s.Spec.Objection.RaisedOn)
		}
		for _, n := range s.Spec.Subprocessors {
			e.OnwardSubprocessors = append(e.OnwardSubprocessors, string(n))
		}
		for _, n := range s.Spec.TransferBases {
			e.TransferBases = append(e.TransferBases, string(n))
			usedBy[string(n)] = append(usedBy[string(n)], s.Name)
		}
		if o, ok := b.Origins[objectKey{"Subprocessor", s.Name}]; ok && o.File != "" {
			o := o
			e.Source = &o
		}
		for _, ln := range s.Spec.ProcessingLocations {
			rl := RegisterLocation{Name: string(ln)}
			l, ok := locs[string(ln)]
			r, _ := snap.Location(string(ln))
			if !ok {
				rl.Missing = true
				rl.Classification = "Unknown"
				rl.LegalReference = "ProcessingLocation " + string(ln) + " does not exist"
			} else {
				rl.Country = string(l.Spec.Country)
				rl.City, rl.Provider, rl.ProviderRegion = l.Spec.City, l.Spec.Provider, l.Spec.ProviderRegion
				rl.Classification = string(r.Classification)
				rl.LegalReference = r.LegalReference
				rl.ClassificationValidUntil = date(r.ValidUntil)
			}
			e.Locations = append(e.Locations, rl)
		}
		for i, t := range res.Transfers {
			if t.Classification == v1alpha1.ClassificationEEA {
				continue
			}
			var route residency.RouteResult
			if i < len(res.Routes) {
				route = res.Routes[i]
			}
			rr := RegisterRoute{Route: t.Route, Type: "location", Country: string(t.Country),
				Classification: string(t.Classification), Covered: t.Covered, Basis: t.Basis, Reason: t.Reason, Message: t.Message,
				ValidUntil: date(route.ValidUntil), Bases: route.Bases}
			if rr.Bases == nil {
				rr.Bases = []residency.RouteBasis{}
			}
			rest := t.Route
			if i := strings.LastIndexByte(t.Route, '/'); i >= 0 {
				rr.Type, rr.Via, rest = "onward", t.Route[:i], t.Route[i+1:]
			}
			if strings.HasPrefix(rest, "remote-access:") {
				if rr.Type == "location" {
					rr.Type = "remote-access"
				}
			} else if rr.Type == "location" || rr.Type == "onward" {
				if lr, ok := snap.Location(rest); ok {
					rr.LegalReference = lr.LegalReference
				}
			}
			if t.Classification == "" {
				rr.Classification = "Unknown"
			}
			if rr.LegalReference == "" && t.Country != "" {
				rr.LegalReference = snap.Classify(string(t.Country)).LegalReference
			}
			if t.Classification == v1alpha1.ClassificationAdequate && t.Basis == "" {
				rr.Mechanism = "adequacy decision"
				rr.Article = "GDPR Art. 45"
			}
			if tb, ok := bases[t.Basis]; ok {
				rr.Mechanism = string(tb.Spec.Mechanism)
				rr.Article = articleOf(cat, tb)
				if tb.Spec.Mechanism == v1alpha1.MechanismAdequacyDecision && rr.LegalReference != "" &&
					t.Classification == v1alpha1.ClassificationPartiallyAdequate {
					// The decision whose scope the basis records (CA: PIPEDA, JP: APPI).
					rr.Article = cat.Article(tb.Spec.Mechanism) + ", " + rr.LegalReference
				}
				rr.EffectiveFrom, rr.ExpiresOn = string(tb.Spec.EffectiveFrom), string(tb.Spec.ExpiresOn)
				if br, ok := snap.Basis(t.Basis); ok {
					rr.BasisState = string(br.State)
				}
			}
			if route.AnonymousOnly {
				// Anonymous data only: not a transfer of personal data (GDPR Chapter V does not apply).
				rr.Type = "not-a-transfer"
				e.NotTransfers = append(e.NotTransfers, rr)
				continue
			}
			e.Routes = append(e.Routes, rr)
			reg.Summary.ThirdCountryRoutes++
			if !t.Covered {
				reg.Summary.UncoveredRoutes++
			}
		}
		if len(e.NotTransfers) > 0 {
			var where []string
			for _, rt := range e.NotTransfers {
				where = append(where, rt.Route+" ("+rt.Country+")")
			}
			e.Note = fmt.Sprintf("%s receives anonymous data only (spec.dataAccess AnonymousOnly): %s %s not a transfer of personal data and needs no transfer basis",
				e.Name, strings.Join(where, ", "), plural(len(where), "is", "are"))
		}
		reg.Subprocessors = append(reg.Subprocessors, e)
		reg.Summary.SubprocessorsByState[e.State]++
	}
	reg.Summary.Subprocessors = len(reg.Subprocessors)

	tbs := append([]*v1alpha1.TransferBasis(nil), b.Bases...)
	sort.Slice(tbs, func(i, j int) bool { return tbs[i].Name < tbs[j].Name })
	for _, tb := range tbs {
		br, _ := snap.Basis(tb.Name)
		rb := RegisterBasis{Name: tb.Name, Mechanism: string(tb.Spec.Mechanism), Article: articleOf(cat, tb),
			Derogation: string(tb.Spec.Derogation), SCCModule: string(tb.Spec.SCCModule), Countries: []string{},
			Reference: tb.Spec.Reference, EffectiveFrom: string(tb.Spec.EffectiveFrom), ExpiresOn: string(tb.Spec.ExpiresOn),
			State: string(br.State), ValidUntil: date(br.ValidUntil), Message: br.Message, UsedBy: usedBy[tb.Name]}
		if rb.UsedBy == nil {
			rb.UsedBy = []string{}
		}
		for _, c := range tb.Spec.Countries {
			rb.Countries = append(rb.Countries, string(c))
		}
		if tia := tb.Spec.TransferImpactAssessment; tia != nil {
			rb.TIACompletedOn, rb.TIANextReviewOn, rb.TIAReference = string(tia.CompletedOn), string(tia.NextReviewOn), tia.Reference
		}
		for _, m := range tb.Spec.SupplementaryMeasures {
			rb.SupplementaryMeasures = append(rb.SupplementaryMeasures, string(m))
		}
		reg.TransferBases = append(reg.TransferBases, rb)
		reg.Summary.TransferBasesByState[rb.State]++
	}
	reg.Summary.TransferBases = len(reg.TransferBases)

	if b.Policy != nil {
		p := &RegisterPolicy{}
		for _, m := range b.Policy.Spec.RequireTransferImpactAssessment {
			p.RequireTransferImpactAssessment = append(p.RequireTransferImpactAssessment, string(m))
		}
		for _, o := range b.Policy.Spec.MechanismOverrides {
			p.MechanismOverrides = append(p.MechanismOverrides, fmt.Sprintf("%s invalid from %s (%s)", o.Mechanism, o.InvalidFrom, o.Reason))
		}
		for _, o := range b.Policy.Spec.CountryOverrides {
			s := fmt.Sprintf("%s is %s", o.Country, o.Classification)
			if o.From != "" {
				s += " from " + string(o.From)
			}
			if o.Until != "" {
				s += " until " + string(o.Until)
			}
			if o.Reason != "" {
				s += " (" + o.Reason + ")"
			}
			p.CountryOverrides = append(p.CountryOverrides, s)
		}
		reg.Policy = p
	}
	reg.AcceptedRisks = []RegisterException{}
	for _, x := range b.Exceptions {
		xr, ok := snap.Exception(x.Name)
		if !ok || xr.State != v1alpha1.ExceptionActive {
			continue
		}
		e := RegisterException{Name: x.Name, Namespaces: x.Spec.Namespaces, Endpoints: x.Spec.Endpoints, Reasons: x.Spec.Reasons,
			Justification: x.Spec.Justification, Ticket: x.Spec.Ticket, ApprovedBy: x.Spec.ApprovedBy,
			ApprovedOn: string(x.Spec.ApprovedOn), ExpiresOn: date(xr.ExpiresOn)}
		if x.Spec.NamespaceSelector != nil {
			e.Namespaces = append(e.Namespaces, "selector "+metav1.FormatLabelSelector(x.Spec.NamespaceSelector))
		}
		for _, w := range x.Spec.Workloads {
			e.Workloads = append(e.Workloads, w.Kind+" "+w.Name)
		}
		for _, s := range x.Spec.Subprocessors {
			e.Subprocessors = append(e.Subprocessors, string(s))
		}
		reg.AcceptedRisks = append(reg.AcceptedRisks, e)
	}
	sort.Slice(reg.AcceptedRisks, func(i, j int) bool { return reg.AcceptedRisks[i].ExpiresOn < reg.AcceptedRisks[j].ExpiresOn })
	return reg
}

// articleOf is the GDPR article a basis rests on; for a derogation, its point of Art. 49(1).
func articleOf(cat *residency.Catalog, tb *v1alpha1.TransferBasis) string {
	if tb.Spec.Mechanism == v1alpha1.MechanismDerogation {
		if a := cat.DerogationArticle(tb.Spec.Derogation); a != "" {
			return a
		}
	}
	return cat.Article(tb.Spec.Mechanism)
}

// readCluster lists the four residency kinds (read-only) into a Bundle.
func readCluster(ctx context.Context, c client.Reader) (*Bundle, error) {
	b := newBundle()
	var locs v1alpha1.ProcessingLocationList
	if err := c.List(ctx, &locs); err != nil {
		return nil, fmt.Errorf("list ProcessingLocations: %w", err)
	}
	var bases v1alpha1.TransferBasisList
	if err := c.List(ctx, &bases); err != nil {
		return nil, fmt.Errorf("list TransferBases: %w", err)
	}
	var subs v1alpha1.SubprocessorList
	if err := c.List(ctx, &subs); err != nil {
		return nil, fmt.Errorf("list Subprocessors: %w", err)
	}
	var pols v1alpha1.ResidencyPolicyList
	if err := c.List(ctx, &pols); err != nil {
		return nil, fmt.Errorf("list ResidencyPolicies: %w", err)
	}
	for i := range locs.Items {
		b.Locations = append(b.Locations, &locs.Items[i])
		b.Origins[objectKey{"ProcessingLocation", locs.Items[i].Name}] = Origin{Item: -1}
	}
	for i := range bases.Items {
		b.Bases = append(b.Bases, &bases.Items[i])
		b.Origins[objectKey{"TransferBasis", bases.Items[i].Name}] = Origin{Item: -1}
	}
	for i := range subs.Items {
		b.Subprocessors = append(b.Subprocessors, &subs.Items[i])
		b.Origins[objectKey{"Subprocessor", subs.Items[i].Name}] = Origin{Item: -1}
	}
	for i := range pols.Items {
		if pols.Items[i].Name == v1alpha1.PolicyName {
			b.Policy = &pols.Items[i]
			b.Origins[objectKey{"ResidencyPolicy", v1alpha1.PolicyName}] = Origin{Item: -1}
		}
	}
	// Exceptions (accepted risks) are newer than the other kinds: a cluster
	// whose CRDs predate them has none.
	var xs v1alpha1.ResidencyExceptionList
	if err := c.List(ctx, &xs); err != nil && !meta.IsNoMatchError(err) && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("list ResidencyExceptions: %w", err)
	}
	for i := range xs.Items {
		b.Exceptions = append(b.Exceptions, &xs.Items[i])
	}
	b.referenceNotices(nil)
	return b, nil
}

// Writers.

func writeRegisterJSON(w io.Writer, r *Register) error { return writeJSON(w, r) }

// mdCell escapes a table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\r", "")
	s = strings.ReplaceAll(s, "\n", "<br>")
	if s == "" {
		return "–"
	}
	return s
}

func mdRow(w io.Writer, cells ...string) {
	for i := range cells {
		cells[i] = mdCell(cells[i])
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
}

func mdHeader(w io.Writer, cells ...string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	seps := make([]string, len(cells))
	for i := range seps {
		seps[i] = "---"
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(seps, " | "))
}

func categoriesText(c []string) string {
	if len(c) == 0 {
		return "not restricted"
	}
	return strings.Join(c, ", ")
}

func coveredText(r RegisterRoute) string {
	if r.Covered {
		return "yes"
	}
	return "NO (" + r.Reason + ")"
}

func validityText(from, to string) string {
	switch {
	case from == "" && to == "":
		return ""
	case to == "":
		return "from " + from
	case from == "":
		return "until " + to
	}
	return from + " – " + to
}

func writeRegisterMarkdown(w io.Writer, r *Register) error {
	fmt.Fprintf(w, "# Register of transfers of personal data (GDPR Art. 30(1)(e))\n\n")
	fmt.Fprintf(w, "As of %s. Source: %s. Generated by residencyctl %s.\n\n", r.At, r.Source, versionString())
	s := r.Summary
	fmt.Fprintf(w, "%d subprocessors (%s); %d routes out of the EEA, %d of them not covered; %d transfer bases (%s).\n\n",
		s.Subprocessors, countsText(s.SubprocessorsByState), s.ThirdCountryRoutes, s.UncoveredRoutes, s.TransferBases, countsText(s.TransferBasesByState))
	if p := r.Policy; p != nil {
		if len(p.RequireTransferImpactAssessment) > 0 {
			fmt.Fprintf(w, "The ResidencyPolicy requires a transfer impact assessment for: %s.\n", strings.Join(p.RequireTransferImpactAssessment, ", "))
		}
		for _, o := range p.MechanismOverrides {
			fmt.Fprintf(w, "Policy override: %s.\n", o)
		}
		for _, o := range p.CountryOverrides {
			fmt.Fprintf(w, "Policy override: %s.\n", o)
		}
		fmt.Fprintln(w)
	}
	if len(r.Sources) > 0 {
		fmt.Fprintf(w, "Sources:\n\n")
		for _, src := range r.Sources {
			if src.Error != "" {
				fmt.Fprintf(w, "- %s: **NOT READ**: %s\n", src.Name, src.Error)
			} else {
				fmt.Fprintf(w, "- %s\n", src.Name)
			}
		}
		fmt.Fprintln(w)
	}
	if len(r.Drift) > 0 {
		fmt.Fprintf(w, "## Catalog drift between sources\n\n")
		mdHeader(w, "Kind", "Name", "Drift")
		for _, d := range r.Drift {
			mdRow(w, d.Kind, d.Name, d.Detail)
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "## Subprocessors\n\n")
	mdHeader(w, "Subprocessor", "Legal entity", "Registration no.", "Country", "Purpose", "Data categories", "State")
	for _, e := range r.Subprocessors {
		mdRow(w, e.Name, e.LegalName, e.RegistrationNumber, e.Country+" ("+e.CountryClassification+")", e.Purpose,
			accessText(e), e.State)
	}
	fmt.Fprintln(w)

	for _, e := range r.Subprocessors {
		fmt.Fprintf(w, "### %s: %s\n\n", e.Name, e.LegalName)
		item := func(k, v string) {
			if v != "" {
				fmt.Fprintf(w, "- %s: %s\n", k, v)
			}
		}
		item("Registration number", e.RegistrationNumber)
		item("Country of establishment", e.Country+" ("+e.CountryClassification+")")
		item("Address", e.Address)
		item("Purpose", e.Purpose)
		item("Data categories", accessText(e))
		state := e.State
		if e.StateMessage != "" && e.State != string(v1alpha1.SubprocessorApproved) {
			state += ": " + e.StateMessage
		}
		item("State", state)
		item("Notified on", e.NotifiedOn)
		item("Objection period ends on", e.ObjectionPeriodEndsOn)
		item("Objected on", e.ObjectedOn)
		item("Onward subprocessors", strings.Join(e.OnwardSubprocessors, ", "))
		item("Transfer bases", strings.Join(e.TransferBases, ", "))
		for _, p := range e.Presence {
			n := "defined"
			if p.Workloads != nil {
				n = fmt.Sprintf("%d workload(s)", *p.Workloads)
			}
			item("In "+p.Source, n)
		}
		for _, rt := range e.Routes {
			if len(rt.Sources) > 0 {
				item("Route "+rt.Route, strings.Join(rt.Sources, "; "))
			}
		}
		fmt.Fprintln(w)
		mdHeader(w, "Processing location", "Country", "City", "Provider / region", "Classification", "Legal reference")
		for _, l := range e.Locations {
			ref := l.LegalReference
			if l.ClassificationValidUntil != "" {
				ref += " (until " + l.ClassificationValidUntil + ")"
			}
			mdRow(w, l.Name, l.Country, l.City, strings.Trim(l.Provider+" "+l.ProviderRegion, " "), l.Classification, ref)
		}
		fmt.Fprintln(w)
		if e.Note != "" {
			fmt.Fprintf(w, "%s.\n\n", e.Note)
		}
		if len(e.Routes) == 0 {
			if e.Note == "" {
				fmt.Fprintf(w, "No route leaves the EEA.\n\n")
			}
			continue
		}
		mdHeader(w, "Route out of the EEA", "Type", "Country", "Classification", "Basis", "Mechanism", "GDPR article", "Basis state", "Validity", "Covered")
		for _, rt := range e.Routes {
			typ := rt.Type
			if rt.Via != "" {
				typ += " via " + rt.Via
			}
			validity := validityText(rt.EffectiveFrom, rt.ExpiresOn)
			if rt.ValidUntil != "" {
				if rt.Covered {
					validity = strings.TrimSpace(validity + " (covered until " + rt.ValidUntil + ")")
				} else {
					validity = strings.TrimSpace(validity + " (state holds until " + rt.ValidUntil + ")")
				}
			}
			basis := rt.Basis
			if basis == "" && rt.Article == "GDPR Art. 45" {
				basis = rt.LegalReference
			}
			if others := otherBasesText(rt); others != "" {
				basis += "; also listing " + rt.Country + ": " + others
			}
			mdRow(w, rt.Route, typ, rt.Country, rt.Classification, basis, rt.Mechanism, rt.Article, rt.BasisState, validity, coveredText(rt))
		}
		fmt.Fprintln(w)
		uncovered := false
		for _, rt := range e.Routes {
			if !rt.Covered {
				fmt.Fprintf(w, "- %s: %s\n", rt.Route, rt.Message)
				uncovered = true
			}
		}
		if uncovered {
			fmt.Fprintln(w)
		}
	}

	fmt.Fprintf(w, "## Transfer bases\n\n")
	mdHeader(w, "Basis", "Mechanism", "GDPR article", "Countries", "Reference", "Validity", "Transfer impact assessment", "State", "Used by")
	for _, b := range r.TransferBases {
		tia := ""
		if b.TIACompletedOn != "" {
			tia = "completed " + b.TIACompletedOn
			if b.TIANextReviewOn != "" {
				tia += ", review by " + b.TIANextReviewOn
			}
			if b.TIAReference != "" {
				tia += " (" + b.TIAReference + ")"
			}
		}
		state := b.State
		if b.Message != "" && b.State != string(v1alpha1.BasisValid) {
			state += ": " + b.Message
		}
		mech := b.Mechanism
		if b.SCCModule != "" {
			mech += " (" + b.SCCModule + ")"
		}
		if b.Derogation != "" {
			mech += " (" + b.Derogation + ")"
		}
		mdRow(w, b.Name, mech, b.Article, strings.Join(b.Countries, ", "), b.Reference,
			validityText(b.EffectiveFrom, b.ExpiresOn), tia, state, strings.Join(b.UsedBy, ", "))
	}
	fmt.Fprintf(w, "\n## Accepted risks in force (ResidencyExceptions)\n\n")
	if len(r.AcceptedRisks) == 0 {
		fmt.Fprintf(w, "None.\n")
		return nil
	}
	mdHeader(w, "Exception", "Where", "What", "Justification", "Approved by", "Approved on", "Ticket", "Expires on")
	for _, x := range r.AcceptedRisks {
		where := strings.Join(append(append([]string(nil), x.Namespaces...), x.Workloads...), ", ")
		what := strings.Join(append(append(append([]string(nil), x.Subprocessors...), x.Endpoints...), x.Reasons...), ", ")
		mdRow(w, x.Name, where, what, x.Justification, x.ApprovedBy, x.ApprovedOn, x.Ticket, x.ExpiresOn)
	}
	return nil
}

// otherBasesText lists the bases listing a route's country beyond the one
// named, each with its state and dates: "dpf (DataPrivacyFramework): Valid
// until 2027-06-01".
func otherBasesText(rt RegisterRoute) string {
	var parts []string
	for _, b := range rt.Bases {
		if b.Name == rt.Basis {
			continue
		}
		parts = append(parts, b.String())
	}
	return strings.Join(parts, ", ")
}

func accessText(e RegisterSubprocessor) string {
	if e.DataAccess == string(v1alpha1.DataAccessAnonymousOnly) {
		return "anonymous data only"
	}
	return categoriesText(e.DataCategories)
}

func countsText(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// registerCSVHeader: one row per processing location and per route out of the EEA.
var registerCSVHeader = []string{
	"subprocessor", "legal_name", "registration_number", "entity_country", "address", "purpose", "data_access",
	"data_categories", "state", "row_type", "route", "via", "country", "city", "provider", "provider_region",
	"classification", "legal_reference", "covered", "basis", "mechanism", "article", "basis_state",
	"effective_from", "expires_on", "valid_until", "reason", "message", "bases",
}

func writeRegisterCSV(w io.Writer, r *Register) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(registerCSVHeader); err != nil {
		return err
	}
	for _, e := range r.Subprocessors {
		head := []string{e.Name, e.LegalName, e.RegistrationNumber, e.Country, e.Address, e.Purpose, e.DataAccess,
			strings.Join(e.DataCategories, " "), e.State}
		for _, l := range e.Locations {
			covered := ""
			if l.Classification == string(v1alpha1.ClassificationEEA) {
				covered = "true"
			}
			msg := ""
			if e.Note != "" && l.Classification != string(v1alpha1.ClassificationEEA) && !l.Missing {
				msg = e.Note
			}
			row := append(append([]string(nil), head...), "location", l.Name, "", l.Country, l.City, l.Provider, l.ProviderRegion,
				l.Classification, l.LegalReference, covered, "", "", "", "", "", "", l.ClassificationValidUntil, "", msg, "")
			if err := cw.Write(row); err != nil {
				return err
			}
		}
		for _, rt := range e.Routes {
			row := append(append([]string(nil), head...), "transfer:"+rt.Type, rt.Route, rt.Via, rt.Country, "", "", "",
				rt.Classification, rt.LegalReference, fmt.Sprint(rt.Covered), rt.Basis, rt.Mechanism, rt.Article, rt.BasisState,
				rt.EffectiveFrom, rt.ExpiresOn, rt.ValidUntil, rt.Reason, rt.Message, residency.RouteBasesText(rt.Bases))
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
