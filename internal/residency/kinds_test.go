package residency

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
)

// Every registered kind is one the engine reads: WorkloadOf accepts its typed
// object and names it by the kind and apiVersion registered.
func TestWorkloadKindsAreRead(t *testing.T) {
	if len(WorkloadKinds()) != 8 {
		t.Fatalf("%d kinds", len(WorkloadKinds()))
	}
	for _, k := range WorkloadKinds() {
		w, ok := WorkloadOf(k.New())
		if !ok || w.Ref.Kind != k.Kind || w.Ref.APIVersion != k.APIVersion() {
			t.Errorf("%s: WorkloadOf = %+v, %v", k.Kind, w, ok)
		}
		if !IsWorkloadKind(k.APIVersion(), k.Kind) || IsWorkloadKind("example.com/v1", k.Kind) {
			t.Errorf("%s: IsWorkloadKind", k.Kind)
		}
		if !meta.IsListType(k.NewList()) {
			t.Errorf("%s: NewList is not a list", k.Kind)
		}
		if TypedPodSpec(k.New()) == nil {
			t.Errorf("%s: no pod spec", k.Kind)
		}
	}
}

func TestOwnership(t *testing.T) {
	for _, tc := range []struct {
		kind, ownerGroup, ownerKind string
		want                        bool
	}{
		{"Pod", "apps", "ReplicaSet", true},
		{"Pod", "", "ReplicationController", true},
		{"Pod", "batch", "Job", true},
		{"Pod", "apps", "Deployment", false},
		{"ReplicaSet", "apps", "Deployment", true},
		{"Job", "batch", "CronJob", true},
		{"Job", "argoproj.io", "Workflow", false},
		{"Deployment", "apps", "Deployment", false},
	} {
		if got := ControlledByWorkload(tc.kind, tc.ownerGroup, tc.ownerKind); got != tc.want {
			t.Errorf("ControlledByWorkload(%s, %s/%s) = %v", tc.kind, tc.ownerGroup, tc.ownerKind, got)
		}
	}
	for gk, want := range map[GroupKind]bool{
		{"apps", "Deployment"}: true, {"", "ReplicationController"}: true, {"batch", "CronJob"}: true,
		{"", "Pod"}: false, {"apps", "ReplicaSet"}: true, {"argoproj.io", "Rollout"}: false,
	} {
		if got := MakesWorkloads(gk.Group, gk.Kind); got != want {
			t.Errorf("MakesWorkloads(%s/%s) = %v", gk.Group, gk.Kind, got)
		}
	}
}
