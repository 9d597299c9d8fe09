package residency

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// evalWorld adds subprocessors for the evaluation tests to world().
func evalWorld(policy *v1alpha1.ResidencyPolicySpec) *Snapshot {
	in := world()
	in.Policy = policy
	in.Subprocessors = []*v1alpha1.Subprocessor{
		mkSub("eu-mail", locs("aws-eu-north-1"), approved("user.contact", "user.name"), hosts("smtp.eu-mail.eu")),
		mkSub("sendgrid", locs("us-east"), bases("bcr-us"), approved("user.contact.email", "user.name"),
			hosts("api.sendgrid.com", "*.sendgrid.net")),
		mkSub("sendgrid-ps", locs("us-east"), bases("ps-us"), hosts("api.old-sendgrid.eu")),
		mkSub("sentry", locs("us-east"), anonymousOnly(), hosts("*.ingest.sentry.io")),
		mkSub("newbie", locs("aws-eu-north-1"), notified("2026-11-12", 30)),
		mkSub("blocked", locs("aws-eu-north-1"), objected("2026-11-01", "")),
		mkSub("uncovered", locs("singapore")),
		mkSub("consent", locs("us-east"), bases("consent-us")),
		mkSub("ghost-loc", locs("nowhere")),
		mkSub("swiss", locs("gcp-europe-west6")),
	}
	return Compile(nil, in, today)
}

func TestEvaluateReasons(t *testing.T) {
	restrictive := &v1alpha1.ResidencyPolicySpec{AllowedClassifications: []v1alpha1.Classification{"EEA"}}
	denyEgress := &v1alpha1.ResidencyPolicySpec{UnattributedEgress: v1alpha1.RuleDeny}
	tests := []struct {
		name     string
		policy   *v1alpha1.ResidencyPolicySpec
		ann      map[string]string
		env      []string
		verdict  Verdict
		reason   Reason
		finding  Verdict // verdict of the finding with reason
		contains []string
	}{
		{name: "unknown subprocessor", ann: flowAnn("mailchimp", ""), verdict: Violation,
			reason: ReasonUnknownSubprocessor, finding: Violation, contains: []string{"Subprocessor mailchimp is not defined"}},
		{name: "unknown location", ann: flowAnn("ghost-loc", ""), verdict: Violation,
			reason: ReasonUnknownLocation, finding: Violation, contains: []string{"ProcessingLocation nowhere"}},
		{name: "objection period pending", ann: flowAnn("newbie", "user.name"), verdict: Violation,
			reason: ReasonObjectionPeriodPending, finding: Violation, contains: []string{"runs until 2026-12-12"}},
		{name: "objected", ann: flowAnn("blocked", ""), verdict: Violation,
			reason: ReasonSubprocessorObjected, finding: Violation, contains: []string{"objected to blocked on 2026-11-01"}},
		{name: "anonymous only", ann: flowAnn("sentry", "user.device.ip_address"), verdict: Violation,
			reason: ReasonAnonymousOnly, finding: Violation, contains: []string{"sentry may receive anonymous data only", "user.device.ip_address"}},
		{name: "category not approved", ann: flowAnn("sendgrid", "user.contact.email,user.health.medication,user.financial"),
			verdict: Violation, reason: ReasonCategoryNotApproved, finding: Violation,
			contains: []string{"not approved to receive user.financial, user.health.medication (approved: user.contact.email, user.name)"}},
		{name: "uncovered transfer", ann: flowAnn("uncovered", ""), verdict: Violation,
			reason: ReasonUncoveredTransfer, finding: Violation, contains: []string{"transfer to SG via singapore is not covered"}},
		{name: "basis not valid", ann: flowAnn("sendgrid-ps", "user.contact.email"), verdict: Violation,
			reason: ReasonBasisNotValid, finding: Violation,
			contains: []string{"has no valid basis: ps-us is PrivacyShield, invalid since 2020-07-16 (CJEU C-311/18)"}},
		{name: "classification not allowed", policy: restrictive, ann: flowAnn("swiss", "user.name"), verdict: Violation,
			reason: ReasonClassificationNotAllowed, finding: Violation,
			contains: []string{"CH is Adequate and the ResidencyPolicy allows only EEA"}},
		{name: "special category outside the EEA", ann: flowAnn("consent", "user.health"), verdict: Violation,
			reason: ReasonSpecialCategoryOutsideEEA, finding: Violation, contains: []string{"special-category data (user.health"}},
		{name: "special category, warn", policy: &v1alpha1.ResidencyPolicySpec{SpecialCategoriesOutsideEEA: v1alpha1.RuleWarn},
			ann: flowAnn("consent", "user.criminal_history"), verdict: Warning,
			reason: ReasonSpecialCategoryOutsideEEA, finding: Warning},
		{name: "special category via ancestor key", ann: flowAnn("swiss", "user"), verdict: Violation,
			reason: ReasonSpecialCategoryOutsideEEA, finding: Violation},
		{name: "unattributed egress warns", ann: flowAnn("", ""), env: []string{"API", "https://api.unknown-vendor.eu/v1"},
			verdict: Warning, reason: ReasonUnattributedEgress, finding: Warning,
			contains: []string{"endpoint api.unknown-vendor.eu", "claimed by no Subprocessor"}},
		{name: "unattributed egress denied", policy: denyEgress, env: []string{"API", "https://api.unknown-vendor.eu/v1"},
			verdict: Violation, reason: ReasonUnattributedEgress, finding: Violation},
		{name: "derogation in use", ann: flowAnn("consent", "user.contact.email"), verdict: Warning,
			reason: ReasonDerogationInUse, finding: Warning, contains: []string{"last resort"}},
		{name: "invalid annotation", ann: flowAnn("eu-mail,Bad_Name", ""), verdict: Violation,
			reason: ReasonInvalidAnnotation, finding: Violation,
			contains: []string{"dataresidency.io/subprocessors", `"Bad_Name"`}},
		{name: "undeclared, warn", policy: &v1alpha1.ResidencyPolicySpec{RequireDeclaration: v1alpha1.RuleWarn},
			verdict: Warning, reason: ReasonUndeclared, finding: Warning,
			contains: []string{"does not declare what personal data it sends", "dataresidency.io/subprocessors: none"}},
		{name: "compliant EEA flow", ann: flowAnn("eu-mail", "user.contact.email"), verdict: Compliant,
			reason: ReasonNone, finding: Compliant, contains: []string{"flow to eu-mail is compliant"}},
	}
	seen := map[Reason]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := evalWorld(tt.policy)
			r := evalDeployment(t, s, deployment("app", tt.ann, tt.env...))
			if r.Verdict != tt.verdict {
				t.Errorf("verdict = %s, want %s\n%s", r.Verdict, tt.verdict, dumpFindings(r))
			}
			f := mustFinding(t, r, tt.reason)
			if f.Verdict != tt.finding {
				t.Errorf("%s finding verdict = %s, want %s", tt.reason, f.Verdict, tt.finding)
			}
			wantContains(t, "message", f.Message, tt.contains...)
			if r.Resource != (ResourceRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "app"}) {
				t.Errorf("resource = %+v", r.Resource)
			}
			seen[tt.reason] = true
		})
	}
	for _, reason := range []Reason{ReasonUnknownSubprocessor, ReasonUnknownLocation, ReasonObjectionPeriodPending,
		ReasonSubprocessorObjected, ReasonAnonymousOnly, ReasonCategoryNotApproved, ReasonUncoveredTransfer,
		ReasonBasisNotValid, ReasonClassificationNotAllowed, ReasonSpecialCategoryOutsideEEA, ReasonUnattributedEgress,
		ReasonDerogationInUse, ReasonInvalidAnnotation, ReasonUndeclared} {
		if !seen[reason] {
			t.Errorf("reason %s of domain.md is produced by no test input", reason)
		}
	}
}

func TestEvaluateNoPersonalData(t *testing.T) {
	s := evalWorld(nil)
	tests := []struct {
		name, subs, cats string
		contains         string
	}{
		{"system data to a third country", "uncovered", "system.operations,system.authentication", "only non-personal data"},
		{"nothing declared to an anonymous-only vendor", "sentry", "", "anonymous data only"},
		{"system data to an anonymous-only vendor", "sentry", "system.operations", "non-personal"},
		{"system data to an objected vendor", "blocked", "system", "non-personal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := evalDeployment(t, s, deployment("app", flowAnn(tt.subs, tt.cats)))
			if r.Verdict != Compliant || len(r.Findings) != 1 {
				t.Fatalf("verdict %s\n%s", r.Verdict, dumpFindings(r))
			}
			wantContains(t, "message", r.Findings[0].Message, tt.contains)
		})
	}
	// Without data-categories, a flow is assumed to carry personal data:
	// transfer rules apply, category rules are skipped.
	r := evalDeployment(t, s, deployment("app", flowAnn("sendgrid-ps,sendgrid", "")))
	if len(findingsWith(r, ReasonBasisNotValid)) != 1 || len(findingsWith(r, ReasonCategoryNotApproved)) != 0 {
		t.Errorf("undeclared categories:\n%s", dumpFindings(r))
	}
	// Mixed personal and system data: the system key is not checked against the approval.
	r = evalDeployment(t, s, deployment("app", flowAnn("sendgrid", "user.contact.email,system.operations")))
	if r.Verdict != Compliant {
		t.Errorf("mixed categories:\n%s", dumpFindings(r))
	}
}

func TestEvaluateSpecialCategories(t *testing.T) {
	for _, tt := range []struct {
		key     string
		special bool
	}{
		{"user.health", true}, {"user.health.genetic", true}, {"user", true}, {"user.demographic", true},
		{"user.demographic.race_ethnicity", true}, {"user.demographic.union_membership", true},
		{"user.biometrics", true}, {"user.criminal_history", true},
		{"user.demographic.age_range", false}, {"user.contact.email", false}, {"user.healthy", false},
		{"system.operations", false}, {"system", false},
	} {
		if got := IsSpecialCategory(tt.key); got != tt.special {
			t.Errorf("IsSpecialCategory(%s) = %v", tt.key, got)
		}
	}
	allow := evalWorld(&v1alpha1.ResidencyPolicySpec{SpecialCategoriesOutsideEEA: v1alpha1.RuleAllow})
	if r := evalDeployment(t, allow, deployment("app", flowAnn("consent", "user.health"))); len(findingsWith(r, ReasonSpecialCategoryOutsideEEA)) != 0 {
		t.Error("allow still reports special categories")
	}
	// Special categories inside the EEA are not a transfer matter.
	deny := evalWorld(nil)
	if r := evalDeployment(t, deny, deployment("app", flowAnn("eu-mail", "user.health"))); len(findingsWith(r, ReasonSpecialCategoryOutsideEEA)) != 0 {
		t.Errorf("EEA flow flagged:\n%s", dumpFindings(r))
	}
}

func TestEvaluateAttribution(t *testing.T) {
	s := evalWorld(nil)
	d := deployment("mailer", flowAnn("", "user.contact.email"),
		"SENDGRID_API", "https://api.sendgrid.com/v3/mail/send",
		"DB", "postgres.shop.svc.cluster.local:5432",
		"SMTP", "smtp.eu-mail.eu:587")
	r := evalDeployment(t, s, d)
	if !reflect.DeepEqual(r.Subprocessors, []string{"eu-mail", "sendgrid"}) {
		t.Fatalf("subprocessors = %v\n%s", r.Subprocessors, dumpFindings(r))
	}
	if r.Verdict != Compliant {
		t.Errorf("verdict = %s\n%s", r.Verdict, dumpFindings(r))
	}
	for _, f := range r.Findings {
		if f.Subprocessor == "sendgrid" && f.Endpoint != "api.sendgrid.com" {
			t.Errorf("sendgrid finding endpoint = %q", f.Endpoint)
		}
		if f.Subprocessor == "eu-mail" && f.Endpoint != "smtp.eu-mail.eu:587" {
			t.Errorf("eu-mail finding endpoint = %q", f.Endpoint)
		}
	}
	// Declared in the egress annotation, on the object rather than the template.
	d = deployment("mailer", nil)
	d.Annotations = map[string]string{v1alpha1.AnnotationEgress: "eu1.sendgrid.net, 203.0.113.9"}
	r = evalDeployment(t, s, d)
	if !reflect.DeepEqual(r.Subprocessors, []string{"sendgrid"}) {
		t.Errorf("subprocessors = %v", r.Subprocessors)
	}
	if f := mustFinding(t, r, ReasonUnattributedEgress); f.Endpoint != "203.0.113.9" {
		t.Errorf("unattributed endpoint = %q", f.Endpoint)
	}
	// The same endpoint discovered and declared is reported once.
	d = deployment("twice", map[string]string{v1alpha1.AnnotationEgress: "api.nobody.eu"}, "URL", "https://api.nobody.eu")
	r = evalDeployment(t, s, d)
	if n := len(findingsWith(r, ReasonUnattributedEgress)); n != 1 {
		t.Errorf("%d unattributed findings for one endpoint", n)
	}
	ignore := evalWorld(&v1alpha1.ResidencyPolicySpec{UnattributedEgress: v1alpha1.RuleIgnore})
	r = evalDeployment(t, ignore, d)
	if r.Verdict != Compliant || len(r.Findings) != 1 || r.Findings[0].Message != noFlowsMessage {
		t.Errorf("ignored egress:\n%s", dumpFindings(r))
	}
}

func TestEvaluateAnnotationUnion(t *testing.T) {
	s := evalWorld(nil)
	d := deployment("app", flowAnn("sendgrid", "user.health"))
	d.Annotations = flowAnn("eu-mail", "user.contact.email")
	r := evalDeployment(t, s, d)
	if !reflect.DeepEqual(r.Subprocessors, []string{"eu-mail", "sendgrid"}) {
		t.Errorf("subprocessors = %v", r.Subprocessors)
	}
	// The workload's categories are the union too: user.health, declared on the
	// template, is sent to both, and neither is approved for it.
	if fs := findingsWith(r, ReasonCategoryNotApproved); len(fs) != 2 || fs[0].Subprocessor != "eu-mail" || fs[1].Subprocessor != "sendgrid" {
		t.Errorf("category findings:\n%s", dumpFindings(r))
	}
	// Identical values on both are read once.
	d = deployment("app", flowAnn("Bad", ""))
	d.Annotations = flowAnn("Bad", "")
	if n := len(findingsWith(evalDeployment(t, s, d), ReasonInvalidAnnotation)); n != 1 {
		t.Errorf("%d InvalidAnnotation findings for one bad entry", n)
	}
}

// A declaration that cannot be read fails closed, and what can be read is still evaluated.
func TestEvaluateInvalidAnnotationsFailClosed(t *testing.T) {
	s := evalWorld(nil)
	ann := map[string]string{
		v1alpha1.AnnotationSubprocessors:  "sendgrid-ps, Not Valid",
		v1alpha1.AnnotationDataCategories: "User.Health",
		v1alpha1.AnnotationEgress:         "ht!tp://x",
	}
	r := evalDeployment(t, s, deployment("app", ann))
	if r.Verdict != Violation {
		t.Fatalf("verdict %s", r.Verdict)
	}
	bad := findingsWith(r, ReasonInvalidAnnotation)
	if len(bad) != 3 {
		t.Fatalf("%d InvalidAnnotation findings, want 3\n%s", len(bad), dumpFindings(r))
	}
	wantContains(t, "message", bad[0].Message, "dataresidency.io/subprocessors", `"Not Valid"`)
	wantContains(t, "message", bad[1].Message, "dataresidency.io/data-categories", `"User.Health"`)
	wantContains(t, "message", bad[2].Message, "dataresidency.io/egress", `"ht!tp://x"`)
	// sendgrid-ps is still evaluated, with transfer rules (the categories could not be read).
	mustFinding(t, r, ReasonBasisNotValid)
}

func TestEvaluatePlacement(t *testing.T) {
	s := evalWorld(&v1alpha1.ResidencyPolicySpec{AllowedClassifications: []v1alpha1.Classification{"EEA", "Adequate"}})
	d := deployment("app", nil)
	d.Spec.Template.Spec.NodeSelector = map[string]string{v1alpha1.LabelRegion: "us-east-1"}
	r := evalDeployment(t, s, d)
	f := mustFinding(t, r, ReasonClassificationNotAllowed)
	if f.Route != "region:us-east-1" || f.Country != "US" || f.Verdict != Violation {
		t.Errorf("placement finding = %+v", f)
	}
	wantContains(t, "message", f.Message, "pinned to region us-east-1", "ProcessingLocation us-east")

	d.Spec.Template.Spec.NodeSelector = nil
	d.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: v1alpha1.LabelRegion, Operator: corev1.NodeSelectorOpIn,
				Values: []string{"eu-north-1", "europe-west6"}}}},
		}}}}
	if r := evalDeployment(t, s, d); r.Verdict != Compliant {
		t.Errorf("EEA/CH placement:\n%s", dumpFindings(r))
	}
}

func TestEvaluateCompliantWorkloads(t *testing.T) {
	s := evalWorld(nil)
	r := evalDeployment(t, s, deployment("quiet", nil))
	if r.Verdict != Compliant || len(r.Findings) != 1 || r.Findings[0].Message != noFlowsMessage || r.Subprocessors != nil {
		t.Errorf("no flows: %+v", r)
	}
	r = evalDeployment(t, s, deployment("app", flowAnn("sendgrid,eu-mail", "user.contact.email,user.name")))
	if r.Verdict != Compliant || len(r.Findings) != 2 {
		t.Fatalf("two compliant flows:\n%s", dumpFindings(r))
	}
	if r.Findings[0].Subprocessor != "eu-mail" || r.Findings[1].Subprocessor != "sendgrid" {
		t.Errorf("findings not in subprocessor order:\n%s", dumpFindings(r))
	}
	wantContains(t, "sendgrid message", r.Findings[1].Message,
		"transfer to US via us-east rests on bcr-us (BindingCorporateRules, GDPR Art. 46(2)(b), Art. 47)")
}
