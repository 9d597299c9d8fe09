package controllers_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dataresidency/operator/controllers"
	"github.com/dataresidency/operator/internal/residency"
)

// TestWorkloadCacheServesTypedReads: the manager's cache keeps workloads in
// their narrow Cached form, and answers typed Gets, Lists (by namespace, by
// label, by field index) and handlers as the controllers and the webhook
// expect, against the API server.
func TestWorkloadCacheServesTypedReads(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := "wlcache"
	if err := k8s.Create(ctx, namespace(ns, "")); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "shop"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop", Labels: labels, Annotations: map[string]string{
			"dataresidency.io/subprocessors": "sendgrid", "note": "not kept"}},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"dataresidency.io/egress": "api.example.eu"}},
			Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "app", Image: "shop:1", Env: []corev1.EnvVar{{Name: "SMTP", Value: "smtp.sendgrid.net"}},
					VolumeMounts: []corev1.VolumeMount{{Name: "conf", MountPath: "/etc/shop"}}}},
				Volumes: []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "shop-config"}}}}},
			}}},
	}
	cron := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nightly"},
		Spec: batchv1.CronJobSpec{Schedule: "0 1 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"job": "nightly"}},
			Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "x:1"}}}}}}},
	}
	for _, o := range []client.Object{dep, cron} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		// The API server is shared: other tests count every workload.
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), o) })
	}

	c, err := controllers.NewCache(cfg, ctrlcache.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.IndexField(ctx, &appsv1.Deployment{}, controllers.IndexWorkloadConfigMaps, controllers.WorkloadConfigMaps); err != nil {
		t.Fatal(err)
	}
	handled := make(chan any, 10)
	inf, err := c.GetInformer(ctx, &appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inf.AddEventHandler(handlerFunc(func(obj any) { handled <- obj })); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("cache not synced")
	}

	// What the informer holds and hands to handlers.
	select {
	case obj := <-handled:
		cached, ok := obj.(*residency.Cached)
		if !ok || cached.Name != "shop" || cached.GetAnnotations()["note"] != "" || cached.Workload().PodSpec == nil {
			t.Errorf("handler got %T %+v", obj, obj)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}

	var got appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKeyFromObject(dep), &got); err != nil {
		t.Fatal(err)
	}
	w, _ := residency.WorkloadOf(&got)
	if got.UID == "" || got.Labels["app"] != "shop" || got.Annotations["dataresidency.io/subprocessors"] != "sendgrid" || got.Annotations["note"] != "" ||
		w.TemplateAnnotations["dataresidency.io/egress"] != "api.example.eu" || len(w.PodSpec.Containers) != 1 || w.PodSpec.Containers[0].Env[0].Value != "smtp.sendgrid.net" ||
		got.Spec.Template.Spec.Containers[0].Image != "" || w.PodSelector == nil || w.PodSelector.MatchLabels["app"] != "shop" {
		t.Errorf("Get: %+v", got)
	}
	var cj batchv1.CronJob
	if err := c.Get(ctx, client.ObjectKeyFromObject(cron), &cj); err != nil {
		t.Fatal(err)
	}
	if cw, _ := residency.WorkloadOf(&cj); cw.PodSelector == nil || cw.PodSelector.MatchLabels["job"] != "nightly" {
		t.Errorf("CronJob pod selector: %+v", cw.PodSelector)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "absent"}, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Errorf("Get of an absent Deployment: %v", err)
	}

	for _, tc := range []struct {
		opts []client.ListOption
		want int
	}{
		{[]client.ListOption{client.InNamespace(ns)}, 1},
		{[]client.ListOption{client.InNamespace("default")}, 0},
		{[]client.ListOption{client.InNamespace(ns), client.MatchingLabels{"app": "shop"}}, 1},
		{[]client.ListOption{client.InNamespace(ns), client.MatchingLabels{"app": "other"}}, 0},
		{[]client.ListOption{client.InNamespace(ns), client.MatchingFields{controllers.IndexWorkloadConfigMaps: "shop-config"}}, 1},
		{[]client.ListOption{client.MatchingFields{controllers.IndexWorkloadConfigMaps: "shop-config"}}, 1},
		{[]client.ListOption{client.InNamespace(ns), client.MatchingFields{controllers.IndexWorkloadConfigMaps: "other"}}, 0},
	} {
		var list appsv1.DeploymentList
		if err := c.List(ctx, &list, tc.opts...); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != tc.want || (tc.want == 1 && list.Items[0].Name != "shop") {
			t.Errorf("List %v: %d items, want %d", tc.opts, len(list.Items), tc.want)
		}
	}
	var all appsv1.DeploymentList
	if err := c.List(ctx, &all); err != nil || len(all.Items) == 0 {
		t.Errorf("List all: %d items, %v", len(all.Items), err)
	}
	// A walk over the narrow objects, as the catalog webhook makes.
	k, _ := residency.LookupWorkloadKind("Deployment")
	var walked []string
	if err := c.(*controllers.WorkloadCache).EachWorkload(ctx, k, func(w *residency.Cached) bool {
		if w.Namespace == ns {
			walked = append(walked, w.Name)
		}
		return true
	}); err != nil || len(walked) != 1 || walked[0] != "shop" {
		t.Errorf("EachWorkload: %v, %v", walked, err)
	}
	// Other kinds are read as the cache does.
	var nss corev1.NamespaceList
	if err := c.List(ctx, &nss); err != nil || len(nss.Items) == 0 {
		t.Errorf("List namespaces: %d, %v", len(nss.Items), err)
	}
}

// handlerFunc adapts a function to the informer's handler (adds only).
type handlerFunc func(obj any)

func (f handlerFunc) OnAdd(obj any, _ bool) { f(obj) }
func (f handlerFunc) OnUpdate(_, _ any)     {}
func (f handlerFunc) OnDelete(_ any)        {}
