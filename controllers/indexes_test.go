package controllers

import (
	"context"
	"slices"
	"sort"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

func onwardSub(name string, locations, bases, onward []string) *v1alpha1.Subprocessor {
	s := &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, l := range locations {
		s.Spec.ProcessingLocations = append(s.Spec.ProcessingLocations, v1alpha1.ObjectName(l))
	}
	for _, b := range bases {
		s.Spec.TransferBases = append(s.Spec.TransferBases, v1alpha1.ObjectName(b))
	}
	for _, o := range onward {
		s.Spec.Subprocessors = append(s.Spec.Subprocessors, v1alpha1.ObjectName(o))
	}
	return s
}

// TestIndexFunctions: each index names exactly what its object refers to.
func TestIndexFunctions(t *testing.T) {
	s := onwardSub("mailer", []string{"us", "eu"}, []string{"scc"}, []string{"cdn"})
	for _, tc := range []struct {
		name string
		got  []string
		want []string
	}{
		{"locations", SubprocessorLocations(s), []string{"us", "eu"}},
		{"bases", SubprocessorBases(s), []string{"scc"}},
		{"onward", SubprocessorOnward(s), []string{"cdn"}},
		{"no bases", SubprocessorBases(onwardSub("x", []string{"us"}, nil, nil)), []string{}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}

	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "i", EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "b"}}}}}},
		Containers: []corev1.Container{{Name: "c", Env: []corev1.EnvVar{
			{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "a"}, Key: "k"}}},
			{Name: "Y", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "secret"}, Key: "k"}}},
		}}},
	}}}}
	if got := WorkloadConfigMaps(d); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("WorkloadConfigMaps = %v, want [a b] (Secrets are not ConfigMaps)", got)
	}

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{
		{APIVersion: "v1", Kind: "ConfigMap", Name: "not-a-controller", UID: "u0"},
		{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "u1", Controller: ptr.To(true)},
	}}}
	if got := WorkloadController(pod); !slices.Equal(got, []string{"u1"}) {
		t.Errorf("WorkloadController = %v, want [u1]", got)
	}
	for _, ref := range []metav1.OwnerReference{
		{APIVersion: "example.com/v1", Kind: "ReplicaSet", Name: "rs", UID: "u2", Controller: ptr.To(true)}, // another group's kind
		{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "u3"},                                  // not the controller
	} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{ref}}}
		if got := WorkloadController(p); len(got) != 0 {
			t.Errorf("WorkloadController(%+v) = %v, want none", ref, got)
		}
	}
}

// TestSubprocessorsNaming: a change to a basis reaches the Subprocessors
// that rest on it and, through onward references, every Subprocessor whose
// routes include theirs; nothing else, and a cycle ends.
func TestSubprocessorsNaming(t *testing.T) {
	objs := []client.Object{
		onwardSub("sendgrid", []string{"us"}, []string{"bcr"}, nil),
		onwardSub("mailer", []string{"eu"}, nil, []string{"sendgrid"}), // onward: sendgrid
		onwardSub("shop", []string{"eu"}, nil, []string{"mailer"}),     // onward: mailer
		onwardSub("loop-a", []string{"eu"}, []string{"bcr"}, []string{"loop-b"}),
		onwardSub("loop-b", []string{"eu"}, nil, []string{"loop-a"}),
		onwardSub("unrelated", []string{"us"}, []string{"other"}, nil),
	}
	b := fake.NewClientBuilder().WithScheme(NewScheme()).WithObjects(objs...)
	for field, fn := range map[string]client.IndexerFunc{
		IndexSubprocessorLocations:     SubprocessorLocations,
		IndexSubprocessorBases:         SubprocessorBases,
		IndexSubprocessorSubprocessors: SubprocessorOnward,
	} {
		b = b.WithIndex(&v1alpha1.Subprocessor{}, field, fn)
	}
	c := b.Build()
	names := func(field, name string) []string {
		var out []string
		for _, r := range subprocessorsNaming(context.Background(), c, field, name) {
			out = append(out, r.Name)
		}
		sort.Strings(out)
		return out
	}
	if got, want := names(IndexSubprocessorBases, "bcr"), []string{"loop-a", "loop-b", "mailer", "sendgrid", "shop"}; !slices.Equal(got, want) {
		t.Errorf("basis bcr enqueues %v, want %v", got, want)
	}
	if got, want := names(IndexSubprocessorLocations, "us"), []string{"mailer", "sendgrid", "shop", "unrelated"}; !slices.Equal(got, want) {
		t.Errorf("location us enqueues %v, want %v", got, want)
	}
	if got := names(IndexSubprocessorBases, "nobody-names-this"); len(got) != 0 {
		t.Errorf("an unnamed basis enqueues %v", got)
	}
}
