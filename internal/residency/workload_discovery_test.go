package residency

import (
	"encoding/json"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// discoveryPodSpec uses every pod spec field discovery reads.
func discoveryPodSpec() corev1.PodSpec {
	items := []corev1.KeyToPath{{Key: "relay", Path: "conf/relay.yaml"}}
	return corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Command: []string{"sh", "-c", "nc -z db.acme.eu 5432"}}},
		Containers: []corev1.Container{{
			Name: "app", Image: "app:1", Command: []string{"/app"}, Args: []string{"--endpoint=https://x.acme.eu"},
			Env:          []corev1.EnvVar{{Name: "A", Value: "https://a.acme.eu"}},
			VolumeMounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/cfg", SubPath: "conf", ReadOnly: true}, {Name: "tmp", MountPath: "/tmp"}},
		}},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debug", Args: []string{"-h", "b.acme.eu"}, VolumeMounts: []corev1.VolumeMount{{Name: "proj", MountPath: "/p"}}}}},
		Volumes: []corev1.Volume{
			{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Items: items}}},
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cm2"}}},
			}}}},
		},
	}
}

// The narrow PodSpec holds command, args, mounts and ConfigMap volumes, the
// same whether converted from a typed spec, decoded from JSON, or converted
// back and forth (Strip keeps them).
func TestPodSpecDiscoveryFields(t *testing.T) {
	typed := discoveryPodSpec()
	narrow := PodSpecOf(&typed)
	want := &PodSpec{
		InitContainers: []Container{{Name: "init", Command: []string{"sh", "-c", "nc -z db.acme.eu 5432"}}},
		Containers: []Container{{Name: "app", Command: []string{"/app"}, Args: []string{"--endpoint=https://x.acme.eu"},
			Env:          []corev1.EnvVar{{Name: "A", Value: "https://a.acme.eu"}},
			VolumeMounts: []VolumeMount{{Name: "cfg", MountPath: "/etc/cfg", SubPath: "conf"}, {Name: "tmp", MountPath: "/tmp"}}}},
		EphemeralContainers: []Container{{Name: "debug", Args: []string{"-h", "b.acme.eu"}, VolumeMounts: []VolumeMount{{Name: "proj", MountPath: "/p"}}}},
		Volumes: []Volume{
			{Name: "cfg", ConfigMap: &ConfigMapVolume{Name: "cm", Items: []corev1.KeyToPath{{Key: "relay", Path: "conf/relay.yaml"}}}},
			{Name: "tmp"},
			{Name: "proj", Projected: &ProjectedVolume{Sources: []VolumeProjection{{}, {ConfigMap: &ConfigMapVolume{Name: "cm2"}}}}},
		},
	}
	if !reflect.DeepEqual(narrow, want) {
		t.Errorf("PodSpecOf =\n%+v\nwant\n%+v", narrow, want)
	}
	core := narrow.Core()
	if again := PodSpecOf(&core); !reflect.DeepEqual(again, narrow) {
		t.Errorf("PodSpecOf(Core()) =\n%+v\nwant\n%+v", again, narrow)
	}
	raw, err := json.Marshal(&appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: typed}}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := DecodeWorkload("apps/v1", "Deployment", raw)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Workload.PodSpec, narrow) {
		t.Errorf("DecodeWorkload =\n%+v\nwant\n%+v", d.Workload.PodSpec, narrow)
	}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: typed}}}
	Strip(dep)
	if w, _ := WorkloadOf(dep); !reflect.DeepEqual(w.PodSpec, narrow) {
		t.Errorf("after Strip =\n%+v\nwant\n%+v", w.PodSpec, narrow)
	}
	if got := ReferencedConfigMaps(narrow); !reflect.DeepEqual(got, []string{"cm", "cm2"}) {
		t.Errorf("ReferencedConfigMaps = %q", got)
	}
}

// ReplicationController is a governed kind, read like a ReplicaSet.
func TestReplicationControllerIsAWorkload(t *testing.T) {
	spec := discoveryPodSpec()
	rc := &corev1.ReplicationController{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ReplicationController"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "legacy", Annotations: map[string]string{"dataresidency.io/subprocessors": "x"}},
		Spec: corev1.ReplicationControllerSpec{Selector: map[string]string{"app": "legacy"}, Template: &corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "legacy"}, Annotations: map[string]string{"dataresidency.io/egress": "a.acme.eu"}},
			Spec:       spec}},
	}
	if !IsWorkloadKind("v1", "ReplicationController") {
		t.Fatal("ReplicationController is not a workload kind")
	}
	w, ok := WorkloadOf(rc)
	if !ok || w.Ref != (ResourceRef{APIVersion: "v1", Kind: "ReplicationController", Namespace: "ns", Name: "legacy"}) ||
		w.Annotations["dataresidency.io/subprocessors"] != "x" || w.TemplateAnnotations["dataresidency.io/egress"] != "a.acme.eu" ||
		!reflect.DeepEqual(w.PodSpec, PodSpecOf(&spec)) {
		t.Fatalf("WorkloadOf = %+v, %v", w, ok)
	}
	raw, err := json.Marshal(rc)
	if err != nil {
		t.Fatal(err)
	}
	d, err := DecodeWorkload("v1", "ReplicationController", raw)
	if err != nil || !reflect.DeepEqual(d.Workload, w) {
		t.Errorf("DecodeWorkload = %+v, %v; want %+v", d.Workload, err, w)
	}
	// The selector stays: egress policies select the pods by it.
	if !Strip(rc) || rc.Spec.Selector["app"] != "legacy" || rc.Labels != nil || rc.Spec.Template.Spec.Containers[0].Image != "" {
		t.Errorf("Strip kept %+v", rc)
	}
	if again, _ := WorkloadOf(rc); !reflect.DeepEqual(again, w) {
		t.Errorf("after Strip: %+v, want %+v", again, w)
	}
	if !Strip(rc) {
		t.Error("a stripped ReplicationController is not recognised")
	}
	// A ReplicationController without a template has no pods to read.
	bare := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "bare"}}
	if w, ok := WorkloadOf(bare); !ok || len(w.PodSpec.Containers) != 0 {
		t.Errorf("template-less: %+v, %v", w, ok)
	}
	if !Strip(bare) {
		t.Error("template-less ReplicationController not stripped")
	}
}
