package residency

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// FuzzEgressMatcher: Subprocessors' spec.egress claims (hosts, wildcards,
// CIDRs, validated by the API server but read here from hand-made objects
// too) and endpoints (annotations, pod specs) meet in the matcher. It never
// panics, attributes only to a claiming Subprocessor, and honours what was
// claimed: an exact host is its claimer's, a name under a wildcard goes to the
// first of its equal claimers, an address inside a CIDR to its claimer.
func FuzzEgressMatcher(f *testing.F) {
	f.Add("api.sendgrid.com", "*.sendgrid.net", "167.89.0.0/17", "https://api.sendgrid.com:443/v3, o1.sendgrid.net, 167.89.1.2")
	f.Add("API.Example.COM.", "*.example.com", "2001:db8::/32", "[2001:db8::1]:443, api.example.com")
	f.Add("10.0.0.1", "*.", "::ffff:10.0.0.0/104", "10.0.0.1, 10.1.2.3/16")
	f.Add("*.*.x", "*.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f.g.h.i.j.k.l.m",
		"0.0.0.0/0", "x.a.b.c")
	f.Add("", "*.-bad-.com", "1.2.3.4/33", "")
	f.Fuzz(func(t *testing.T, host, wildcard, cidr, endpoints string) {
		sub := func(name string, hosts, cidrs []string) *v1alpha1.Subprocessor {
			return &v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: v1alpha1.SubprocessorSpec{Egress: &v1alpha1.Egress{Hosts: hosts, CIDRs: cidrs}}}
		}
		m := NewEgressMatcher([]*v1alpha1.Subprocessor{
			sub("b", []string{wildcard}, nil),
			sub("a", []string{host, wildcard}, []string{cidr}),
			nil,
		})
		eps, _ := ParseEndpoints(endpoints)
		for _, ep := range eps {
			if name, ok := m.Match(ep); ok && name != "a" && name != "b" {
				t.Fatalf("%q attributed to %q, which claims nothing", ep.Raw, name)
			}
		}
		h := strings.TrimSpace(host)
		if name, ok := normalizeHostName(h); ok {
			if got, ok := m.MatchHost(h); !ok || got != "a" {
				t.Fatalf("host %q claimed by a, matched to %q (%v)", h, got, ok)
			}
			if got, ok := m.MatchHost(strings.ToUpper(name) + "."); !ok || got != "a" {
				t.Fatalf("host %q in capitals with a trailing dot: %q (%v)", name, got, ok)
			}
		}
		if rest, ok := strings.CutPrefix(strings.TrimSpace(wildcard), "*."); ok {
			if w, ok := normalizeHostName(rest); ok {
				below := "zz-fuzz." + w
				if _, ok := normalizeHostName(below); ok && below != strings.ToLower(strings.TrimSuffix(h, ".")) {
					if got, ok := m.MatchHost(below); !ok || got != "a" {
						t.Fatalf("%q is under *.%s, claimed by a and b: matched to %q (%v)", below, w, got, ok)
					}
				}
			}
		}
		if p, ok := parseClaimPrefix(strings.TrimSpace(cidr)); ok {
			if got, ok := m.Match(Endpoint{Addr: p.Masked().Addr().Unmap()}); p.Addr().Is4() == p.Masked().Addr().Unmap().Is4() && (!ok || got != "a") {
				t.Fatalf("the first address of %s, claimed by a, matched to %q (%v)", p, got, ok)
			}
		}
	})
}
