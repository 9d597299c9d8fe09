package residency

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// benchInputs is a large organisation: 200 subprocessors, 50 locations, 100 bases.
func benchInputs() Inputs {
	countries := []string{"SE", "DE", "IE", "FR", "NO", "CH", "GB", "US", "JP", "SG"}
	mechanisms := []v1alpha1.Mechanism{"StandardContractualClauses", "BindingCorporateRules", "DataPrivacyFramework",
		"Derogation", "PrivacyShield"}
	var in Inputs
	in.Policy = &v1alpha1.ResidencyPolicySpec{
		RequireTransferImpactAssessment: []v1alpha1.Mechanism{"BindingCorporateRules"},
		MechanismOverrides: []v1alpha1.MechanismOverride{
			{Mechanism: "DataPrivacyFramework", InvalidFrom: "2027-06-01", Reason: "CJEU C-703/25 P"}},
	}
	for i := 0; i < 50; i++ {
		in.Locations = append(in.Locations, mkLoc(fmt.Sprintf("loc-%03d", i), countries[i%len(countries)], fmt.Sprintf("region-%d", i)))
	}
	for i := 0; i < 100; i++ {
		c := countries[5+i%5]
		in.Bases = append(in.Bases, mkBasis(fmt.Sprintf("basis-%03d", i), mechanisms[i%len(mechanisms)], []string{c, "US"},
			expires(fmt.Sprintf("%d-03-05", 2027+i%5)), tia("2025-01-01", "2028-01-01")))
	}
	for i := 0; i < 200; i++ {
		opts := []subOpt{
			locs(fmt.Sprintf("loc-%03d", i%50), fmt.Sprintf("loc-%03d", (i*7)%50)),
			bases(fmt.Sprintf("basis-%03d", i%100), fmt.Sprintf("basis-%03d", (i*3)%100)),
			approved("user.contact", "user.name", "user.device"),
			hosts(fmt.Sprintf("api.sub-%03d.eu", i), fmt.Sprintf("*.sub-%03d.eu", i)),
		}
		if i%4 == 0 {
			opts = append(opts, remote("US"))
		}
		if i%10 == 0 && i > 0 {
			opts = append(opts, onward(fmt.Sprintf("sub-%03d", i-1)))
		}
		in.Subprocessors = append(in.Subprocessors, mkSub(fmt.Sprintf("sub-%03d", i), opts...))
	}
	return in
}

// benchWorkload is a typical workload: 2 subprocessors (one declared, one
// discovered), 3 categories, a small pod spec.
func benchWorkload(b testing.TB) *Workload {
	d := deployment("checkout", flowAnn("sub-007", "user.contact.email,user.name,system.operations"),
		"PAYMENT_API", "https://api.sub-123.eu/v2",
		"DATABASE_URL", "postgres://app@db.shop.svc.cluster.local:5432/shop",
		"LOG_LEVEL", "info",
		"CACHE", "redis:6379")
	w, ok := WorkloadOf(d)
	if !ok {
		b.Fatal("not a workload")
	}
	return w
}

func TestBenchWorkloadIsTypical(t *testing.T) {
	s := Compile(nil, benchInputs(), today)
	r := s.Evaluate(benchWorkload(t))
	if len(r.Subprocessors) != 2 || r.Subprocessors[0] != "sub-007" || r.Subprocessors[1] != "sub-123" {
		t.Fatalf("subprocessors = %v\n%s", r.Subprocessors, dumpFindings(r))
	}
}

func BenchmarkEvaluateWorkload(b *testing.B) {
	s := Compile(nil, benchInputs(), today)
	w := benchWorkload(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = s.Evaluate(w)
	}
}

func BenchmarkCompile(b *testing.B) {
	in := benchInputs()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = Compile(nil, in, today)
	}
}

// The typical workload stays within the allocation budget (< 10 per Evaluate).
// Of those, the pod-spec discovery (DiscoverEgress) accounts for most; the
// engine itself allocates the result's findings and subprocessors.
func TestEvaluateAllocationBudget(t *testing.T) {
	s := Compile(nil, benchInputs(), today)
	w := benchWorkload(t)
	s.Evaluate(w) // fill the annotation cache, as the workload's ReplicaSet would
	if n := testing.AllocsPerRun(200, func() { s.Evaluate(w) }); n >= 10 {
		t.Errorf("Evaluate allocates %.0f times per typical workload, want < 10", n)
	}
}

// Parsed annotations are cached per snapshot; cached values are shared and must
// come out the same however often, and in whatever mix, they are read.
func TestEvaluateAnnotationCache(t *testing.T) {
	s := evalWorld(nil)
	mixed := deployment("app", flowAnn("sendgrid,Bad_One", "user.health"))
	mixed.Annotations = flowAnn("eu-mail", "user.contact.email")
	mixed.Annotations[v1alpha1.AnnotationEgress] = "api.nobody.eu, ::bad::"
	mixed.Spec.Template.Annotations[v1alpha1.AnnotationEgress] = "api.sendgrid.com"
	first := evalDeployment(t, s, mixed)
	for i := 0; i < 3; i++ {
		again := evalDeployment(t, s, mixed)
		if !reflect.DeepEqual(first, again) {
			t.Fatalf("evaluation %d differs:\n%s\nvs\n%s", i, dumpFindings(first), dumpFindings(again))
		}
		// A caller changing its result must not change the next one.
		again.Subprocessors[0] = "tampered"
		again.Findings[0].Message = "tampered"
	}
	fresh := evalWorld(nil)
	if uncached := evalDeployment(t, fresh, mixed); !reflect.DeepEqual(first, uncached) {
		t.Errorf("cached and fresh snapshots disagree")
	}
	// The cache is bounded.
	for i := 0; i < maxCachedValues+10; i++ {
		s.parsed.list(AnnotationDataCategories, fmt.Sprintf("user.c%d", i))
	}
	if n := len(s.parsed.cats); n > maxCachedValues {
		t.Errorf("cache holds %d values, bound is %d", n, maxCachedValues)
	}
	long := strings.Repeat("user.contact,", maxCachedValue/10)
	if _, errs := s.parsed.list(AnnotationDataCategories, long); len(errs) != 0 {
		t.Errorf("long value: %v", errs)
	}
	if _, ok := s.parsed.cats[long]; ok {
		t.Error("a value over the size bound was cached")
	}
}

// A snapshot is shared by the webhook's concurrent requests.
func TestEvaluateConcurrently(t *testing.T) {
	s := Compile(nil, benchInputs(), today)
	want := s.Evaluate(benchWorkload(t))
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				w := benchWorkload(t)
				if i%2 == 1 { // new values for the cache
					w.TemplateAnnotations[v1alpha1.AnnotationDataCategories] = fmt.Sprintf("user.name,user.x%d_%d", g, i)
					s.Evaluate(w)
					continue
				}
				if got := s.Evaluate(w); !reflect.DeepEqual(got, want) {
					errs <- dumpFindings(got)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent evaluation differs:\n%s", e)
	}
}
