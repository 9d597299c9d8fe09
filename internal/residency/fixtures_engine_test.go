package residency

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// Fixtures for the engine tests: residency objects built in Go, fake times.

// utc reads "2006-01-02" or RFC 3339 as a UTC instant.
func utc(s string) time.Time {
	layout := time.RFC3339
	if len(s) == len(dateLayout) {
		layout = dateLayout
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// today is the date the seed tests are written for.
var today = utc("2026-11-22")

func mkLoc(name, country, region string) *v1alpha1.ProcessingLocation {
	return &v1alpha1.ProcessingLocation{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.ProcessingLocationSpec{Country: v1alpha1.CountryCode(country), ProviderRegion: region},
	}
}

type basisOpt func(*v1alpha1.TransferBasisSpec)

func mkBasis(name string, m v1alpha1.Mechanism, countries []string, opts ...basisOpt) *v1alpha1.TransferBasis {
	b := &v1alpha1.TransferBasis{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.TransferBasisSpec{Mechanism: m}}
	for _, c := range countries {
		b.Spec.Countries = append(b.Spec.Countries, v1alpha1.CountryCode(c))
	}
	if m == v1alpha1.MechanismDerogation {
		b.Spec.Derogation = "ExplicitConsent"
	}
	for _, o := range opts {
		o(&b.Spec)
	}
	return b
}

func effective(d string) basisOpt {
	return func(s *v1alpha1.TransferBasisSpec) { s.EffectiveFrom = v1alpha1.Date(d) }
}
func expires(d string) basisOpt {
	return func(s *v1alpha1.TransferBasisSpec) { s.ExpiresOn = v1alpha1.Date(d) }
}
func tia(completed, review string) basisOpt {
	return func(s *v1alpha1.TransferBasisSpec) {
		s.TransferImpactAssessment = &v1alpha1.TransferImpactAssessment{
			CompletedOn: v1alpha1.Date(completed), NextReviewOn: v1alpha1.Date(review), Reference: "TIA-1"}
	}
}

type subOpt func(*v1alpha1.SubprocessorSpec)

func mkSub(name string, opts ...subOpt) *v1alpha1.Subprocessor {
	s := &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.SubprocessorSpec{LegalName: name + " Inc.", Country: "US", Purpose: "testing"}}
	for _, o := range opts {
		o(&s.Spec)
	}
	return s
}

func objNames(ns []string) []v1alpha1.ObjectName {
	out := make([]v1alpha1.ObjectName, len(ns))
	for i, n := range ns {
		out[i] = v1alpha1.ObjectName(n)
	}
	return out
}

func locs(ns ...string) subOpt {
	return func(s *v1alpha1.SubprocessorSpec) { s.ProcessingLocations = objNames(ns) }
}
func bases(ns ...string) subOpt {
	return func(s *v1alpha1.SubprocessorSpec) { s.TransferBases = objNames(ns) }
}
func onward(ns ...string) subOpt {
	return func(s *v1alpha1.SubprocessorSpec) { s.Subprocessors = objNames(ns) }
}
func remote(cs ...string) subOpt {
	return func(s *v1alpha1.SubprocessorSpec) {
		for _, c := range cs {
			s.RemoteAccessCountries = append(s.RemoteAccessCountries, v1alpha1.CountryCode(c))
		}
	}
}
func approved(cs ...string) subOpt {
	return func(s *v1alpha1.SubprocessorSpec) {
		for _, c := range cs {
			s.DataCategories = append(s.DataCategories, v1alpha1.DataCategory(c))
		}
	}
}
func hosts(hs ...string) subOpt {
	return func(s *v1alpha1.SubprocessorSpec) {
		if s.Egress == nil {
			s.Egress = &v1alpha1.Egress{}
		}
		s.Egress.Hosts = append(s.Egress.Hosts, hs...)
	}
}
func anonymousOnly() subOpt {
	return func(s *v1alpha1.SubprocessorSpec) { s.DataAccess = v1alpha1.DataAccessAnonymousOnly }
}
func notified(d string, days int32) subOpt {
	return func(s *v1alpha1.SubprocessorSpec) {
		s.Notice = &v1alpha1.Notice{NotifiedOn: v1alpha1.Date(d), ObjectionPeriodDays: &days}
	}
}
func objected(d, reason string) subOpt {
	return func(s *v1alpha1.SubprocessorSpec) {
		s.Objection = &v1alpha1.Objection{RaisedOn: v1alpha1.Date(d), Reason: reason}
	}
}

// deployment builds a Deployment in namespace "shop" whose pod template
// carries the annotations, with one container of the given env (name, value pairs).
func deployment(name string, annotations map[string]string, env ...string) *appsv1.Deployment {
	c := corev1.Container{Name: "app", Image: "registry.example/app:1"}
	for i := 0; i+1 < len(env); i += 2 {
		c.Env = append(c.Env, corev1.EnvVar{Name: env[i], Value: env[i+1]})
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: annotations},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{c}},
		}},
	}
}

// flowAnn is the annotations of a workload sending categories to subprocessors.
func flowAnn(subs, cats string) map[string]string {
	m := map[string]string{}
	if subs != "" {
		m[v1alpha1.AnnotationSubprocessors] = subs
	}
	if cats != "" {
		m[v1alpha1.AnnotationDataCategories] = cats
	}
	return m
}

func evalDeployment(t testing.TB, s *Snapshot, d *appsv1.Deployment) Result {
	t.Helper()
	w, ok := WorkloadOf(d)
	if !ok {
		t.Fatalf("WorkloadOf(%s) failed", d.Name)
	}
	return s.Evaluate(w)
}

// findingsWith returns the findings with the given reason (ReasonNone: Compliant ones).
func findingsWith(r Result, reason Reason) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Reason == reason {
			out = append(out, f)
		}
	}
	return out
}

// mustFinding returns the only finding with reason, failing otherwise.
func mustFinding(t testing.TB, r Result, reason Reason) Finding {
	t.Helper()
	fs := findingsWith(r, reason)
	if len(fs) != 1 {
		t.Fatalf("want exactly one %q finding, got %d; findings:\n%s", reason, len(fs), dumpFindings(r))
	}
	return fs[0]
}

func dumpFindings(r Result) string {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString("  ")
		b.WriteString(string(f.Verdict) + " " + string(f.Reason) + " sub=" + f.Subprocessor + " route=" + f.Route +
			" ep=" + f.Endpoint + ": " + f.Message + "\n")
	}
	return b.String()
}

func wantContains(t testing.TB, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s = %q, want it to contain %q", what, s, sub)
		}
	}
}

func transferByRoute(r SubprocessorResult, route string) (v1alpha1.Transfer, bool) {
	for _, tr := range r.Transfers {
		if tr.Route == route {
			return tr, true
		}
	}
	return v1alpha1.Transfer{}, false
}
