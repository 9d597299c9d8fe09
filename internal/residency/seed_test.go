package residency

import (
	"strings"
	"testing"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// One test per seed document (/shared/seeds): each encodes the document's
// situation as residency objects and asserts what a DPO would conclude on
// 2026-11-22.

// Seed 000: MailMojo after Schrems II. Twilio SendGrid (US) is the only US
// subprocessor; transfers rest on SCC and BCR, explicitly not Privacy Shield,
// with encryption in transit and at rest; only recipient e-mail addresses reach it.
func TestSeed000MailMojoSendGridOnSCCAndBCR(t *testing.T) {
	measures := func(s *v1alpha1.TransferBasisSpec) {
		s.SupplementaryMeasures = []v1alpha1.SupplementaryMeasure{"EncryptionInTransit", "EncryptionAtRest"}
	}
	in := Inputs{
		Policy: &v1alpha1.ResidencyPolicySpec{
			RequireTransferImpactAssessment: []v1alpha1.Mechanism{"StandardContractualClauses", "BindingCorporateRules"}},
		Locations: []*v1alpha1.ProcessingLocation{mkLoc("sendgrid-us", "US", "")},
		Bases: []*v1alpha1.TransferBasis{
			mkBasis("sendgrid-scc", "StandardContractualClauses", []string{"US"}, tia("2020-09-01", "2027-09-01"), measures),
			mkBasis("sendgrid-bcr", "BindingCorporateRules", []string{"US"}, tia("2020-09-01", "2027-09-01"), measures),
		},
		Subprocessors: []*v1alpha1.Subprocessor{
			mkSub("twilio-sendgrid", locs("sendgrid-us"), bases("sendgrid-scc", "sendgrid-bcr"),
				approved("user.contact.email"), hosts("api.sendgrid.com", "*.sendgrid.net")),
		},
	}
	s := Compile(nil, in, today)
	sub, _ := s.Subprocessor("twilio-sendgrid")
	if sub.State != v1alpha1.SubprocessorApproved {
		t.Fatalf("twilio-sendgrid = %s: %s", sub.State, sub.Message)
	}
	tr, _ := transferByRoute(sub, "sendgrid-us")
	if !tr.Covered || tr.Basis != "sendgrid-bcr" {
		t.Errorf("sendgrid-us route = %+v, want covered by sendgrid-bcr", tr)
	}
	r := evalDeployment(t, s, deployment("newsletter-sender", flowAnn("", "user.contact.email"),
		"SENDGRID_URL", "https://api.sendgrid.com/v3/mail/send"))
	if r.Verdict != Compliant || len(r.Findings) != 1 {
		t.Fatalf("newsletter sender:\n%s", dumpFindings(r))
	}
	f := r.Findings[0]
	if f.Subprocessor != "twilio-sendgrid" || f.Endpoint != "api.sendgrid.com" {
		t.Errorf("finding = %+v", f)
	}
	if strings.Contains(f.Message, "PrivacyShield") {
		t.Errorf("seed 000 does not rely on Privacy Shield: %s", f.Message)
	}
	// The promise that only e-mail addresses reach SendGrid is enforced.
	r = evalDeployment(t, s, deployment("newsletter-sender", flowAnn("twilio-sendgrid", "user.contact.email,user.name")))
	wantContains(t, "finding", mustFinding(t, r, ReasonCategoryNotApproved).Message, "not approved to receive user.name")
	// Without the TIA Schrems II requires, the policy makes both bases Incomplete.
	for _, b := range in.Bases {
		b.Spec.TransferImpactAssessment = nil
	}
	s = Compile(nil, in, today)
	r = evalDeployment(t, s, deployment("newsletter-sender", flowAnn("twilio-sendgrid", "user.contact.email")))
	wantContains(t, "finding", mustFinding(t, r, ReasonBasisNotValid).Message,
		"requires a transfer impact assessment", "none is recorded")
}

// Seed 001: MailMojo DPA v1.0 (2018). Transfers under Privacy Shield (invalid
// since 16 July 2020); remote access from outside the EEA to EEA-stored data is
// a transfer (§2.8); Sentry receives anonymous statistics only.
func TestSeed001MailMojoDPA2018(t *testing.T) {
	in := Inputs{
		Locations: []*v1alpha1.ProcessingLocation{
			mkLoc("sendgrid-us", "US", ""),
			mkLoc("aws-eu-west-1", "IE", "eu-west-1"),
			mkLoc("sentry-us", "US", ""),
		},
		Bases: []*v1alpha1.TransferBasis{
			mkBasis("sendgrid-ps", "PrivacyShield", []string{"US"}),
		},
		Subprocessors: []*v1alpha1.Subprocessor{
			mkSub("sendgrid", locs("sendgrid-us"), bases("sendgrid-ps"), hosts("api.sendgrid.com")),
			mkSub("aws-s3", locs("aws-eu-west-1"), remote("US"), hosts("*.s3.eu-west-1.amazonaws.com")),
			mkSub("sentry", locs("sentry-us"), anonymousOnly(), hosts("*.ingest.sentry.io")),
		},
	}
	s := Compile(nil, in, today)

	// SendGrid resting only on Privacy Shield.
	r := evalDeployment(t, s, deployment("mailer", flowAnn("sendgrid", "user.contact.email")))
	if r.Verdict != Violation {
		t.Fatalf("sendgrid on Privacy Shield = %s", r.Verdict)
	}
	f := mustFinding(t, r, ReasonBasisNotValid)
	if f.Verdict != Violation || f.Basis != "sendgrid-ps" || f.Route != "sendgrid-us" || f.Country != "US" {
		t.Errorf("finding = %+v", f)
	}
	if want := "transfer to US via sendgrid-us has no valid basis: sendgrid-ps is PrivacyShield, invalid since 2020-07-16 (CJEU C-311/18)"; f.Message != want {
		t.Errorf("message = %q\n   want %q", f.Message, want)
	}
	// In 2019 it was still fine.
	if r := evalDeployment(t, Compile(nil, in, utc("2019-06-01")), deployment("mailer", flowAnn("sendgrid", "user.contact.email"))); r.Verdict != Compliant {
		t.Errorf("2019: %s\n%s", r.Verdict, dumpFindings(r))
	}

	// Backups stay in Ireland, but AWS staff in the US can reach them: a transfer without a basis.
	r = evalDeployment(t, s, deployment("backup", flowAnn("aws-s3", "user.contact.email,user.name")))
	f = mustFinding(t, r, ReasonUncoveredTransfer)
	if f.Route != "remote-access:US" || f.Verdict != Violation {
		t.Errorf("remote access finding = %+v", f)
	}
	wantContains(t, "message", f.Message, "EDPB Guidelines 05/2021")
	in.Bases = append(in.Bases, mkBasis("aws-scc", "StandardContractualClauses", []string{"US"}))
	in.Subprocessors[1].Spec.TransferBases = objNames([]string{"aws-scc"})
	if r := evalDeployment(t, Compile(nil, in, today), deployment("backup", flowAnn("aws-s3", "user.name"))); r.Verdict != Compliant {
		t.Errorf("with SCCs for remote access:\n%s", dumpFindings(r))
	}

	// Sentry: anonymous statistics are fine, personal data is not.
	r = evalDeployment(t, s, deployment("web", nil, "SENTRY_DSN", "https://key@o1.ingest.sentry.io/42"))
	if r.Verdict != Compliant {
		t.Errorf("anonymous sentry flow:\n%s", dumpFindings(r))
	}
	r = evalDeployment(t, s, deployment("web", flowAnn("", "user.device.ip_address"), "SENTRY_DSN", "https://key@o1.ingest.sentry.io/42"))
	if f := mustFinding(t, r, ReasonAnonymousOnly); f.Verdict != Violation || f.Endpoint != "o1.ingest.sentry.io" {
		t.Errorf("sentry with IP addresses = %+v", f)
	}
}

// Seed 002: Pindena DPA on the EDPB clauses (2021). Processing in AWS Sweden
// and Deploi Norway; SendGrid under BCR, never sent fields marked sensitive;
// AWS contracted via AWS EMEA SARL (LU) yet subject to US law; Help Scout under
// SCC; special categories (health, membership) may be collected.
func TestSeed002PindenaSendGridScopedToCategories(t *testing.T) {
	in := Inputs{
		Locations: []*v1alpha1.ProcessingLocation{
			mkLoc("aws-eu-north-1", "SE", "eu-north-1"),
			mkLoc("deploi-norway", "NO", ""),
			mkLoc("sendgrid-us", "US", ""),
			mkLoc("helpscout-us", "US", ""),
		},
		Bases: []*v1alpha1.TransferBasis{
			mkBasis("sendgrid-bcr", "BindingCorporateRules", []string{"US"}),
			mkBasis("helpscout-scc", "StandardContractualClauses", []string{"US"}),
		},
		Subprocessors: []*v1alpha1.Subprocessor{
			func() *v1alpha1.Subprocessor {
				s := mkSub("aws-emea", locs("aws-eu-north-1"))
				s.Spec.Country = "LU" // AWS EMEA SARL; its locations decide the routes
				return s
			}(),
			mkSub("deploi", locs("deploi-norway")),
			mkSub("sendgrid", locs("sendgrid-us"), bases("sendgrid-bcr"), approved("user.contact.email", "user.name")),
			mkSub("help-scout", locs("helpscout-us"), bases("helpscout-scc"), approved("user.contact", "user.name")),
		},
	}
	s := Compile(nil, in, today)

	r := evalDeployment(t, s, deployment("event-reminders", flowAnn("sendgrid", "user.contact.email,user.name,user.health")))
	if r.Verdict != Violation {
		t.Fatalf("verdict %s", r.Verdict)
	}
	f := mustFinding(t, r, ReasonCategoryNotApproved)
	wantContains(t, "message", f.Message, "user.health", "approved: user.contact.email, user.name")
	for _, f := range r.Findings {
		if strings.Contains(f.Message, "user.contact.email") && f.Reason == ReasonCategoryNotApproved && strings.Contains(f.Message, "receive user.contact.email") {
			t.Errorf("approved category reported: %s", f.Message)
		}
	}
	// Health data to the US is also an Art. 9 transfer the default policy denies.
	mustFinding(t, r, ReasonSpecialCategoryOutsideEEA)
	// Without the sensitive field, the flow is what the DPA allows.
	if r := evalDeployment(t, s, deployment("event-reminders", flowAnn("sendgrid", "user.contact.email,user.name"))); r.Verdict != Compliant {
		t.Errorf("approved categories:\n%s", dumpFindings(r))
	}
	// Registrations, health and membership included, stay in Sweden and Norway.
	r = evalDeployment(t, s, deployment("registrations",
		flowAnn("aws-emea,deploi", "user.name,user.contact,user.health,user.demographic.union_membership")))
	if r.Verdict != Compliant {
		t.Errorf("EEA processing of special categories:\n%s", dumpFindings(r))
	}
	// Help Scout under SCC.
	if r := evalDeployment(t, s, deployment("support", flowAnn("help-scout", "user.contact.email"))); r.Verdict != Compliant {
		t.Errorf("help scout:\n%s", dumpFindings(r))
	}
}

// Seed 003: a Polish LMS after the Privacy Shield judgment (Aug 2020). Mandrill
// (US) sent all e-mail with participants' names and addresses on Privacy Shield,
// then on the SCCs of the day (2010/87/EU); customers can switch to their own
// mail server, so that participant data never reaches Mandrill.
func TestSeed003MandrillMovedToOwnMailServer(t *testing.T) {
	in := Inputs{
		Locations: []*v1alpha1.ProcessingLocation{
			mkLoc("aws-eu-central-1", "DE", "eu-central-1"),
			mkLoc("mandrill-us", "US", ""),
			mkLoc("customer-dc", "PL", ""),
		},
		Bases: []*v1alpha1.TransferBasis{
			mkBasis("mandrill-ps", "PrivacyShield", []string{"US"}),
			mkBasis("mandrill-scc-2010", "LegacyStandardContractualClauses", []string{"US"}),
		},
		Subprocessors: []*v1alpha1.Subprocessor{
			mkSub("mandrill", locs("mandrill-us"), bases("mandrill-ps", "mandrill-scc-2010"), hosts("smtp.mandrillapp.com")),
			mkSub("customer-mail", locs("customer-dc"), hosts("mail.customer.eu")),
		},
	}
	s := Compile(nil, in, today)
	lms := func(smtp string) Result {
		return evalDeployment(t, s, deployment("lms", flowAnn("", "user.name,user.contact.email"),
			"SMTP_HOST", smtp, "DATABASE_URL", "postgres://lms@db.lms.svc.cluster.local:5432/lms"))
	}
	r := lms("smtp.mandrillapp.com:587")
	if r.Verdict != Violation || len(r.Subprocessors) != 1 || r.Subprocessors[0] != "mandrill" {
		t.Fatalf("via Mandrill: %s %v\n%s", r.Verdict, r.Subprocessors, dumpFindings(r))
	}
	f := mustFinding(t, r, ReasonBasisNotValid)
	if f.Basis != "mandrill-scc-2010" || f.Endpoint != "smtp.mandrillapp.com:587" {
		t.Errorf("finding = %+v", f)
	}
	wantContains(t, "message", f.Message, "expired since 2022-12-27 (Decision (EU) 2021/914, Art. 4)",
		"mandrill-ps is PrivacyShield, invalid since 2020-07-16 (CJEU C-311/18)")
	if len(f.Bases) != 2 || f.Bases[0].Name != "mandrill-scc-2010" || f.Bases[1].Name != "mandrill-ps" ||
		f.Bases[1].State != v1alpha1.BasisInvalidated || f.Bases[1].Since != "2020-07-16" {
		t.Errorf("bases = %+v, want both, each with its state and since when", f.Bases)
	}
	// In September 2020 the 2010 SCCs still held.
	if r := evalDeployment(t, Compile(nil, in, utc("2020-09-01")), deployment("lms", flowAnn("mandrill", "user.name"))); r.Verdict != Compliant {
		t.Errorf("2020-09-01:\n%s", dumpFindings(r))
	}

	// The customer points the LMS at its own mail server: a configuration change.
	r = lms("mail.customer.eu:25")
	if r.Verdict != Compliant || len(r.Subprocessors) != 1 || r.Subprocessors[0] != "customer-mail" {
		t.Fatalf("via own mail server: %s %v\n%s", r.Verdict, r.Subprocessors, dumpFindings(r))
	}
	wantContains(t, "message", r.Findings[0].Message, "customer-dc is in the EEA (PL)")
}

// Seed 004: Class Manager (SE) processor agreement. Google Cloud europe-west3;
// Firebase Hosting edge served from Zurich (CH, adequate) or the US for users
// outside the EU (public IP address only); Zendesk (EU, US; BCR + SCC); Mailjet
// (EU, US in limited cases through its hosting providers); new subprocessors wait
// out a 30-day objection period with no processing before it ends.
func TestSeed004ClassManager(t *testing.T) {
	in := Inputs{
		Locations: []*v1alpha1.ProcessingLocation{
			mkLoc("gcp-europe-west3", "DE", "europe-west3"),
			mkLoc("gcp-europe-west6", "CH", "europe-west6"),
			mkLoc("firebase-us-edge", "US", ""),
			mkLoc("zendesk-eu", "DE", ""),
			mkLoc("zendesk-us", "US", ""),
			mkLoc("mailjet-eu", "BE", ""),
			mkLoc("gcp-us-central1", "US", "us-central1"),
		},
		Bases: []*v1alpha1.TransferBasis{
			mkBasis("zendesk-bcr", "BindingCorporateRules", []string{"US"}),
			mkBasis("zendesk-scc", "StandardContractualClauses", []string{"US"}),
			mkBasis("mailjet-gcp-scc", "StandardContractualClauses", []string{"US"}),
		},
		Subprocessors: []*v1alpha1.Subprocessor{
			mkSub("google-cloud", locs("gcp-europe-west3")),
			mkSub("firebase-hosting", locs("gcp-europe-west6", "firebase-us-edge"), approved("user.device.ip_address"),
				hosts("*.web.app", "*.firebaseapp.com")),
			mkSub("zendesk", locs("zendesk-eu", "zendesk-us"), bases("zendesk-bcr", "zendesk-scc")),
			mkSub("mailjet", locs("mailjet-eu"), onward("mailjet-gcp")),
			mkSub("mailjet-gcp", locs("gcp-us-central1"), bases("mailjet-gcp-scc")),
			mkSub("new-analytics", locs("gcp-europe-west3"), notified("2026-11-12", 30)),
		},
	}
	s := Compile(nil, in, today)

	fb, _ := s.Subprocessor("firebase-hosting")
	ch, _ := transferByRoute(fb, "gcp-europe-west6")
	if ch.Classification != v1alpha1.ClassificationAdequate || !ch.Covered || ch.Basis != "" {
		t.Errorf("Zurich edge = %+v, want Adequate and covered without a basis", ch)
	}
	us, _ := transferByRoute(fb, "firebase-us-edge")
	if us.Classification != v1alpha1.ClassificationPartiallyAdequate || us.Covered || us.Reason != string(ReasonUncoveredTransfer) {
		t.Errorf("US edge = %+v, want an uncovered transfer", us)
	}
	r := evalDeployment(t, s, deployment("web", flowAnn("", "user.device.ip_address"), "PUBLIC_URL", "https://classmanager.web.app"))
	f := mustFinding(t, r, ReasonUncoveredTransfer)
	if f.Route != "firebase-us-edge" || f.Subprocessor != "firebase-hosting" {
		t.Errorf("finding = %+v", f)
	}
	// Google's SCCs for the US edge cover it.
	in.Bases = append(in.Bases, mkBasis("google-scc", "StandardContractualClauses", []string{"US"}))
	in.Subprocessors[1].Spec.TransferBases = objNames([]string{"google-scc"})
	s = Compile(nil, in, today)
	if r := evalDeployment(t, s, deployment("web", flowAnn("", "user.device.ip_address"), "PUBLIC_URL", "https://classmanager.web.app")); r.Verdict != Compliant {
		t.Errorf("with SCCs:\n%s", dumpFindings(r))
	}

	// Zendesk on BCR + SCC; Mailjet's US hosting through its own SCCs.
	r = evalDeployment(t, s, deployment("support", flowAnn("zendesk,mailjet,google-cloud", "user.name,user.contact.email")))
	if r.Verdict != Compliant {
		t.Errorf("zendesk/mailjet:\n%s", dumpFindings(r))
	}
	mj, _ := s.Subprocessor("mailjet")
	if tr, ok := transferByRoute(mj, "mailjet-gcp/gcp-us-central1"); !ok || !tr.Covered || tr.Basis != "mailjet-gcp-scc" {
		t.Errorf("mailjet onward route = %+v (found %v)", tr, ok)
	}

	// Notified 10 days ago with a 30-day period: no processing before it ends.
	r = evalDeployment(t, s, deployment("stats", flowAnn("new-analytics", "user.behavior")))
	f = mustFinding(t, r, ReasonObjectionPeriodPending)
	if f.Verdict != Violation {
		t.Errorf("pending verdict = %s", f.Verdict)
	}
	wantContains(t, "message", f.Message, "runs until 2026-12-12", "no processing before it ends")
	if r := evalDeployment(t, Compile(nil, in, utc("2026-12-12")), deployment("stats", flowAnn("new-analytics", "user.behavior"))); r.Verdict != Compliant {
		t.Errorf("after the objection period:\n%s", dumpFindings(r))
	}
}
