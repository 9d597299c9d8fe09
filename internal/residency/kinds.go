package residency

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// WorkloadKind is one kind of object that runs pods from a pod spec or a pod
// template: the kinds the controllers watch, the webhook reviews and
// residencyctl reads are these, declared once.
type WorkloadKind struct {
	Group, Version, Kind string
	// New returns an empty typed object of the kind; NewList an empty list.
	New     func() runtime.Object
	NewList func() runtime.Object
	// ControlledBy names the kinds (in the same order as Group/Kind pairs)
	// whose controllers create objects of this kind from their template, so
	// that such an object is judged through its owner.
	ControlledBy []GroupKind
}

// GroupKind names a kind in an API group.
type GroupKind struct{ Group, Kind string }

// APIVersion is the kind's apiVersion as written in a manifest.
func (k WorkloadKind) APIVersion() string {
	if k.Group == "" {
		return k.Version
	}
	return k.Group + "/" + k.Version
}

var workloadKinds = []WorkloadKind{
	{"", "v1", "Pod", func() runtime.Object { return &corev1.Pod{} }, func() runtime.Object { return &corev1.PodList{} },
		[]GroupKind{{"apps", "ReplicaSet"}, {"apps", "StatefulSet"}, {"apps", "DaemonSet"}, {"", "ReplicationController"}, {"batch", "Job"}}},
	{"apps", "v1", "Deployment", func() runtime.Object { return &appsv1.Deployment{} }, func() runtime.Object { return &appsv1.DeploymentList{} }, nil},
	{"apps", "v1", "StatefulSet", func() runtime.Object { return &appsv1.StatefulSet{} }, func() runtime.Object { return &appsv1.StatefulSetList{} }, nil},
	{"apps", "v1", "DaemonSet", func() runtime.Object { return &appsv1.DaemonSet{} }, func() runtime.Object { return &appsv1.DaemonSetList{} }, nil},
	{"apps", "v1", "ReplicaSet", func() runtime.Object { return &appsv1.ReplicaSet{} }, func() runtime.Object { return &appsv1.ReplicaSetList{} },
		[]GroupKind{{"apps", "Deployment"}}},
	{"", "v1", "ReplicationController", func() runtime.Object { return &corev1.ReplicationController{} },
		func() runtime.Object { return &corev1.ReplicationControllerList{} }, nil},
	{"batch", "v1", "Job", func() runtime.Object { return &batchv1.Job{} }, func() runtime.Object { return &batchv1.JobList{} },
		[]GroupKind{{"batch", "CronJob"}}},
	{"batch", "v1", "CronJob", func() runtime.Object { return &batchv1.CronJob{} }, func() runtime.Object { return &batchv1.CronJobList{} }, nil},
}

// WorkloadKinds returns the governed workload kinds.
func WorkloadKinds() []WorkloadKind {
	return append([]WorkloadKind(nil), workloadKinds...)
}

// LookupWorkloadKind returns the governed kind of that name (any group).
func LookupWorkloadKind(kind string) (WorkloadKind, bool) {
	for _, k := range workloadKinds {
		if k.Kind == kind {
			return k, true
		}
	}
	return WorkloadKind{}, false
}

// IsWorkloadKind reports whether apiVersion and kind name a governed workload kind.
func IsWorkloadKind(apiVersion, kind string) bool {
	k, ok := LookupWorkloadKind(kind)
	return ok && k.APIVersion() == apiVersion
}

// ControlledByWorkload reports whether an object of kind, controlled by an
// object of ownerGroup/ownerKind, is made from that owner's pod template.
func ControlledByWorkload(kind, ownerGroup, ownerKind string) bool {
	k, ok := LookupWorkloadKind(kind)
	if !ok {
		return false
	}
	for _, c := range k.ControlledBy {
		if c.Group == ownerGroup && c.Kind == ownerKind {
			return true
		}
	}
	return false
}

// MakesWorkloads reports whether objects of group/kind make governed
// workloads from their template (a Deployment its ReplicaSets, a Job its Pods).
func MakesWorkloads(group, kind string) bool {
	for _, k := range workloadKinds {
		for _, c := range k.ControlledBy {
			if c.Group == group && c.Kind == kind {
				return true
			}
		}
	}
	return false
}

// TypedPodSpec is the pod spec of a typed workload object (its template's),
// or nil for any other object.
func TypedPodSpec(obj runtime.Object) *corev1.PodSpec {
	_, tmpl, spec, ok := workloadParts(obj)
	if !ok {
		return nil
	}
	if tmpl != nil {
		return &tmpl.Spec
	}
	return spec
}
