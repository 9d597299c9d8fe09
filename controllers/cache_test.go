package controllers

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// realisticDeployment is what a Deployment looks like on the wire: managed
// fields, kubectl's last-applied copy, status, a handful of env vars.
func realisticDeployment(i int) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("app-%05d", i), Namespace: fmt.Sprintf("ns-%03d", i%100),
			Labels: map[string]string{"app": "shop", "tier": "backend"},
			Annotations: map[string]string{
				"dataresidency.io/subprocessors":                   "twilio-sendgrid,zendesk",
				"dataresidency.io/data-categories":                 "user.contact.email,user.name",
				"kubectl.kubernetes.io/last-applied-configuration": strings.Repeat("x", 3000),
			},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: "Apply", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{` + strings.Repeat(`"f:x":{},`, 300) + `"f:y":{}}}`)}}},
		},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "registry.example/shop:1.2.3",
			Env: []corev1.EnvVar{{Name: "SMTP_HOST", Value: "smtp.sendgrid.net"}, {Name: "DB", Value: "postgres://db.shop.svc:5432/shop"}, {Name: "LOG_LEVEL", Value: "info"}},
		}}}}},
		Status: appsv1.DeploymentStatus{Replicas: 3, Conditions: []appsv1.DeploymentCondition{{Type: "Available", Status: "True", Message: strings.Repeat("m", 200)}}},
	}
	return d
}

// TestCacheTransformKeepsWhatEvaluationNeeds checks what stripWorkload keeps
// and drops, and logs the memory a cached Deployment costs with and without it.
func TestCacheTransformKeepsWhatEvaluationNeeds(t *testing.T) {
	d := realisticDeployment(1)
	obj, _ := stripWorkload(d)
	s := obj.(*appsv1.Deployment)
	if s.ManagedFields != nil || s.Status.Replicas != 0 || s.Annotations["kubectl.kubernetes.io/last-applied-configuration"] != "" {
		t.Errorf("managedFields, status or last-applied kept: %+v", s.ObjectMeta)
	}
	if s.Annotations["dataresidency.io/subprocessors"] == "" || len(s.Spec.Template.Spec.Containers[0].Env) != 3 {
		t.Errorf("declarations or env dropped")
	}

	const n = 5000
	measure := func(transform bool) float64 {
		// Decode from JSON as the informer does, so sizes are those of real objects.
		raw, err := json.Marshal(realisticDeployment(0))
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		keep := make([]*appsv1.Deployment, n)
		for i := range keep {
			var d appsv1.Deployment
			_ = json.Unmarshal(raw, &d)
			if transform {
				o, _ := stripWorkload(&d)
				keep[i] = o.(*appsv1.Deployment)
			} else {
				keep[i] = &d
			}
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(keep)
		return float64(after.HeapAlloc-before.HeapAlloc) / n
	}
	raw, stripped := measure(false), measure(true)
	t.Logf("cached Deployment: %.0f bytes as received, %.0f bytes after the transform", raw, stripped)
	if stripped >= raw {
		t.Errorf("the transform saves nothing: %.0f >= %.0f bytes", stripped, raw)
	}
}
