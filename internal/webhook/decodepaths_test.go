package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
	"github.com/dataresidency/operator/internal/testenv"
)

// The engine's input is declared once (residency.Workload), and read three
// ways: the admission webhook decodes the object's JSON straight into it
// (residency.DecodeWorkload), the controllers' cache keeps a typed object
// stripped to it (residency.Strip), and residencyctl converts a typed object
// (residency.WorkloadOf). These tests read each object of a corpus the three
// ways, evaluate the three Workloads against the same snapshot and
// PodContext, and require the same engine Result (and the same referenced
// ConfigMaps, discovered endpoints and placement regions). The corpus: every
// workload of the seed fixtures (test/fixtures/seeds/*/workloads.yaml), in
// the API server's encoding and as written in YAML, synthetic objects of all
// seven kinds built to reach every field the engine reads, each of those
// re-encoded with every string character escaped and indented, and fuzzed
// objects (FuzzDecodePaths).

// corpusObject is one object to decode both ways.
type corpusObject struct {
	name string
	gvk  metav1.GroupVersionKind
	raw  []byte
}

// world is what the objects are evaluated against.
type world struct {
	snap          *residency.Snapshot
	configMaps    map[string]map[string]string // "ns/name"
	externalNames map[string]string            // "name.ns" -> host
}

func (wd *world) podContext(ns string, spec *residency.PodSpec) residency.PodContext {
	pc := residency.PodContext{Namespace: ns}
	for _, name := range residency.ReferencedConfigMaps(spec) {
		if data, ok := wd.configMaps[ns+"/"+name]; ok {
			if pc.ConfigMaps == nil {
				pc.ConfigMaps = map[string]map[string]string{}
			}
			pc.ConfigMaps[name] = data
		}
	}
	for k, v := range wd.externalNames {
		if strings.HasSuffix(k, "."+ns) {
			if pc.ExternalNames == nil {
				pc.ExternalNames = map[string]string{}
			}
			pc.ExternalNames[k] = v
		}
	}
	return pc
}

func gvkOfObject(t testing.TB, o runtime.Object) metav1.GroupVersionKind {
	t.Helper()
	switch o.(type) {
	case *corev1.Pod:
		return gvkPod
	case *appsv1.Deployment:
		return gvkDeployment
	case *appsv1.StatefulSet:
		return gvkOf("apps", "v1", "StatefulSet")
	case *appsv1.DaemonSet:
		return gvkOf("apps", "v1", "DaemonSet")
	case *appsv1.ReplicaSet:
		return gvkOf("apps", "v1", "ReplicaSet")
	case *batchv1.Job:
		return gvkOf("batch", "v1", "Job")
	case *batchv1.CronJob:
		return gvkCronJob
	}
	t.Fatalf("not a workload: %T", o)
	return metav1.GroupVersionKind{}
}

// loadSeed reads a seed fixture: its catalog compiled, its ConfigMaps and
// ExternalName Services, and its workloads in the API server's encoding (the
// typed object marshalled) and as written (YAML converted to JSON).
func loadSeed(t *testing.T, dir string) (*world, []corpusObject) {
	t.Helper()
	wd := &world{configMaps: map[string]map[string]string{}, externalNames: map[string]string{}}
	var in residency.Inputs
	cat, err := testenv.ReadObjects(filepath.Join(dir, "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	decode := func(u map[string]any, into any) []byte {
		raw, err := json.Marshal(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := decodeInto(raw, into.(runtime.Object)); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		return raw
	}
	for _, u := range cat {
		switch u.GetKind() {
		case "ProcessingLocation":
			o := &v1alpha1.ProcessingLocation{}
			decode(u.Object, o)
			in.Locations = append(in.Locations, o)
		case "TransferBasis":
			o := &v1alpha1.TransferBasis{}
			decode(u.Object, o)
			in.Bases = append(in.Bases, o)
		case "Subprocessor":
			o := &v1alpha1.Subprocessor{}
			decode(u.Object, o)
			in.Subprocessors = append(in.Subprocessors, o)
		case "ResidencyPolicy":
			o := &v1alpha1.ResidencyPolicy{}
			decode(u.Object, o)
			in.Policy = &o.Spec
		}
	}
	wd.snap = residency.Compile(nil, in, testNow)

	objs, err := testenv.ReadObjects(filepath.Join(dir, "workloads.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var corpus []corpusObject
	for _, u := range objs {
		gvk := u.GroupVersionKind()
		mgvk := metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}
		switch {
		case gvk.Kind == "ConfigMap":
			cm := &corev1.ConfigMap{}
			decode(u.Object, cm)
			wd.configMaps[cm.Namespace+"/"+cm.Name] = cm.Data
		case gvk.Kind == "Service":
			svc := &corev1.Service{}
			decode(u.Object, svc)
			if svc.Spec.Type == corev1.ServiceTypeExternalName {
				wd.externalNames[svc.Name+"."+svc.Namespace] = svc.Spec.ExternalName
			}
		case newWorkload(mgvk) != nil:
			obj := newWorkload(mgvk)
			asWritten := decode(u.Object, obj)
			asServed, err := json.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Base(dir) + "/" + gvk.Kind + "/" + u.GetName()
			corpus = append(corpus,
				corpusObject{name + " (as the API server encodes it)", mgvk, asServed},
				corpusObject{name + " (as written)", mgvk, asWritten})
		}
	}
	return wd, corpus
}

// syntheticWorld is the bench world's catalog, ConfigMaps and ExternalName
// Services, plus regions.
func syntheticWorld(t testing.TB) *world {
	m := benchWorld()
	var in residency.Inputs
	for i := range m.locations {
		in.Locations = append(in.Locations, &m.locations[i])
	}
	in.Locations = append(in.Locations,
		&v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: "aws-us-east-1"}, Spec: v1alpha1.ProcessingLocationSpec{Country: "US", ProviderRegion: "us-east-1"}},
		&v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: "aws-eu-north-1"}, Spec: v1alpha1.ProcessingLocationSpec{Country: "SE", ProviderRegion: "eu-north-1"}})
	for i := range m.bases {
		in.Bases = append(in.Bases, &m.bases[i])
	}
	for i := range m.subs {
		in.Subprocessors = append(in.Subprocessors, &m.subs[i])
	}
	in.Policy = &m.policies[0].Spec
	wd := &world{snap: residency.Compile(nil, in, testNow), configMaps: map[string]map[string]string{}, externalNames: map[string]string{}}
	for k, cm := range m.configMaps {
		wd.configMaps[k] = cm.Data
	}
	wd.configMaps[nsDeny+"/vendor-endpoints"] = map[string]string{"PAYMENTS": "https://api.sendgrid.com", "CDN": "x.cdn.vendor07.de:443", "NOTE": "hello world"}
	for _, s := range m.services {
		if s.Spec.Type == corev1.ServiceTypeExternalName {
			wd.externalNames[s.Name+"."+s.Namespace] = s.Spec.ExternalName
		}
	}
	return wd
}

// syntheticObjects reach every field the fast path reads, on every kind.
func syntheticObjects(t testing.TB) []corpusObject {
	var out []corpusObject
	add := func(name string, o runtime.Object) {
		raw, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, corpusObject{name, gvkOfObject(t, o), raw})
	}
	tmpl := func() corev1.PodTemplateSpec { return *realisticDeployment().Spec.Template.DeepCopy() }

	add("realistic Deployment", realisticDeployment())
	add("realistic Deployment as kube-apiserver sends it (defaults, managedFields)", asAdmitted(t, realisticDeployment()))
	add("mailer to a Privacy Shield vendor", mailer(nsDeny, "twilio-sendgrid"))
	add("mailer to an EEA vendor", mailer(nsDeny, "brevo"))

	both := mailer(nsDeny, "brevo")
	both.Annotations = map[string]string{v1alpha1.AnnotationSubprocessors: "twilio-sendgrid", v1alpha1.AnnotationDataCategories: "user.health", v1alpha1.AnnotationEgress: "https://api.sendgrid.com", "other": "x"}
	add("annotations on the object and the template", both)

	same := mailer(nsDeny, "brevo")
	same.Annotations = map[string]string{v1alpha1.AnnotationSubprocessors: "brevo"}
	add("the same annotation on both", same)

	bad := mailer(nsDeny, "Not A Name!, brevo")
	bad.Spec.Template.Annotations[v1alpha1.AnnotationDataCategories] = "user.contact.email, ???"
	bad.Spec.Template.Annotations[v1alpha1.AnnotationEgress] = "https://, 10.0.0.1:99999"
	add("annotations that do not parse", bad)

	empty := mailer(nsDeny, "")
	empty.Spec.Template.Annotations = map[string]string{}
	empty.Annotations = map[string]string{}
	add("empty annotation maps", empty)

	gen := mailer(nsDeny, "brevo")
	gen.Name, gen.GenerateName = "", "mailer-"
	add("generateName only", gen)

	deleting := mailer(nsDeny, "twilio-sendgrid")
	deleting.DeletionTimestamp = &metav1.Time{Time: testNow}
	deleting.Finalizers = []string{"example.com/keep"}
	add("being deleted", deleting)

	placed := mailer(nsDeny, "brevo")
	placed.Spec.Template.Spec.NodeSelector = map[string]string{v1alpha1.LabelRegion: "us-east-1", "kubernetes.io/os": "linux"}
	placed.Spec.Template.Spec.Affinity = &corev1.Affinity{
		NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
				{MatchExpressions: []corev1.NodeSelectorRequirement{
					{Key: v1alpha1.LabelRegion, Operator: corev1.NodeSelectorOpIn, Values: []string{"eu-north-1", "us-east-1", ""}},
					{Key: "kubernetes.io/arch", Operator: corev1.NodeSelectorOpIn, Values: []string{"amd64"}},
				}},
				{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: v1alpha1.LabelRegion, Operator: corev1.NodeSelectorOpNotIn, Values: []string{"eu-west-1"}}},
					MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n1"}}}},
			}},
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 1, Preference: corev1.NodeSelectorTerm{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: v1alpha1.LabelRegion, Operator: corev1.NodeSelectorOpIn, Values: []string{"ap-south-1"}}}}}},
		},
		PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: "kubernetes.io/hostname"}}},
	}
	add("placement by nodeSelector and node affinity", placed)

	noNodeAffinity := mailer(nsDeny, "brevo")
	noNodeAffinity.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{}}
	add("node affinity without requirements", noNodeAffinity)

	envs := mailer(nsDeny, "")
	envs.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{
		{Name: "A", Value: "https://api.sendgrid.com/v3"},
		{Name: "A", Value: "https://api.brevo.com"}, // the later one wins
		{Name: "QUOTED", Value: `{"url": "https://api.sendgrid.com"}`},
		{Name: "LIST", Value: "smtp.sendgrid.net:587; https://api.brevo.com, 10.1.2.3:80"},
		{Name: "UNICODE", Value: "https://bücher.example/ü"},
		{Name: "TABS", Value: "\thttps://api.vendor03.example.de\n"},
		{Name: "SVC", Value: "svc-00:5432"},
		{Name: "FQDN", Value: "svc-10." + nsDeny + ".svc.cluster.local"},
		{Name: "CM", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "vendor-endpoints"}, Key: "PAYMENTS"}}},
		{Name: "CM_MISSING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "X", Optional: ptr.To(true)}}},
		{Name: "SECRET", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k"}}},
		{Name: "FIELD", Value: "https://ignored.example.com", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		{Name: "EMPTY"},
	}
	envs.Spec.Template.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{
		{Prefix: "V_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "vendor-endpoints"}}},
		{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "mailer-config"}, Optional: ptr.To(true)}},
		{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}},
		{Prefix: "SMTP_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "mailer-config"}}},
	}
	envs.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "i", Env: []corev1.EnvVar{{Name: "X", Value: "https://api.vendor01.example.de"}}}, {Name: "init2", Image: "i"}}
	add("env, valueFrom and envFrom of every kind", envs)

	pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "debug-me", Namespace: nsDeny, Annotations: map[string]string{v1alpha1.AnnotationSubprocessors: "brevo"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "u", Controller: ptr.To(true)}}},
		Spec: tmpl().Spec}
	add("a Pod owned by a ReplicaSet", pod)
	debugged := pod.DeepCopy()
	debugged.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debugger", Image: "busybox", Env: []corev1.EnvVar{{Name: "SMTP_HOST", Value: "smtp.sendgrid.net"}},
		EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "vendor-endpoints"}}}},
	}, TargetContainerName: "mailer"}}
	debugged.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.7"}
	add("a Pod with an ephemeral container", debugged)

	sts := &appsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"}, ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: nsDeny},
		Spec: appsv1.StatefulSetSpec{ServiceName: "db", Template: tmpl(),
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}}}}
	add("a StatefulSet", sts)
	add("a DaemonSet", &appsv1.DaemonSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"}, ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: nsDeny},
		Spec: appsv1.DaemonSetSpec{Template: tmpl()}})
	add("a ReplicaSet", &appsv1.ReplicaSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"}, ObjectMeta: metav1.ObjectMeta{Name: "mailer-7d9", Namespace: nsDeny,
		Annotations: map[string]string{v1alpha1.AnnotationDataCategories: "system.operations"}}, Spec: appsv1.ReplicaSetSpec{Template: tmpl()}})
	add("a Job", &batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}, ObjectMeta: metav1.ObjectMeta{Name: "once", Namespace: nsDeny}, Spec: batchv1.JobSpec{Template: tmpl()}})
	cron := &batchv1.CronJob{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"}, ObjectMeta: metav1.ObjectMeta{Name: "newsletter", Namespace: nsDeny},
		Spec: batchv1.CronJobSpec{Schedule: "@daily", JobTemplate: batchv1.JobTemplateSpec{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{v1alpha1.AnnotationSubprocessors: "twilio-sendgrid"}},
			Spec: batchv1.JobSpec{Template: mailer(nsDeny, "brevo").Spec.Template}}}}
	add("a CronJob (the job template's own annotations are not read)", cron)
	add("an empty Pod", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: nsDeny}})
	add("an empty CronJob", &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: nsDeny}})
	return out
}

// handWrittenObjects are JSON the marshaller never makes: nulls where
// objects go, escaped keys and values, white space everywhere.
func handWrittenObjects() []corpusObject {
	d := gvkDeployment
	return []corpusObject{
		{"nulls everywhere", d, []byte(`{"metadata":{"name":"m","namespace":null,"annotations":null,"deletionTimestamp":null},
			"spec":{"template":{"metadata":{"annotations":{"dataresidency.io/subprocessors":null,"dataresidency.io/egress":"https://api.sendgrid.com"}},
			"spec":{"nodeSelector":null,"affinity":{"nodeAffinity":null},"initContainers":null,
			"containers":[null,{"name":null,"env":[null,{"name":"A","value":null,"valueFrom":null},{"name":"B","valueFrom":{"configMapKeyRef":null}}],"envFrom":[null,{"configMapRef":null}]}]}}}}`)},
		{"escaped keys and values", d, []byte(`{"metadata":{"n\u0061me":"m\u00fc","annotations":{"dataresidency.io\/subprocessors":"brevo,\u0074wilio-sendgrid"}},
			"spec":{"template":{"spec":{"containers":[{"name":"c","env":[{"name":"U","value":"https:\/\/api.sendgrid.com\/v3"},{"name":"E","value":"\ud83d\ude00 https://api.brevo.com"},
			{"name":"BAD","value":"\ud800 broken surrogate"}]}]}}}}`)},
		{"invalid UTF-8 in a value", d, []byte("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"env\":[{\"name\":\"X\",\"value\":\"https://api.sendgrid.com\xff\"}]}]}}}}")},
		{"affinity with empty and null lists", d, []byte(`{"metadata":{"name":"m"},"spec":{"template":{"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{},{"matchExpressions":null},{"matchExpressions":[{"key":"topology.kubernetes.io/region","operator":"In","values":null},{"key":"topology.kubernetes.io/region","operator":"In","values":["eu-north-1",null]}]}]}}}}}}}`)},
		{"an empty object", d, []byte(`{}`)},
		{"null spec and metadata", d, []byte(`{"metadata":null,"spec":null}`)},
		{"a Pod with null spec lists", gvkPod, []byte(`{"metadata":{"name":"p"},"spec":{"containers":[],"ephemeralContainers":[],"initContainers":null}}`)},
		{"a CronJob with null templates", gvkCronJob, []byte(`{"metadata":{"name":"c"},"spec":{"jobTemplate":{"spec":{"template":null}}}}`)},
	}
}

// escapedForm re-encodes a JSON document with every character of every
// string escaped as \uXXXX and the whole indented: the same document, read
// through the reader's slow paths.
func escapedForm(t testing.TB, raw []byte) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	writeEscaped(&b, v, false)
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), " ", "\t"); err != nil {
		t.Fatalf("%v: %s", err, b.Bytes())
	}
	return out.Bytes()
}

// (Quantities stay as they are under "resources": resource.Quantity reads
// its JSON string without unescaping it, so the typed decoder itself
// rejects an escaped one.)
func writeEscaped(b *bytes.Buffer, v any, plain bool) {
	str := func(s string) {
		if plain {
			raw, _ := json.Marshal(s)
			b.Write(raw)
			return
		}
		b.WriteByte('"')
		for _, r := range s {
			if r == utf8.RuneError {
				b.WriteString(`\ufffd`)
				continue
			}
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(b, `\u%04x`, u)
			}
		}
		b.WriteByte('"')
	}
	switch v := v.(type) {
	case map[string]any:
		b.WriteByte('{')
		first := true
		for k, e := range v {
			if !first {
				b.WriteByte(',')
			}
			first = false
			str(k)
			b.WriteByte(':')
			writeEscaped(b, e, plain || k == "resources")
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeEscaped(b, e, plain)
		}
		b.WriteByte(']')
	case string:
		str(v)
	case json.Number:
		b.WriteString(v.String())
	case bool:
		fmt.Fprint(b, v)
	case nil:
		b.WriteString("null")
	}
}

// decodeAll reads raw the three ways and compares what the engine reads and
// makes of it.
func decodeAll(t *testing.T, wd *world, o corpusObject) {
	t.Helper()
	typed := newWorkload(o.gvk)
	if err := decodeInto(o.raw, typed); err != nil {
		t.Fatalf("typed decode: %v\n%s", err, o.raw)
	}
	compareDecodes(t, wd, o, typed)
}

func compareDecodes(t *testing.T, wd *world, o corpusObject, typed runtime.Object) {
	t.Helper()
	meta := typed.(metav1.Object)
	generateName, deleting := meta.GetGenerateName(), meta.GetDeletionTimestamp() != nil
	tw, _ := residency.WorkloadOf(typed)
	d, err := residency.DecodeWorkload(apiVersionOf(o.gvk), o.gvk.Kind, o.raw)
	if err != nil {
		t.Fatalf("narrow decode: %v\n%s", err, o.raw)
	}
	fw := d.Workload
	if !residency.Strip(typed) {
		t.Fatalf("%T not stripped", typed)
	}
	cw, _ := residency.WorkloadOf(typed)

	if tw.Ref != fw.Ref || tw.Ref != cw.Ref {
		t.Errorf("ref: typed %+v, decoded %+v, cached %+v", tw.Ref, fw.Ref, cw.Ref)
	}
	if generateName != d.GenerateName || deleting != d.Deleting {
		t.Errorf("generateName/deleting: typed %q/%v, decoded %q/%v", generateName, deleting, d.GenerateName, d.Deleting)
	}
	for _, w := range []*residency.Workload{fw, cw} {
		if !reflect.DeepEqual(tw.Annotations, w.Annotations) || !reflect.DeepEqual(tw.TemplateAnnotations, w.TemplateAnnotations) {
			t.Errorf("annotations: typed %v %v, other %v %v", tw.Annotations, tw.TemplateAnnotations, w.Annotations, w.TemplateAnnotations)
		}
		if a, b := residency.ReferencedConfigMaps(tw.PodSpec), residency.ReferencedConfigMaps(w.PodSpec); !reflect.DeepEqual(a, b) {
			t.Errorf("ConfigMaps: typed %q, other %q", a, b)
		}
		if a, b := residency.PlacementRegions(tw.PodSpec), residency.PlacementRegions(w.PodSpec); !reflect.DeepEqual(a, b) {
			t.Errorf("regions: typed %q, other %q", a, b)
		}
		if !reflect.DeepEqual(tw.PodSelector, w.PodSelector) {
			t.Errorf("pod selector: typed %v, other %v", tw.PodSelector, w.PodSelector)
		}
	}
	ns := tw.Ref.Namespace
	if ns == "" {
		ns = nsDeny
	}
	tw.Context = wd.podContext(ns, tw.PodSpec)
	fw.Context = wd.podContext(ns, fw.PodSpec)
	cw.Context = wd.podContext(ns, cw.PodSpec)
	if a, b, c := residency.DiscoverEgress(tw.PodSpec, tw.Context), residency.DiscoverEgress(fw.PodSpec, fw.Context), residency.DiscoverEgress(cw.PodSpec, cw.Context); !reflect.DeepEqual(a, b) || !reflect.DeepEqual(a, c) {
		t.Errorf("endpoints: typed %v, decoded %v, cached %v", a, b, c)
	}
	tr, fr, cr := wd.snap.Evaluate(tw), wd.snap.Evaluate(fw), wd.snap.Evaluate(cw)
	if !reflect.DeepEqual(tr, fr) || !reflect.DeepEqual(tr, cr) {
		t.Errorf("results differ:\ntyped   %+v\ndecoded %+v\ncached  %+v", tr, fr, cr)
	}
	t.Logf("%s: %s, %d finding(s), subprocessors %v", tr.Resource.Name, tr.Verdict, len(tr.Findings), tr.Subprocessors)
}

func TestThreeReadingsJudgeAlike(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(testenv.Root(), "test", "fixtures", "seeds", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no seed fixtures: %v", err)
	}
	seen := 0
	for _, dir := range dirs {
		wd, corpus := loadSeed(t, dir)
		for _, o := range corpus {
			t.Run(o.name, func(t *testing.T) { decodeAll(t, wd, o) })
			t.Run(o.name+" (escaped)", func(t *testing.T) { decodeAll(t, wd, corpusObject{o.name, o.gvk, escapedForm(t, o.raw)}) })
			seen++
		}
	}
	if seen < 40 {
		t.Errorf("only %d seed workloads", seen)
	}
	wd := syntheticWorld(t)
	for _, o := range append(syntheticObjects(t), handWrittenObjects()...) {
		t.Run(o.name, func(t *testing.T) { decodeAll(t, wd, o) })
		t.Run(o.name+" (escaped)", func(t *testing.T) { decodeAll(t, wd, corpusObject{o.name, o.gvk, escapedForm(t, o.raw)}) })
	}
}

// TestDecodeWorkloadTypeErrors: a wrong type in a field the engine reads is
// an error on both the typed and the narrow decode.
func TestDecodeWorkloadTypeErrors(t *testing.T) {
	for _, raw := range []string{
		`[]`, `"x"`, `{"metadata":[]}`, `{"metadata":{"name":1}}`, `{"metadata":{"annotations":{"dataresidency.io/egress":5}}}`,
		`{"metadata":{"annotations":{"other":true}}}`, `{"metadata":{"deletionTimestamp":"yesterday"}}`, `{"metadata":{"deletionTimestamp":7}}`,
		`{"spec":{"template":{"spec":{"containers":{}}}}}`, `{"spec":{"template":{"spec":{"containers":[{"env":[{"value":1}]}]}}}}`,
		`{"spec":{"template":{"spec":{"containers":[{"env":[{"valueFrom":{"configMapKeyRef":{"name":[]}}}]}]}}}}`,
		`{"spec":{"template":{"spec":{"containers":[{"envFrom":[{"prefix":{}}]}]}}}}`,
		`{"spec":{"template":{"spec":{"nodeSelector":{"a":1}}}}}`, `{"spec":{"template":{"spec":{"affinity":[]}}}}`,
		`{"spec":{"template":{"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"values":"x"}]}]}}}}}}}`,
		`{"spec":{"template":{"metadata":{"annotations":[]}}}}`,
		`{"spec":{"template":{"spec":{"containers":[{"name":"a"}]}}} trailing`,
	} {
		typedErr := decodeInto([]byte(raw), &appsv1.Deployment{})
		_, narrowErr := residency.DecodeWorkload("apps/v1", "Deployment", []byte(raw))
		if typedErr == nil || narrowErr == nil {
			t.Errorf("%s: typed error %v, narrow error %v", raw, typedErr, narrowErr)
		}
	}
	// What a Deployment does not have is not read as one: both decoders
	// ignore unknown fields (the API server has dropped them already).
	for _, raw := range []string{`{"spec":{"containers":5}}`, `{"spec":{"jobTemplate":[]}}`} {
		_, narrowErr := residency.DecodeWorkload("apps/v1", "Deployment", []byte(raw))
		if typedErr := decodeInto([]byte(raw), &appsv1.Deployment{}); typedErr != nil || narrowErr != nil {
			t.Errorf("%s: typed %v, narrow %v", raw, typedErr, narrowErr)
		}
	}
	// Keys are case-sensitive and the last of duplicates wins, as the API
	// server's own decoder reads them.
	for raw, want := range map[string]string{
		`{"metadata":{"Annotations":{"dataresidency.io/subprocessors":"a"}}}`:                                               "",
		`{"metadata":{"annotations":{"dataresidency.io/subprocessors":"a","dataresidency.io/subprocessors":"b"}}}`:          "b",
		`{"metadata":{"annotations":{"dataresidency.io/subprocessors":"a"},"annotations":{"dataresidency.io/egress":"x"}}}`: "a", // merged, as encoding/json does
	} {
		d, err := residency.DecodeWorkload("apps/v1", "Deployment", []byte(raw))
		typed := &appsv1.Deployment{}
		if err != nil || decodeInto([]byte(raw), typed) != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		got := d.Workload.Annotations[v1alpha1.AnnotationSubprocessors]
		if got != want || got != typed.Annotations[v1alpha1.AnnotationSubprocessors] {
			t.Errorf("%s: narrow %q, typed %q, want %q", raw, got, typed.Annotations[v1alpha1.AnnotationSubprocessors], want)
		}
	}
}

// FuzzDecodePaths: whatever JSON the typed decoder accepts, the three
// readings judge alike.
func FuzzDecodePaths(f *testing.F) {
	for _, o := range syntheticObjects(f) {
		f.Add(o.gvk.Kind, string(o.raw))
	}
	for _, o := range handWrittenObjects() {
		f.Add(o.gvk.Kind, string(o.raw))
	}
	wd := syntheticWorld(f)
	f.Fuzz(func(t *testing.T, kind, raw string) {
		gvk := gvkDeployment
		for _, g := range []metav1.GroupVersionKind{gvkPod, gvkCronJob, gvkOf("apps", "v1", "StatefulSet"), gvkOf("batch", "v1", "Job")} {
			if g.Kind == kind {
				gvk = g
			}
		}
		typed := newWorkload(gvk)
		if decodeInto([]byte(raw), typed) != nil {
			return
		}
		compareDecodes(t, wd, corpusObject{"fuzzed", gvk, []byte(raw)}, typed)
	})
}
