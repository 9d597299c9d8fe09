package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	toolscache "k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
	"github.com/dataresidency/operator/internal/state"
)

// memReader stands in for the informer cache in benchmarks: the fake client
// round-trips every object through JSON and would measure itself. Like the
// cache, it copies on Get and, listed with UnsafeDisableDeepCopy, copies item
// structs but not what they point to.
type memReader struct {
	namespaces map[string]map[string]string
	configMaps map[string]*corev1.ConfigMap // "ns/name"
	services   []corev1.Service
	locations  []v1alpha1.ProcessingLocation
	bases      []v1alpha1.TransferBasis
	subs       []v1alpha1.Subprocessor
	policies   []v1alpha1.ResidencyPolicy
	exceptions []client.Object
}

func (m *memReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	switch o := obj.(type) {
	case *metav1.PartialObjectMetadata:
		labels, ok := m.namespaces[key.Name]
		if !ok {
			return notFound(key.Name)
		}
		o.Name, o.Labels = key.Name, make(map[string]string, len(labels))
		for k, v := range labels {
			o.Labels[k] = v
		}
		return nil
	case *corev1.ConfigMap:
		cm, ok := m.configMaps[key.Namespace+"/"+key.Name]
		if !ok {
			return notFound(key.Name)
		}
		cm.DeepCopyInto(o)
		return nil
	}
	return fmt.Errorf("memReader: Get %T", obj)
}

func (m *memReader) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	lo := (&client.ListOptions{}).ApplyOptions(opts)
	switch l := list.(type) {
	case *v1alpha1.ProcessingLocationList:
		l.Items = append(l.Items[:0], m.locations...)
	case *v1alpha1.TransferBasisList:
		l.Items = append(l.Items[:0], m.bases...)
	case *v1alpha1.SubprocessorList:
		l.Items = append(l.Items[:0], m.subs...)
	case *v1alpha1.ResidencyPolicyList:
		l.Items = append(l.Items[:0], m.policies...)
	case *corev1.ServiceList:
		l.Items = l.Items[:0]
		for i := range m.services {
			s := &m.services[i]
			if s.Namespace == lo.Namespace && string(s.Spec.Type) == strings.TrimPrefix(lo.FieldSelector.String(), state.IndexServiceType+"=") {
				l.Items = append(l.Items, *s)
			}
		}
	default:
		return fmt.Errorf("memReader: List %T", list)
	}
	return nil
}

func notFound(name string) error {
	return &apiStatusError{metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound, Message: name + " not found"}}
}

type apiStatusError struct{ s metav1.Status }

func (e *apiStatusError) Error() string         { return e.s.Message }
func (e *apiStatusError) Status() metav1.Status { return e.s }

// catalogReader holds the residency objects among objs.
func catalogReader(objs ...client.Object) *memReader {
	m := &memReader{namespaces: map[string]map[string]string{}, configMaps: map[string]*corev1.ConfigMap{}}
	for _, o := range objs {
		switch o := o.(type) {
		case *v1alpha1.ProcessingLocation:
			m.locations = append(m.locations, *o)
		case *v1alpha1.TransferBasis:
			m.bases = append(m.bases, *o)
		case *v1alpha1.Subprocessor:
			m.subs = append(m.subs, *o)
		case *v1alpha1.ResidencyPolicy:
			m.policies = append(m.policies, *o)
		case *v1alpha1.ResidencyException:
			m.exceptions = append(m.exceptions, o)
		}
	}
	return m
}

// benchWorld is the catalog of the unit tests with a few dozen more
// subprocessors, so that attribution has something to search.
func benchWorld() *memReader {
	m := catalogReader(catalogObjects()...)
	for i := 0; i < 40; i++ {
		loc := fmt.Sprintf("vendor-%02d-eu", i)
		m.locations = append(m.locations, v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: loc, UID: types.UID("l" + loc)}, Spec: v1alpha1.ProcessingLocationSpec{Country: "DE"}})
		m.subs = append(m.subs, v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("vendor-%02d", i), UID: types.UID("s" + loc)}, Spec: v1alpha1.SubprocessorSpec{
			LegalName: "Vendor GmbH", Country: "DE", Purpose: "testing", ProcessingLocations: []v1alpha1.ObjectName{v1alpha1.ObjectName(loc)},
			Egress: &v1alpha1.Egress{Hosts: []string{fmt.Sprintf("api.vendor%02d.example.de", i), fmt.Sprintf("*.cdn.vendor%02d.de", i)}},
		}})
	}
	for _, o := range namespaceObjects() {
		m.namespaces[o.GetName()] = o.GetLabels()
	}
	m.configMaps[nsDeny+"/mailer-config"] = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "mailer-config", Namespace: nsDeny},
		Data: map[string]string{"SMTP_HOST": "smtp-relay.brevo.com:587", "LOG_LEVEL": "info", "FEATURE_FLAGS": "a,b,c"}}
	for i := 0; i < 30; i++ {
		typ := corev1.ServiceTypeClusterIP
		if i%10 == 0 {
			typ = corev1.ServiceTypeExternalName
		}
		m.services = append(m.services, corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%02d", i), Namespace: nsDeny},
			Spec: corev1.ServiceSpec{Type: typ, ExternalName: "db.vendor03.example.de"}})
	}
	return m
}

// realisticDeployment is a ~10 KB Deployment as a team ships it: an app, a
// sidecar and an init container, about eighty environment variables (URLs,
// cluster-internal names, ConfigMap references), probes, resources, volumes.
func realisticDeployment() *appsv1.Deployment {
	d := mailer(nsDeny, "brevo")
	d.Labels = map[string]string{"app.kubernetes.io/name": "mailer", "app.kubernetes.io/part-of": "shop", "app.kubernetes.io/version": "4.2.1", "team": "growth"}
	d.Annotations = map[string]string{"deployment.kubernetes.io/revision": "17", "meta.helm.sh/release-name": "shop", "meta.helm.sh/release-namespace": nsDeny}
	d.Spec.Template.Annotations[v1alpha1.AnnotationEgress] = "https://api.brevo.com, smtp-relay.brevo.com:587"
	d.Spec.Template.Annotations["prometheus.io/scrape"] = "true"
	var env []corev1.EnvVar
	for i := 0; i < 75; i++ {
		var v string
		switch i % 5 {
		case 0:
			v = fmt.Sprintf("http://backend-%d.%s.svc.cluster.local:8080/api/v1", i, nsDeny)
		case 1:
			v = fmt.Sprintf("redis-%d:6379", i)
		case 2:
			v = fmt.Sprintf("https://api.vendor%02d.example.de/v2/", i%40)
		case 3:
			v = fmt.Sprintf("value-%d-with-no-endpoint-in-it", i)
		default:
			v = fmt.Sprintf("%d", i*1000)
		}
		env = append(env, corev1.EnvVar{Name: fmt.Sprintf("SETTING_NUMBER_%02d", i), Value: v})
	}
	env = append(env,
		corev1.EnvVar{Name: "SMTP_HOST", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "mailer-config"}, Key: "SMTP_HOST"}}},
		corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		corev1.EnvVar{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
	)
	res := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
	}
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 10}
	sc := &corev1.SecurityContext{RunAsNonRoot: ptr.To(true), ReadOnlyRootFilesystem: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false),
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	spec := &d.Spec.Template.Spec
	spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "registry.example/shop/mailer:4.2.1", Command: []string{"/mailer", "migrate"}, Env: env[:10], Resources: res, SecurityContext: sc}}
	spec.Containers = []corev1.Container{
		{Name: "mailer", Image: "registry.example/shop/mailer:4.2.1", Args: []string{"--port=8080", "--log-format=json"}, Env: env,
			EnvFrom:   []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "mailer-config"}}}},
			Ports:     []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}},
			Resources: res, LivenessProbe: probe, ReadinessProbe: probe, SecurityContext: sc,
			VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}, {Name: "templates", MountPath: "/etc/mailer/templates"}}},
		{Name: "otel", Image: "otel/opentelemetry-collector:0.100.0", Env: []corev1.EnvVar{{Name: "OTLP_ENDPOINT", Value: "http://otel-collector.observability:4317"}},
			Resources: res, SecurityContext: sc},
	}
	spec.Volumes = []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "templates", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "mailer-templates"}}}}}
	spec.ServiceAccountName = "mailer"
	spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
	spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "shop", Effect: corev1.TaintEffectNoSchedule}}
	return d
}

// asAdmitted is d as kube-apiserver hands it to admission webhooks on
// create: defaults applied, metadata filled in, and managedFields recording
// every field set, with the "k:{\"name\":...}" keys that make a review's
// JSON about half again as large.
func asAdmitted(tb testing.TB, d *appsv1.Deployment) *appsv1.Deployment {
	tb.Helper()
	d = d.DeepCopy()
	d.UID, d.Generation = "6f1c7a52-0000-4000-8000-00000000beef", 1
	d.CreationTimestamp = metav1.Time{Time: testNow}
	d.Spec.RevisionHistoryLimit, d.Spec.ProgressDeadlineSeconds = ptr.To[int32](10), ptr.To[int32](600)
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
		MaxUnavailable: ptr.To(intstr.FromString("25%")), MaxSurge: ptr.To(intstr.FromString("25%"))}}
	spec := &d.Spec.Template.Spec
	spec.RestartPolicy, spec.DNSPolicy, spec.SchedulerName = corev1.RestartPolicyAlways, corev1.DNSClusterFirst, corev1.DefaultSchedulerName
	spec.TerminationGracePeriodSeconds, spec.SecurityContext = ptr.To[int64](30), &corev1.PodSecurityContext{}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			cs[i].TerminationMessagePath, cs[i].TerminationMessagePolicy = "/dev/termination-log", corev1.TerminationMessageReadFile
			cs[i].ImagePullPolicy = corev1.PullIfNotPresent
			for j := range cs[i].Ports {
				cs[i].Ports[j].Protocol = corev1.ProtocolTCP
			}
		}
	}
	obj, err := json.Marshal(d)
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(obj, &m); err != nil {
		tb.Fatal(err)
	}
	meta := m["metadata"].(map[string]any)
	for _, k := range []string{"name", "namespace", "uid", "generation", "creationTimestamp"} {
		delete(meta, k)
	}
	delete(m, "status")
	fields, err := json.Marshal(fieldSet(m))
	if err != nil {
		tb.Fatal(err)
	}
	d.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl-client-side-apply", Operation: metav1.ManagedFieldsOperationUpdate,
		APIVersion: "apps/v1", Time: &metav1.Time{Time: testNow}, FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(string(fields))}}
	return d
}

// fieldSet is the FieldsV1 form of a JSON object: "f:<field>" per field,
// list items of objects keyed by their name ("k:{\"name\":\"app\"}") or
// port, lists of scalars as a whole.
func fieldSet(v map[string]any) map[string]any {
	out := map[string]any{}
	for k, e := range v {
		switch e := e.(type) {
		case map[string]any:
			out["f:"+k] = fieldSet(e)
		case []any:
			items := map[string]any{}
			for _, it := range e {
				obj, ok := it.(map[string]any)
				if !ok {
					items = map[string]any{}
					break
				}
				key := map[string]any{}
				if n, ok := obj["name"]; ok {
					key["name"] = n
				} else if p, ok := obj["containerPort"]; ok {
					key["containerPort"], key["protocol"] = p, obj["protocol"]
				} else {
					key["key"] = obj["key"]
				}
				kb, _ := json.Marshal(key)
				item := fieldSet(obj)
				item["."] = map[string]any{}
				items["k:"+string(kb)] = item
			}
			out["f:"+k] = items
		default:
			out["f:"+k] = map[string]any{}
		}
	}
	return out
}

// reviewBody is the AdmissionReview the API server would send for creating obj.
func reviewBody(tb testing.TB, gvk metav1.GroupVersionKind, resourceName, ns, name string, obj runtime.Object) []byte {
	tb.Helper()
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: "0a1b2c3d-0000-4000-8000-000000000000", Kind: gvk, Resource: metav1.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: resourceName},
			RequestKind: &gvk, Namespace: ns, Name: name, Operation: admissionv1.Create,
			UserInfo: authnv1.UserInfo{Username: "system:serviceaccount:ci:deployer", Groups: []string{"system:serviceaccounts", "system:authenticated"}},
			Object:   raw(tb, obj), DryRun: ptr.To(false), Options: runtime.RawExtension{Raw: []byte(`{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1","fieldManager":"kubectl-client-side-apply"}`)},
		},
	}
	b, err := json.Marshal(ar)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// storeInformers hands the snapshot provider informers whose stores hold the
// bench world's residency objects, as the manager's cache does
// (Provider.UseInformers): the provider then reads the stores directly, as
// it does in production, instead of listing through memReader.
type storeInformers struct {
	ctrlcache.Informers // only GetInformer is called
	informers           map[reflect.Type]toolscache.SharedIndexInformer
}

func (s *storeInformers) GetInformer(_ context.Context, obj client.Object, _ ...ctrlcache.InformerGetOption) (ctrlcache.Informer, error) {
	inf, ok := s.informers[reflect.TypeOf(obj)]
	if !ok {
		return nil, fmt.Errorf("storeInformers: no informer for %T", obj)
	}
	return inf, nil
}

func newStoreInformers(tb testing.TB, m *memReader) *storeInformers {
	tb.Helper()
	s := &storeInformers{informers: map[reflect.Type]toolscache.SharedIndexInformer{}}
	add := func(proto client.Object, objs ...client.Object) {
		inf := toolscache.NewSharedIndexInformer(&toolscache.ListWatch{}, proto, 0, toolscache.Indexers{})
		for _, o := range objs {
			if err := inf.GetStore().Add(o); err != nil {
				tb.Fatal(err)
			}
		}
		s.informers[reflect.TypeOf(proto)] = inf
	}
	var locs, bases, subs, pols []client.Object
	for i := range m.locations {
		locs = append(locs, &m.locations[i])
	}
	for i := range m.bases {
		bases = append(bases, &m.bases[i])
	}
	for i := range m.subs {
		subs = append(subs, &m.subs[i])
	}
	for i := range m.policies {
		pols = append(pols, &m.policies[i])
	}
	add(&v1alpha1.ProcessingLocation{}, locs...)
	add(&v1alpha1.TransferBasis{}, bases...)
	add(&v1alpha1.Subprocessor{}, subs...)
	add(&v1alpha1.ResidencyPolicy{}, pols...)
	add(&v1alpha1.ResidencyException{}, m.exceptions...)
	// And what the webhook reads besides the catalog, as the manager's cache
	// holds it: Namespaces (metadata only), ConfigMaps, Services.
	var nss, cms, svcs []client.Object
	for name, labels := range m.namespaces {
		nss = append(nss, &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}})
	}
	for _, cm := range m.configMaps {
		cms = append(cms, cm)
	}
	for i := range m.services {
		svcs = append(svcs, &m.services[i])
	}
	add(&metav1.PartialObjectMetadata{}, nss...)
	add(&corev1.ConfigMap{}, cms...)
	add(&corev1.Service{}, svcs...)
	return s
}

// benchProvider is the snapshot provider of the benchmarks: reading the
// informers' stores, as the manager's is.
func benchProvider(tb testing.TB, m *memReader) *state.Provider {
	tb.Helper()
	st, err := state.NewProvider(context.Background(), newStoreInformers(tb, m), nil, clocktesting.NewFakePassiveClock(testNow))
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

func benchHandler(tb testing.TB) (http.Handler, []byte) {
	tb.Helper()
	return benchHandlerFor(tb, realisticDeployment())
}

func benchHandlerFor(tb testing.TB, d *appsv1.Deployment) (http.Handler, []byte) {
	tb.Helper()
	m := benchWorld()
	st := benchProvider(tb, m)
	v := &WorkloadValidator{State: st, Reader: m, Exempt: map[string]bool{"kube-system": true, operatorNS: true}, NamespaceWait: time.Second}
	h := Serve(v)
	body := reviewBody(tb, gvkDeployment, "deployments", nsDeny, "mailer", d)
	// The answer must be a real one: admitted, compliant, flows attributed.
	rec := serve(h, body)
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil || !out.Response.Allowed ||
		out.Response.AuditAnnotations[AuditDecision] != DecisionAllowed {
		tb.Fatalf("unexpected answer %s (err %v)", rec.Body.String(), err)
	}
	return h, body
}

// serve sends body to h as the server hands a request to its handler.
// (httptest.NewRequest parses the request from text through a new 4 KB
// buffer, which net/http's server keeps per connection instead, and the API
// server keeps its connections to a webhook alive: a third of the allocations
// the benchmark counted were its own.)
func serve(h http.Handler, body []byte) *httptest.ResponseRecorder {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, WorkloadsPath, bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// BenchmarkHandleDeployment sends a realistic ~10 KB Deployment
// AdmissionReview through the HTTP handler: decode the review and the object,
// read the snapshot, Namespace, ConfigMap and Services from the (in-memory)
// cache, evaluate, encode the answer.
func BenchmarkHandleDeployment(b *testing.B) {
	h, body := benchHandler(b)
	b.Logf("AdmissionReview: %d bytes", len(body))
	b.Run("sequential", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for i := 0; i < b.N; i++ {
			serve(h, body)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				serve(h, body)
			}
		})
	})
	// The same Deployment as kube-apiserver sends it: defaulted, with
	// managedFields (a larger body, most of it skipped).
	ha, admitted := benchHandlerFor(b, asAdmitted(b, realisticDeployment()))
	b.Run("as-admitted", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(admitted)))
		for i := 0; i < b.N; i++ {
			serve(ha, admitted)
		}
	})
}

// BenchmarkDecodeDeployment compares the decoder the webhook uses with the
// universal deserializer of a scheme holding the same kinds.
func BenchmarkDecodeDeployment(b *testing.B) {
	rawObj := raw(b, realisticDeployment()).Raw
	b.Run("sigs.k8s.io/json", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := decodeInto(rawObj, &appsv1.Deployment{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("universal-deserializer", func(b *testing.B) {
		dec := serializer.NewCodecFactory(testScheme()).UniversalDeserializer()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, _, err := dec.Decode(rawObj, nil, &appsv1.Deployment{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSnapshot is the per-request snapshot lookup: nothing changed, so
// the provider returns the snapshot it compiled before.
func BenchmarkSnapshot(b *testing.B) {
	st := benchProvider(b, benchWorld())
	ctx := context.Background()
	if _, err := st.Snapshot(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := st.Snapshot(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if st.Compiles() != 1 {
		b.Fatalf("compiled %d times", st.Compiles())
	}
}

// BenchmarkDecodeWorkload reads the ~10 KB Deployment into what the engine
// reads (residency.DecodeWorkload), beside a decode of the whole typed object.
func BenchmarkDecodeWorkload(b *testing.B) {
	for _, tc := range []struct {
		name string
		raw  []byte
	}{{"written", raw(b, realisticDeployment()).Raw}, {"as-admitted", raw(b, asAdmitted(b, realisticDeployment())).Raw}} {
		b.Run(tc.name+"/narrow", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.raw)))
			for i := 0; i < b.N; i++ {
				if _, err := residency.DecodeWorkload("apps/v1", "Deployment", tc.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/typed", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.raw)))
			for i := 0; i < b.N; i++ {
				if err := decodeInto(tc.raw, &appsv1.Deployment{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEvaluateDeployment is the engine alone on the realistic
// Deployment, with its ConfigMap and ExternalName Services.
func BenchmarkEvaluateDeployment(b *testing.B) {
	m := benchWorld()
	st := benchProvider(b, m)
	ctx := context.Background()
	snap, err := st.Snapshot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	w, _ := residency.WorkloadOf(realisticDeployment())
	pc, err := state.PodContext(ctx, m, state.Routes{}, nsDeny, w.PodSpec)
	if err != nil {
		b.Fatal(err)
	}
	w.Context = pc
	b.Run("evaluate", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_ = snap.Evaluate(w)
		}
	})
	b.Run("podcontext", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := state.PodContext(ctx, m, state.Routes{}, nsDeny, w.PodSpec); err != nil {
				b.Fatal(err)
			}
		}
	})
}
