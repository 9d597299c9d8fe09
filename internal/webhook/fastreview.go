package webhook

import (
	"errors"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
)

// The workload webhook's fast path reads the AdmissionReview and the object
// under review in one pass over the body (jreader), straight into what the
// engine reads: the object's name, namespace, generateName, deletionTimestamp
// and residency annotations, the pod template's residency annotations, and
// of the pod spec the containers' (init, regular, ephemeral) names, env and
// envFrom, the region in nodeSelector and the required node affinity. All
// the rest is validated as JSON and skipped, without being decoded.
//
// Decoding the whole typed object (a Deployment: ~420 allocations, about
// 250 µs for 10 KB on the development machine) was 40% of the handler's
// time, and decoding the review around it another 16%.
//
// What the fast path does not do is type-check the fields it skips: a
// "replicas": "one" goes unnoticed where the typed decoder answers 400. The
// API server never sends such an object (it decoded the object into the same
// Go type before calling us, and sends its own encoding of it). A wrong type
// in a field the engine reads is still a 400 naming the field.
// TestFastDecodeMatchesTypedDecode holds the two paths to the same engine
// Result over the seed fixtures and synthetic objects.

// fastReview is what the workload webhook reads of an AdmissionReview.
type fastReview struct {
	apiVersion string
	hasRequest bool
	req        fastRequest
}

// fastRequest is what it reads of the AdmissionRequest.
type fastRequest struct {
	uid         string
	kind        metav1.GroupVersionKind
	resource    metav1.GroupVersionResource
	subResource string
	name        string
	namespace   string
	operation   admissionv1.Operation
	username    string
	dryRun      *bool

	// object and oldObject are the raw objects (nil when absent or null),
	// for the rare paths that need the whole typed object.
	object, oldObject []byte
	// view is the object as the engine reads it; viewErr says why it could
	// not be read (reported only if the request gets that far).
	view    objectView
	viewErr error
}

// objectView is the object under review, for any governed kind: spec is read
// as a Pod's spec, spec.template as a workload's pod template, and
// spec.jobTemplate.spec.template as a CronJob's.
type objectView struct {
	name, namespace, generateName string
	deleting                      bool
	annotations                   map[string]string

	podSpec     corev1.PodSpec
	template    templateView
	jobTemplate templateView

	// A wrong type inside one kind's part of the spec is an error for that
	// kind only: the typed decoder of a Deployment ignores spec.containers,
	// which it does not know, and that of a Pod spec.template.
	podSpecErr, templateErr, jobTemplateErr error
}

// err is the error reading the object as kind k, if any.
func (v *objectView) err(k workloadKind) error {
	switch k {
	case kindPod:
		return v.podSpecErr
	case kindCronJob:
		return v.jobTemplateErr
	}
	return v.templateErr
}

type templateView struct {
	annotations map[string]string
	spec        corev1.PodSpec
}

// residencyAnnotations are the annotations the engine (and the webhook's
// "unchanged" rule) reads; the views keep only these.
var residencyAnnotations = [...]string{residency.AnnotationSubprocessors, residency.AnnotationDataCategories, residency.AnnotationEgress}

var errNoRequest = errors.New("the AdmissionReview has no request")

// parseReview reads an AdmissionReview. An error means the body is not a
// readable review (a 400); an object that cannot be read is reported in
// req.viewErr instead, as the typed path reports it.
func parseReview(r *jreader, body []byte, rv *fastReview) error {
	r.reset(body)
	switch r.next() {
	case '{':
	case 'n':
		if r.literal("null") && r.end() {
			return nil // no request
		}
		return r.err
	default:
		// Valid JSON of another type is a type error, as the typed decoder says.
		c := r.next()
		if r.skip() && r.end() {
			return fmt.Errorf("json: cannot unmarshal %s into Go value of type v1.AdmissionReview", tokenName(c))
		}
		return r.err
	}
	r.enter()
	for n := 0; ; {
		key, ok := r.member(&n)
		if !ok {
			break
		}
		switch string(key) {
		case "apiVersion":
			ok = r.stringInto(&rv.apiVersion, "AdmissionReview.apiVersion", false)
		case "request":
			ok = parseRequest(r, rv)
		default:
			ok = r.skip()
		}
		if !ok {
			break
		}
	}
	if r.err == nil && r.terr != nil {
		// A wrong type in the review itself: still, a body that is not
		// JSON says so first, as encoding/json does.
		terr := r.terr
		r.reset(body)
		if r.skip() && r.end() {
			return terr
		}
		return r.err
	}
	if !r.end() {
		return r.err
	}
	return nil
}

func parseRequest(r *jreader, rv *fastReview) bool {
	opened, ok := r.open('{', "AdmissionReview.request", "v1.AdmissionRequest")
	if !opened {
		return ok
	}
	rv.hasRequest = true
	q := &rv.req
	for n := 0; ; {
		key, more := r.member(&n)
		if !more {
			break
		}
		switch string(key) {
		case "uid":
			ok = r.stringInto(&q.uid, "AdmissionRequest.uid", false)
		case "kind":
			ok = parseGVK(r, &q.kind.Group, &q.kind.Version, &q.kind.Kind, "kind", "AdmissionRequest.kind")
		case "resource":
			ok = parseGVK(r, &q.resource.Group, &q.resource.Version, &q.resource.Resource, "resource", "AdmissionRequest.resource")
		case "subResource":
			ok = r.stringInto(&q.subResource, "AdmissionRequest.subResource", false)
		case "name":
			ok = r.stringInto(&q.name, "AdmissionRequest.name", false)
		case "namespace":
			ok = r.stringInto(&q.namespace, "AdmissionRequest.namespace", false)
		case "operation":
			var op string
			ok = r.stringInto(&op, "AdmissionRequest.operation", false)
			if ok && op != "" {
				q.operation = admissionv1.Operation(op)
			}
		case "userInfo":
			ok = parseUserInfo(r, &q.username)
		case "dryRun":
			ok = r.boolInto(&q.dryRun, "AdmissionRequest.dryRun")
		case "object":
			ok = parseObject(r, q)
		case "oldObject":
			var raw []byte
			raw, ok = r.skipValue()
			q.oldObject = nil
			if ok && string(raw) != "null" {
				q.oldObject = raw
			}
		default:
			ok = r.skip()
		}
		if !ok {
			return false
		}
	}
	return r.err == nil && r.terr == nil
}

// parseObject reads the object into q.view. If a field the view reads has
// the wrong type, the object is skipped (still validated as JSON) and the
// error kept for the handler.
func parseObject(r *jreader, q *fastRequest) bool {
	r.ws()
	start, depth := r.i, r.depth
	q.view = objectView{}
	q.viewErr = nil
	q.object = nil
	if readObjectView(r, &q.view) {
		if raw := r.b[start:r.i]; string(raw) != "null" {
			q.object = raw
		}
		return true
	}
	if r.err != nil {
		return false
	}
	q.viewErr, r.terr = r.terr, nil
	r.i, r.depth = start, depth
	raw, ok := r.skipValue()
	q.object = raw
	q.view = objectView{}
	return ok
}

// guarded reads a value with read; a wrong type in it is returned, and the
// value skipped, instead of ending the read.
func (r *jreader) guarded(read func() bool) (error, bool) {
	r.ws()
	start, depth := r.i, r.depth
	if read() {
		return nil, true
	}
	if r.err != nil {
		return nil, false
	}
	err := r.terr
	r.terr = nil
	r.i, r.depth = start, depth
	return err, r.skip()
}

func parseGVK(r *jreader, group, version, last *string, lastKey, field string) bool {
	opened, ok := r.open('{', field, "struct")
	if !opened {
		return ok
	}
	for n := 0; ; {
		key, more := r.member(&n)
		if !more {
			break
		}
		switch string(key) {
		case "group":
			ok = r.stringInto(group, "group", false)
		case "version":
			ok = r.stringInto(version, "version", false)
		case lastKey:
			ok = r.stringInto(last, lastKey, false)
		default:
			ok = r.skip()
		}
		if !ok {
			return false
		}
	}
	return r.err == nil && r.terr == nil
}

func parseUserInfo(r *jreader, username *string) bool {
	opened, ok := r.open('{', "AdmissionRequest.userInfo", "v1.UserInfo")
	if !opened {
		return ok
	}
	for n := 0; ; {
		key, more := r.member(&n)
		if !more {
			break
		}
		if string(key) == "username" {
			ok = r.stringInto(username, "UserInfo.username", false)
		} else {
			ok = r.skip()
		}
		if !ok {
			return false
		}
	}
	return r.err == nil && r.terr == nil
}

// readObjectView reads a governed object (any kind) into v.
func readObjectView(r *jreader, v *objectView) bool {
	opened, ok := r.open('{', "object", "struct")
	if !opened {
		return ok
	}
	for n := 0; ; {
		key, more := r.member(&n)
		if !more {
			break
		}
		switch string(key) {
		case "metadata":
			ok = readObjectMeta(r, v)
		case "spec":
			ok = readSpec(r, v)
		default:
			ok = r.skip()
		}
		if !ok {
			return false
		}
	}
	return r.err == nil && r.terr == nil
}

func readObjectMeta(r *jreader, v *objectView) bool {
	opened, ok := r.open('{', "metadata", "v1.ObjectMeta")
	if !opened {
		return ok
	}
	for n := 0; ; {
		key, more := r.member(&n)
		if !more {
			break
		}
		switch string(key) {
		case "name":
			ok = r.stringInto(&v.name, "ObjectMeta.metadata.name", false)
		case "namespace":
			ok = r.stringInto(&v.namespace, "ObjectMeta.metadata.namespace", false)
		case "generateName":
			ok = r.stringInto(&v.generateName, "ObjectMeta.metadata.generateName", false)
		case "deletionTimestamp":
			ok = readTimestamp(r, &v.deleting)
		case "annotations":
			ok = readAnnotations(r, &v.annotations, "ObjectMeta.metadata.annotations")
		default:
			ok = r.skip()
		}
		if !ok {
			return false
		}
	}
	return r.err == nil && r.terr == nil
}

// readTimestamp reads a metav1.Time pointer: null is nil, a string must
// parse as the typed decoder parses it.
func readTimestamp(r *jreader, set *bool) bool {
	switch r.next() {
	case 'n':
		*set = false
		return r.literal("null")
	case '"':
		raw, ok := r.skipValue()
		if !ok {
			return false
		}
		var t metav1.Time
		if err := t.UnmarshalJSON(raw); err != nil {
			if r.terr == nil {
				r.terr = err
			}
			return false
		}
		*set = true
		return true
	}
	return r.mismatch("ObjectMeta.metadata.deletionTimestamp", "v1.Time")
}

// readAnnotations reads an annotation map, keeping only the residency
// annotations (allocated on their own: the engine's parse cache keeps them).
func readAnnotations(r *jreader, dst *map[string]string, field string) bool {
	opened, ok := r.open('{', field, "map[string]string")
	if !opened {
		if ok {
			*dst = nil
		}
		return ok
	}
	for n := 0; ; {
		key, more := r.member(&n)
		if !more {
			break
		}
		keep := ""
		for _, k := range residencyAnnotations {
			if string(key) == k {
				keep = k
				break
			}
		}
		if keep == "" {
			ok = r.checkString(field)
		} else {
			var s string
			if ok = r.stringInto(&s, field, true); ok {
				if *dst == nil {
					*dst = make(map[string]string, len(residencyAnnotations))
				}
				(*dst)[keep] = s
			}
		}
		if !ok {
			return false
		}
	}
	return r.err == nil && r.terr == nil
}

// readSpec reads a spec of any governed kind: a Pod's spec fields, a
// workload's template, a CronJob's jobTemplate.
func readSpec(r *jreader, v *objectView) bool {
	opened, ok := r.open('{', "spec", "struct")
	if !opened {
		return ok
	}
	for n := 0; ; {
		key, more := r.member(&n)
		if !more {
			break
		}
		var err error
		switch string(key) {
		case "template":
			if err, ok = r.guarded(func() bool { return readTemplate(r, &v.template) }); err != nil {
				v.template, v.templateErr = templateView{}, err
			}
		case "jobTemplate":
			if err, ok = r.guarded(func() bool { return readJobTemplate(r, &v.jobTemplate) }); err != nil {
				v.jobTemplate, v.jobTemplateErr = templateView{}, err
			}
		default:
			if err, ok = r.guarded(func() bool { return readPodSpecMember(r, key, &v.podSpec) }); err != nil && v.podSpecErr == nil {
				v.podSpecErr = err
			}
		}
		if !ok {
			return false
		}
	}
	return r.err == nil && r.terr == nil
}

func readJobTemplate(r *jreader, t *templateView) bool {
	opened, ok := r.open('{', "CronJobSpec.spec.jobTemplate", "v1.JobTemplateSpec")
	if !opened {
		return ok
	}
	for n := 0; ; {
		key, more := r.member(&n)
		if !more {
			break
		}
		if string(key) != "spec" {
			ok = r.skip()
		} else if opened, ok = r.open('{', "JobTemplateSpec.spec", "v1.JobSpec"); opened {
			for m := 0; ; {
				key, more := r.member(&m)
				if !more {
					break
				}
				if string(key) == "template" {
					ok = readTemplate(r, t)
				} else {
					ok = r.skip()
				}
				if !ok {
					return false
				}
			}
			ok = r.err == nil && r.terr == nil
		}
		if !ok {
			return false
		}
	}
	return r.err == nil && r.terr == nil
}

func readTemplate(r *jreader, t *templateView) bool {
	opened, ok := r.open('{', "spec.template", "v1.PodTemplateSpec")
	if !opened {
		return ok
	}
	for n := 0; ; {
		key, more := r.member(&n)
		if !more {
			break
		}
		switch string(key) {
		case "metadata":
			if opened, ok = r.open('{', "PodTemplateSpec.metadata", "v1.ObjectMeta"); opened {
				for m := 0; ; {
					key, more := r.member(&m)
					if !more {
						break
					}
					if string(key) == "annotations" {
						ok = readAnnotations(r, &t.annotations, "ObjectMeta.spec.template.metadata.annotations")
					} else {
						ok = r.skip()
					}
					if !ok {
						return false
					}
				}
				ok = r.err == nil && r.terr == nil
			}
		case "spec":
			if opened, ok = r.open('{', "PodTemplateSpec.spec", "v1.PodSpec"); opened {
				for m := 0; ; {
					key, more := r.member(&m)
					if !more {
						break
					}
					if !readPodSpecMember(r, key, &t.spec) {
						return false
					}
				}
				ok = r.err == nil && r.terr == nil
			}
		default:
			ok = r.skip()
		}
		if !ok {
			return false
		}
	}
	return r.err == nil && r.terr == nil
}

// readPodSpecMember reads one member of a pod spec.
func readPodSpecMember(r *jreader, key []byte, s *corev1.PodSpec) bool {
	switch string(key) {
	case "containers":
		return readContainers(r, &s.Containers, "PodSpec.containers")
	case "initContainers":
		return readContainers(r, &s.InitContainers, "PodSpec.initContainers")
	case "ephemeralContainers":
		return readEphemeralContainers(r, &s.EphemeralContainers)
	case "nodeSelector":
		return readNodeSelector(r, &s.NodeSelector)
	case "affinity":
		return readAffinity(r, &s.Affinity)
	}
	return r.skip()
}

func readContainers(r *jreader, dst *[]corev1.Container, field string) bool {
	opened, ok := r.open('[', field, "[]v1.Container")
	if !opened {
		if ok {
			*dst = nil
		}
		return ok
	}
	start := len(r.containerSlab)
	for n := 0; r.elem(&n); {
		var slab []corev1.Container
		slab, start = r.newContainer(start)
		c := &slab[len(slab)-1]
		if !readContainerEnv(r, &c.Name, &c.Env, &c.EnvFrom, field) {
			return false
		}
	}
	*dst = r.containerSlab[start:len(r.containerSlab):len(r.containerSlab)]
	if len(*dst) == 0 {
		*dst = []corev1.Container{} // present but empty, as the typed decoder has it
	}
	return r.err == nil && r.terr == nil
}

func readEphemeralContainers(r *jreader, dst *[]corev1.EphemeralContainer) bool {
	const field = "PodSpec.ephemeralContainers"
	opened, ok := r.open('[', field, "[]v1.EphemeralContainer")
	if !opened {
		if ok {
			*dst = nil
		}
		return ok
	}
	var out []corev1.EphemeralContainer
	for n := 0; r.elem(&n); {
		out = append(out, corev1.EphemeralContainer{})
		c := &out[len(out)-1].EphemeralContainerCommon
		if !readContainerEnv(r, &c.Name, &c.Env, &c.EnvFrom, field) {
			return false
		}
	}
	if out == nil {
		out = []corev1.EphemeralContainer{}
	}
	*dst = out
	return r.err == nil && r.terr == nil
}

// readContainerEnv reads a container's name, env and envFrom.
func readContainerEnv(r *jreader, name *string, env *[]corev1.EnvVar, envFrom *[]corev1.EnvFromSource, field string) bool {
	opened, ok := r.open('{', field, "v1.Container")
	if !opened {
		return ok
	}
	for n := 0; ; {
		key, more := r.member(&n)
		if !more {
			break
		}
		switch string(key) {
		case "name":
			ok = r.stringInto(name, "Container.name", false)
		case "env":
			ok = readEnv(r, env)
		case "envFrom":
			ok = readEnvFrom(r, envFrom)
		default:
			ok = r.skip()
		}
		if !ok {
			return false
		}
	}
	return r.err == nil && r.terr == nil
}

func readEnv(r *jreader, dst *[]corev1.EnvVar) bool {
	opened, ok := r.open('[', "Container.env", "[]v1.EnvVar")
	if !opened {
		if ok {
			*dst = nil
		}
		return ok
	}
	out := r.envScratch[:0]
	defer func() {
		clear(out) // the pooled scratch must not keep the request's strings
		r.envScratch = out[:0]
	}()
	for n := 0; r.elem(&n); {
		out = append(out, corev1.EnvVar{})
		e := &out[len(out)-1]
		opened, ok := r.open('{', "Container.env", "v1.EnvVar")
		if !ok {
			return false
		}
		if !opened {
			continue
		}
		for m := 0; ; {
			key, more := r.member(&m)
			if !more {
				break
			}
			switch string(key) {
			case "name":
				ok = r.stringInto(&e.Name, "EnvVar.name", false)
			case "value":
				ok = r.stringInto(&e.Value, "EnvVar.value", false)
			case "valueFrom":
				ok = readValueFrom(r, &e.ValueFrom)
			default:
				ok = r.skip()
			}
			if !ok {
				return false
			}
		}
		if r.err != nil || r.terr != nil {
			return false
		}
	}
	if r.err != nil || r.terr != nil {
		return false
	}
	*dst = r.keepEnv(out)
	return true
}

// readValueFrom reads valueFrom: discovery only needs to know that there is
// one and, for a ConfigMap key, which.
func readValueFrom(r *jreader, dst **corev1.EnvVarSource) bool {
	opened, ok := r.open('{', "EnvVar.valueFrom", "v1.EnvVarSource")
	if !opened {
		if ok {
			*dst = nil
		}
		return ok
	}
	src := &corev1.EnvVarSource{}
	*dst = src
	for n := 0; ; {
		key, more := r.member(&n)
		if !more {
			break
		}
		if string(key) != "configMapKeyRef" {
			ok = r.skip()
		} else if opened, ok = r.open('{', "EnvVarSource.configMapKeyRef", "v1.ConfigMapKeySelector"); opened {
			ref := &corev1.ConfigMapKeySelector{}
			src.ConfigMapKeyRef = ref
			for m := 0; ; {
				key, more := r.member(&m)
				if !more {
					break
				}
				switch string(key) {
				case "name":
					ok = r.stringInto(&ref.Name, "ConfigMapKeySelector.name", false)
				case "key":
					ok = r.stringInto(&ref.Key, "ConfigMapKeySelector.key", false)
				default:
					ok = r.skip()
				}
				if !ok {
					return false
				}
			}
			ok = r.err == nil && r.terr == nil
		} else if ok {
			src.ConfigMapKeyRef = nil
		}
		if !ok {
			return false
		}
	}
	return r.err == nil && r.terr == nil
}

func readEnvFrom(r *jreader, dst *[]corev1.EnvFromSource) bool {
	opened, ok := r.open('[', "Container.envFrom", "[]v1.EnvFromSource")
	if !opened {
		if ok {
			*dst = nil
		}
		return ok
	}
	out := make([]corev1.EnvFromSource, 0, 2)
	for n := 0; r.elem(&n); {
		out = append(out, corev1.EnvFromSource{})
		e := &out[len(out)-1]
		opened, ok := r.open('{', "Container.envFrom", "v1.EnvFromSource")
		if !ok {
			return false
		}
		if !opened {
			continue
		}
		for m := 0; ; {
			key, more := r.member(&m)
			if !more {
				break
			}
			switch string(key) {
			case "prefix":
				ok = r.stringInto(&e.Prefix, "EnvFromSource.prefix", false)
			case "configMapRef":
				var opened bool
				if opened, ok = r.open('{', "EnvFromSource.configMapRef", "v1.ConfigMapEnvSource"); opened {
					ref := &corev1.ConfigMapEnvSource{}
					e.ConfigMapRef = ref
					for k := 0; ; {
						key, more := r.member(&k)
						if !more {
							break
						}
						if string(key) == "name" {
							ok = r.stringInto(&ref.Name, "ConfigMapEnvSource.name", false)
						} else {
							ok = r.skip()
						}
						if !ok {
							return false
						}
					}
					ok = r.err == nil && r.terr == nil
				} else if ok {
					e.ConfigMapRef = nil
				}
			default:
				ok = r.skip()
			}
			if !ok {
				return false
			}
		}
		if r.err != nil || r.terr != nil {
			return false
		}
	}
	*dst = out
	return r.err == nil && r.terr == nil
}

// readNodeSelector keeps only the region: placement reads nothing else.
func readNodeSelector(r *jreader, dst *map[string]string) bool {
	const field = "PodSpec.nodeSelector"
	opened, ok := r.open('{', field, "map[string]string")
	if !opened {
		if ok {
			*dst = nil
		}
		return ok
	}
	for n := 0; ; {
		key, more := r.member(&n)
		if !more {
			break
		}
		if string(key) == v1alpha1.LabelRegion {
			var s string
			if ok = r.stringInto(&s, field, false); ok {
				if *dst == nil {
					*dst = make(map[string]string, 1)
				}
				(*dst)[v1alpha1.LabelRegion] = s
			}
		} else {
			ok = r.checkString(field)
		}
		if !ok {
			return false
		}
	}
	return r.err == nil && r.terr == nil
}

// readAffinity reads affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.
func readAffinity(r *jreader, dst **corev1.Affinity) bool {
	opened, ok := r.open('{', "PodSpec.affinity", "v1.Affinity")
	if !opened {
		if ok {
			*dst = nil
		}
		return ok
	}
	a := &corev1.Affinity{}
	*dst = a
	for n := 0; ; {
		key, more := r.member(&n)
		if !more {
			break
		}
		if string(key) != "nodeAffinity" {
			ok = r.skip()
		} else if opened, ok = r.open('{', "Affinity.nodeAffinity", "v1.NodeAffinity"); opened {
			na := &corev1.NodeAffinity{}
			a.NodeAffinity = na
			for m := 0; ; {
				key, more := r.member(&m)
				if !more {
					break
				}
				if string(key) == "requiredDuringSchedulingIgnoredDuringExecution" {
					ok = readNodeSelectorTerms(r, &na.RequiredDuringSchedulingIgnoredDuringExecution)
				} else {
					ok = r.skip()
				}
				if !ok {
					return false
				}
			}
			ok = r.err == nil && r.terr == nil
		} else if ok {
			a.NodeAffinity = nil
		}
		if !ok {
			return false
		}
	}
	return r.err == nil && r.terr == nil
}

func readNodeSelectorTerms(r *jreader, dst **corev1.NodeSelector) bool {
	const field = "NodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
	opened, ok := r.open('{', field, "v1.NodeSelector")
	if !opened {
		if ok {
			*dst = nil
		}
		return ok
	}
	sel := &corev1.NodeSelector{}
	*dst = sel
	for n := 0; ; {
		key, more := r.member(&n)
		if !more {
			break
		}
		if string(key) != "nodeSelectorTerms" {
			ok = r.skip()
		} else if opened, ok = r.open('[', "NodeSelector.nodeSelectorTerms", "[]v1.NodeSelectorTerm"); opened {
			var terms []corev1.NodeSelectorTerm
			for m := 0; r.elem(&m); {
				terms = append(terms, corev1.NodeSelectorTerm{})
				if !readNodeSelectorTerm(r, &terms[len(terms)-1]) {
					return false
				}
			}
			if terms == nil {
				terms = []corev1.NodeSelectorTerm{}
			}
			sel.NodeSelectorTerms = terms
			ok = r.err == nil && r.terr == nil
		} else if ok {
			sel.NodeSelectorTerms = nil
		}
		if !ok {
			return false
		}
	}
	return r.err == nil && r.terr == nil
}

func readNodeSelectorTerm(r *jreader, t *corev1.NodeSelectorTerm) bool {
	opened, ok := r.open('{', "NodeSelector.nodeSelectorTerms", "v1.NodeSelectorTerm")
	if !opened {
		return ok
	}
	for n := 0; ; {
		key, more := r.member(&n)
		if !more {
			break
		}
		if string(key) != "matchExpressions" {
			ok = r.skip()
		} else if opened, ok = r.open('[', "NodeSelectorTerm.matchExpressions", "[]v1.NodeSelectorRequirement"); opened {
			var reqs []corev1.NodeSelectorRequirement
			for m := 0; r.elem(&m); {
				reqs = append(reqs, corev1.NodeSelectorRequirement{})
				if !readNodeSelectorRequirement(r, &reqs[len(reqs)-1]) {
					return false
				}
			}
			if reqs == nil {
				reqs = []corev1.NodeSelectorRequirement{}
			}
			t.MatchExpressions = reqs
			ok = r.err == nil && r.terr == nil
		} else if ok {
			t.MatchExpressions = nil
		}
		if !ok {
			return false
		}
	}
	return r.err == nil && r.terr == nil
}

func readNodeSelectorRequirement(r *jreader, q *corev1.NodeSelectorRequirement) bool {
	opened, ok := r.open('{', "NodeSelectorTerm.matchExpressions", "v1.NodeSelectorRequirement")
	if !opened {
		return ok
	}
	for n := 0; ; {
		key, more := r.member(&n)
		if !more {
			break
		}
		switch string(key) {
		case "key":
			ok = r.stringInto(&q.Key, "NodeSelectorRequirement.key", false)
		case "operator":
			var op string
			if ok = r.stringInto(&op, "NodeSelectorRequirement.operator", false); ok && op != "" {
				q.Operator = corev1.NodeSelectorOperator(op)
			}
		case "values":
			var opened bool
			if opened, ok = r.open('[', "NodeSelectorRequirement.values", "[]string"); opened {
				var vs []string
				for m := 0; r.elem(&m); {
					var s string
					if !r.stringInto(&s, "NodeSelectorRequirement.values", false) {
						return false
					}
					vs = append(vs, s)
				}
				if vs == nil {
					vs = []string{}
				}
				q.Values = vs
				ok = r.err == nil && r.terr == nil
			} else if ok {
				q.Values = nil
			}
		default:
			ok = r.skip()
		}
		if !ok {
			return false
		}
	}
	return r.err == nil && r.terr == nil
}

// workload is the view as residency.WorkloadOf would extract it from the
// typed object of kind k (a governed kind). It shares the view's memory.
func (v *objectView) workload(k workloadKind) *residency.Workload {
	w := &residency.Workload{
		Ref:         residency.ResourceRef{APIVersion: apiVersionOf(k), Kind: k.kind, Namespace: v.namespace, Name: v.name},
		Annotations: v.annotations,
		Context:     residency.PodContext{Namespace: v.namespace},
	}
	switch k {
	case kindPod:
		w.PodSpec = &v.podSpec
	case kindCronJob:
		w.TemplateAnnotations = v.jobTemplate.annotations
		w.PodSpec = &v.jobTemplate.spec
	default:
		w.TemplateAnnotations = v.template.annotations
		w.PodSpec = &v.template.spec
	}
	return w
}

func apiVersionOf(k workloadKind) string {
	if k.group == "" {
		return k.version
	}
	return k.group + "/" + k.version
}
