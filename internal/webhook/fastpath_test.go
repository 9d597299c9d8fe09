package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	sjson "sigs.k8s.io/json"
)

// typedServer is how the workload webhook was served before the fast path:
// the review decoded into the v1 type, controller-runtime's admission.Webhook
// around WorkloadValidator.Handle, which decodes the object into its typed
// struct. The fast path must answer every request byte for byte as it does.
func typedServer(v *WorkloadValidator) http.Handler {
	return &reviewServer{webhook: &admission.Webhook{Handler: v, RecoverPanic: ptr.To(true)}}
}

// reviewOf builds the body of a review.
func reviewOf(t testing.TB, mutate func(*admissionv1.AdmissionRequest)) []byte {
	t.Helper()
	req := &admissionv1.AdmissionRequest{
		UID: "5c1b0d2e-0000-4000-8000-00000000abcd", Operation: admissionv1.Create,
		UserInfo: authnv1.UserInfo{Username: "jane", Groups: []string{"dev"}}, DryRun: ptr.To(false),
	}
	mutate(req)
	b, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// differentialReviews is the corpus of TestFastPathAnswersAsTypedPath.
func differentialReviews(t *testing.T) map[string][]byte {
	out := map[string][]byte{}
	objs := append(syntheticObjects(t), handWrittenObjects()...)
	namespaces := []string{nsDeny, nsWarn, nsAudit, nsBadLabel, nsExcluded, "kube-system", operatorNS}
	for _, o := range objs {
		for _, ns := range namespaces {
			for _, op := range []admissionv1.Operation{admissionv1.Create, admissionv1.Update} {
				o, ns, op := o, ns, op
				name := fmt.Sprintf("%s %s in %s", op, o.name, ns)
				out[name] = reviewOf(t, func(r *admissionv1.AdmissionRequest) {
					r.Kind, r.Namespace, r.Name, r.Operation = o.gvk, ns, "obj", op
					r.Resource = metav1.GroupVersionResource{Group: o.gvk.Group, Version: o.gvk.Version, Resource: strings.ToLower(o.gvk.Kind) + "s"}
					r.Object = runtime.RawExtension{Raw: o.raw}
					if op == admissionv1.Update {
						r.OldObject = runtime.RawExtension{Raw: objs[0].raw}
						if o.gvk != objs[0].gvk {
							r.OldObject = runtime.RawExtension{Raw: o.raw}
						}
					}
				})
			}
		}
	}
	deny := mailer(nsDeny, "twilio-sendgrid")
	relabelled := deny.DeepCopy()
	relabelled.Labels = map[string]string{"team": "growth"}
	newImage := deny.DeepCopy()
	newImage.Spec.Template.Spec.Containers[0].Image = "registry.example/mailer:2.0"
	base := func(r *admissionv1.AdmissionRequest) {
		r.Kind, r.Namespace, r.Name = gvkDeployment, nsDeny, "mailer"
		r.Resource = metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	}
	rawOf := func(o runtime.Object) runtime.RawExtension { return raw(t, o) }
	for name, m := range map[string]func(*admissionv1.AdmissionRequest){
		"an update that changes only labels (allowed-unchanged)": func(r *admissionv1.AdmissionRequest) {
			base(r)
			r.Operation, r.Object, r.OldObject = admissionv1.Update, rawOf(relabelled), rawOf(deny)
		},
		"an update that changes only the image (judged in full)": func(r *admissionv1.AdmissionRequest) {
			base(r)
			r.Operation, r.Object, r.OldObject = admissionv1.Update, rawOf(newImage), rawOf(deny)
		},
		"an update whose old object does not decode": func(r *admissionv1.AdmissionRequest) {
			base(r)
			r.Operation, r.Object, r.OldObject = admissionv1.Update, rawOf(relabelled), runtime.RawExtension{Raw: []byte(`{"spec":{"replicas":"x"}}`)}
		},
		"a server-side dry run": func(r *admissionv1.AdmissionRequest) {
			base(r)
			r.DryRun, r.Object = ptr.To(true), rawOf(deny)
		},
		"no dryRun at all": func(r *admissionv1.AdmissionRequest) {
			base(r)
			r.DryRun, r.Object = nil, rawOf(deny)
		},
		"DELETE": func(r *admissionv1.AdmissionRequest) {
			base(r)
			r.Operation, r.OldObject = admissionv1.Delete, rawOf(deny)
		},
		"CONNECT":   func(r *admissionv1.AdmissionRequest) { base(r); r.Operation = admissionv1.Connect },
		"no object": func(r *admissionv1.AdmissionRequest) { base(r) },
		"a null object": func(r *admissionv1.AdmissionRequest) {
			base(r)
			r.Object = runtime.RawExtension{Raw: []byte("null")}
		},
		"an object of the wrong type": func(r *admissionv1.AdmissionRequest) {
			base(r)
			r.Object = runtime.RawExtension{Raw: []byte(`"a string"`)}
		},
		"a wrong type in a field the engine reads": func(r *admissionv1.AdmissionRequest) {
			base(r)
			r.Object = runtime.RawExtension{Raw: []byte(`{"spec":{"template":{"spec":{"containers":[{"env":"x"}]}}}}`)}
		},
		"the scale subresource": func(r *admissionv1.AdmissionRequest) {
			base(r)
			r.SubResource, r.Object = "scale", runtime.RawExtension{Raw: []byte(`{"spec":{"replicas":3}}`)}
		},
		"ephemeralcontainers on a Deployment": func(r *admissionv1.AdmissionRequest) {
			base(r)
			r.SubResource, r.Object = "ephemeralcontainers", rawOf(deny)
		},
		"an unknown kind": func(r *admissionv1.AdmissionRequest) {
			base(r)
			r.Kind, r.Object = gvkOf("", "v1", "Service"), runtime.RawExtension{Raw: []byte(`{"spec":{"template":7}}`)}
		},
		"an older version of a kind": func(r *admissionv1.AdmissionRequest) {
			base(r)
			r.Kind, r.Object = gvkOf("batch", "v1beta1", "CronJob"), rawOf(deny)
		},
		"a namespace the cache has not seen": func(r *admissionv1.AdmissionRequest) {
			base(r)
			r.Namespace, r.Object = "brand-new", rawOf(mailer("brand-new", "twilio-sendgrid"))
		},
		"a namespace from the object only": func(r *admissionv1.AdmissionRequest) {
			base(r)
			d := mailer(nsDeny, "twilio-sendgrid")
			d.Namespace = ""
			r.Object = rawOf(d)
		},
		"an ephemeral container by the subresource": func(r *admissionv1.AdmissionRequest) {
			r.Kind, r.Namespace, r.Name, r.Operation, r.SubResource = gvkPod, nsDeny, "debug-me", admissionv1.Update, "ephemeralcontainers"
			for _, o := range syntheticObjects(t) {
				if o.name == "a Pod with an ephemeral container" {
					r.Object = runtime.RawExtension{Raw: o.raw}
				}
				if o.name == "a Pod owned by a ReplicaSet" {
					r.OldObject = runtime.RawExtension{Raw: o.raw}
				}
			}
		},
	} {
		out[name] = reviewOf(t, m)
	}
	deny1 := out["a server-side dry run"]
	out["a v1beta1 review"] = bytes.Replace(deny1, []byte(`admission.k8s.io/v1"`), []byte(`admission.k8s.io/v1beta1"`), 1)
	out["a review without apiVersion"] = bytes.Replace(deny1, []byte(`"apiVersion":"admission.k8s.io/v1",`), nil, 1)
	out["a review with null request"] = []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}`)
	out["a review with no request"] = []byte(`{"kind":"AdmissionReview"}`)
	out["null"] = []byte(`null`)
	out["not JSON"] = []byte(`apiVersion: v1`)
	out["an array"] = []byte(`[1,2]`)
	out["truncated"] = deny1[:len(deny1)/2]
	out["trailing garbage"] = append(append([]byte{}, deny1...), []byte(" x")...)
	out["a uid of the wrong type"] = bytes.Replace(deny1, []byte(`"uid":"5c1b0d2e-0000-4000-8000-00000000abcd"`), []byte(`"uid":5`), 1)
	out["white space around everything"] = func() []byte {
		var b bytes.Buffer
		if err := json.Indent(&b, deny1, "\n ", "\t "); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}()
	out["escaped everywhere"] = escapedForm(t, deny1)
	return out
}

func TestFastPathAnswersAsTypedPath(t *testing.T) {
	extra := []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "mailer-config", Namespace: nsDeny}, Data: map[string]string{"SMTP_HOST": "smtp.sendgrid.net:587"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "vendor-endpoints", Namespace: nsDeny}, Data: map[string]string{"PAYMENTS": "https://api.brevo.com"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "svc-00", Namespace: nsDeny}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "api.sendgrid.com"}},
	}
	v, _ := newTestValidators(t, extra...)
	typed, fast := typedServer(v), Serve(v)
	if _, ok := fast.(*workloadServer); !ok {
		t.Fatalf("Serve(WorkloadValidator) is a %T", fast)
	}
	reviews := differentialReviews(t)
	names := make([]string, 0, len(reviews))
	for n := range reviews {
		names = append(names, n)
	}
	sort.Strings(names)
	decisions := map[string]int{}
	for _, name := range names {
		body := reviews[name]
		t.Run(name, func(t *testing.T) {
			a, b := serve(typed, body), serve(fast, body)
			if a.Code != b.Code || a.Header().Get("Content-Type") != b.Header().Get("Content-Type") || !bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) {
				t.Fatalf("answers differ for\n%s\ntyped (%d): %s\nfast  (%d): %s", body, a.Code, a.Body, b.Code, b.Body)
			}
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal(b.Body.Bytes(), &out); err != nil || out.Response == nil {
				t.Fatalf("answer %s: %v", b.Body, err)
			}
			d := out.Response.AuditAnnotations[AuditDecision]
			if d == "" {
				d = fmt.Sprintf("code %d", out.Response.Result.Code)
			}
			decisions[d]++
		})
	}
	t.Logf("%d reviews answered alike: %v", len(names), decisions)
	for _, d := range []string{DecisionAllowed, DecisionDenied, DecisionExempt, DecisionUnchanged, "code 400", "code 503", "code 200"} {
		if decisions[d] == 0 {
			t.Errorf("the corpus reaches no %q answer", d)
		}
	}
}

// TestFastPathRecoversPanics: a panic in the decision is a 500 with the
// request's UID, as admission.Webhook answers it.
func TestFastPathRecoversPanics(t *testing.T) {
	v, _ := newTestValidators(t)
	v.Reader = nil // namespaceLabels panics
	body := reviewOf(t, func(r *admissionv1.AdmissionRequest) {
		r.Kind, r.Namespace, r.Name, r.Object = gvkDeployment, nsDeny, "mailer", raw(t, mailer(nsDeny, "brevo"))
	})
	a, b := serve(typedServer(v), body), serve(Serve(v), body)
	if !bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) || !strings.Contains(b.Body.String(), `"code":500`) || !strings.Contains(b.Body.String(), "[recovered]") {
		t.Fatalf("typed %s\nfast  %s", a.Body, b.Body)
	}
}

// TestFastPathIsConcurrencySafe runs the pooled fast path from many
// goroutines over different reviews and checks every answer (run with -race).
func TestFastPathIsConcurrencySafe(t *testing.T) {
	v, _ := newTestValidators(t)
	h := Serve(v)
	bodies := [][]byte{
		reviewBody(t, gvkDeployment, "deployments", nsDeny, "mailer", mailer(nsDeny, "twilio-sendgrid")),
		reviewBody(t, gvkDeployment, "deployments", nsDeny, "mailer", mailer(nsDeny, "brevo")),
		reviewBody(t, gvkDeployment, "deployments", nsWarn, "mailer", realisticDeployment()),
	}
	want := make([]string, len(bodies))
	for i, b := range bodies {
		want[i] = serve(typedServer(v), b).Body.String()
	}
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func(g int) {
			for i := 0; i < 50; i++ {
				k := (g + i) % len(bodies)
				if got := serve(h, bodies[k]).Body.String(); got != want[k] {
					done <- fmt.Errorf("review %d answered %s, want %s", k, got, want[k])
					return
				}
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func TestAppendReviewMatchesEncodingJSON(t *testing.T) {
	weird := []string{"", "plain", `quote " backslash \ slash /`, "<html> & co", "tab\tnew\nline\r\b\f\x00\x1f\x7f",
		"ünïcödé ✓ 😀", "invalid \xff\xfe utf8", "\u2028 and \u2029", strings.Repeat("x", 600)}
	var responses []*admissionv1.AdmissionResponse
	for _, s := range weird {
		responses = append(responses,
			&admissionv1.AdmissionResponse{UID: "u", Allowed: true, Result: &metav1.Status{Code: 200}},
			&admissionv1.AdmissionResponse{UID: types.UID("u-" + s), Allowed: false, Result: &metav1.Status{Code: 403, Reason: metav1.StatusReasonForbidden, Message: s, Status: s},
				Warnings: []string{s, "second " + s}, AuditAnnotations: map[string]string{AuditDecision: s, AuditVerdict: "Violation", "z" + s: s, AuditEnforcement: "deny", AuditViolations: "3", AuditWarnings: "0", AuditReasons: "A,B"}},
			&admissionv1.AdmissionResponse{UID: "u", Result: &metav1.Status{Message: s}, Warnings: []string{}, AuditAnnotations: map[string]string{}},
		)
	}
	responses = append(responses,
		&admissionv1.AdmissionResponse{},
		&admissionv1.AdmissionResponse{UID: "u", Allowed: true, Patch: []byte(`[]`), PatchType: ptr.To(admissionv1.PatchTypeJSONPatch)},
		&admissionv1.AdmissionResponse{UID: "u", Result: &metav1.Status{Code: 500, Details: &metav1.StatusDetails{Name: "x"}}},
		&admissionv1.AdmissionResponse{UID: "u", Result: &metav1.Status{Code: -1, ListMeta: metav1.ListMeta{ResourceVersion: "7"}}},
	)
	for i, resp := range responses {
		for _, tm := range []metav1.TypeMeta{{}, {Kind: "AdmissionReview", APIVersion: "admission.k8s.io/v1"}, {APIVersion: "admission.k8s.io/v1beta1"}} {
			want, err := json.Marshal(&admissionv1.AdmissionReview{TypeMeta: tm, Response: resp})
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendReview(nil, tm.Kind, tm.APIVersion, resp)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("response %d (%v):\n got %s\nwant %s", i, err, got, want)
			}
		}
	}
	// No allocation on the way.
	resp := &admissionv1.AdmissionResponse{UID: "u", Allowed: true, Result: &metav1.Status{Code: 200},
		AuditAnnotations: map[string]string{AuditDecision: DecisionAllowed, AuditVerdict: "Compliant", AuditEnforcement: "deny", AuditViolations: "0", AuditWarnings: "0"}}
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf, _ = appendReview(buf[:0], "AdmissionReview", "admission.k8s.io/v1", resp) }); n != 0 {
		t.Errorf("appendReview allocates %v times", n)
	}
}

// TestAppendReviewKnowsEveryField fails when an API upgrade adds a field to
// the types appendReview writes by hand: teach it the field (or to fall
// back to encoding/json when it is set).
func TestAppendReviewKnowsEveryField(t *testing.T) {
	for typ, fields := range map[reflect.Type]string{
		reflect.TypeOf(admissionv1.AdmissionReview{}):   "TypeMeta Request Response",
		reflect.TypeOf(admissionv1.AdmissionResponse{}): "UID Allowed Result Patch PatchType AuditAnnotations Warnings",
		reflect.TypeOf(metav1.Status{}):                 "TypeMeta ListMeta Status Message Reason Details Code",
		reflect.TypeOf(metav1.TypeMeta{}):               "Kind APIVersion",
	} {
		var got []string
		for i := 0; i < typ.NumField(); i++ {
			got = append(got, typ.Field(i).Name)
		}
		if strings.Join(got, " ") != fields {
			t.Errorf("%s has fields %v, appendReview knows %s", typ, got, fields)
		}
	}
}

// FuzzParseReview holds the fast reader to encoding/json on arbitrary bodies:
// it rejects exactly the bodies that are not JSON, never panics, and when
// the typed path can read the review and its object (and no key repeats:
// the API server never sends that, and the two resolve repeats
// differently), both paths answer alike.
func FuzzParseReview(f *testing.F) {
	for _, b := range [][]byte{
		reviewBody(f, gvkDeployment, "deployments", nsDeny, "mailer", mailer(nsDeny, "twilio-sendgrid")),
		reviewBody(f, gvkDeployment, "deployments", nsWarn, "mailer", realisticDeployment()),
		reviewBody(f, gvkCronJob, "cronjobs", nsDeny, "c", &corev1.Pod{}),
		[]byte(`{"request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"namespace":"shop","operation":"CREATE","object":{"spec":{"containers":[{"env":[{"name":"A","value":"https:\/\/api.sendgrid.com"}]}]}}}}`),
		[]byte(`{"request":{"kind":{"kind":"Pod","version":"v1"},"namespace":"shop","operation":"UPDATE","subResource":"ephemeralcontainers","object":{"metadata":{"annotations":{"dataresidency.io/subprocessors":"twilio-sendgrid"}}},"oldObject":{}}}`),
		[]byte(`[1, -0.5e+7, "\u00e9", true, false, null, {}]`), []byte(`{"a":}`), []byte(`{"a" 1}`), []byte(`"\ud800"`), []byte("\"\xff\""),
	} {
		f.Add(b)
	}
	v, _ := newTestValidators(f)
	v.NamespaceWait = 0
	typed, fast := typedServer(v), Serve(v)
	f.Fuzz(func(t *testing.T, body []byte) {
		var r jreader
		var rv fastReview
		err := parseReview(&r, body, &rv)
		if valid := json.Valid(body); valid != (r.err == nil) {
			t.Fatalf("json.Valid %v, fast reader syntax error %v, for %q", valid, r.err, body)
		}
		var review admissionv1.AdmissionReview
		if err != nil || rv.req.viewErr != nil {
			// The typed path must fail too, on the review or on the object.
			if sjson.UnmarshalCaseSensitivePreserveInts(body, &review) == nil && review.Request != nil && err != nil {
				t.Fatalf("fast path: %v; typed path read the review %q", err, body)
			}
			if err == nil && review.Request != nil {
				if obj := newWorkload(review.Request.Kind); obj != nil && decodeInto(review.Request.Object.Raw, obj) == nil {
					t.Fatalf("fast path could not read the object (%v), typed path could: %q", rv.req.viewErr, body)
				}
			}
			return
		}
		if k, ok := governedKind(rv.req.kind); ok && rv.req.object != nil && rv.req.view.err(k) != nil {
			if sjson.UnmarshalCaseSensitivePreserveInts(body, &review) == nil && review.Request != nil && decodeInto(review.Request.Object.Raw, newWorkload(review.Request.Kind)) == nil {
				t.Fatalf("fast path could not read the %s (%v), typed path could: %q", k.kind, rv.req.view.err(k), body)
			}
			return
		}
		if repeatsKeys(body) || sjson.UnmarshalCaseSensitivePreserveInts(body, &review) != nil || review.Request == nil {
			return
		}
		if obj := newWorkload(review.Request.Kind); obj != nil && decodeInto(review.Request.Object.Raw, obj) != nil {
			return // a wrong type where the engine does not look: see fastreview.go
		}
		a, b := serve(typed, body), serve(fast, body)
		if !bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) {
			t.Fatalf("answers differ for %q\ntyped: %s\nfast:  %s", body, a.Body, b.Body)
		}
	})
}

// repeatsKeys reports whether some object of the JSON document repeats a key.
func repeatsKeys(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		obj    bool
		keys   map[string]bool
		expect bool // the next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF || err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{', '[':
				if top != nil && top.obj {
					top.expect = true
				}
				stack = append(stack, &frame{obj: tok == '{', keys: map[string]bool{}, expect: tok == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.obj && top.expect {
				if top.keys[tok] {
					return true
				}
				top.keys[tok] = true
				top.expect = false
				continue
			}
		}
		if top != nil && top.obj {
			top.expect = true
		}
	}
}
