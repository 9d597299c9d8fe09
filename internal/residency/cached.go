package residency

import (
	"bytes"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// Cached is a workload as the controllers' informer cache keeps it: the
// object's metadata (no managed fields) and what WorkloadOf reads of it,
// packed. A typed object costs its Go struct before any content (1.2 KB for
// a Deployment, most of it an empty pod spec), every Go map at least 300
// bytes, and the engine's Workload and PodSpec structs another 500: the
// labels, dataresidency.io/ annotations and pod selector are kept as Pairs,
// the engine's part of the pod spec as its JSON. Narrow builds it as an
// object enters the cache; WorkloadOf decodes a Workload of its own from it
// (microseconds, once per evaluation); Into gives readers of the typed kinds
// their typed object back.
type Cached struct {
	// TypeMeta is named, not embedded (GetObjectKind serves it).
	TypeMeta metav1.TypeMeta

	// The object's metadata that readers of the cache use (metav1.Object);
	// generateName, finalizers, managed fields and the deletion grace period
	// are not kept: their getters return nothing, their setters do nothing.
	// The labels and dataresidency.io/ annotations are in kv.
	Name              string
	Namespace         string
	UID               types.UID
	ResourceVersion   string
	Generation        int64
	CreationTimestamp metav1.Time
	DeletionTimestamp *metav1.Time
	OwnerReferences   []metav1.OwnerReference

	// Pod is what observed egress reads of a Pod's status (nil for other kinds).
	Pod *CachedPodStatus

	// kv holds, one after another, the Pairs of the labels, the
	// dataresidency.io/ annotations, the pod template's annotations and the
	// pod selector's matchLabels (the pair* sets); ends[i] is where set i
	// ends. A selector equal to the labels takes no room (selectorIsLabels).
	kv               []string
	ends             [pairSets]uint32
	selectorIsLabels bool
	// hasSelector is false when nothing selects the pods; podSelExprs are
	// the selector's expressions (nil: none, most).
	hasSelector bool
	podSelExprs *[]metav1.LabelSelectorRequirement
	// podSpec is the JSON of the engine's PodSpec (nil: the object has none).
	podSpec []byte
}

// The sets of Pairs a Cached keeps in kv, in order.
const (
	pairLabels = iota
	pairAnnotations
	pairTemplateAnnotations
	pairSelector
	pairSets
)

// pairs returns one set of kv (read-only).
func (c *Cached) pairs(set int) Pairs {
	if set == pairSelector && c.selectorIsLabels {
		set = pairLabels
	}
	start := uint32(0)
	if set > 0 {
		start = c.ends[set-1]
	}
	if start == c.ends[set] {
		return nil
	}
	return Pairs(c.kv[start:c.ends[set]:c.ends[set]])
}

// setPairs packs the sets into kv, in one allocation.
func (c *Cached) setPairs(sets [pairSets]Pairs) {
	c.selectorIsLabels = sets[pairSelector] != nil && sets[pairSelector].Equal(sets[pairLabels])
	if c.selectorIsLabels {
		sets[pairSelector] = nil
	}
	n := 0
	for _, p := range sets {
		n += len(p)
	}
	c.kv = make([]string, 0, n)
	for i, p := range sets {
		c.kv = append(c.kv, p...)
		c.ends[i] = uint32(len(c.kv))
	}
}

func (c *Cached) sets() [pairSets]Pairs {
	var out [pairSets]Pairs
	for i := range out {
		out[i] = c.pairs(i)
	}
	return out
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

// GetLabels returns a copy of the object's labels.
func (c *Cached) GetLabels() map[string]string { return c.pairs(pairLabels).Map() }

// SetLabels sets the object's labels.
func (c *Cached) SetLabels(m map[string]string) {
	sets := c.sets()
	sets[pairLabels] = PairsOf(m, false)
	c.setPairs(sets)
}

// LabelSet returns the object's labels as the cache keeps them (read-only),
// for selectors to match without a copy.
func (c *Cached) LabelSet() Pairs { return c.pairs(pairLabels) }

// GetAnnotations returns a copy of the object's dataresidency.io/ annotations,
// the only ones the cache keeps.
func (c *Cached) GetAnnotations() map[string]string { return c.pairs(pairAnnotations).Map() }

// SetAnnotations sets the object's annotations.
func (c *Cached) SetAnnotations(m map[string]string) {
	sets := c.sets()
	sets[pairAnnotations] = PairsOf(m, true)
	c.setPairs(sets)
}

// DeepCopyObject copies the metadata; what evaluation reads is shared
// (read-only: the Set methods replace it, never change it).
func (c *Cached) DeepCopyObject() runtime.Object {
	out := *c
	out.CreationTimestamp = *c.CreationTimestamp.DeepCopy()
	out.DeletionTimestamp = c.DeletionTimestamp.DeepCopy()
	if c.OwnerReferences != nil {
		out.OwnerReferences = make([]metav1.OwnerReference, len(c.OwnerReferences))
		for i := range c.OwnerReferences {
			c.OwnerReferences[i].DeepCopyInto(&out.OwnerReferences[i])
		}
	}
	return &out
}

// The metadata of metav1.Object.
func (c *Cached) GetNamespace() string                            { return c.Namespace }
func (c *Cached) SetNamespace(ns string)                          { c.Namespace = ns }
func (c *Cached) GetName() string                                 { return c.Name }
func (c *Cached) SetName(name string)                             { c.Name = name }
func (c *Cached) GetUID() types.UID                               { return c.UID }
func (c *Cached) SetUID(uid types.UID)                            { c.UID = uid }
func (c *Cached) GetResourceVersion() string                      { return c.ResourceVersion }
func (c *Cached) SetResourceVersion(v string)                     { c.ResourceVersion = v }
func (c *Cached) GetGeneration() int64                            { return c.Generation }
func (c *Cached) SetGeneration(g int64)                           { c.Generation = g }
func (c *Cached) GetCreationTimestamp() metav1.Time               { return c.CreationTimestamp }
func (c *Cached) SetCreationTimestamp(t metav1.Time)              { c.CreationTimestamp = t }
func (c *Cached) GetDeletionTimestamp() *metav1.Time              { return c.DeletionTimestamp }
func (c *Cached) SetDeletionTimestamp(t *metav1.Time)             { c.DeletionTimestamp = t }
func (c *Cached) GetOwnerReferences() []metav1.OwnerReference     { return c.OwnerReferences }
func (c *Cached) SetOwnerReferences(refs []metav1.OwnerReference) { c.OwnerReferences = refs }
func (c *Cached) GetGenerateName() string                         { return "" }
func (c *Cached) SetGenerateName(string)                          {}
func (c *Cached) GetSelfLink() string                             { return "" }
func (c *Cached) SetSelfLink(string)                              {}
func (c *Cached) GetDeletionGracePeriodSeconds() *int64           { return nil }
func (c *Cached) SetDeletionGracePeriodSeconds(*int64)            {}
func (c *Cached) GetFinalizers() []string                         { return nil }
func (c *Cached) SetFinalizers([]string)                          {}
func (c *Cached) GetManagedFields() []metav1.ManagedFieldsEntry   { return nil }
func (c *Cached) SetManagedFields([]metav1.ManagedFieldsEntry)    {}

// objectMeta is the metadata of the typed object c stands for.
func (c *Cached) objectMeta() metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: c.Name, Namespace: c.Namespace, UID: c.UID, ResourceVersion: c.ResourceVersion,
		Generation: c.Generation, CreationTimestamp: c.CreationTimestamp, DeletionTimestamp: c.DeletionTimestamp,
		OwnerReferences: c.OwnerReferences, Labels: c.GetLabels(), Annotations: c.GetAnnotations()}
}

// Workload returns what WorkloadOf read of the object, in a Workload of its
// own, its pod spec decoded anew.
func (c *Cached) Workload() *Workload {
	w := &Workload{
		Ref:                 ResourceRef{APIVersion: c.TypeMeta.APIVersion, Kind: c.TypeMeta.Kind, Namespace: c.Namespace, Name: c.Name},
		Labels:              c.pairs(pairLabels).Map(),
		Annotations:         c.pairs(pairAnnotations).Map(),
		TemplateAnnotations: c.pairs(pairTemplateAnnotations).Map(),
		PodSelector:         c.podSelector(),
		Context:             PodContext{Namespace: c.Namespace},
		PodSpec:             c.decodePodSpec(),
	}
	return w
}

func (c *Cached) decodePodSpec() *PodSpec {
	if c.podSpec == nil {
		return nil
	}
	var spec PodSpec
	if err := utiljson.Unmarshal(c.podSpec, &spec); err != nil {
		// Narrow encoded it: only a bug gets here.
		panic(fmt.Sprintf("decoding the cached pod spec of %s %s/%s: %v", c.TypeMeta.Kind, c.Namespace, c.Name, err))
	}
	return &spec
}

// ReferencedConfigMaps is ReferencedConfigMaps of the object's pod spec,
// without decoding one whose JSON has no "configMap... key (most): the
// cache's ConfigMap index asks it of every workload.
func (c *Cached) ReferencedConfigMaps() []string {
	if !bytes.Contains(c.podSpec, []byte(`"configMap`)) {
		return nil
	}
	return ReferencedConfigMaps(c.decodePodSpec())
}

func (c *Cached) podSelector() *metav1.LabelSelector {
	if !c.hasSelector {
		return nil
	}
	sel := &metav1.LabelSelector{MatchLabels: c.pairs(pairSelector).Map()}
	if c.podSelExprs != nil {
		sel.MatchExpressions = *c.podSelExprs
	}
	return sel
}

// Narrow reduces a typed workload object to its Cached form (an object
// already narrowed is returned as it is: client-go transforms the objects of
// an initial list twice). The second result is false for any other object.
// The Cached shares strings with obj.
func Narrow(obj runtime.Object) (*Cached, bool) {
	if c, ok := obj.(*Cached); ok {
		return c, true
	}
	w, ok := WorkloadOf(obj)
	if !ok {
		return nil, false
	}
	meta, _, _, _ := workloadParts(obj)
	c := &Cached{TypeMeta: metav1.TypeMeta{APIVersion: w.Ref.APIVersion, Kind: w.Ref.Kind},
		// Thousands of objects share a namespace: one copy of its name.
		Name: meta.Name, Namespace: Intern(meta.Namespace), UID: meta.UID, ResourceVersion: meta.ResourceVersion,
		Generation: meta.Generation, CreationTimestamp: meta.CreationTimestamp, DeletionTimestamp: meta.DeletionTimestamp,
		OwnerReferences: meta.OwnerReferences}
	var sets [pairSets]Pairs
	sets[pairLabels] = PairsOf(w.Labels, false)
	sets[pairAnnotations] = PairsOf(w.Annotations, true)
	sets[pairTemplateAnnotations] = PairsOf(w.TemplateAnnotations, true)
	if sel := w.PodSelector; sel != nil {
		c.hasSelector = true
		if len(sel.MatchExpressions) > 0 {
			exprs := sel.MatchExpressions // not &sel.…: that would keep sel's map
			c.podSelExprs = &exprs
		}
		sets[pairSelector] = PairsOf(sel.MatchLabels, false)
	}
	c.setPairs(sets)
	if w.PodSpec != nil {
		raw, err := json.Marshal(w.PodSpec)
		if err != nil {
			panic(fmt.Sprintf("encoding the pod spec of %s %s/%s: %v", c.TypeMeta.Kind, c.Namespace, c.Name, err))
		}
		c.podSpec = raw
	}
	if p, ok := obj.(*corev1.Pod); ok {
		c.Pod = &CachedPodStatus{Phase: p.Status.Phase, PodIP: p.Status.PodIP, PodIPs: p.Status.PodIPs}
	}
	return c, true
}

// Into sets obj, a typed object of the same kind, to the typed object c
// stands for: its metadata and exactly what WorkloadOf reads (pod template
// annotations, the engine's part of the pod spec, the pod selector; a Pod's
// addresses and phase). WorkloadOf(obj) then equals c.Workload().
func (c *Cached) Into(obj runtime.Object) error {
	if kindOf(obj) != c.TypeMeta.Kind {
		return fmt.Errorf("cannot read a cached %s into %T", c.TypeMeta.Kind, obj)
	}
	var spec corev1.PodSpec
	if ps := c.decodePodSpec(); ps != nil {
		spec = ps.Core()
	}
	meta := c.objectMeta()
	tm := c.TypeMeta
	template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Annotations: c.pairs(pairTemplateAnnotations).Map()}, Spec: spec}
	sel := c.podSelector()
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
