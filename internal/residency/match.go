package residency

import (
	"net/netip"
	"sort"
	"strings"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// EgressMatcher attributes endpoints to the Subprocessor whose spec.egress
// claims them. It is built once per set of Subprocessors and is safe for
// concurrent use; Match does map lookups only and never resolves names.
//
// When several Subprocessors claim an endpoint the most specific claim wins: an
// exact host over any wildcard, a longer wildcard suffix over a shorter one, a
// longer CIDR prefix over a shorter one; equal claims go to the Subprocessor
// whose name sorts first.
type EgressMatcher struct {
	exact    map[string]string // host -> subprocessor
	wildcard map[string]string // "sendgrid.net" for "*.sendgrid.net" -> subprocessor
	// wildcardLabels has bit n set when a wildcard suffix has n labels (n < 64),
	// so that Match looks up only suffixes that can be claimed.
	wildcardLabels uint64
	v4, v6         prefixTable
}

// prefixTable holds CIDR claims of one address family by prefix length.
type prefixTable struct {
	bits   []int                           // the prefix lengths present, longest first
	byBits map[int]map[netip.Prefix]string // length -> masked prefix -> subprocessor
}

// NewEgressMatcher indexes the egress claims of subs. Entries that cannot be
// read (the API server validates them, so only hand-made objects have any) are
// skipped.
func NewEgressMatcher(subs []*v1alpha1.Subprocessor) *EgressMatcher {
	m := &EgressMatcher{
		exact:    map[string]string{},
		wildcard: map[string]string{},
	}
	claim := func(table map[string]string, key, name string) {
		if cur, ok := table[key]; !ok || name < cur {
			table[key] = name
		}
	}
	for _, s := range subs {
		if s == nil || s.Spec.Egress == nil || s.Name == "" {
			continue
		}
		for _, h := range s.Spec.Egress.Hosts {
			h = strings.TrimSpace(h)
			if rest, ok := strings.CutPrefix(h, "*."); ok {
				if name, ok := normalizeHostName(rest); ok {
					claim(m.wildcard, name, s.Name)
					m.wildcardLabels |= 1 << min(strings.Count(name, ".")+1, 63)
				}
				continue
			}
			if name, ok := normalizeHostName(h); ok {
				claim(m.exact, name, s.Name)
			} else if p, ok := parseClaimPrefix(h); ok && p.IsSingleIP() {
				m.addPrefix(p, s.Name) // an address listed among the hosts
			}
		}
		for _, c := range s.Spec.Egress.CIDRs {
			p, ok := parseClaimPrefix(strings.TrimSpace(c))
			if !ok {
				continue
			}
			m.addPrefix(p, s.Name)
		}
	}
	m.v4.finish()
	m.v6.finish()
	return m
}

func (m *EgressMatcher) addPrefix(p netip.Prefix, name string) {
	if p.Addr().Is4() {
		m.v4.add(p, name)
	} else {
		m.v6.add(p, name)
	}
}

// parseClaimPrefix reads a CIDR or a single address as a masked prefix,
// IPv4-mapped IPv6 forms turned into IPv4.
func parseClaimPrefix(s string) (netip.Prefix, bool) {
	if strings.IndexByte(s, '/') < 0 {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, false
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Addr().Zone() != "" {
		return netip.Prefix{}, false
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, false
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), true
}

func (t *prefixTable) add(p netip.Prefix, name string) {
	if t.byBits == nil {
		t.byBits = map[int]map[netip.Prefix]string{}
	}
	byPrefix := t.byBits[p.Bits()]
	if byPrefix == nil {
		byPrefix = map[netip.Prefix]string{}
		t.byBits[p.Bits()] = byPrefix
	}
	if cur, ok := byPrefix[p]; !ok || name < cur {
		byPrefix[p] = name
	}
}

func (t *prefixTable) finish() {
	for b := range t.byBits {
		t.bits = append(t.bits, b)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(t.bits)))
}

// lookup finds the longest claimed prefix of at most maxBits bits that contains a.
func (t *prefixTable) lookup(a netip.Addr, maxBits int) (string, bool) {
	for _, b := range t.bits {
		if b > maxBits {
			continue
		}
		p, err := a.Prefix(b)
		if err != nil {
			continue
		}
		if name, ok := t.byBits[b][p]; ok {
			return name, true
		}
	}
	return "", false
}

// Match returns the name of the Subprocessor that claims the endpoint: by host
// name for a host endpoint, by containing CIDR for an IP endpoint, and by a CIDR
// containing the whole prefix for a CIDR endpoint. Ports do not matter.
func (m *EgressMatcher) Match(ep Endpoint) (string, bool) {
	switch {
	case m == nil:
		return "", false
	case ep.Host != "":
		return m.MatchHost(ep.Host)
	case ep.Addr.IsValid():
		return m.matchAddr(ep.Addr.Unmap(), -1)
	case ep.Prefix.IsValid():
		p := ep.Prefix
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return "", false
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return m.matchAddr(p.Masked().Addr(), p.Bits())
	}
	return "", false
}

func (m *EgressMatcher) matchAddr(a netip.Addr, maxBits int) (string, bool) {
	if a.Zone() != "" {
		a = a.WithZone("")
	}
	if maxBits < 0 {
		maxBits = a.BitLen()
	}
	if a.Is4() {
		return m.v4.lookup(a, maxBits)
	}
	return m.v6.lookup(a, maxBits)
}

// MatchHost is Match for a host name (case-insensitive, trailing dot ignored).
// Wildcard claims are tried from the longest suffix of the name to the shortest.
func (m *EgressMatcher) MatchHost(host string) (string, bool) {
	if m == nil {
		return "", false
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return "", false
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; c >= 'A' && c <= 'Z' {
			host = strings.ToLower(host)
			break
		}
	}
	if name, ok := m.exact[host]; ok {
		return name, true
	}
	if m.wildcardLabels == 0 {
		return "", false
	}
	labels := strings.Count(host, ".") + 1
	for i := 0; i < len(host); i++ {
		if host[i] != '.' {
			continue
		}
		labels--
		if m.wildcardLabels&(1<<min(labels, 63)) == 0 {
			continue
		}
		if name, ok := m.wildcard[host[i+1:]]; ok {
			return name, true
		}
	}
	return "", false
}
