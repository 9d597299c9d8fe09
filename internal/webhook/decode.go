package webhook

import (
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	sjson "sigs.k8s.io/json"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
	"github.com/dataresidency/operator/internal/residency"
)

// The decoder reads only the kinds the webhooks govern, straight into their
// typed structs with the case-sensitive decoder the API machinery itself uses
// (sigs.k8s.io/json): no scheme lookup and no GVK sniffing pass over the bytes.
// The request's kind (req.Kind, after the API server's conversion to the
// version in our rules under matchPolicy Equivalent) picks the struct.

// errNoObject is returned when a request that must carry an object does not.
var errNoObject = errors.New("the request carries no object")

// workloadKind is a governed workload kind, as the API server names it in an
// AdmissionRequest.
type workloadKind struct{ group, version, kind string }

// The kinds the webhook code names itself; which kinds are governed is
// residency's registry (residency.WorkloadKinds).
var (
	kindPod        = workloadKind{"", "v1", "Pod"}
	kindReplicaSet = workloadKind{"apps", "v1", "ReplicaSet"}
	kindJob        = workloadKind{"batch", "v1", "Job"}
)

// governedKind reports whether gvk is a governed workload kind.
func governedKind(gvk metav1.GroupVersionKind) (workloadKind, bool) {
	return workloadKind{gvk.Group, gvk.Version, gvk.Kind}, residency.IsWorkloadKind(apiVersionOf(gvk), gvk.Kind)
}

// newWorkload returns an empty object of a governed workload kind, or nil.
func newWorkload(gvk metav1.GroupVersionKind) runtime.Object {
	if k, ok := residency.LookupWorkloadKind(gvk.Kind); ok && k.Group == gvk.Group && k.Version == gvk.Version {
		return k.New()
	}
	return nil
}

// apiVersionOf is the group/version of gvk as an object's apiVersion.
func apiVersionOf(gvk metav1.GroupVersionKind) string {
	if gvk.Group == "" {
		return gvk.Version
	}
	return gvk.Group + "/" + gvk.Version
}

// newCatalogObject returns an empty residency object of the kind, or nil.
func newCatalogObject(gvk metav1.GroupVersionKind) runtime.Object {
	if gvk.Group != v1alpha1.GroupVersion.Group || gvk.Version != v1alpha1.GroupVersion.Version {
		return nil
	}
	switch gvk.Kind {
	case "ProcessingLocation":
		return &v1alpha1.ProcessingLocation{}
	case "TransferBasis":
		return &v1alpha1.TransferBasis{}
	case "Subprocessor":
		return &v1alpha1.Subprocessor{}
	case "ResidencyPolicy":
		return &v1alpha1.ResidencyPolicy{}
	}
	return nil
}

// decodeInto decodes raw JSON into obj, case-sensitively (as the API server
// does: "Spec" is not "spec").
func decodeInto(raw []byte, obj runtime.Object) error {
	if len(raw) == 0 {
		return errNoObject
	}
	// Unknown fields are not ours to judge: the API server has already
	// pruned or rejected them.
	return sjson.UnmarshalCaseSensitivePreserveInts(raw, obj)
}

// decodeError is the denial for a request whose object cannot be read: a
// 400 that names the kind, the object and the problem.
func decodeError(gvk metav1.GroupVersionKind, namespace, name string, err error) error {
	return fmt.Errorf("data residency webhook: cannot decode %s %s: %w", gvkString(gvk), objectName(namespace, name), err)
}

func gvkString(gvk metav1.GroupVersionKind) string {
	if gvk.Group == "" {
		return gvk.Version + "/" + gvk.Kind
	}
	return gvk.Group + "/" + gvk.Version + "/" + gvk.Kind
}

func objectName(namespace, name string) string {
	if name == "" {
		name = "(unnamed)"
	}
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}
