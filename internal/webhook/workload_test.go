package webhook

import (
	"context"
	"net/http"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

var (
	gvkDeployment = gvkOf("apps", "v1", "Deployment")
	gvkPod        = gvkOf("", "v1", "Pod")
	gvkCronJob    = gvkOf("batch", "v1", "CronJob")
)

func TestWorkloadValidator(t *testing.T) {
	v, _ := newTestValidators(t)
	none := runtime.RawExtension{}
	withEgress := func(d *appsv1.Deployment, ep string) *appsv1.Deployment {
		d.Spec.Template.Annotations[v1alpha1.AnnotationEgress] = ep
		return d
	}
	relabelled := mailer(nsDeny, "twilio-sendgrid")
	relabelled.Labels = map[string]string{"team": "growth"}
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "debug-me", Namespace: nsDeny},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
	}
	debugged := pod.DeepCopy()
	debugged.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debugger", Image: "busybox", Env: []corev1.EnvVar{{Name: "SMTP_HOST", Value: "smtp.sendgrid.net"}},
	}}}
	cron := &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: metav1.ObjectMeta{Name: "newsletter", Namespace: nsDeny},
		Spec: batchv1.CronJobSpec{Schedule: "@daily", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: mailer(nsDeny, "twilio-sendgrid").Spec.Template,
		}}},
	}

	type want struct {
		allowed   bool
		code      int32
		message   []string // substrings of the result message
		warnings  []string // substrings, each in some warning
		noWarning bool
		decision  string
		verdict   string
	}
	tests := []struct {
		name string
		req  admission.Request
		want want
	}{
		{"deny: Privacy Shield flow rejected, naming the flow and the judgment",
			request(admissionv1.Create, gvkDeployment, nsDeny, "mailer", raw(t, mailer(nsDeny, "twilio-sendgrid")), none),
			want{code: http.StatusForbidden, decision: DecisionDenied, verdict: "Violation", message: []string{
				"data residency: Deployment shop/mailer violates 1 flow(s): [BasisNotValid] twilio-sendgrid via sendgrid-us (US): ",
				"sendgrid-ps", "PrivacyShield", "C-311/18"}}},
		{"deny: EEA provider admitted",
			request(admissionv1.Create, gvkDeployment, nsDeny, "mailer", raw(t, mailer(nsDeny, "brevo")), none),
			want{allowed: true, decision: DecisionAllowed, verdict: "Compliant", noWarning: true}},
		{"deny: egress added by UPDATE rejected",
			request(admissionv1.Update, gvkDeployment, nsDeny, "mailer",
				raw(t, withEgress(mailer(nsDeny, "brevo"), "https://api.sendgrid.com")), raw(t, mailer(nsDeny, "brevo"))),
			want{code: http.StatusForbidden, message: []string{"[BasisNotValid] twilio-sendgrid via sendgrid-us (US)"}}},
		{"deny: an UPDATE that changes nothing the engine reads is admitted with warnings",
			request(admissionv1.Update, gvkDeployment, nsDeny, "mailer", raw(t, relabelled), raw(t, mailer(nsDeny, "twilio-sendgrid"))),
			want{allowed: true, decision: DecisionUnchanged, warnings: []string{"data residency violation: [BasisNotValid]"}}},
		{"deny: ephemeral container pointing at a third-country host rejected",
			func() admission.Request {
				r := request(admissionv1.Update, gvkPod, nsDeny, "debug-me", raw(t, debugged), raw(t, pod))
				r.SubResource = "ephemeralcontainers"
				return r
			}(),
			want{code: http.StatusForbidden, message: []string{"Pod shop/debug-me", "twilio-sendgrid"}}},
		{"deny: a CronJob's job template is evaluated",
			request(admissionv1.Create, gvkCronJob, nsDeny, "newsletter", raw(t, cron), none),
			want{code: http.StatusForbidden, message: []string{"CronJob shop/newsletter violates"}}},
		{"warn: admitted with the findings as warnings",
			request(admissionv1.Create, gvkDeployment, nsWarn, "mailer", raw(t, mailer(nsWarn, "twilio-sendgrid")), none),
			want{allowed: true, decision: DecisionAllowed, verdict: "Violation", warnings: []string{
				"data residency violation: [BasisNotValid] twilio-sendgrid via sendgrid-us (US): ", "C-311/18"}}},
		{"audit: admitted silently, recorded",
			request(admissionv1.Create, gvkDeployment, nsAudit, "mailer", raw(t, mailer(nsAudit, "twilio-sendgrid")), none),
			want{allowed: true, decision: DecisionAllowed, verdict: "Violation", noWarning: true}},
		{"unknown label value: the default applies, with a warning naming it",
			request(admissionv1.Create, gvkDeployment, nsBadLabel, "mailer", raw(t, mailer(nsBadLabel, "twilio-sendgrid")), none),
			want{allowed: true, verdict: "Violation", warnings: []string{`dataresidency.io/enforcement="block"`}}},
		{"kube-system is never blocked",
			request(admissionv1.Create, gvkDeployment, "kube-system", "mailer", raw(t, mailer("kube-system", "twilio-sendgrid")), none),
			want{allowed: true, decision: DecisionExempt}},
		{"the operator's namespace is never blocked",
			request(admissionv1.Create, gvkDeployment, operatorNS, "mailer", raw(t, mailer(operatorNS, "twilio-sendgrid")), none),
			want{allowed: true, decision: DecisionExempt}},
		{"a namespace the policy excludes is never blocked",
			request(admissionv1.Create, gvkDeployment, nsExcluded, "mailer", raw(t, mailer(nsExcluded, "twilio-sendgrid")), none),
			want{allowed: true, decision: DecisionExempt}},
		{"a namespace the cache has not seen: retry",
			request(admissionv1.Create, gvkDeployment, "brand-new", "mailer", raw(t, mailer("brand-new", "twilio-sendgrid")), none),
			want{code: http.StatusServiceUnavailable, message: []string{"namespace brand-new is not in the operator's cache yet"}}},
		{"decode error: a 400 naming the kind, the object and the problem",
			request(admissionv1.Create, gvkDeployment, nsDeny, "mailer", runtime.RawExtension{Raw: []byte(`{"spec": {"template": {"spec": {"containers": [{"name": "c", "env": "three"}]}}}}`)}, none),
			want{code: http.StatusBadRequest, message: []string{"cannot decode apps/v1/Deployment shop/mailer", "containers.env"}}},
		{"decode error: no object at all",
			request(admissionv1.Create, gvkDeployment, nsDeny, "mailer", none, none),
			want{code: http.StatusBadRequest, message: []string{"cannot decode apps/v1/Deployment shop/mailer: the request carries no object"}}},
		{"unknown kinds are allowed",
			request(admissionv1.Create, gvkOf("", "v1", "Service"), nsDeny, "svc", runtime.RawExtension{Raw: []byte(`garbage`)}, none),
			want{allowed: true}},
		{"other subresources are allowed",
			func() admission.Request {
				r := request(admissionv1.Update, gvkDeployment, nsDeny, "mailer", runtime.RawExtension{Raw: []byte(`garbage`)}, none)
				r.SubResource = "scale"
				return r
			}(),
			want{allowed: true}},
		{"DELETE is not governed",
			request(admissionv1.Delete, gvkDeployment, nsDeny, "mailer", none, raw(t, mailer(nsDeny, "twilio-sendgrid"))),
			want{allowed: true}},
		{"an object being deleted may drop its finalizers",
			func() admission.Request {
				d := mailer(nsDeny, "twilio-sendgrid")
				d.DeletionTimestamp = &metav1.Time{Time: testNow}
				return request(admissionv1.Update, gvkDeployment, nsDeny, "mailer", raw(t, d), raw(t, d))
			}(),
			want{allowed: true, decision: DecisionExempt}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := v.Handle(context.Background(), tc.req)
			if resp.Allowed != tc.want.allowed {
				t.Fatalf("allowed = %v, want %v (result %+v)", resp.Allowed, tc.want.allowed, resp.Result)
			}
			msg := ""
			if resp.Result != nil {
				msg = resp.Result.Message
				if tc.want.code != 0 && resp.Result.Code != tc.want.code {
					t.Errorf("code = %d, want %d (%s)", resp.Result.Code, tc.want.code, msg)
				}
			}
			for _, s := range tc.want.message {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q does not contain %q", msg, s)
				}
			}
			for _, s := range tc.want.warnings {
				found := false
				for _, w := range resp.Warnings {
					found = found || strings.Contains(w, s)
				}
				if !found {
					t.Errorf("no warning contains %q: %q", s, resp.Warnings)
				}
			}
			if tc.want.noWarning && len(resp.Warnings) > 0 {
				t.Errorf("warnings = %q, want none", resp.Warnings)
			}
			for _, w := range resp.Warnings {
				if len(w) >= 512 {
					t.Errorf("warning of %d bytes: %q", len(w), w)
				}
			}
			if tc.want.decision != "" && resp.AuditAnnotations[AuditDecision] != tc.want.decision {
				t.Errorf("decision = %q, want %q (%v)", resp.AuditAnnotations[AuditDecision], tc.want.decision, resp.AuditAnnotations)
			}
			if tc.want.verdict != "" && resp.AuditAnnotations[AuditVerdict] != tc.want.verdict {
				t.Errorf("verdict = %q, want %q", resp.AuditAnnotations[AuditVerdict], tc.want.verdict)
			}
			for k := range resp.AuditAnnotations {
				if strings.Contains(k, "/") || len(k) > 63 {
					t.Errorf("audit annotation key %q is not a bare qualified name", k)
				}
			}
			t.Logf("allowed=%v message=%q warnings=%q audit=%v", resp.Allowed, msg, resp.Warnings, resp.AuditAnnotations)
		})
	}
}

// Declarations required through a namespace's dataresidency.io/require-declaration
// label (the policy of the tests leaves requireDeclaration at ignore).
func TestWorkloadValidatorRequiresDeclaration(t *testing.T) {
	const (
		nsStrict = "strict"
		nsTypo   = "strict-typo"
	)
	labels := func(req string) map[string]string {
		return map[string]string{v1alpha1.LabelEnforcement: "deny", v1alpha1.LabelRequireDeclaration: req}
	}
	v, _ := newTestValidators(t,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsStrict, Labels: labels("deny")}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsTypo, Labels: labels("always")}})
	none := runtime.RawExtension{}
	declaring := func(ns, subs string) *appsv1.Deployment {
		d := mailer(ns, "")
		d.Spec.Template.Annotations = nil
		if subs != "" {
			d.Annotations = map[string]string{v1alpha1.AnnotationSubprocessors: subs}
		}
		return d
	}
	bare := func(ns string, owned bool) *corev1.Pod {
		p := &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: "renderer", Namespace: ns},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
		}
		if owned {
			yes := true
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "renderer-5d8f", UID: "u", Controller: &yes}}
		}
		return p
	}
	tests := []struct {
		name      string
		req       admission.Request
		allowed   bool
		verdict   string
		contains  []string // in the denial, or in some warning
		noWarning bool
	}{
		{"deny: an unannotated Deployment is refused, naming Undeclared and how to declare",
			request(admissionv1.Create, gvkDeployment, nsStrict, "mailer", raw(t, declaring(nsStrict, "")), none),
			false, "Violation", []string{"Deployment strict/mailer violates 1 flow(s): [Undeclared] the workload does not declare what personal data it sends",
				"(namespace label dataresidency.io/require-declaration=deny)", "Declare dataresidency.io/subprocessors: none if no personal data leaves it"}, false},
		{"deny: subprocessors: none is a declaration, admitted",
			request(admissionv1.Create, gvkDeployment, nsStrict, "mailer", raw(t, declaring(nsStrict, "none")), none),
			true, "Compliant", nil, true},
		{"deny: none beside a name cannot be read",
			request(admissionv1.Create, gvkDeployment, nsStrict, "mailer", raw(t, declaring(nsStrict, "none, brevo")), none),
			false, "Violation", []string{"[InvalidAnnotation]", `"none" declares that no personal data leaves the workload`}, false},
		{"deny: discovered flows do not declare; the denial names them",
			func() admission.Request {
				d := declaring(nsStrict, "")
				d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "SMTP", Value: "smtp-relay.brevo.com:587"}}
				return request(admissionv1.Create, gvkDeployment, nsStrict, "mailer", raw(t, d), none)
			}(),
			false, "Violation", []string{"[Undeclared]", "Found: brevo (smtp-relay.brevo.com:587);", "declare dataresidency.io/subprocessors: brevo plus"}, false},
		{"deny: a bare Pod must declare too",
			request(admissionv1.Create, gvkPod, nsStrict, "renderer", raw(t, bare(nsStrict, false)), none),
			false, "Violation", []string{"Pod strict/renderer", "[Undeclared]"}, false},
		{"deny: a ReplicaSet's Pod carries only its template's annotations: its owner declares",
			request(admissionv1.Create, gvkPod, nsStrict, "renderer", raw(t, bare(nsStrict, true)), none),
			true, "Compliant", nil, true},
		{"ignore (the policy's default): nothing changes",
			request(admissionv1.Create, gvkDeployment, nsDeny, "mailer", raw(t, declaring(nsDeny, "")), none),
			true, "Compliant", nil, true},
		{"a bad label value: the policy applies, with a warning naming it",
			request(admissionv1.Create, gvkDeployment, nsTypo, "mailer", raw(t, declaring(nsTypo, "")), none),
			true, "Compliant", []string{`dataresidency.io/require-declaration="always" is not one of ignore, warn, deny; the ResidencyPolicy requireDeclaration applies`}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := v.Handle(context.Background(), tc.req)
			msg := ""
			if resp.Result != nil {
				msg = resp.Result.Message
			}
			if resp.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v (%s)", resp.Allowed, tc.allowed, msg)
			}
			if !tc.allowed && resp.Result.Code != http.StatusForbidden {
				t.Errorf("code %d, want 403", resp.Result.Code)
			}
			if got := resp.AuditAnnotations[AuditVerdict]; got != tc.verdict {
				t.Errorf("verdict %q, want %q", got, tc.verdict)
			}
			all := msg + "\n" + strings.Join(resp.Warnings, "\n")
			for _, s := range tc.contains {
				if !strings.Contains(all, s) {
					t.Errorf("neither the message nor a warning contains %q:\n%s", s, all)
				}
			}
			if tc.noWarning && len(resp.Warnings) > 0 {
				t.Errorf("warnings = %q, want none", resp.Warnings)
			}
			t.Logf("allowed=%v message=%q warnings=%q", resp.Allowed, msg, resp.Warnings)
		})
	}
}
