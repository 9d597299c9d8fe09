package webhook

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/go-logr/logr"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
	"github.com/dataresidency/operator/internal/state"
)

// Audit annotation keys. The API server records them as
// "<webhook name>/<key>" (for this webhook "workloads.dataresidency.io/verdict"),
// so a key is a bare qualified-name segment, without a prefix of its own.
const (
	AuditEnforcement = "enforcement"
	AuditVerdict     = "verdict"
	AuditViolations  = "violations"
	AuditWarnings    = "warnings"
	AuditReasons     = "reasons"
	AuditDecision    = "decision"
)

// Decisions recorded in the AuditDecision annotation.
const (
	DecisionAllowed   = "allowed"
	DecisionDenied    = "denied"
	DecisionExempt    = "exempt"
	DecisionUnchanged = "allowed-unchanged"
)

// subresourceEphemeralContainers is the Pod subresource through which
// `kubectl debug` adds containers to a running Pod; its request carries the
// whole Pod, ephemeral containers included.
const subresourceEphemeralContainers = "ephemeralcontainers"

// WorkloadValidator decides Pods, Deployments, StatefulSets, DaemonSets,
// ReplicaSets, Jobs and CronJobs at admission. It answers from cached state
// only: the compiled snapshot, the Namespace's labels and the pod's ConfigMaps
// and ExternalName Services all come from the manager's informer cache, never
// from an API call. Unlike the workload controller it evaluates every object,
// Pods owned by a ReplicaSet included: skipping them would let anyone create a
// Pod with a made-up owner reference.
type WorkloadValidator struct {
	// State is the shared snapshot provider (reading from the cache).
	State *state.Provider
	// Reader is the manager's cache: Namespaces (metadata only), ConfigMaps, Services.
	Reader client.Reader
	// Exempt namespaces are never evaluated nor blocked: the operator's own
	// (so it can always recover) and kube-system.
	Exempt map[string]bool
	// NamespaceWait bounds how long a request waits for a Namespace that the
	// cache has not seen yet (created a moment ago).
	NamespaceWait time.Duration
}

var _ admission.Handler = (*WorkloadValidator)(nil)

// workloadRequest is what a decision reads of a request, however it was
// decoded: by controller-runtime into an admission.Request (Handle), or on
// the fast path straight from the body (workloadServer).
type workloadRequest struct {
	operation   admissionv1.Operation
	kind        metav1.GroupVersionKind
	subResource string
	namespace   string
	name        string
	dryRun      bool
	// object and oldObject are the raw objects.
	object, oldObject []byte
	// view is the object as the fast path read it, or nil: then object is
	// decoded into its typed struct. viewErr says why the view could not be read.
	view    *objectView
	viewErr error
	// fast is the request read on the fast path (for its logger), or nil.
	fast *fastRequest
}

// logger is the request's logger: from the context admission.Webhook
// prepared, or built for a request read on the fast path.
func (in *workloadRequest) logger(ctx context.Context) logr.Logger {
	if in.fast != nil {
		return requestLogger(in.fast)
	}
	return logf.FromContext(ctx)
}

// Handle implements admission.Handler.
func (v *WorkloadValidator) Handle(ctx context.Context, req admission.Request) admission.Response {
	return v.decide(ctx, &workloadRequest{
		operation: req.Operation, kind: req.Kind, subResource: req.SubResource, namespace: req.Namespace, name: req.Name,
		dryRun: req.DryRun != nil && *req.DryRun, object: req.Object.Raw, oldObject: req.OldObject.Raw,
	})
}

// workload decodes the object under review: the Workload the engine reads,
// the object's generateName, and whether it is being deleted.
func (in *workloadRequest) workload(k workloadKind) (w *residency.Workload, generateName string, deleting bool, err error) {
	if in.view != nil {
		if len(in.object) == 0 {
			return nil, "", false, errNoObject
		}
		if err := in.viewErr; err != nil || in.view.err(k) != nil {
			// The rare path: let the typed decoder say what is wrong, in its words.
			if err == nil {
				err = in.view.err(k)
			}
			if typedErr := decodeInto(in.object, newWorkload(in.kind)); typedErr != nil {
				err = typedErr
			}
			return nil, "", false, err
		}
		return in.view.workload(k), in.view.generateName, in.view.deleting, nil
	}
	obj := newWorkload(in.kind)
	if err := decodeInto(in.object, obj); err != nil {
		return nil, "", false, err
	}
	w, _ = residency.WorkloadOf(obj)
	meta := obj.(metav1.Object)
	return w, meta.GetGenerateName(), meta.GetDeletionTimestamp() != nil, nil
}

// decide is the webhook's decision, whichever path decoded the request.
func (v *WorkloadValidator) decide(ctx context.Context, req *workloadRequest) admission.Response {
	switch req.operation {
	case admissionv1.Create, admissionv1.Update:
	default:
		return admission.Allowed("")
	}
	k, governed := governedKind(req.kind)
	if !governed {
		return admission.Allowed("")
	}
	switch req.subResource {
	case "":
	case subresourceEphemeralContainers:
		if k != kindPod {
			return admission.Allowed("")
		}
	default:
		return admission.Allowed("")
	}
	ns := req.namespace
	if v.Exempt[ns] {
		return exempt()
	}
	snap, err := v.State.Snapshot(ctx)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("data residency webhook: reading the residency catalog from the cache: %w", err))
	}
	pol := snap.Policy()
	if pol.Excluded(ns) {
		return exempt()
	}
	w, generateName, deleting, err := req.workload(k)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, decodeError(req.kind, ns, req.name, err))
	}
	if w.Ref.Name == "" {
		// generateName: the API server may not have chosen the name yet.
		w.Ref.Name = req.name
		if w.Ref.Name == "" && generateName != "" {
			w.Ref.Name = generateName + "*"
		}
	}
	if w.Ref.Namespace == "" {
		w.Ref.Namespace = ns
		w.Context.Namespace = ns
	}
	if deleting {
		// The object is going away; an update now only removes finalizers.
		return exempt()
	}

	labels, err := v.namespaceLabels(ctx, ns)
	if err != nil {
		return admission.Errored(http.StatusServiceUnavailable, err)
	}
	enforcement := pol.Enforcement(labels)
	var ws warningsBuilder
	if err := residency.EnforcementLabelError(labels); err != nil {
		ws.add(fmt.Sprintf("data residency: namespace %s: %v", ns, err))
	}

	pc, err := state.PodContext(ctx, v.Reader, ns, w.PodSpec)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("data residency webhook: reading ConfigMaps and Services of %s from the cache: %w", ns, err))
	}
	w.Context = pc
	res := snap.Evaluate(w)

	violations, warnings := 0, 0
	for i := range res.Findings {
		switch res.Findings[i].Verdict {
		case residency.Violation:
			violations++
		case residency.Warning:
			warnings++
		}
	}
	audit := map[string]string{
		AuditEnforcement: string(enforcement),
		AuditVerdict:     string(res.Verdict),
		AuditViolations:  strconv.Itoa(violations),
		AuditWarnings:    strconv.Itoa(warnings),
	}
	if violations+warnings > 0 {
		audit[AuditReasons] = reasonsOf(res.Findings)
	}

	switch enforcement {
	case v1alpha1.EnforcementDeny:
		if violations > 0 && !(req.operation == admissionv1.Update && v.unchanged(req, w)) {
			for i := range res.Findings {
				if res.Findings[i].Verdict == residency.Warning {
					ws.addFinding(&res.Findings[i])
				}
			}
			audit[AuditDecision] = DecisionDenied
			req.logger(ctx).Info("denied", "kind", res.Resource.Kind, "namespace", ns, "name", res.Resource.Name,
				"violations", violations, "reasons", audit[AuditReasons], "dryRun", req.dryRun)
			resp := admission.Denied(denialMessage(&res, violations))
			resp.Warnings = ws.list()
			resp.AuditAnnotations = audit
			return resp
		}
		if violations > 0 {
			// Nothing the engine reads changed: rejecting would only block
			// labels, finalizers or owner references, not a new flow.
			audit[AuditDecision] = DecisionUnchanged
		}
		fallthrough
	case v1alpha1.EnforcementWarn:
		for i := range res.Findings {
			if res.Findings[i].Verdict != residency.Compliant {
				ws.addFinding(&res.Findings[i])
			}
		}
	}
	if audit[AuditDecision] == "" {
		audit[AuditDecision] = DecisionAllowed
	}
	resp := admission.Allowed("")
	resp.Warnings = ws.list()
	resp.AuditAnnotations = audit
	return resp
}

func exempt() admission.Response {
	resp := admission.Allowed("")
	resp.AuditAnnotations = map[string]string{AuditDecision: DecisionExempt}
	return resp
}

// namespaceLabels reads the Namespace's labels from the cache's metadata-only
// informer. A Namespace created a moment before the request may not be there
// yet: wait for it a little rather than guess its enforcement.
func (v *WorkloadValidator) namespaceLabels(ctx context.Context, ns string) (map[string]string, error) {
	deadline := time.Now().Add(v.NamespaceWait)
	for {
		labels, found, err := state.NamespaceLabels(ctx, v.Reader, ns)
		if err != nil {
			return nil, fmt.Errorf("data residency webhook: reading namespace %s from the cache: %w", ns, err)
		}
		if found {
			return labels, nil
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("data residency webhook: namespace %s is not in the operator's cache yet; retry", ns)
		}
		t := time.NewTimer(25 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// unchanged reports whether an update leaves everything the engine reads as it
// was: the three residency annotations on the object and its pod template, and
// the pod spec. Such an update cannot add a flow. The whole pod spec counts (a
// new image too), so on the fast path, which read only part of it, both
// objects are decoded here into their typed structs.
func (v *WorkloadValidator) unchanged(req *workloadRequest, w *residency.Workload) bool {
	if req.view != nil {
		obj := newWorkload(req.kind)
		if err := decodeInto(req.object, obj); err != nil {
			return false
		}
		w, _ = residency.WorkloadOf(obj)
	}
	old := newWorkload(req.kind)
	if err := decodeInto(req.oldObject, old); err != nil {
		return false
	}
	ow, ok := residency.WorkloadOf(old)
	if !ok {
		return false
	}
	for _, key := range residencyAnnotations {
		if w.Annotations[key] != ow.Annotations[key] || w.TemplateAnnotations[key] != ow.TemplateAnnotations[key] {
			return false
		}
		_, a := w.Annotations[key]
		_, b := ow.Annotations[key]
		_, c := w.TemplateAnnotations[key]
		_, d := ow.TemplateAnnotations[key]
		if a != b || c != d {
			return false
		}
	}
	return equality.Semantic.DeepEqual(w.PodSpec, ow.PodSpec)
}
