package residency

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// Evaluations reuse pooled buffers: a result must not share them, and one
// evaluation must leave nothing behind for the next (big keeps its buffers
// pooled, huge outgrows them).
func TestEvaluatePooledBuffers(t *testing.T) {
	s := evalWorld(nil)
	many := func(n int) string {
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("unknown-%03d", i)
		}
		return strings.Join(names, ",")
	}
	small := deployment("small", flowAnn("sendgrid", "user.name"))
	big := deployment("big", flowAnn(many(30)+",Bad_One", "user.health,Bad..cat"), "API", "https://api.nobody.example/v1")
	huge := deployment("huge", flowAnn(many(300), ""))

	want := evalDeployment(t, s, small)
	kept := slices.Clone(want.Findings)
	for _, before := range []*appsv1.Deployment{big, huge, big} {
		evalDeployment(t, s, before)
		if got := evalDeployment(t, s, small); !reflect.DeepEqual(got, want) {
			t.Errorf("after %s:\n%s\nwant\n%s", before.Name, dumpFindings(got), dumpFindings(want))
		}
	}
	if !reflect.DeepEqual(want.Findings, kept) {
		t.Errorf("a later evaluation changed an earlier result:\n%s", dumpFindings(want))
	}
	r := evalDeployment(t, s, big)
	if n := len(findingsWith(r, ReasonUnknownSubprocessor)); n != 30 || len(r.Subprocessors) != 30 {
		t.Errorf("big workload: %d unknown subprocessors, %d subprocessors\n%s", n, len(r.Subprocessors), dumpFindings(r))
	}
}
