package residency

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// matchSub is a Subprocessor that claims the given hosts and CIDRs.
func matchSub(name string, hosts, cidrs []string) *v1alpha1.Subprocessor {
	return &v1alpha1.Subprocessor{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.SubprocessorSpec{Egress: &v1alpha1.Egress{Hosts: hosts, CIDRs: cidrs}},
	}
}

func TestEgressMatcher(t *testing.T) {
	m := NewEgressMatcher([]*v1alpha1.Subprocessor{
		matchSub("twilio-sendgrid", []string{"api.sendgrid.com", "*.sendgrid.net"}, []string{"167.89.0.0/17"}),
		matchSub("sendgrid-eu", []string{"*.eu.sendgrid.net"}, nil),
		matchSub("sendgrid-apex", []string{"sendgrid.net"}, nil),
		matchSub("sendgrid-smtp", []string{"SMTP.SendGrid.NET."}, nil),
		matchSub("stripe", []string{"api.stripe.com"}, []string{"203.0.113.0/24", "2001:db8:5::/48"}),
		matchSub("stripe-b", []string{"api.stripe.com"}, nil), // same claim: the name sorting first wins
		matchSub("aaa-stripe-wide", []string{"*.stripe.com"}, []string{"203.0.0.0/16"}),
		matchSub("one-address", []string{"198.51.100.7"}, []string{"203.0.113.77", "::ffff:192.0.2.0/120"}),
		matchSub("ipv6", nil, []string{"2001:db8::/32"}),
		matchSub("no-egress", nil, nil),
		{ObjectMeta: metav1.ObjectMeta{Name: "nil-egress"}},
		nil,
		matchSub("broken", []string{"", "*.", "*", "a.*.b", "exa mple.com", "*.bad_name.com"}, []string{"nonsense", "10.0.0.0/99", "fe80::1%eth0"}),
	})
	tests := []struct {
		ep   string
		want string // "" when nobody claims it
	}{
		// exact
		{"api.sendgrid.com", "twilio-sendgrid"},
		{"API.SENDGRID.COM", "twilio-sendgrid"},
		{"api.sendgrid.com.", "twilio-sendgrid"},
		{"https://api.sendgrid.com:443/v3", "twilio-sendgrid"},
		{"sendgrid.com", ""},
		{"x.api.sendgrid.com", ""},
		// wildcard depth, apex
		{"smtp.sendgrid.net", "sendgrid-smtp"}, // exact beats the wildcard
		{"o1.sendgrid.net", "twilio-sendgrid"},
		{"a.b.c.sendgrid.net:587", "twilio-sendgrid"},
		{"sendgrid.net", "sendgrid-apex"}, // the wildcard does not match the apex
		{"eu.sendgrid.net", "twilio-sendgrid"},
		{"mta.eu.sendgrid.net", "sendgrid-eu"}, // the longer suffix wins
		{"x.mta.eu.sendgrid.net", "sendgrid-eu"},
		{"notsendgrid.net", ""},
		{"sendgrid.net.evil.com", ""},
		// ties: same specificity, name sorting first
		{"api.stripe.com", "stripe"},
		{"checkout.stripe.com", "aaa-stripe-wide"},
		// CIDRs
		{"167.89.0.1", "twilio-sendgrid"},
		{"167.89.127.255:25", "twilio-sendgrid"},
		{"167.89.128.0", ""},
		{"203.0.113.5", "stripe"},          // /24 beats /16
		{"203.0.114.5", "aaa-stripe-wide"}, // only the /16
		{"203.0.113.77", "one-address"},    // /32 beats /24
		{"198.51.100.7", "one-address"},    // an address among the hosts
		{"::ffff:203.0.113.77", "one-address"},
		{"192.0.2.9", "one-address"}, // claimed as ::ffff:192.0.2.0/120
		{"2001:db8:5::1", "stripe"},
		{"[2001:db8:6::1]:443", "ipv6"},
		{"2001:db9::1", ""},
		{"167.89.0.0/17", "twilio-sendgrid"},
		{"167.89.64.0/18", "twilio-sendgrid"}, // inside
		{"167.89.0.0/16", ""},                 // wider than the claim
		{"203.0.113.0/25", "stripe"},
		{"203.0.112.0/23", "aaa-stripe-wide"},
		{"2001:db8:5:1::/64", "stripe"},
		{"2001:db8::/31", ""},
		{"10.0.0.1", ""},
	}
	for _, tt := range tests {
		ep, err := ParseEndpoint(tt.ep)
		if err != nil {
			t.Fatalf("%s: %v", tt.ep, err)
		}
		got, ok := m.Match(ep)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("Match(%s) = %q, %v; want %q", tt.ep, got, ok, tt.want)
		}
	}
	if got, ok := m.MatchHost("O1.SendGrid.Net."); got != "twilio-sendgrid" || !ok {
		t.Errorf("MatchHost(O1.SendGrid.Net.) = %q, %v", got, ok)
	}
	for _, h := range []string{"", ".", "net", "sendgrid", "bad_name.com", "x.bad_name.com"} {
		if got, ok := m.MatchHost(h); ok {
			t.Errorf("MatchHost(%q) = %q", h, got)
		}
	}
	if got, ok := m.Match(Endpoint{}); ok {
		t.Errorf("Match(zero endpoint) = %q", got)
	}
	if got, ok := m.Match(Endpoint{Addr: netip.MustParseAddr("fe80::1%eth0")}); ok {
		t.Errorf("Match(zoned) = %q", got)
	}
}

func TestEgressMatcherOrderIndependent(t *testing.T) {
	a := matchSub("b-vendor", []string{"*.example.com", "api.example.com"}, []string{"198.51.100.0/24"})
	b := matchSub("a-vendor", []string{"*.example.com", "api.example.com"}, []string{"198.51.100.0/24"})
	for _, subs := range [][]*v1alpha1.Subprocessor{{a, b}, {b, a}} {
		m := NewEgressMatcher(subs)
		for _, h := range []string{"api.example.com", "x.example.com"} {
			if got, _ := m.MatchHost(h); got != "a-vendor" {
				t.Errorf("MatchHost(%s) = %q, want a-vendor whatever the order", h, got)
			}
		}
		if got, _ := m.Match(Endpoint{Addr: netip.MustParseAddr("198.51.100.1")}); got != "a-vendor" {
			t.Errorf("Match(198.51.100.1) = %q, want a-vendor", got)
		}
	}
}

func TestEgressMatcherNil(t *testing.T) {
	var m *EgressMatcher
	if _, ok := m.MatchHost("api.example.com"); ok {
		t.Error("nil matcher matched")
	}
	if _, ok := NewEgressMatcher(nil).Match(Endpoint{Host: "api.example.com"}); ok {
		t.Error("empty matcher matched")
	}
}

func TestEgressMatcherDoesNotAllocate(t *testing.T) {
	m := benchMatcher()
	eps := benchEndpoints()
	allocs := testing.AllocsPerRun(100, func() {
		for _, ep := range eps {
			m.Match(ep)
		}
	})
	if allocs != 0 {
		t.Errorf("Match allocates %.1f times per run of %d endpoints", allocs, len(eps))
	}
}

// benchMatcher claims, for 200 vendors, an exact host, a wildcard, a CIDR and an address.
func benchMatcher() *EgressMatcher {
	subs := make([]*v1alpha1.Subprocessor, 200)
	for i := range subs {
		subs[i] = matchSub(fmt.Sprintf("vendor-%03d", i),
			[]string{fmt.Sprintf("api.vendor%d.com", i), fmt.Sprintf("*.vendor%d.net", i), fmt.Sprintf("*.eu.vendor%d.io", i)},
			[]string{fmt.Sprintf("%d.%d.0.0/16", 20+i/100, i%100), fmt.Sprintf("%d.%d.7.0/24", 20+i/100, i%100),
				fmt.Sprintf("2001:db8:%x::/48", i)})
	}
	return NewEgressMatcher(subs)
}

func benchEndpoints() []Endpoint {
	var eps []Endpoint
	for _, s := range []string{
		"api.vendor17.com", "smtp.mail.vendor42.net", "a.b.c.eu.vendor150.io", "api.unknown-vendor.com",
		"x.y.z.w.unclaimed.example.org", "21.5.7.9", "20.99.1.1:443", "198.51.100.1", "2001:db8:7::1",
	} {
		ep, err := ParseEndpoint(s)
		if err != nil {
			panic(err)
		}
		eps = append(eps, ep)
	}
	return eps
}

func BenchmarkMatch(b *testing.B) {
	m := benchMatcher()
	eps := benchEndpoints()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		m.Match(eps[i%len(eps)])
		i++
	}
}

// TestEgressMatcherAgreesWithNaive compares MatchHost with a direct reading of
// the rules over every pair of claimed patterns and probed names.
func TestEgressMatcherAgreesWithNaive(t *testing.T) {
	patterns := []string{"a.com", "*.a.com", "b.a.com", "*.b.a.com", "*.c.b.a.com", "*.com", "x.y.z.w.v.com", "*.w.v.com", "*.v.com"}
	names := []string{"com", "a.com", "b.a.com", "c.b.a.com", "d.c.b.a.com", "e.d.c.b.a.com", "z.a.com", "x.y.z.w.v.com",
		"y.z.w.v.com", "w.v.com", "v.com", "q.w.v.com", "other.org", "a.com.evil.org"}
	var subs []*v1alpha1.Subprocessor
	for i, p := range patterns {
		// Names in reverse order of the patterns, so the tie-break is exercised.
		subs = append(subs, matchSub(fmt.Sprintf("s%02d", len(patterns)-i), []string{p}, nil))
	}
	m := NewEgressMatcher(subs)
	for _, name := range names {
		want, bestRank, bestSub := "", -1, ""
		for i, p := range patterns {
			rank := -1
			switch {
			case p == name:
				rank = 1000
			case strings.HasPrefix(p, "*.") && strings.HasSuffix(name, p[1:]):
				rank = len(p)
			}
			sub := subs[i].Name
			if rank > bestRank || (rank == bestRank && rank >= 0 && sub < bestSub) {
				bestRank, bestSub = rank, sub
			}
		}
		if bestRank >= 0 {
			want = bestSub
		}
		if got, _ := m.MatchHost(name); got != want {
			t.Errorf("MatchHost(%s) = %q, want %q", name, got, want)
		}
	}
}
