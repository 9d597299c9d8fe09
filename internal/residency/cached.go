package residency

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Cached is a workload as the controllers' informer cache keeps it: the
// object's metadata (no managed fields, only the dataresidency.io/
// annotations) and the engine's Workload. A typed object costs its Go struct
// before any content (1.2 KB for a Deployment, most of it an empty pod spec);
// this keeps only what evaluation reads. Narrow builds it as an object enters
// the cache; Into gives readers of the typed kinds their typed object back.
type Cached struct {
	// TypeMeta is named, not embedded (GetObjectKind serves it): a type
	// embedding both TypeMeta and ObjectMeta is a CRD to controller-gen.
	TypeMeta          metav1.TypeMeta `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Workload is what WorkloadOf read of the object, shared by every
	// reader: read-only. Never serialised: the cache holds it in memory only.
	Workload *Workload `json:"-"`
	// Pod is what observed egress reads of a Pod's status (nil for other kinds).
	Pod *CachedPodStatus `json:"-"`
}

// CachedPodStatus is the part of a Pod's status that attributes its
// addresses (internal/observe).
type CachedPodStatus struct {
	Phase  corev1.PodPhase
	PodIP  string
	PodIPs []corev1.PodIP
}

// GetObjectKind returns the object's kind (runtime.Object).
func (c *Cached) GetObjectKind() schema.ObjectKind { return &c.TypeMeta }

// DeepCopyObject copies the metadata; Workload and Pod are shared (read-only).
func (c *Cached) DeepCopyObject() runtime.Object {
	out := &Cached{TypeMeta: c.TypeMeta, Workload: c.Workload, Pod: c.Pod}
	c.DeepCopyInto(&out.ObjectMeta)
	return out
}

// Narrow reduces a typed workload object to its Cached form (an object
// already narrowed is returned as it is: client-go transforms the objects of
// an initial list twice). The second result is false for any other object.
// The Cached shares strings, env slices and maps with obj.
func Narrow(obj runtime.Object) (*Cached, bool) {
	if c, ok := obj.(*Cached); ok {
		return c, true
	}
	w, ok := WorkloadOf(obj)
	if !ok {
		return nil, false
	}
	meta, _, _, _ := workloadParts(obj)
	c := &Cached{TypeMeta: metav1.TypeMeta{APIVersion: w.Ref.APIVersion, Kind: w.Ref.Kind}, ObjectMeta: *meta, Workload: w}
	c.ManagedFields, c.Annotations = nil, w.Annotations
	if p, ok := obj.(*corev1.Pod); ok {
		c.Pod = &CachedPodStatus{Phase: p.Status.Phase, PodIP: p.Status.PodIP, PodIPs: p.Status.PodIPs}
	}
	return c, true
}

// Into sets obj, a typed object of the same kind, to the typed object c
// stands for: its metadata and exactly what WorkloadOf reads (pod template
// annotations, the engine's part of the pod spec, the pod selector; a Pod's
// addresses and phase). WorkloadOf(obj) then equals c.Workload.
func (c *Cached) Into(obj runtime.Object) error {
	if kindOf(obj) != c.TypeMeta.Kind {
		return fmt.Errorf("cannot read a cached %s into %T", c.TypeMeta.Kind, obj)
	}
	w := c.Workload
	var spec corev1.PodSpec
	if w.PodSpec != nil {
		spec = w.PodSpec.Core()
	}
	meta := c.ObjectMeta
	tm := c.TypeMeta
	template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Annotations: w.TemplateAnnotations}, Spec: spec}
	sel := w.PodSelector
	switch o := obj.(type) {
	case *corev1.Pod:
		*o = corev1.Pod{TypeMeta: tm, ObjectMeta: meta, Spec: spec}
		if c.Pod != nil {
			o.Status = corev1.PodStatus{Phase: c.Pod.Phase, PodIP: c.Pod.PodIP, PodIPs: c.Pod.PodIPs}
		}
	case *appsv1.Deployment:
		*o = appsv1.Deployment{TypeMeta: tm, ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Selector: sel, Template: template}}
	case *appsv1.StatefulSet:
		*o = appsv1.StatefulSet{TypeMeta: tm, ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Selector: sel, Template: template}}
	case *appsv1.DaemonSet:
		*o = appsv1.DaemonSet{TypeMeta: tm, ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Selector: sel, Template: template}}
	case *appsv1.ReplicaSet:
		*o = appsv1.ReplicaSet{TypeMeta: tm, ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: template}}
	case *corev1.ReplicationController:
		*o = corev1.ReplicationController{TypeMeta: tm, ObjectMeta: meta, Spec: corev1.ReplicationControllerSpec{Selector: matchLabels(sel), Template: &template}}
	case *batchv1.Job:
		*o = batchv1.Job{TypeMeta: tm, ObjectMeta: meta, Spec: batchv1.JobSpec{Selector: sel, Template: template}}
	case *batchv1.CronJob:
		// A CronJob states no selector: its pods are its template's labels.
		template.Labels = matchLabels(sel)
		*o = batchv1.CronJob{TypeMeta: tm, ObjectMeta: meta, Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template}}}}
	}
	return nil
}

// Object returns the typed object c stands for (Into a new one).
func (c *Cached) Object() runtime.Object {
	k, _ := LookupWorkloadKind(c.TypeMeta.Kind)
	obj := k.New()
	_ = c.Into(obj)
	return obj
}

func matchLabels(sel *metav1.LabelSelector) map[string]string {
	if sel == nil {
		return nil
	}
	return sel.MatchLabels
}

// Strip reduces a typed workload object, in place, to what WorkloadOf reads
// (Narrow, then Into), keeping its metadata: what the controllers' cache
// holds, as a typed object. It reports false, leaving obj alone, for any
// other object.
func Strip(obj runtime.Object) bool {
	c, ok := Narrow(obj)
	if !ok {
		return false
	}
	return c.Into(obj) == nil
}

// WorkloadKindOf returns the governed kind of a typed object or list.
func WorkloadKindOf(obj runtime.Object) (WorkloadKind, bool) {
	kind := kindOf(obj)
	if kind == "" {
		kind = listKindOf(obj)
	}
	if kind == "" {
		return WorkloadKind{}, false
	}
	return LookupWorkloadKind(kind)
}

func listKindOf(obj runtime.Object) string {
	switch obj.(type) {
	case *corev1.PodList:
		return "Pod"
	case *appsv1.DeploymentList:
		return "Deployment"
	case *appsv1.StatefulSetList:
		return "StatefulSet"
	case *appsv1.DaemonSetList:
		return "DaemonSet"
	case *appsv1.ReplicaSetList:
		return "ReplicaSet"
	case *corev1.ReplicationControllerList:
		return "ReplicationController"
	case *batchv1.JobList:
		return "Job"
	case *batchv1.CronJobList:
		return "CronJob"
	}
	return ""
}
