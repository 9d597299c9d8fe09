package residency

import (
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// Workload is what the engine needs of an object that runs pods: its
// declarations (annotations on the object and on its pod template) and its pod
// spec, for discovery and placement.
type Workload struct {
	Ref ResourceRef
	// Annotations are the object's own.
	Annotations map[string]string
	// TemplateAnnotations are the pod template's (nil for a Pod).
	TemplateAnnotations map[string]string
	// PodSpec is nil if the object has none.
	PodSpec *corev1.PodSpec
	// Context holds what discovery reads beyond the pod spec: the ConfigMaps it
	// references and the ExternalName Services of its namespace. Callers fill it.
	Context PodContext
}

// WorkloadOf extracts a Workload from a Pod, Deployment, StatefulSet, DaemonSet,
// ReplicaSet, Job or CronJob (typed k8s.io/api objects; for a CronJob, the pod
// template of its jobTemplate). The second result is false for any other object.
// The Workload shares maps and the pod spec with obj: treat them as read-only.
func WorkloadOf(obj runtime.Object) (*Workload, bool) {
	var (
		meta     *metav1.ObjectMeta
		template *corev1.PodTemplateSpec
		spec     *corev1.PodSpec
		group    string
		kind     string
	)
	switch o := obj.(type) {
	case *corev1.Pod:
		if o == nil {
			return nil, false
		}
		meta, spec, group, kind = &o.ObjectMeta, &o.Spec, "v1", "Pod"
	case *appsv1.Deployment:
		if o == nil {
			return nil, false
		}
		meta, template, group, kind = &o.ObjectMeta, &o.Spec.Template, "apps/v1", "Deployment"
	case *appsv1.StatefulSet:
		if o == nil {
			return nil, false
		}
		meta, template, group, kind = &o.ObjectMeta, &o.Spec.Template, "apps/v1", "StatefulSet"
	case *appsv1.DaemonSet:
		if o == nil {
			return nil, false
		}
		meta, template, group, kind = &o.ObjectMeta, &o.Spec.Template, "apps/v1", "DaemonSet"
	case *appsv1.ReplicaSet:
		if o == nil {
			return nil, false
		}
		meta, template, group, kind = &o.ObjectMeta, &o.Spec.Template, "apps/v1", "ReplicaSet"
	case *batchv1.Job:
		if o == nil {
			return nil, false
		}
		meta, template, group, kind = &o.ObjectMeta, &o.Spec.Template, "batch/v1", "Job"
	case *batchv1.CronJob:
		if o == nil {
			return nil, false
		}
		meta, template, group, kind = &o.ObjectMeta, &o.Spec.JobTemplate.Spec.Template, "batch/v1", "CronJob"
	default:
		return nil, false
	}
	w := &Workload{
		Ref:         ResourceRef{APIVersion: group, Kind: kind, Namespace: meta.Namespace, Name: meta.Name},
		Annotations: meta.Annotations,
		PodSpec:     spec,
		Context:     PodContext{Namespace: meta.Namespace},
	}
	if template != nil {
		w.TemplateAnnotations = template.Annotations
		w.PodSpec = &template.Spec
	}
	return w, true
}

// PlacementRegions returns the topology.kubernetes.io/region values a pod spec
// pins its pods to, through nodeSelector or required node affinity (operator
// In), sorted and deduplicated. Node selector terms are alternatives, so the
// regions of every term count.
func PlacementRegions(spec *corev1.PodSpec) []string {
	if spec == nil {
		return nil
	}
	var regions []string
	if r, ok := spec.NodeSelector[v1alpha1.LabelRegion]; ok && r != "" {
		regions = append(regions, r)
	}
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			for _, e := range term.MatchExpressions {
				if e.Key == v1alpha1.LabelRegion && e.Operator == corev1.NodeSelectorOpIn {
					for _, v := range e.Values {
						if v != "" {
							regions = append(regions, v)
						}
					}
				}
			}
		}
	}
	if len(regions) < 2 {
		return regions
	}
	sort.Strings(regions)
	out := regions[:1]
	for _, r := range regions[1:] {
		if r != out[len(out)-1] {
			out = append(out, r)
		}
	}
	return out
}
