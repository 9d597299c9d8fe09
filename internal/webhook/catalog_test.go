package webhook

import (
	"context"
	"fmt"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
)

var (
	gvkBasis    = gvkOf("dataresidency.io", "v1alpha1", "TransferBasis")
	gvkLocation = gvkOf("dataresidency.io", "v1alpha1", "ProcessingLocation")
	gvkPolicy   = gvkOf("dataresidency.io", "v1alpha1", "ResidencyPolicy")
)

func postmarkDPF() *v1alpha1.TransferBasis {
	return &v1alpha1.TransferBasis{
		TypeMeta:   metav1.TypeMeta{APIVersion: "dataresidency.io/v1alpha1", Kind: "TransferBasis"},
		ObjectMeta: metav1.ObjectMeta{Name: "postmark-dpf"},
		Spec:       v1alpha1.TransferBasisSpec{Mechanism: v1alpha1.MechanismDataPrivacyFramework, Countries: []v1alpha1.CountryCode{"US"}},
	}
}

// catalogWorld adds Postmark (US, on the Data Privacy Framework) and the
// workloads that use it: a Deployment with its ReplicaSet and Pod, a bare Pod,
// and the same Deployment in a namespace the policy excludes.
func catalogWorld() []client.Object {
	notifier := func(ns string) *appsv1.Deployment {
		d := mailer(ns, "postmark")
		d.Name = "notifier"
		d.UID = "notifier-uid"
		return d
	}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "notifier-abc", Namespace: nsDeny, OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "Deployment", Name: "notifier", UID: "notifier-uid", Controller: ptr.To(true)}}},
		Spec: appsv1.ReplicaSetSpec{Selector: notifier(nsDeny).Spec.Selector, Template: notifier(nsDeny).Spec.Template},
	}
	owned := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "notifier-abc-x", Namespace: nsDeny, Annotations: notifier(nsDeny).Spec.Template.Annotations,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "notifier-abc", UID: "rs-uid", Controller: ptr.To(true)}}},
		Spec: notifier(nsDeny).Spec.Template.Spec,
	}
	bare := owned.DeepCopy()
	bare.Name, bare.Namespace, bare.OwnerReferences = "adhoc", nsWarn, nil
	return []client.Object{
		&v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: "postmark-us"}, Spec: v1alpha1.ProcessingLocationSpec{Country: "US"}},
		postmarkDPF(),
		&v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "postmark"}, Spec: v1alpha1.SubprocessorSpec{
			LegalName: "ActiveCampaign, LLC", Country: "US", Purpose: "Transactional e-mail",
			ProcessingLocations: []v1alpha1.ObjectName{"postmark-us"}, TransferBases: []v1alpha1.ObjectName{"postmark-dpf"},
		}},
		notifier(nsDeny), rs, owned, bare, notifier(nsExcluded), mailer(nsAudit, "brevo"),
	}
}

func TestCatalogValidator(t *testing.T) {
	_, v := newTestValidators(t, catalogWorld()...)
	ps := postmarkDPF()
	ps.Spec.Mechanism = v1alpha1.MechanismPrivacyShield
	relabelled := postmarkDPF()
	relabelled.Labels = map[string]string{"owner": "dpo"}
	moved := &v1alpha1.ProcessingLocation{
		TypeMeta:   metav1.TypeMeta{APIVersion: "dataresidency.io/v1alpha1", Kind: "ProcessingLocation"},
		ObjectMeta: metav1.ObjectMeta{Name: "brevo-fr"}, Spec: v1alpha1.ProcessingLocationSpec{Country: "US"},
	}
	strict := &v1alpha1.ResidencyPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "dataresidency.io/v1alpha1", Kind: "ResidencyPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName},
		Spec: v1alpha1.ResidencyPolicySpec{ExcludedNamespaces: []string{"kube-system"},
			AllowedClassifications: []v1alpha1.Classification{v1alpha1.ClassificationEEA}},
	}
	none := runtime.RawExtension{}
	tests := []struct {
		name     string
		req      func() (admissionv1.Operation, metav1.GroupVersionKind, string, runtime.RawExtension, runtime.RawExtension)
		warnings []string
		absent   []string
	}{
		{"a basis turned PrivacyShield names the workloads it breaks, not their owned objects",
			func() (admissionv1.Operation, metav1.GroupVersionKind, string, runtime.RawExtension, runtime.RawExtension) {
				return admissionv1.Update, gvkBasis, "postmark-dpf", raw(t, ps), raw(t, postmarkDPF())
			},
			[]string{"this change to TransferBasis postmark-dpf would turn 2 compliant workload(s) into violations: shop/Deployment/notifier, shop-warn/Pod/adhoc",
				"e.g. shop/Deployment/notifier: [BasisNotValid] postmark via postmark-us (US)",
				"1 of them are in namespaces that enforce deny"},
			[]string{"ReplicaSet", "notifier-abc", "legacy/"}},
		{"deleting the basis",
			func() (admissionv1.Operation, metav1.GroupVersionKind, string, runtime.RawExtension, runtime.RawExtension) {
				return admissionv1.Delete, gvkBasis, "postmark-dpf", none, raw(t, postmarkDPF())
			},
			[]string{"deleting TransferBasis postmark-dpf would turn 2 compliant workload(s)", "[UncoveredTransfer] postmark via postmark-us (US)"}, nil},
		{"a location moved out of the EEA",
			func() (admissionv1.Operation, metav1.GroupVersionKind, string, runtime.RawExtension, runtime.RawExtension) {
				return admissionv1.Update, gvkLocation, "brevo-fr", raw(t, moved), raw(t, &v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: "brevo-fr"}, Spec: v1alpha1.ProcessingLocationSpec{Country: "FR"}})
			},
			[]string{"would turn 1 compliant workload(s) into violations: shop-audit/Deployment/mailer"}, []string{"enforce deny"}},
		{"a policy that allows only the EEA, and stops excluding legacy",
			func() (admissionv1.Operation, metav1.GroupVersionKind, string, runtime.RawExtension, runtime.RawExtension) {
				return admissionv1.Update, gvkPolicy, "default", raw(t, strict), none
			},
			[]string{"this change to ResidencyPolicy default would turn 3 compliant workload(s) into violations: legacy/Deployment/notifier, shop/Deployment/notifier, shop-warn/Pod/adhoc",
				"2 of them are in namespaces that enforce deny"}, nil},
		{"a label change is not assessed",
			func() (admissionv1.Operation, metav1.GroupVersionKind, string, runtime.RawExtension, runtime.RawExtension) {
				return admissionv1.Update, gvkBasis, "postmark-dpf", raw(t, relabelled), raw(t, postmarkDPF())
			}, nil, []string{"data residency"}},
		{"a new basis breaks nothing",
			func() (admissionv1.Operation, metav1.GroupVersionKind, string, runtime.RawExtension, runtime.RawExtension) {
				b := postmarkDPF()
				b.Name = "postmark-scc"
				return admissionv1.Create, gvkBasis, "postmark-scc", raw(t, b), none
			}, nil, []string{"data residency"}},
		{"an object that cannot be decoded is admitted with a warning",
			func() (admissionv1.Operation, metav1.GroupVersionKind, string, runtime.RawExtension, runtime.RawExtension) {
				return admissionv1.Create, gvkBasis, "x", runtime.RawExtension{Raw: []byte(`{"spec": 7}`)}, none
			}, []string{"could not assess the impact of this change", "cannot decode dataresidency.io/v1alpha1/TransferBasis x"}, nil},
	}
	// Both ways of reading the workloads: a typed List, and the manager's
	// cache walking its narrow objects (cachedWorkloads).
	narrow := *v
	narrow.Reader = narrowReader{v.Reader}
	for _, tc := range tests {
		for _, form := range []struct {
			name string
			v    *CatalogValidator
		}{{"typed", v}, {"narrow", &narrow}} {
			t.Run(tc.name+"/"+form.name, func(t *testing.T) {
				v := form.v
				op, gvk, name, obj, old := tc.req()
				resp := v.Handle(context.Background(), request(op, gvk, "", name, obj, old))
				if !resp.Allowed {
					t.Fatalf("the catalog webhook denied: %+v", resp.Result)
				}
				all := strings.Join(resp.Warnings, "\n")
				for _, s := range tc.warnings {
					if !strings.Contains(all, s) {
						t.Errorf("warnings do not contain %q:\n%s", s, all)
					}
				}
				for _, s := range tc.absent {
					if strings.Contains(all, s) {
						t.Errorf("warnings contain %q:\n%s", s, all)
					}
				}
				if len(tc.warnings) == 0 && len(resp.Warnings) > 0 && len(tc.absent) > 0 && tc.absent[0] == "data residency" {
					t.Errorf("unexpected warnings: %s", all)
				}
				for _, w := range resp.Warnings {
					if len(w) >= 512 {
						t.Errorf("warning of %d bytes", len(w))
					}
				}
				t.Logf("warnings:\n%s", all)
			})
		}
	}
}

// narrowReader also walks its workloads as the manager's cache keeps them
// (residency.Cached): the path the catalog webhook takes in the manager.
type narrowReader struct{ client.Reader }

func (r narrowReader) EachWorkload(ctx context.Context, kind residency.WorkloadKind, fn func(*residency.Cached) bool) error {
	list := kind.NewList().(client.ObjectList)
	if err := r.List(ctx, list); err != nil {
		return err
	}
	items, err := apimeta.ExtractList(list)
	if err != nil {
		return err
	}
	for _, o := range items {
		c, ok := residency.Narrow(o.DeepCopyObject())
		if !ok {
			return fmt.Errorf("%T is not a workload", o)
		}
		if !fn(c) {
			return nil
		}
	}
	return nil
}

func TestCatalogValidatorNamesTenThenCounts(t *testing.T) {
	objs := append([]client.Object(nil), catalogWorld()[:3]...)
	for i := 0; i < 14; i++ {
		d := mailer(nsAudit, "postmark")
		d.Name = fmt.Sprintf("notifier-%02d", i)
		objs = append(objs, d)
	}
	_, v := newTestValidators(t, objs...)
	ps := postmarkDPF()
	ps.Spec.Mechanism = v1alpha1.MechanismPrivacyShield
	resp := v.Handle(context.Background(), request(admissionv1.Update, gvkBasis, "", "postmark-dpf", raw(t, ps), raw(t, postmarkDPF())))
	if len(resp.Warnings) == 0 {
		t.Fatal("no warning")
	}
	w := resp.Warnings[0]
	if !strings.Contains(w, "would turn 14 compliant workload(s)") || !strings.Contains(w, "shop-audit/Deployment/notifier-09 and 4 more") ||
		strings.Contains(w, "notifier-10") {
		t.Errorf("warning = %q", w)
	}
}

func TestControlledByWorkload(t *testing.T) {
	ref := func(apiVersion, kind string, controller bool) metav1.Object {
		return &metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: "o", UID: "u", Controller: ptr.To(controller)}}}
	}
	tests := []struct {
		kind workloadKind
		obj  metav1.Object
		want bool
	}{
		{kindPod, ref("apps/v1", "ReplicaSet", true), true},
		{kindPod, ref("apps/v1", "StatefulSet", true), true},
		{kindPod, ref("apps/v1", "DaemonSet", true), true},
		{kindPod, ref("batch/v1", "Job", true), true},
		{kindPod, ref("apps/v1", "ReplicaSet", false), false},
		{kindPod, ref("example.com/v1", "ReplicaSet", true), false},
		{kindPod, &metav1.ObjectMeta{}, false},
		{kindReplicaSet, ref("apps/v1", "Deployment", true), true},
		{kindJob, ref("batch/v1", "CronJob", true), true},
		{kindJob, ref("argoproj.io/v1alpha1", "Workflow", true), false},
		{workloadKind{"apps", "v1", "Deployment"}, ref("apps/v1", "Deployment", true), false},
		{kindPod, ref("v1", "ReplicationController", true), true},
	}
	for _, tc := range tests {
		if got := controlledByWorkload(tc.kind, tc.obj); got != tc.want {
			t.Errorf("controlledByWorkload(%s, %v) = %v, want %v", tc.kind.kind, tc.obj.GetOwnerReferences(), got, tc.want)
		}
	}
}
