package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxObservedHosts bounds the names one ObservedEgress keeps, so that the
// object stays far below etcd's object size limit (1,000 names of at most
// 253 bytes with their times and counts: under 400 KB). Names beyond it are
// counted in status.droppedHosts and the workload gets a DiscoveryIncomplete
// warning.
const MaxObservedHosts = 1000

// ObservedEgressSpec names the workload whose pods resolved the names.
type ObservedEgressSpec struct {
	// workload is the workload (the top of its pods' controller chain) the
	// observations belong to, in the object's namespace.
	// +required
	Workload ObservedWorkload `json:"workload"`
}

// ObservedWorkload is a workload in the ObservedEgress's namespace.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="workload is immutable"
type ObservedWorkload struct {
	// apiVersion is the workload's API version (apps/v1, batch/v1, v1).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	APIVersion string `json:"apiVersion"`
	// kind is the workload's kind (Deployment, StatefulSet, DaemonSet, Job,
	// CronJob, ReplicaSet, ReplicationController, Pod).
	// +required
	// +kubebuilder:validation:Enum=Pod;Deployment;StatefulSet;DaemonSet;ReplicaSet;ReplicationController;Job;CronJob
	Kind string `json:"kind"`
	// name is the workload's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// ObservedHost is a name the workload's pods resolved.
type ObservedHost struct {
	// name is the DNS name queried, lower-case, without the trailing dot.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// count is how many answered queries for the name were observed.
	// +required
	// +kubebuilder:validation:Minimum=1
	Count int64 `json:"count"`
	// firstSeen is when the name was first resolved.
	// +required
	FirstSeen metav1.Time `json:"firstSeen"`
	// lastSeen is when it was last resolved, as of the last flush. The name
	// expires ResidencyPolicy spec.observedEgress.retention after it.
	// +required
	LastSeen metav1.Time `json:"lastSeen"`
}

// ObservedEgressStatus is what the workload's pods resolved.
type ObservedEgressStatus struct {
	// hosts are the names resolved (a NOERROR answer with records), outside
	// the cluster domain, sorted by name.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=1000
	Hosts []ObservedHost `json:"hosts,omitempty"`
	// hostCount is len(hosts), for kubectl get.
	// +optional
	HostCount int32 `json:"hostCount,omitempty"`
	// droppedHosts counts the resolutions of names not kept because hosts
	// was full.
	// +optional
	DroppedHosts int64 `json:"droppedHosts,omitempty"`
}

// ObservedEgress holds the DNS names one workload's pods actually resolved,
// as the cluster DNS (CoreDNS, through dnstap) reported them to the operator.
// The operator keeps one per workload that resolved anything, named after
// the workload, and judges the names as it judges discovered endpoints.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=oegress,categories=residency
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.workload.kind`
// +kubebuilder:printcolumn:name="Workload",type=string,JSONPath=`.spec.workload.name`
// +kubebuilder:printcolumn:name="Hosts",type=integer,JSONPath=`.status.hostCount`
// +kubebuilder:printcolumn:name="Dropped",type=integer,JSONPath=`.status.droppedHosts`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ObservedEgress struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's standard metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec names the workload.
	// +required
	Spec ObservedEgressSpec `json:"spec"`

	// status is what its pods resolved, kept by the operator.
	// +optional
	Status ObservedEgressStatus `json:"status,omitempty"`
}

// ObservedEgressList is a list of ObservedEgress.
//
// +kubebuilder:object:root=true
type ObservedEgressList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the list's standard metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the ObservedEgress objects.
	Items []ObservedEgress `json:"items"`
}
