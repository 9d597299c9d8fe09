package controllers

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
	"github.com/dataresidency/operator/internal/testenv"
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
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: "Apply", FieldsV1: &metav1.FieldsV1{Raw: //nolint:staticcheck // building a wire-shaped object
			[]byte(`{"f:spec":{` + strings.Repeat(`"f:x":{},`, 300) + `"f:y":{}}}`)}}},
		},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "registry.example/shop:1.2.3",
			Env: []corev1.EnvVar{{Name: "SMTP_HOST", Value: "smtp.sendgrid.net"}, {Name: "DB", Value: "postgres://db.shop.svc:5432/shop"}, {Name: "LOG_LEVEL", Value: "info"}},
		}}}}},
		Status: appsv1.DeploymentStatus{Replicas: 3, Conditions: []appsv1.DeploymentCondition{{Type: "Available", Status: "True", Message: strings.Repeat("m", 200)}}},
	}
	return d
}

// TestCacheTransformKeepsWhatEvaluationNeeds checks what narrowWorkload keeps
// and drops, and logs the memory a cached Deployment costs as received, as a
// stripped typed object and in its Cached form.
func TestCacheTransformKeepsWhatEvaluationNeeds(t *testing.T) {
	d := realisticDeployment(1)
	obj, _ := narrowWorkload(d)
	c := obj.(*residency.Cached)
	if c.GetManagedFields() != nil || c.GetAnnotations()["kubectl.kubernetes.io/last-applied-configuration"] != "" {
		t.Errorf("managedFields or last-applied kept: %+v", c)
	}
	if c.GetAnnotations()["dataresidency.io/subprocessors"] == "" || len(c.Workload().PodSpec.Containers[0].Env) != 3 || c.GetLabels()["tier"] != "backend" {
		t.Errorf("declarations, labels or env dropped: %+v", c)
	}
	typed := c.Object().(*appsv1.Deployment)
	if typed.Status.Replicas != 0 || typed.Spec.Template.Spec.Containers[0].Image != "" || len(typed.Spec.Template.Spec.Containers[0].Env) != 3 || typed.Name != d.Name {
		t.Errorf("typed form: %+v", typed)
	}

	const n = 5000
	measure := func(form string) float64 {
		// Decode from JSON as the informer does, so sizes are those of real objects.
		raw, err := json.Marshal(realisticDeployment(0))
		if err != nil {
			t.Fatal(err)
		}
		goruntime.GC()
		var before goruntime.MemStats
		goruntime.ReadMemStats(&before)
		keep := make([]any, n)
		for i := range keep {
			d := &appsv1.Deployment{}
			_ = json.Unmarshal(raw, d)
			switch form {
			case "stripped":
				residency.Strip(d)
				keep[i] = d
			case "cached":
				keep[i], _ = narrowWorkload(d)
			default:
				keep[i] = d
			}
		}
		goruntime.GC()
		var after goruntime.MemStats
		goruntime.ReadMemStats(&after)
		goruntime.KeepAlive(keep)
		return float64(after.HeapAlloc-before.HeapAlloc) / n
	}
	raw, stripped, cached := measure("raw"), measure("stripped"), measure("cached")
	t.Logf("cached Deployment: %.0f bytes as received, %.0f as a stripped typed object, %.0f in its Cached form", raw, stripped, cached)
	if cached >= stripped || stripped >= raw {
		t.Errorf("the Cached form saves nothing: %.0f, %.0f, %.0f bytes", raw, stripped, cached)
	}
}

// TestStrippedWorkloadsEvaluateTheSame: every workload of the seed fixtures
// gets the same verdict and findings from the engine whether it is evaluated
// as received or as the cache keeps it, so the transform never hides a field
// the engine reads.
func TestStrippedWorkloadsEvaluateTheSame(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(testenv.Root(), "test", "fixtures", "seeds", "*"))
	if len(dirs) == 0 {
		t.Fatal("no seed fixtures")
	}
	scheme := NewScheme()
	var checked int
	for _, dir := range dirs {
		objs, err := testenv.ReadObjects(dir)
		if err != nil {
			t.Fatal(err)
		}
		var in residency.Inputs
		var workloads []client.Object
		for _, u := range objs {
			typed, err := scheme.New(u.GroupVersionKind())
			if err != nil {
				continue // expected.yaml documents and the like
			}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, typed); err != nil {
				t.Fatalf("%s: %s %s: %v", dir, u.GetKind(), u.GetName(), err)
			}
			switch o := typed.(type) {
			case *v1alpha1.ProcessingLocation:
				in.Locations = append(in.Locations, o)
			case *v1alpha1.TransferBasis:
				in.Bases = append(in.Bases, o)
			case *v1alpha1.Subprocessor:
				in.Subprocessors = append(in.Subprocessors, o)
			case *v1alpha1.ResidencyPolicy:
				in.Policy = &o.Spec
			default:
				if _, ok := residency.WorkloadOf(typed); ok {
					workloads = append(workloads, typed.(client.Object))
				}
			}
		}
		snap := residency.Compile(residency.DefaultCatalog(), in, time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))
		for _, w := range workloads {
			full, _ := residency.WorkloadOf(w)
			want := snap.Evaluate(full)
			narrowed, _ := narrowWorkload(w.DeepCopyObject())
			c := narrowed.(*residency.Cached)
			// Evaluated as the reconciler reads it, and as a reader of the
			// typed kind gets it back from the cache.
			for form, obj := range map[string]runtime.Object{"cached": c, "typed from the cache": c.Object()} {
				sw, _ := residency.WorkloadOf(obj)
				got := snap.Evaluate(sw)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s %s/%s: %s %+v\nfull %+v", filepath.Base(dir), w.GetNamespace(), w.GetName(), form, got, want)
				}
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d workloads checked", checked)
	}
	t.Logf("%d workloads evaluate the same stripped and in full", checked)
}

// TestTransformIsIdempotent: client-go applies the transform a second time to
// the objects of an initial list; the second pass must change nothing and
// copy nothing.
func TestTransformIsIdempotent(t *testing.T) {
	once, _ := narrowWorkload(realisticDeployment(1))
	twice, _ := narrowWorkload(once)
	if once != twice {
		t.Errorf("a second transform made a new object")
	}
	if _, ok := once.(*residency.Cached); !ok {
		t.Errorf("a Deployment is cached as %T", once)
	}
	cm := &corev1.ConfigMap{}
	if other, _ := narrowWorkload(cm); other != cm {
		t.Errorf("a ConfigMap was changed to %T", other)
	}
}
