package badinput_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	openreports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/report"
	"github.com/dataresidency/operator/test/faults/harness"
)

const namespace = "badinput"

// baseCatalog is what the corpus refers to: a policy, two locations and an
// approved vendor in the EEA.
const baseCatalog = `apiVersion: dataresidency.io/v1alpha1
kind: ResidencyPolicy
metadata: {name: default}
spec: {defaultEnforcement: audit}
---
apiVersion: dataresidency.io/v1alpha1
kind: ProcessingLocation
metadata: {name: good-us}
spec: {country: US}
---
apiVersion: dataresidency.io/v1alpha1
kind: ProcessingLocation
metadata: {name: good-eu}
spec: {country: SE}
---
apiVersion: dataresidency.io/v1alpha1
kind: Subprocessor
metadata: {name: good-vendor}
spec:
  legalName: "Good Vendor AB"
  country: SE
  purpose: Hosting
  dataCategories: [user.contact.email]
  processingLocations: [good-eu]
`

var workloadKinds = map[string]bool{"Pod": true, "Deployment": true, "StatefulSet": true, "DaemonSet": true, "ReplicaSet": true, "Job": true, "CronJob": true}

// decode splits a file into objects as kubectl does: documents at ---
// lines, YAML 1.1 (an unquoted NO is false), duplicate keys refused; a
// document without apiVersion and kind is not an object.
func decode(data []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return objs, fmt.Errorf("document %d: %w", i, err)
		}
		j, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return objs, fmt.Errorf("document %d: %w", i, err)
		}
		if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(j, &m); err != nil {
			return objs, fmt.Errorf("document %d: not an object: %w", i, err)
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			return objs, fmt.Errorf("document %d: apiVersion and kind are missing", i)
		}
		objs = append(objs, u)
	}
}

func create(ctx context.Context, env *harness.Env, u *unstructured.Unstructured) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// kubectl's default: unknown and duplicate fields are errors.
	return env.Client.Create(ctx, u, client.FieldValidation("Strict"))
}

// TestThroughTheAPIServer applies the corpus to a real API server with the
// operator running (its webhooks registered with failurePolicy Fail for
// workloads), then checks that each file met its fate, that the operator
// neither panicked nor stopped, and that it still reconciles a normal object
// within seconds.
func TestThroughTheAPIServer(t *testing.T) {
	entries := corpus(t)
	env := harness.StartCluster(t, harness.Options{})
	ctx := context.Background()
	for _, o := range mustDecode(t, []byte(baseCatalog)) {
		if err := create(ctx, env, o); err != nil {
			t.Fatal(err)
		}
	}
	env.CreateNamespace(t, namespace, map[string]string{v1alpha1.LabelEnforcement: "audit"})
	// No controller manager here: the ServiceAccount admission plugin wants
	// "default" before it admits a Pod.
	if err := env.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "default"}}); err != nil {
		t.Fatal(err)
	}
	serving := harness.NewServing(t)
	harness.RegisterWebhooks(t, env, serving.URL(), serving.CA)
	m := harness.StartManager(t, env, harness.ManagerOptions{LeaderElect: true, Webhook: serving})
	readyCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := m.WaitReady(readyCtx); err != nil {
		t.Fatal(err)
	}

	type later struct {
		e   entry
		obj *unstructured.Unstructured // the workload, or the object whose status to read
	}
	var checks []later
	begin := time.Now()
	counts := map[string]int{}
	for _, e := range entries {
		where := e.file + " (" + e.what + ")"
		objs, decodeErr := decode(e.data)
		if e.api == "undecodable" {
			if decodeErr == nil {
				t.Errorf("%s: decoded, but expected not to be", where)
			} else {
				counts["undecodable"]++
				t.Logf("%-42s undecodable: %.140s", e.file, decodeErr)
			}
			continue
		}
		if decodeErr != nil {
			t.Errorf("%s: cannot be decoded: %v", where, decodeErr)
			continue
		}
		var errs []string
		var target *unstructured.Unstructured
		for _, o := range objs {
			if o.GetNamespace() == "" && o.GetKind() != "Namespace" && !strings.HasSuffix(o.GetAPIVersion(), "dataresidency.io/v1alpha1") {
				o.SetNamespace(namespace)
			}
			if err := create(ctx, env, o); err != nil {
				errs = append(errs, fmt.Sprintf("%s %s: %v", o.GetKind(), o.GetName(), err))
			}
			switch {
			case target == nil && e.api == "reported" && workloadKinds[o.GetKind()]:
				target = o
			case e.api == "status" && o.GetKind()+"/"+o.GetName() == strings.Fields(e.apiArg)[0]:
				target = o
			}
		}
		switch e.api {
		case "rejected":
			msg := strings.Join(errs, "\n")
			switch {
			case len(errs) == 0:
				t.Errorf("%s: the API server accepted it; want it refused naming %q", where, e.apiArg)
			case !strings.Contains(msg, e.apiArg):
				t.Errorf("%s: refused, but the message does not name %q:\n%s", where, e.apiArg, msg)
			case strings.Contains(msg, "failed calling webhook"):
				t.Errorf("%s: refused because the webhook failed, not by validation:\n%s", where, msg)
			default:
				counts["rejected"]++
				t.Logf("%-42s rejected: %.160s", e.file, firstLine(msg))
			}
		default:
			if len(errs) > 0 {
				t.Errorf("%s: refused, want it accepted and %s:\n%s", where, e.api, strings.Join(errs, "\n"))
				continue
			}
			if target == nil {
				t.Errorf("%s: no object to check %q on", where, e.api+" "+e.apiArg)
				continue
			}
			checks = append(checks, later{e, target})
		}
	}
	t.Logf("corpus applied in %.1fs", time.Since(begin).Seconds())

	// The operator's verdicts on what was accepted.
	for _, c := range checks {
		where := c.e.file + " (" + c.e.what + ")"
		switch c.e.api {
		case "reported":
			took, found := waitFor(30*time.Second, func() (bool, string) { return reported(ctx, env, c.obj, c.e.apiArg) })
			if !found.ok {
				t.Errorf("%s: no %s result for %s %s/%s in its Report within 30s; results: %s", where, c.e.apiArg, c.obj.GetKind(), c.obj.GetNamespace(), c.obj.GetName(), found.detail)
				continue
			}
			counts["reported"]++
			t.Logf("%-42s reported %s (%.1fs): %.140s", c.e.file, c.e.apiArg, took.Seconds(), found.detail)
		case "status":
			want := strings.TrimSpace(strings.TrimPrefix(c.e.apiArg, strings.Fields(c.e.apiArg)[0]))
			took, found := waitFor(30*time.Second, func() (bool, string) {
				u := &unstructured.Unstructured{}
				u.SetGroupVersionKind(c.obj.GroupVersionKind())
				if err := env.Client.Get(ctx, client.ObjectKeyFromObject(c.obj), u); err != nil {
					return false, err.Error()
				}
				b, _ := json.Marshal(u.Object["status"])
				return strings.Contains(string(b), want), string(b)
			})
			if !found.ok {
				t.Errorf("%s: the status of %s %s does not say %q within 30s: %s", where, c.obj.GetKind(), c.obj.GetName(), want, found.detail)
				continue
			}
			counts["status"]++
			t.Logf("%-42s status %q (%.1fs): %.160s", c.e.file, want, took.Seconds(), found.detail)
		}
	}
	t.Logf("outcomes: %v", counts)

	// Neither panicked nor stalled.
	if m.Exited() {
		t.Fatalf("the manager exited:\n%s", m.Tail(40))
	}
	if p := m.Panics(); len(p) > 0 {
		t.Errorf("the manager panicked:\n%s", strings.Join(p, "\n"))
	}
	after := time.Now()
	for _, o := range mustDecode(t, []byte(`apiVersion: dataresidency.io/v1alpha1
kind: TransferBasis
metadata: {name: after-the-corpus}
spec:
  mechanism: BindingCorporateRules
  countries: [US]
  reference: "BCR, approved"
  transferImpactAssessment: {completedOn: "2026-01-10"}
---
apiVersion: v1
kind: Namespace
metadata: {name: after-the-corpus}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: mailer
  namespace: after-the-corpus
  annotations:
    dataresidency.io/subprocessors: good-vendor
    dataresidency.io/data-categories: user.contact.email
spec:
  selector: {matchLabels: {app: mailer}}
  template:
    metadata: {labels: {app: mailer}}
    spec:
      containers: [{name: app, image: registry.example/mailer:1.0}]
`)) {
		if err := create(ctx, env, o); err != nil {
			t.Fatalf("a normal object after the corpus: %v", err)
		}
		if o.GetKind() == "Deployment" {
			took, found := waitFor(20*time.Second, func() (bool, string) { return reported(ctx, env, o, "Compliant") })
			if !found.ok || took > 10*time.Second {
				t.Errorf("after the corpus, a compliant Deployment took %.1fs to reach its Report (want under 10s): %s", took.Seconds(), found.detail)
			}
		}
		if o.GetKind() == "TransferBasis" {
			took, found := waitFor(20*time.Second, func() (bool, string) {
				var tb v1alpha1.TransferBasis
				if err := env.Client.Get(ctx, client.ObjectKey{Name: o.GetName()}, &tb); err != nil {
					return false, err.Error()
				}
				return tb.Status.State == v1alpha1.BasisValid, string(tb.Status.State) + ": " + tb.Status.Message
			})
			if !found.ok || took > 10*time.Second {
				t.Errorf("after the corpus, a valid TransferBasis took %.1fs to be marked Valid (want under 10s): %s", took.Seconds(), found.detail)
			}
		}
	}
	t.Logf("after the corpus, a normal TransferBasis and Deployment were reconciled in %.1fs", time.Since(after).Seconds())
	if p := m.Panics(); len(p) > 0 {
		t.Errorf("the manager panicked:\n%s", strings.Join(p, "\n"))
	}
	m.Stop()
}

type found struct {
	ok     bool
	detail string
}

func waitFor(timeout time.Duration, cond func() (bool, string)) (time.Duration, found) {
	begin := time.Now()
	var f found
	for {
		f.ok, f.detail = cond()
		if f.ok || time.Since(begin) > timeout {
			return time.Since(begin), f
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// reported looks for a result with rule reason about the workload in its
// namespace's Reports.
func reported(ctx context.Context, env *harness.Env, w *unstructured.Unstructured, reason string) (bool, string) {
	var reports openreports.ReportList
	if err := env.Client.List(ctx, &reports, client.InNamespace(w.GetNamespace()), client.MatchingLabels{report.LabelManagedBy: report.ManagedBy}); err != nil {
		return false, err.Error()
	}
	var rules []string
	for _, r := range reports.Items {
		for _, res := range r.Results {
			if len(res.Subjects) == 0 || res.Subjects[0].Name != w.GetName() || res.Subjects[0].Kind != w.GetKind() {
				continue
			}
			if res.Rule == reason {
				return true, res.Description
			}
			rules = append(rules, res.Rule)
		}
	}
	return false, fmt.Sprintf("%d Reports, rules for this workload: %v", len(reports.Items), rules)
}

func mustDecode(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	objs, err := decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
