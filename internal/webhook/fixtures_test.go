package webhook

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/state"
)

// The catalog the tests decide against: Twilio SendGrid resting only on
// Privacy Shield (dead since Schrems II), Brevo in France, and a vendor still
// inside its objection period.
const (
	operatorNS = "dataresidency-system"
	nsDeny     = "shop"
	nsWarn     = "shop-warn"
	nsAudit    = "shop-audit"
	nsBadLabel = "shop-typo"
	nsExcluded = "legacy"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}

func catalogObjects() []client.Object {
	return []client.Object{
		&v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName},
			Spec: v1alpha1.ResidencyPolicySpec{DefaultEnforcement: v1alpha1.EnforcementAudit, ExcludedNamespaces: []string{"kube-system", nsExcluded}}},
		&v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: "sendgrid-us"}, Spec: v1alpha1.ProcessingLocationSpec{Country: "US"}},
		&v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: "brevo-fr"}, Spec: v1alpha1.ProcessingLocationSpec{Country: "FR"}},
		&v1alpha1.TransferBasis{ObjectMeta: metav1.ObjectMeta{Name: "sendgrid-ps"},
			Spec: v1alpha1.TransferBasisSpec{Mechanism: v1alpha1.MechanismPrivacyShield, Countries: []v1alpha1.CountryCode{"US"}}},
		&v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "twilio-sendgrid"}, Spec: v1alpha1.SubprocessorSpec{
			LegalName: "Twilio SendGrid, Inc.", Country: "US", Purpose: "E-mail delivery",
			DataCategories:      []v1alpha1.DataCategory{"user.contact.email", "user.name"},
			ProcessingLocations: []v1alpha1.ObjectName{"sendgrid-us"},
			TransferBases:       []v1alpha1.ObjectName{"sendgrid-ps"},
			Egress:              &v1alpha1.Egress{Hosts: []string{"api.sendgrid.com", "*.sendgrid.net"}},
		}},
		&v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "brevo"}, Spec: v1alpha1.SubprocessorSpec{
			LegalName: "Sendinblue SAS", Country: "FR", Purpose: "E-mail delivery",
			DataCategories:      []v1alpha1.DataCategory{"user.contact.email", "user.name"},
			ProcessingLocations: []v1alpha1.ObjectName{"brevo-fr"},
			Egress:              &v1alpha1.Egress{Hosts: []string{"api.brevo.com", "smtp-relay.brevo.com"}},
		}},
	}
}

func namespaceObjects() []client.Object {
	ns := func(name string, labels map[string]string) client.Object {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	}
	enf := func(v string) map[string]string { return map[string]string{v1alpha1.LabelEnforcement: v} }
	return []client.Object{
		ns(nsDeny, enf("deny")), ns(nsWarn, enf("warn")), ns(nsAudit, enf("audit")), ns(nsBadLabel, enf("block")),
		ns(nsExcluded, enf("deny")), ns("kube-system", enf("deny")), ns(operatorNS, enf("deny")),
	}
}

// newTestValidators builds both validators on a fake cache holding the catalog
// and the namespaces.
func newTestValidators(t testing.TB, extra ...client.Object) (*WorkloadValidator, *CatalogValidator) {
	t.Helper()
	c := fake.NewClientBuilder().WithScheme(testScheme()).
		WithObjects(append(append(catalogObjects(), namespaceObjects()...), extra...)...).
		WithIndex(&corev1.Service{}, state.IndexServiceType, func(o client.Object) []string {
			return []string{string(o.(*corev1.Service).Spec.Type)}
		}).Build()
	// The provider reads the residency objects from informers' stores, as
	// the manager's does.
	st, err := state.NewProvider(context.Background(), newStoreInformers(t, catalogReader(append(catalogObjects(), extra...)...)), nil, clocktesting.NewFakePassiveClock(testNow))
	if err != nil {
		t.Fatal(err)
	}
	exempt := map[string]bool{"kube-system": true, operatorNS: true}
	return &WorkloadValidator{State: st, Reader: c, Exempt: exempt, NamespaceWait: 50 * time.Millisecond},
		&CatalogValidator{State: st, Reader: c, Exempt: exempt, Budget: time.Second}
}

// mailer is a Deployment that sends e-mail addresses to the named subprocessor.
func mailer(ns, sub string) *appsv1.Deployment {
	labels := map[string]string{"app": "mailer"}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "mailer", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{
					v1alpha1.AnnotationSubprocessors:  sub,
					v1alpha1.AnnotationDataCategories: "user.contact.email",
				}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "mailer", Image: "registry.example/mailer:1.0"}}},
			},
		},
	}
}

func raw(t testing.TB, o runtime.Object) runtime.RawExtension {
	t.Helper()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return runtime.RawExtension{Raw: b}
}

func gvkOf(group, version, kind string) metav1.GroupVersionKind {
	return metav1.GroupVersionKind{Group: group, Version: version, Kind: kind}
}

func request(op admissionv1.Operation, gvk metav1.GroupVersionKind, ns, name string, obj, old runtime.RawExtension) admission.Request {
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "uid", Kind: gvk, Namespace: ns, Name: name, Operation: op, Object: obj, OldObject: old,
		DryRun: ptr.To(false),
	}}
}
