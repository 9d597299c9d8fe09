package residency

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestPairs(t *testing.T) {
	m := map[string]string{"tier": "backend", "app": "shop", "app.kubernetes.io/name": "shop", "empty": ""}
	p := PairsOf(m, false)
	if p.Len() != 4 || !reflect.DeepEqual(p.Map(), m) {
		t.Fatalf("PairsOf(%v) = %v", m, p)
	}
	for k, v := range m {
		if got, ok := p.Lookup(k); !ok || got != v {
			t.Errorf("Lookup(%q) = %q, %v", k, got, ok)
		}
	}
	for _, k := range []string{"", "a", "apps", "zzz", "tie"} {
		if p.Has(k) || p.Get(k) != "" {
			t.Errorf("Has(%q) on %v", k, p)
		}
	}
	if PairsOf(nil, true) != nil || PairsOf(map[string]string{}, false).Map() != nil {
		t.Error("an empty map is not nil Pairs")
	}
	// Selectors match Pairs as they match a label set.
	for _, s := range []string{"app=shop", "tier in (backend,db)", "!missing", "empty", "app!=shop", "tier notin (backend)", "missing"} {
		sel, err := labels.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := sel.Matches(p), sel.Matches(labels.Set(m)); got != want {
			t.Errorf("%q matches Pairs %v, a label set %v", s, got, want)
		}
	}
	if !p.Equal(PairsOf(m, true)) || p.Equal(PairsOf(map[string]string{"app": "shop"}, false)) {
		t.Error("Equal")
	}
}

// TestNarrowKeepsTheWorkload: every governed kind, narrowed as the cache
// keeps it, gives WorkloadOf the same Workload as the typed object, directly
// and through Into; the metadata readers see is the object's, but for the
// annotations the engine does not read.
func TestNarrowKeepsTheWorkload(t *testing.T) {
	meta := metav1.ObjectMeta{Namespace: "shop", Name: "mailer", UID: "u-1", ResourceVersion: "7",
		Labels:          map[string]string{"app": "mailer", "tier": "backend"},
		Annotations:     map[string]string{AnnotationSubprocessors: "brevo", "meta.helm.sh/release-name": "shop"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "x", UID: "u-0"}}}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "mailer"}, Annotations: map[string]string{AnnotationDataCategories: "user.contact.email", "prometheus.io/scrape": "true"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1",
			Env: []corev1.EnvVar{{Name: "SMTP_HOST", Value: "smtp-relay.brevo.com"}}}}, NodeSelector: map[string]string{"topology.kubernetes.io/region": "eu-west-1"}},
	}
	exprs := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "mailer"},
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "track", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"canary"}}}}
	same := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "mailer", "tier": "backend"}}
	objs := []runtime.Object{
		&corev1.Pod{ObjectMeta: meta, Spec: tmpl.Spec, Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "192.0.2.7"}},
		&appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Selector: exprs, Template: tmpl}},
		&appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Selector: same, Template: tmpl}},
		&appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Template: tmpl}},
		&appsv1.ReplicaSet{ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{Selector: exprs, Template: tmpl}},
		&corev1.ReplicationController{ObjectMeta: meta, Spec: corev1.ReplicationControllerSpec{Selector: map[string]string{"app": "mailer"}, Template: &tmpl}},
		&batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{Template: tmpl}},
		&batchv1.CronJob{ObjectMeta: meta, Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}},
	}
	// A pod spec that reads ConfigMaps three ways.
	cms := tmpl.DeepCopy()
	cms.Spec.Containers[0].Env = append(cms.Spec.Containers[0].Env, corev1.EnvVar{Name: "SMTP_PORT", ValueFrom: &corev1.EnvVarSource{
		ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "smtp"}, Key: "port"}}})
	cms.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "env"}}}}
	cms.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "conf", MountPath: "/etc/app"}}
	cms.Spec.Volumes = []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "files"}}}}}
	objs = append(objs, &batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{Template: *cms}})
	readsConfigMaps := 0
	for _, obj := range objs {
		want, _ := WorkloadOf(obj)
		c, ok := Narrow(obj.DeepCopyObject())
		if !ok {
			t.Fatalf("%T not narrowed", obj)
		}
		kind := c.TypeMeta.Kind
		if got, _ := WorkloadOf(c); !reflect.DeepEqual(got, want) || got == c.Workload() {
			t.Errorf("%s: cached %+v\nwant %+v", kind, got, want)
		}
		if got, want := c.ReferencedConfigMaps(), ReferencedConfigMaps(want.PodSpec); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ConfigMaps %v, want %v", kind, got, want)
		} else if len(got) == 3 {
			readsConfigMaps++
		}
		back := c.Object()
		if bm := back.(metav1.Object); bm.GetUID() != meta.UID || bm.GetResourceVersion() != meta.ResourceVersion || !reflect.DeepEqual(bm.GetLabels(), meta.Labels) ||
			!reflect.DeepEqual(bm.GetOwnerReferences(), meta.OwnerReferences) || bm.GetAnnotations()[AnnotationSubprocessors] != "brevo" {
			t.Errorf("%s: typed from the cache, metadata %+v", kind, bm)
		}
		if got, _ := WorkloadOf(back); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: typed from the cache %+v\nwant %+v", kind, got, want)
		}
		if !reflect.DeepEqual(c.GetLabels(), meta.Labels) || !reflect.DeepEqual(c.GetAnnotations(), map[string]string{AnnotationSubprocessors: "brevo"}) ||
			c.UID != meta.UID || c.Namespace != meta.Namespace || c.Name != meta.Name || c.ResourceVersion != meta.ResourceVersion || !reflect.DeepEqual(c.OwnerReferences, meta.OwnerReferences) {
			t.Errorf("%s: metadata %+v labels %v annotations %v", kind, c, c.GetLabels(), c.GetAnnotations())
		}
		cp := c.DeepCopyObject().(*Cached)
		if !reflect.DeepEqual(cp.Workload(), want) || !reflect.DeepEqual(cp.GetLabels(), meta.Labels) {
			t.Errorf("%s: a copy reads differently", kind)
		}
		cp.OwnerReferences[0].Name = "changed"
		cp.SetLabels(map[string]string{"app": "changed"})
		if c.OwnerReferences[0].Name != "x" || c.GetLabels()["app"] != "mailer" {
			t.Errorf("%s: changing a copy changed the cached object", kind)
		}
	}
	if readsConfigMaps != 1 {
		t.Errorf("%d objects read their 3 ConfigMaps, want 1", readsConfigMaps)
	}
}
