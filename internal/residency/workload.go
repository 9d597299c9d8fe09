package residency

import (
	"fmt"
	"sort"
	"strings"

	"encoding/json"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// This file declares, once, what the engine reads of an object that runs
// pods. The admission webhook decodes the object under review straight into
// these types (DecodeWorkload), the controllers' cache keeps the objects as
// these types (Narrow, Cached), and residencyctl converts typed objects into them
// (WorkloadOf). A field the engine starts to read is added here, to the JSON
// PodSpec or the JSON shapes, to PodSpecOf and to PodSpec.Core; internal/webhook's differential
// test fails if one of the three paths misses it.

// Workload is what the engine needs of an object that runs pods: its
// declarations (annotations on the object and on its pod template) and its pod
// spec, for discovery and placement.
type Workload struct {
	Ref ResourceRef
	// Annotations are the object's own dataresidency.io/ annotations.
	Annotations map[string]string
	// Labels are the object's own labels: a ResidencyException's
	// workloadSelector matches them.
	Labels map[string]string
	// Owners are the workloads it is made from, nearest first (a Pod's
	// ReplicaSet, then its Deployment), with their labels: an exception for
	// the Deployment covers what the Deployment makes. The webhook fills
	// them; the controllers evaluate the top workload itself.
	Owners []Owner
	// TemplateAnnotations are the pod template's (nil for a Pod).
	TemplateAnnotations map[string]string
	// PodSelector selects its pods: the object's selector, or its pod
	// template's labels (a Pod's own) where it has none (a CronJob). Egress
	// policies apply to these pods; nil: none can be selected.
	PodSelector *metav1.LabelSelector
	// PodSpec is nil if the object has none.
	PodSpec *PodSpec
	// Context holds what discovery reads beyond the pod spec: the ConfigMaps it
	// references and the ExternalName Services of its namespace. Callers fill it.
	Context PodContext
	// NamespaceLabels are the labels of the workload's Namespace, for the
	// per-namespace dataresidency.io/require-declaration override (nil: none).
	// Callers fill it; what they read is theirs, the engine only reads it.
	NamespaceLabels map[string]string
	// Observed are the names its pods resolved that still count
	// (LiveObservations), and ObservedDropped the resolutions of names its
	// ObservedEgress could not keep. Callers fill them; the webhook does not
	// (admission judges the object, not what its pods did).
	Observed        []ObservedHost
	ObservedDropped int64
}

// PodSpec is the part of a pod spec the engine reads: the containers'
// environment, command, arguments and ConfigMap volumes for discovery, the
// node selector and node affinity for placement; hostNetwork for egress policies.
type PodSpec struct {
	InitContainers      []Container       `json:"initContainers,omitempty"`
	Containers          []Container       `json:"containers,omitempty"`
	EphemeralContainers []Container       `json:"ephemeralContainers,omitempty"`
	Volumes             []Volume          `json:"volumes,omitempty"`
	NodeSelector        map[string]string `json:"nodeSelector,omitempty"`
	Affinity            *Affinity         `json:"affinity,omitempty"`
	// HostNetwork pods are beyond network policies (egress policies).
	HostNetwork bool `json:"hostNetwork,omitempty"`
}

// Container is the part of a container (of any of the three kinds) that discovery reads.
type Container struct {
	Name         string                 `json:"name"`
	Command      []string               `json:"command,omitempty"`
	Args         []string               `json:"args,omitempty"`
	Env          []corev1.EnvVar        `json:"env,omitempty"`
	EnvFrom      []corev1.EnvFromSource `json:"envFrom,omitempty"`
	VolumeMounts []VolumeMount          `json:"volumeMounts,omitempty"`
}

// VolumeMount is where a container sees a volume: discovery reads the
// ConfigMap files it mounts.
type VolumeMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
	SubPath   string `json:"subPath,omitempty"`
}

// Volume is a pod volume, narrowed to its ConfigMap sources (a configMap
// volume, or the configMap sources of a projected one); other kinds of
// volume keep their name only.
type Volume struct {
	Name      string           `json:"name"`
	ConfigMap *ConfigMapVolume `json:"configMap,omitempty"`
	Projected *ProjectedVolume `json:"projected,omitempty"`
}

// ConfigMapVolume is a ConfigMap projected into files: every key to a file
// of its name, or only the keys Items selects, each to its path.
type ConfigMapVolume struct {
	Name  string             `json:"name,omitempty"`
	Items []corev1.KeyToPath `json:"items,omitempty"`
}

// ProjectedVolume is a projected volume's sources; only ConfigMap sources are kept.
type ProjectedVolume struct {
	Sources []VolumeProjection `json:"sources,omitempty"`
}

// VolumeProjection is one source of a projected volume (nil ConfigMap: another kind).
type VolumeProjection struct {
	ConfigMap *ConfigMapVolume `json:"configMap,omitempty"`
}

// Affinity is the part of a pod's affinity that placement reads.
type Affinity struct {
	NodeAffinity *corev1.NodeAffinity `json:"nodeAffinity,omitempty"`
}

// The JSON of the governed kinds, as the API server writes it, narrowed to
// what Workload holds: a Pod's pod spec is its spec, the other kinds hold a
// pod template in spec.template, a CronJob in spec.jobTemplate.spec.template.
type (
	metaJSON struct {
		Name              string                  `json:"name"`
		GenerateName      string                  `json:"generateName"`
		Namespace         string                  `json:"namespace"`
		Annotations       map[string]string       `json:"annotations"`
		Labels            map[string]string       `json:"labels"`
		DeletionTimestamp *metav1.Time            `json:"deletionTimestamp"`
		OwnerReferences   []metav1.OwnerReference `json:"ownerReferences"`
	}
	podJSON struct {
		Metadata metaJSON `json:"metadata"`
		Spec     PodSpec  `json:"spec"`
	}
	templatedJSON struct {
		Metadata metaJSON `json:"metadata"`
		Spec     struct {
			// Selector is a LabelSelector, or a ReplicationController's map.
			Selector json.RawMessage `json:"selector"`
			Template podTemplateJSON `json:"template"`
		} `json:"spec"`
	}
	cronJobJSON struct {
		Metadata metaJSON `json:"metadata"`
		Spec     struct {
			JobTemplate struct {
				Spec struct {
					Template podTemplateJSON `json:"template"`
				} `json:"spec"`
			} `json:"jobTemplate"`
		} `json:"spec"`
	}
	podTemplateJSON struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
			Labels      map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec PodSpec `json:"spec"`
	}
)

// DecodedWorkload is a workload decoded from JSON, with what the admission
// webhook reads of its metadata beside the engine's input.
type DecodedWorkload struct {
	Workload     *Workload
	GenerateName string
	// Deleting is true when the object has a deletionTimestamp.
	Deleting bool
	// Controller is the object's controller reference, if any (as written:
	// anyone may write one).
	Controller *metav1.OwnerReference
}

// DecodeWorkload reads a governed workload kind's JSON straight into the
// engine's input, case-sensitively and keeping the last of duplicate keys, as
// the API server decodes it (sigs.k8s.io/json, through apimachinery). Fields
// the engine does not read are skipped, not decoded.
func DecodeWorkload(apiVersion, kind string, raw []byte) (DecodedWorkload, error) {
	if !IsWorkloadKind(apiVersion, kind) {
		return DecodedWorkload{}, fmt.Errorf("%s %s is not a workload kind", apiVersion, kind)
	}
	var (
		m        *metaJSON
		spec     *PodSpec
		tmpl     *podTemplateJSON
		selector *metav1.LabelSelector
		err      error
	)
	switch kind {
	case "Pod":
		var o podJSON
		err, m, spec = utiljson.Unmarshal(raw, &o), &o.Metadata, &o.Spec
	case "CronJob":
		var o cronJobJSON
		err, m, tmpl = utiljson.Unmarshal(raw, &o), &o.Metadata, &o.Spec.JobTemplate.Spec.Template
	default:
		var o templatedJSON
		err, m, tmpl = utiljson.Unmarshal(raw, &o), &o.Metadata, &o.Spec.Template
		if err == nil && len(o.Spec.Selector) > 0 && string(o.Spec.Selector) != "null" {
			if kind == "ReplicationController" {
				var sel map[string]string
				err, selector = utiljson.Unmarshal(o.Spec.Selector, &sel), labelsSelector(sel)
			} else {
				selector = &metav1.LabelSelector{}
				err = utiljson.Unmarshal(o.Spec.Selector, selector)
			}
		}
	}
	if err != nil {
		return DecodedWorkload{}, err
	}
	w := &Workload{
		Ref:         ResourceRef{APIVersion: apiVersion, Kind: kind, Namespace: m.Namespace, Name: m.Name},
		Annotations: residencyAnnotations(m.Annotations),
		Labels:      m.Labels,
		Context:     PodContext{Namespace: m.Namespace},
		PodSpec:     spec,
	}
	w.PodSelector = labelsSelector(m.Labels)
	if tmpl != nil {
		w.TemplateAnnotations = residencyAnnotations(tmpl.Metadata.Annotations)
		w.PodSpec = &tmpl.Spec
		w.PodSelector = orLabels(selector, tmpl.Metadata.Labels)
	}
	d := DecodedWorkload{Workload: w, GenerateName: m.GenerateName, Deleting: m.DeletionTimestamp != nil}
	for i := range m.OwnerReferences {
		if r := &m.OwnerReferences[i]; r.Controller != nil && *r.Controller {
			d.Controller = r
			break
		}
	}
	return d, nil
}

// WorkloadOf extracts a Workload from a Pod, Deployment, StatefulSet, DaemonSet,
// ReplicaSet, ReplicationController, Job or CronJob (typed k8s.io/api objects; for a CronJob, the pod
// template of its jobTemplate). The second result is false for any other object.
// The Workload shares env slices and annotation maps with obj: treat them as read-only.
func WorkloadOf(obj runtime.Object) (*Workload, bool) {
	if c, ok := obj.(*Cached); ok {
		return c.Workload(), true
	}
	meta, template, spec, ok := workloadParts(obj)
	if !ok {
		return nil, false
	}
	kind := kindOf(obj)
	w := &Workload{
		Ref:         ResourceRef{APIVersion: apiVersionOfKind(kind), Kind: kind, Namespace: meta.Namespace, Name: meta.Name},
		Annotations: residencyAnnotations(meta.Annotations),
		Labels:      meta.Labels,
		Context:     PodContext{Namespace: meta.Namespace},
	}
	w.PodSelector = labelsSelector(meta.Labels)
	if template != nil {
		w.TemplateAnnotations = residencyAnnotations(template.Annotations)
		spec = &template.Spec
		w.PodSelector = orLabels(selectorOf(obj), template.Labels)
	}
	w.PodSpec = PodSpecOf(spec)
	return w, true
}

// selectorOf is the pod selector a typed workload object states, if any.
func selectorOf(obj runtime.Object) *metav1.LabelSelector {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Spec.Selector
	case *appsv1.StatefulSet:
		return o.Spec.Selector
	case *appsv1.DaemonSet:
		return o.Spec.Selector
	case *appsv1.ReplicaSet:
		return o.Spec.Selector
	case *batchv1.Job:
		return o.Spec.Selector
	case *corev1.ReplicationController:
		return labelsSelector(o.Spec.Selector)
	}
	return nil
}

// orLabels is sel, or a selector of the pod template's labels when the
// object states none (a CronJob; a Job or ReplicationController before the
// API server defaulted its selector).
func orLabels(sel *metav1.LabelSelector, template map[string]string) *metav1.LabelSelector {
	if sel != nil {
		return sel
	}
	return labelsSelector(template)
}

// labelsSelector selects exactly the given labels (nil for none).
func labelsSelector(m map[string]string) *metav1.LabelSelector {
	if len(m) == 0 {
		return nil
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

// workloadParts returns the metadata, pod template (nil for a Pod) and pod
// spec of a governed typed object.
func workloadParts(obj runtime.Object) (*metav1.ObjectMeta, *corev1.PodTemplateSpec, *corev1.PodSpec, bool) {
	switch o := obj.(type) {
	case *corev1.Pod:
		if o != nil {
			return &o.ObjectMeta, nil, &o.Spec, true
		}
	case *appsv1.Deployment:
		if o != nil {
			return &o.ObjectMeta, &o.Spec.Template, nil, true
		}
	case *appsv1.StatefulSet:
		if o != nil {
			return &o.ObjectMeta, &o.Spec.Template, nil, true
		}
	case *appsv1.DaemonSet:
		if o != nil {
			return &o.ObjectMeta, &o.Spec.Template, nil, true
		}
	case *appsv1.ReplicaSet:
		if o != nil {
			return &o.ObjectMeta, &o.Spec.Template, nil, true
		}
	case *corev1.ReplicationController:
		if o != nil {
			if o.Spec.Template == nil { // optional in the API: no pods to read
				return &o.ObjectMeta, &corev1.PodTemplateSpec{}, nil, true
			}
			return &o.ObjectMeta, o.Spec.Template, nil, true
		}
	case *batchv1.Job:
		if o != nil {
			return &o.ObjectMeta, &o.Spec.Template, nil, true
		}
	case *batchv1.CronJob:
		if o != nil {
			return &o.ObjectMeta, &o.Spec.JobTemplate.Spec.Template, nil, true
		}
	}
	return nil, nil, nil, false
}

func apiVersionOfKind(kind string) string {
	k, _ := LookupWorkloadKind(kind)
	return k.APIVersion()
}

func kindOf(obj runtime.Object) string {
	switch obj.(type) {
	case *corev1.Pod:
		return "Pod"
	case *appsv1.Deployment:
		return "Deployment"
	case *appsv1.StatefulSet:
		return "StatefulSet"
	case *appsv1.DaemonSet:
		return "DaemonSet"
	case *appsv1.ReplicaSet:
		return "ReplicaSet"
	case *corev1.ReplicationController:
		return "ReplicationController"
	case *batchv1.Job:
		return "Job"
	case *batchv1.CronJob:
		return "CronJob"
	}
	return ""
}

// PodSpecOf narrows a typed pod spec to what the engine reads (nil for nil).
func PodSpecOf(s *corev1.PodSpec) *PodSpec {
	if s == nil {
		return nil
	}
	out := &PodSpec{NodeSelector: s.NodeSelector, HostNetwork: s.HostNetwork}
	if s.Affinity != nil && s.Affinity.NodeAffinity != nil {
		out.Affinity = &Affinity{NodeAffinity: s.Affinity.NodeAffinity}
	}
	n := len(s.InitContainers) + len(s.Containers) + len(s.EphemeralContainers)
	all := make([]Container, 0, n)
	for i := range s.InitContainers {
		all = append(all, containerOf(&s.InitContainers[i]))
	}
	for i := range s.Containers {
		all = append(all, containerOf(&s.Containers[i]))
	}
	for i := range s.EphemeralContainers {
		c := corev1.Container(s.EphemeralContainers[i].EphemeralContainerCommon)
		all = append(all, containerOf(&c))
	}
	a, b := len(s.InitContainers), len(s.InitContainers)+len(s.Containers)
	if a > 0 {
		out.InitContainers = all[:a:a]
	}
	if b > a {
		out.Containers = all[a:b:b]
	}
	if n > b {
		out.EphemeralContainers = all[b:]
	}
	if len(s.Volumes) > 0 {
		out.Volumes = make([]Volume, len(s.Volumes))
		for i := range s.Volumes {
			out.Volumes[i] = volumeOf(&s.Volumes[i])
		}
	}
	return out
}

// containerOf narrows a typed container; slices are shared, mounts copied.
func containerOf(c *corev1.Container) Container {
	out := Container{Name: c.Name, Command: c.Command, Args: c.Args, Env: c.Env, EnvFrom: c.EnvFrom}
	if len(c.VolumeMounts) > 0 {
		out.VolumeMounts = make([]VolumeMount, len(c.VolumeMounts))
		for i, m := range c.VolumeMounts {
			out.VolumeMounts[i] = VolumeMount{Name: m.Name, MountPath: m.MountPath, SubPath: m.SubPath}
		}
	}
	return out
}

// volumeOf narrows a typed volume to its name and ConfigMap sources.
func volumeOf(v *corev1.Volume) Volume {
	out := Volume{Name: v.Name}
	if cm := v.ConfigMap; cm != nil {
		out.ConfigMap = &ConfigMapVolume{Name: cm.Name, Items: cm.Items}
	}
	if p := v.Projected; p != nil {
		out.Projected = &ProjectedVolume{}
		if len(p.Sources) > 0 {
			out.Projected.Sources = make([]VolumeProjection, len(p.Sources))
			for i, src := range p.Sources {
				if src.ConfigMap != nil {
					out.Projected.Sources[i].ConfigMap = &ConfigMapVolume{Name: src.ConfigMap.Name, Items: src.ConfigMap.Items}
				}
			}
		}
	}
	return out
}

// Core returns the typed pod spec holding exactly what s holds.
func (s *PodSpec) Core() corev1.PodSpec {
	out := corev1.PodSpec{NodeSelector: s.NodeSelector, HostNetwork: s.HostNetwork}
	if s.Affinity != nil && s.Affinity.NodeAffinity != nil {
		out.Affinity = &corev1.Affinity{NodeAffinity: s.Affinity.NodeAffinity}
	}
	for i := range s.InitContainers {
		out.InitContainers = append(out.InitContainers, s.InitContainers[i].core())
	}
	for i := range s.Containers {
		out.Containers = append(out.Containers, s.Containers[i].core())
	}
	for i := range s.EphemeralContainers {
		out.EphemeralContainers = append(out.EphemeralContainers,
			corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon(s.EphemeralContainers[i].core())})
	}
	for _, v := range s.Volumes {
		cv := corev1.Volume{Name: v.Name}
		if v.ConfigMap != nil {
			cv.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: v.ConfigMap.Name}, Items: v.ConfigMap.Items}
		}
		if v.Projected != nil {
			cv.Projected = &corev1.ProjectedVolumeSource{}
			for _, src := range v.Projected.Sources {
				var p corev1.VolumeProjection
				if src.ConfigMap != nil {
					p.ConfigMap = &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: src.ConfigMap.Name}, Items: src.ConfigMap.Items}
				}
				cv.Projected.Sources = append(cv.Projected.Sources, p)
			}
		}
		out.Volumes = append(out.Volumes, cv)
	}
	return out
}

// core is the typed container holding exactly what c holds.
func (c *Container) core() corev1.Container {
	out := corev1.Container{Name: c.Name, Command: c.Command, Args: c.Args, Env: c.Env, EnvFrom: c.EnvFrom}
	for _, m := range c.VolumeMounts {
		out.VolumeMounts = append(out.VolumeMounts, corev1.VolumeMount{Name: m.Name, MountPath: m.MountPath, SubPath: m.SubPath})
	}
	return out
}

// residencyAnnotations returns the dataresidency.io/ annotations of in: in
// itself when it holds no others, else a copy.
func residencyAnnotations(in map[string]string) map[string]string {
	n := 0
	for k := range in {
		if strings.HasPrefix(k, annotationPrefix) {
			n++
		}
	}
	switch {
	case n == 0:
		return nil
	case n == len(in):
		return in
	}
	out := make(map[string]string, n)
	for k, v := range in {
		if strings.HasPrefix(k, annotationPrefix) {
			out[k] = v
		}
	}
	return out
}

// annotationPrefix is the prefix of the annotations workloads declare with.
const annotationPrefix = "dataresidency.io/"

// PlacementRegions returns the topology.kubernetes.io/region values a pod spec
// pins its pods to, through nodeSelector or required node affinity (operator
// In), sorted and deduplicated. Node selector terms are alternatives, so the
// regions of every term count.
func PlacementRegions(spec *PodSpec) []string {
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
