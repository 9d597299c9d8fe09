package webhook

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

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

// WorkloadValidator decides Pods, ReplicationControllers, Deployments, StatefulSets, DaemonSets,
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

// Handle implements admission.Handler.
func (v *WorkloadValidator) Handle(ctx context.Context, req admission.Request) admission.Response {
	switch req.Operation {
	case admissionv1.Create, admissionv1.Update:
	default:
		return admission.Allowed("")
	}
	k, governed := governedKind(req.Kind)
	if !governed {
		return admission.Allowed("")
	}
	switch req.SubResource {
	case "":
	case subresourceEphemeralContainers:
		if k != kindPod {
			return admission.Allowed("")
		}
	default:
		return admission.Allowed("")
	}
	ns := req.Namespace
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
	if len(req.Object.Raw) == 0 {
		return admission.Errored(http.StatusBadRequest, decodeError(req.Kind, ns, req.Name, errNoObject))
	}
	d, err := residency.DecodeWorkload(apiVersionOf(req.Kind), req.Kind.Kind, req.Object.Raw)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, decodeError(req.Kind, ns, req.Name, err))
	}
	w := d.Workload
	if w.Ref.Name == "" {
		// generateName: the API server may not have chosen the name yet.
		w.Ref.Name = req.Name
		if w.Ref.Name == "" && d.GenerateName != "" {
			w.Ref.Name = d.GenerateName + "*"
		}
	}
	if w.Ref.Namespace == "" {
		w.Ref.Namespace = ns
		w.Context.Namespace = ns
	}
	if d.Deleting {
		// The object is going away; an update now only removes finalizers.
		return exempt()
	}

	labels, err := v.namespaceLabels(ctx, ns)
	if err != nil {
		return admission.Errored(http.StatusServiceUnavailable, err)
	}
	enforcement := pol.Enforcement(labels)
	var ws warningsBuilder
	for _, err := range residency.NamespaceLabelErrors(labels) {
		ws.add(fmt.Sprintf("data residency: namespace %s: %v", ns, err))
	}

	pc, err := state.PodContext(ctx, v.Reader, v.State.Routes, ns, w.PodSpec)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("data residency webhook: reading ConfigMaps and Services of %s from the cache: %w", ns, err))
	}
	w.Context = pc
	w.NamespaceLabels = labels
	if controllerIsWorkload(k, d.Controller) {
		w.NamespaceLabels = declarationCheckedOnOwner(labels)
		w.Owners = v.owners(ctx, ns, d.Controller)
	}
	res := snap.Evaluate(w)

	violations, warnings := 0, 0
	for i := range res.Findings {
		if res.Findings[i].Exception != nil {
			continue // accepted until its exception expires: warned of below
		}
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
		if violations > 0 && !(req.Operation == admissionv1.Update && unchanged(req)) {
			for i := range res.Findings {
				if res.Findings[i].Verdict == residency.Warning || res.Findings[i].Exception != nil {
					ws.addFinding(&res.Findings[i])
				}
			}
			audit[AuditDecision] = DecisionDenied
			logf.FromContext(ctx).Info("denied", "kind", res.Resource.Kind, "namespace", ns, "name", res.Resource.Name,
				"violations", violations, "reasons", audit[AuditReasons], "dryRun", req.DryRun != nil && *req.DryRun)
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

// declarationCheckedOnOwner returns the namespace labels an object made by a
// workload from its template (a Deployment's ReplicaSet and their Pods, a
// CronJob's Job, a Job's Pods) is evaluated with: declaring what it sends is
// not required of it. It carries its template's annotations but not its
// owner's own, so a Deployment that declares on its metadata would otherwise
// have its Pods refused; the owner's declaration was required when the owner
// was admitted. Every other rule still applies to the object itself, and an
// object whose owner reference is made up is reported by the controllers,
// which evaluate it on its own with the namespace's real labels.
func declarationCheckedOnOwner(labels map[string]string) map[string]string {
	out := make(map[string]string, len(labels)+1)
	maps.Copy(out, labels)
	out[v1alpha1.LabelRequireDeclaration] = string(v1alpha1.RuleIgnore)
	return out
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

// unchanged reports whether an update leaves the workload as it was in what
// the engine reads (the three residency annotations on the object and its pod
// template) and in its whole pod spec: a new image is new code, which may call
// new vendors. Such an update cannot add a flow. This rare path (an update of
// a violating workload in a deny namespace) decodes both objects into their
// typed structs.
func unchanged(req admission.Request) bool {
	obj, old := newWorkload(req.Kind), newWorkload(req.Kind)
	if obj == nil || decodeInto(req.Object.Raw, obj) != nil || decodeInto(req.OldObject.Raw, old) != nil {
		return false
	}
	w, _ := residency.WorkloadOf(obj)
	ow, _ := residency.WorkloadOf(old)
	if !maps.Equal(w.Annotations, ow.Annotations) || !maps.Equal(w.TemplateAnnotations, ow.TemplateAnnotations) {
		return false
	}
	return equality.Semantic.DeepEqual(residency.TypedPodSpec(obj), residency.TypedPodSpec(old))
}

// owners walks an object's controller chain through the cache (a Pod's
// ReplicaSet, then its Deployment; a Job's CronJob), nearest first, with
// each owner's labels: exceptions granted to a workload cover what it makes.
// An owner not in the cache ends the walk with what is known of it.
func (v *WorkloadValidator) owners(ctx context.Context, ns string, ref *metav1.OwnerReference) []residency.Owner {
	var out []residency.Owner
	for depth := 0; ref != nil && depth < 3; depth++ {
		o := residency.Owner{Kind: ref.Kind, Name: ref.Name}
		k, ok := residency.LookupWorkloadKind(ref.Kind)
		if !ok {
			return append(out, o)
		}
		obj := k.New().(client.Object)
		if err := v.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, obj); err != nil || obj.GetUID() != ref.UID {
			return append(out, o)
		}
		o.Labels = obj.GetLabels()
		out = append(out, o)
		ref = metav1.GetControllerOfNoCopy(obj)
		if ref == nil || !residency.MakesWorkloads(groupOf(ref.APIVersion), ref.Kind) {
			break
		}
	}
	return out
}

func groupOf(apiVersion string) string {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return ""
	}
	return gv.Group
}
