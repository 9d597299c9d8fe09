package residency

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

func TestWorkloadOf(t *testing.T) {
	meta := metav1.ObjectMeta{Namespace: "ns", Name: "n", Annotations: map[string]string{"dataresidency.io/a": "object", "team": "x"}}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"dataresidency.io/a": "template", "checksum": "y"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}},
	}
	tests := []struct {
		obj              runtime.Object
		apiVersion, kind string
		template         bool
	}{
		{&corev1.Pod{ObjectMeta: meta, Spec: tmpl.Spec}, "v1", "Pod", false},
		{&appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Template: tmpl}}, "apps/v1", "Deployment", true},
		{&appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Template: tmpl}}, "apps/v1", "StatefulSet", true},
		{&appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Template: tmpl}}, "apps/v1", "DaemonSet", true},
		{&appsv1.ReplicaSet{ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{Template: tmpl}}, "apps/v1", "ReplicaSet", true},
		{&batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{Template: tmpl}}, "batch/v1", "Job", true},
		{&batchv1.CronJob{ObjectMeta: meta, Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{
			Spec: batchv1.JobSpec{Template: tmpl}}}}, "batch/v1", "CronJob", true},
	}
	for _, tt := range tests {
		w, ok := WorkloadOf(tt.obj)
		if !ok {
			t.Errorf("%s: not a workload", tt.kind)
			continue
		}
		if w.Ref != (ResourceRef{APIVersion: tt.apiVersion, Kind: tt.kind, Namespace: "ns", Name: "n"}) {
			t.Errorf("%s: ref = %+v", tt.kind, w.Ref)
		}
		if w.Annotations["dataresidency.io/a"] != "object" || len(w.Annotations) != 1 || w.PodSpec == nil || len(w.PodSpec.Containers) != 1 || w.Context.Namespace != "ns" {
			t.Errorf("%s: workload = %+v", tt.kind, w)
		}
		if tt.template && (w.TemplateAnnotations["dataresidency.io/a"] != "template" || len(w.TemplateAnnotations) != 1) {
			t.Errorf("%s: template annotations = %v", tt.kind, w.TemplateAnnotations)
		}
		if !tt.template && w.TemplateAnnotations != nil {
			t.Errorf("%s: a Pod has no template annotations", tt.kind)
		}
	}
	for _, obj := range []runtime.Object{&corev1.ConfigMap{}, &corev1.Service{}, (*appsv1.Deployment)(nil), &v1alpha1.Subprocessor{}} {
		if _, ok := WorkloadOf(obj); ok {
			t.Errorf("%T is not a workload", obj)
		}
	}
}

func TestPlacementRegions(t *testing.T) {
	req := func(op corev1.NodeSelectorOperator, key string, values ...string) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}}}
	}
	aff := func(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
	}
	tests := []struct {
		name string
		spec *corev1.PodSpec
		want []string
	}{
		{"nil", nil, nil},
		{"none", &corev1.PodSpec{}, nil},
		{"node selector", &corev1.PodSpec{NodeSelector: map[string]string{v1alpha1.LabelRegion: "eu-north-1"}}, []string{"eu-north-1"}},
		{"other label", &corev1.PodSpec{NodeSelector: map[string]string{"zone": "a"}}, nil},
		{"affinity In, terms unioned, sorted, deduped", &corev1.PodSpec{
			NodeSelector: map[string]string{v1alpha1.LabelRegion: "eu-west-1"},
			Affinity: aff(req(corev1.NodeSelectorOpIn, v1alpha1.LabelRegion, "us-east-1", "eu-west-1"),
				req(corev1.NodeSelectorOpIn, v1alpha1.LabelRegion, "ap-south-1"))},
			[]string{"ap-south-1", "eu-west-1", "us-east-1"}},
		{"NotIn does not pin", &corev1.PodSpec{Affinity: aff(req(corev1.NodeSelectorOpNotIn, v1alpha1.LabelRegion, "us-east-1"))}, nil},
		{"preferred does not pin", &corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
				{Weight: 1, Preference: req(corev1.NodeSelectorOpIn, v1alpha1.LabelRegion, "us-east-1")}}}}}, nil},
	}
	for _, tt := range tests {
		if got := PlacementRegions(PodSpecOf(tt.spec)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: PlacementRegions = %v, want %v", tt.name, got, tt.want)
		}
	}
}
