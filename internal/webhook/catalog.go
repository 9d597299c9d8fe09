package webhook

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
	"github.com/dataresidency/operator/internal/state"
)

// maxNamedWorkloads is how many affected workloads a warning names before
// "and N more".
const maxNamedWorkloads = 10

// errStop ends a walk over a list early.
var errStop = errors.New("stop")

// CatalogValidator reviews changes to the residency catalog (ProcessingLocations,
// TransferBases, Subprocessors and the ResidencyPolicy) for what CEL cannot
// see: their effect on the workloads already running. It always admits (the
// catalog is the DPO's record of the contracts, and the record must be able to
// say a basis fell), but warns when the change would turn compliant workloads
// into violations, naming them.
//
// Unlike WorkloadValidator, it lists every workload from the cache on each
// request. That is acceptable here: catalog edits are rare, made by a person,
// and the scan is bounded by Budget; the workload path never lists.
type CatalogValidator struct {
	// State is the shared snapshot provider; its Inputs are the current catalog.
	State *state.Provider
	// Reader is the manager's cache of workloads, Namespaces, ConfigMaps and Services.
	Reader client.Reader
	// Exempt namespaces are never evaluated (as in WorkloadValidator).
	Exempt map[string]bool
	// Budget bounds the scan; past it the warning says the count is partial.
	Budget time.Duration
}

var _ admission.Handler = (*CatalogValidator)(nil)

// Handle implements admission.Handler. It never denies.
func (v *CatalogValidator) Handle(ctx context.Context, req admission.Request) admission.Response {
	obj := newCatalogObject(req.Kind)
	if obj == nil {
		return admission.Allowed("")
	}
	var raw []byte
	switch req.Operation {
	case admissionv1.Create, admissionv1.Update:
		raw = req.Object.Raw
	case admissionv1.Delete:
		raw = req.OldObject.Raw
	default:
		return admission.Allowed("")
	}
	if err := decodeInto(raw, obj); err != nil {
		return admitWithWarnings(fmt.Sprintf("data residency: could not assess the impact of this change: %v", decodeError(req.Kind, "", req.Name, err)))
	}
	if req.Operation == admissionv1.Update && v.specUnchanged(req, obj) {
		return admission.Allowed("")
	}
	if p, ok := obj.(*v1alpha1.ResidencyPolicy); ok && p.Name != v1alpha1.PolicyName {
		return admission.Allowed("") // not the policy: the schema rejects it
	}

	in, err := v.State.Inputs(ctx)
	if err != nil {
		return admitWithWarnings(fmt.Sprintf("data residency: could not assess the impact of this change: reading the catalog: %v", err))
	}
	now := v.State.Now()
	cur := residency.Compile(v.State.Catalog, in, now)
	next := residency.Compile(v.State.Catalog, whatIf(in, obj, req.Operation == admissionv1.Delete), now)

	imp := v.impact(ctx, cur, next)
	if imp.err != nil {
		logf.FromContext(ctx).Error(imp.err, "impact analysis failed", "kind", req.Kind.Kind, "name", req.Name)
		return admitWithWarnings(fmt.Sprintf("data residency: could not assess the impact of this change: %v", imp.err))
	}
	if len(imp.affected) == 0 && imp.complete {
		return admission.Allowed("")
	}
	return admitWithWarnings(imp.warnings(describeChange(req.Operation, req.Kind.Kind, obj.(client.Object).GetName()))...)
}

func admitWithWarnings(ws ...string) admission.Response {
	resp := admission.Allowed("")
	for _, w := range ws {
		resp.Warnings = append(resp.Warnings, truncate(w, maxWarningBytes))
	}
	return resp
}

func describeChange(op admissionv1.Operation, kind, name string) string {
	switch op {
	case admissionv1.Delete:
		return "deleting " + kind + " " + name
	case admissionv1.Create:
		return "creating " + kind + " " + name
	default:
		return "this change to " + kind + " " + name
	}
}

// specUnchanged reports whether an update leaves the spec as it was (a
// label, annotation or finalizer change): nothing to assess.
func (v *CatalogValidator) specUnchanged(req admission.Request, obj runtime.Object) bool {
	old := newCatalogObject(req.Kind)
	if err := decodeInto(req.OldObject.Raw, old); err != nil {
		return false
	}
	return equality.Semantic.DeepEqual(specOf(old), specOf(obj))
}

func specOf(o runtime.Object) any {
	switch o := o.(type) {
	case *v1alpha1.ProcessingLocation:
		return &o.Spec
	case *v1alpha1.TransferBasis:
		return &o.Spec
	case *v1alpha1.Subprocessor:
		return &o.Spec
	case *v1alpha1.ResidencyPolicy:
		return &o.Spec
	}
	return nil
}

// whatIf returns the inputs with obj in place of the cached object of its
// name (or added), or without it when removed. The cached objects are shared,
// not modified: only the slices are new.
func whatIf(in residency.Inputs, obj runtime.Object, removed bool) residency.Inputs {
	switch o := obj.(type) {
	case *v1alpha1.ProcessingLocation:
		in.Locations = replaced(in.Locations, o, removed)
	case *v1alpha1.TransferBasis:
		in.Bases = replaced(in.Bases, o, removed)
	case *v1alpha1.Subprocessor:
		in.Subprocessors = replaced(in.Subprocessors, o, removed)
	case *v1alpha1.ResidencyPolicy:
		if removed {
			in.Policy = nil
		} else {
			in.Policy = &o.Spec
		}
	}
	return in
}

func replaced[T client.Object](items []T, obj T, removed bool) []T {
	out := make([]T, 0, len(items)+1)
	for _, it := range items {
		if it.GetName() != obj.GetName() {
			out = append(out, it)
		}
	}
	if !removed {
		out = append(out, obj)
	}
	return out
}

// affectedWorkload is a workload a change would turn into a violation.
type affectedWorkload struct {
	ref residency.ResourceRef
	// example is its first violation under the changed catalog.
	example residency.Finding
	// deny: its namespace enforces deny.
	deny bool
}

type impact struct {
	affected []affectedWorkload
	checked  int
	complete bool
	err      error
}

// impact evaluates every workload in the cache under both snapshots and
// collects those compliant (or warned) now and violating after the change.
// cachedWorkloads is the manager's cache (controllers.WorkloadCache): every
// workload as it keeps it, walked without a typed copy of each.
type cachedWorkloads interface {
	EachWorkload(ctx context.Context, kind residency.WorkloadKind, fn func(*residency.Cached) bool) error
}

// Objects a workload controller owns are skipped, as the workload controller
// skips them: their owner carries the same template and is evaluated.
func (v *CatalogValidator) impact(ctx context.Context, cur, next *residency.Snapshot) impact {
	budget := v.Budget
	if budget <= 0 {
		budget = 3 * time.Second
	}
	deadline := time.Now().Add(budget)
	out := impact{complete: true}
	nextPol, curPol := next.Policy(), cur.Policy()
	nsLabels := map[string]map[string]string{}

	visit := func(kind workloadKind, o runtime.Object) bool {
		if time.Now().After(deadline) {
			out.complete = false
			return false
		}
		meta := o.(metav1.Object)
		ns := meta.GetNamespace()
		if v.Exempt[ns] || nextPol.Excluded(ns) || controlledByWorkload(kind, meta) {
			return true
		}
		w, ok := residency.WorkloadOf(o)
		if !ok {
			return true
		}
		pc, err := state.PodContext(ctx, v.Reader, v.State.Routes, ns, w.PodSpec)
		if err != nil {
			out.err = err
			return false
		}
		w.Context = pc
		labels, ok := nsLabels[ns]
		if !ok {
			labels, _, _ = state.NamespaceLabels(ctx, v.Reader, ns)
			nsLabels[ns] = labels
		}
		w.NamespaceLabels = labels
		out.checked++
		after := next.Evaluate(w)
		if after.Verdict != residency.Violation {
			return true
		}
		if !curPol.Excluded(ns) && cur.Evaluate(w).Verdict == residency.Violation {
			return true
		}
		a := affectedWorkload{ref: after.Resource}
		for i := range after.Findings {
			if after.Findings[i].Verdict == residency.Violation {
				a.example = after.Findings[i]
				break
			}
		}
		a.deny = nextPol.Enforcement(labels) == v1alpha1.EnforcementDeny
		out.affected = append(out.affected, a)
		return true
	}

	var lists []struct {
		kind workloadKind
		list client.ObjectList
	}
	for _, k := range residency.WorkloadKinds() {
		lists = append(lists, struct {
			kind workloadKind
			list client.ObjectList
		}{workloadKind{k.Group, k.Version, k.Kind}, k.NewList().(client.ObjectList)})
	}
	cw, cached := v.Reader.(cachedWorkloads)
	for _, l := range lists {
		if cached {
			// The manager's cache: its narrow objects, read-only.
			k, _ := residency.LookupWorkloadKind(l.kind.kind)
			if err := cw.EachWorkload(ctx, k, func(c *residency.Cached) bool { return visit(l.kind, c) }); err != nil {
				out.err = fmt.Errorf("listing %ss from the cache: %w", l.kind.kind, err)
			}
			if out.err != nil || !out.complete {
				return out
			}
			continue
		}
		// Read-only: the cache's own objects, evaluated and never modified.
		if err := v.Reader.List(ctx, l.list, client.UnsafeDisableDeepCopy); err != nil {
			out.err = fmt.Errorf("listing %ss from the cache: %w", l.kind.kind, err)
			return out
		}
		_ = apimeta.EachListItem(l.list, func(o runtime.Object) error {
			if !visit(l.kind, o) {
				return errStop
			}
			return nil
		})
		if out.err != nil || !out.complete {
			return out
		}
	}
	sort.Slice(out.affected, func(i, j int) bool {
		a, b := out.affected[i].ref, out.affected[j].ref
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
	return out
}

// warnings words the impact: who becomes a violation, one example and why,
// and how many are in deny namespaces.
func (imp *impact) warnings(change string) []string {
	var out []string
	n := len(imp.affected)
	if n > 0 {
		names := make([]string, 0, maxNamedWorkloads)
		deny := 0
		for i, a := range imp.affected {
			if a.deny {
				deny++
			}
			if i < maxNamedWorkloads {
				names = append(names, a.ref.Namespace+"/"+a.ref.Kind+"/"+a.ref.Name)
			}
		}
		list := strings.Join(names, ", ")
		if n > maxNamedWorkloads {
			list += fmt.Sprintf(" and %d more", n-maxNamedWorkloads)
		}
		out = append(out, fmt.Sprintf("data residency: %s would turn %d compliant workload(s) into violations: %s", change, n, list))
		first := imp.affected[0]
		out = append(out, fmt.Sprintf("data residency: e.g. %s/%s/%s: %s", first.ref.Namespace, first.ref.Kind, first.ref.Name, flowText(&first.example)))
		if deny > 0 {
			out = append(out, fmt.Sprintf("data residency: %d of them are in namespaces that enforce deny: changes to their flows or pod specs will be rejected until they are fixed", deny))
		}
	}
	if !imp.complete {
		out = append(out, fmt.Sprintf("data residency: impact analysis stopped at its time budget after %d workload(s); the count above is partial", imp.checked))
	}
	return out
}

// controlledByWorkload reports whether a workload controller owns o, so that
// its owner (with the same pod template) is what gets evaluated: a Pod of a
// ReplicaSet, StatefulSet, DaemonSet or Job, a ReplicaSet of a Deployment, a
// Job of a CronJob.
func controlledByWorkload(kind workloadKind, o metav1.Object) bool {
	return controllerIsWorkload(kind, metav1.GetControllerOfNoCopy(o))
}

// controllerIsWorkload reports whether an object of this kind with this
// controller reference (nil: none) is made by a workload from its template.
func controllerIsWorkload(kind workloadKind, ref *metav1.OwnerReference) bool {
	if ref == nil {
		return false
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return false
	}
	return residency.ControlledByWorkload(kind.kind, gv.Group, ref.Kind)
}
