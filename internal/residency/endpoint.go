package residency

import (
	"net/netip"
	"strconv"
	"strings"
)

// Endpoint is one network destination of a workload: declared in the
// dataresidency.io/egress annotation or discovered from its pod spec. Exactly
// one of Host, Addr and Prefix is set.
type Endpoint struct {
	// Raw is the endpoint as written (or discovered), e.g. "https://api.sendgrid.com/v3".
	Raw string
	// Host is the lower-cased host name without trailing dot; empty for IP and CIDR endpoints.
	Host string
	// Addr is set for an IP endpoint (IPv4-mapped IPv6 addresses are unmapped).
	Addr netip.Addr
	// Prefix is set for a CIDR endpoint, masked.
	Prefix netip.Prefix
	// Port is the port, 0 when absent.
	Port int
	// Source says where the endpoint came from: "annotation dataresidency.io/egress",
	// `env SMTP_HOST of container "app"`, `configmap "mail" key SMTP_HOST (container "app")`,
	// `service "mail" (ExternalName)`, "resolved api.stripe.com 214 times, last
	// 2026-12-06T10:02Z".
	Source string
	// Origin says whether it was discovered, declared or observed.
	Origin Origin
}

// String is the endpoint as messages name it: host[:port], ip, [ipv6]:port or cidr.
// It is also the key endpoints are deduplicated by, and it parses back with
// ParseEndpoint to the same endpoint.
func (e Endpoint) String() string {
	var s string
	switch {
	case e.Host != "":
		s = e.Host
	case e.Addr.IsValid():
		if e.Port != 0 {
			return netip.AddrPortFrom(e.Addr, uint16(e.Port)).String()
		}
		return e.Addr.String()
	case e.Prefix.IsValid():
		return e.Prefix.String()
	default:
		return ""
	}
	if e.Port != 0 {
		return s + ":" + strconv.Itoa(e.Port)
	}
	return s
}

// ParseEndpoint parses one entry of the dataresidency.io/egress annotation: a
// host name, host:port, URL (scheme://[user@]host[:port][/path]), IPv4 or IPv6
// address ([v6]:port too) or CIDR. Surrounding white space is ignored. The error,
// when there is one, is a ParseError without annotation.
func ParseEndpoint(s string) (Endpoint, error) {
	entry := strings.TrimSpace(s)
	ep, problem := parseEndpoint(entry)
	if problem != "" {
		return Endpoint{}, ParseError{Entry: truncateEntry(entry), Problem: problem}
	}
	return ep, nil
}

const (
	problemEndpoint = "is not a valid host name, host:port, URL, IP address or CIDR"
	problemPort     = "has a port that is not a number from 1 to 65535"
	problemZone     = "is an IPv6 address with a zone, which cannot leave the node"
	problemEmpty    = "has no host"
	problemWildcard = "is a wildcard; name the host it talks to"
)

// maxEndpointLen bounds one endpoint entry (a URL with a long path included).
const maxEndpointLen = 4096

// parseEndpoint parses a trimmed entry; problem is empty on success.
func parseEndpoint(entry string) (ep Endpoint, problem string) {
	if entry == "" {
		return ep, problemEmpty
	}
	if len(entry) > maxEndpointLen {
		return ep, "is longer than 4096 bytes"
	}
	if strings.Contains(entry, "://") {
		host, port, ok := splitURL(entry)
		if !ok {
			return ep, problemEndpoint
		}
		ep, problem = hostPort(host, port)
		ep.Raw = entry
		return ep, problem
	}
	if strings.IndexByte(entry, '/') >= 0 {
		p, err := netip.ParsePrefix(entry)
		if err != nil {
			return ep, problemEndpoint
		}
		if p.Addr().Zone() != "" {
			return ep, problemZone
		}
		if p.Addr().Is4In6() {
			// ::ffff:10.0.0.0/104 is 10.0.0.0/8.
			if p.Bits() < 96 {
				return ep, problemEndpoint
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		ep.Prefix = p.Masked()
		ep.Raw = entry
		return ep, ""
	}
	host, port, ok := splitHostPort(entry)
	if !ok {
		return ep, problemEndpoint
	}
	ep, problem = hostPort(host, port)
	ep.Raw = entry
	return ep, problem
}

// splitURL returns the host and port of scheme://[userinfo@]host[:port][/path][?query][#fragment].
// The scheme may hold colons, as JDBC's "jdbc:postgresql://" does.
func splitURL(s string) (host, port string, ok bool) {
	i := strings.Index(s, "://")
	scheme := s[:i]
	if !validScheme(scheme) {
		return "", "", false
	}
	rest := s[i+3:]
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		rest = rest[:j]
	}
	if j := strings.LastIndexByte(rest, '@'); j >= 0 {
		rest = rest[j+1:]
	}
	return splitHostPort(rest)
}

func validScheme(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' && c != ':' {
			return false
		}
	}
	return true
}

// splitHostPort splits host, host:port, [v6] and [v6]:port. A bare IPv6 address
// (several colons, no brackets) is returned whole as the host.
func splitHostPort(s string) (host, port string, ok bool) {
	if s == "" {
		return "", "", true
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", false
		}
		host, rest := s[1:end], s[end+1:]
		if strings.IndexByte(host, ':') < 0 {
			return "", "", false // brackets are for IPv6 only
		}
		switch {
		case rest == "":
			return host, "", true
		case rest[0] == ':' && len(rest) > 1:
			return host, rest[1:], true
		default:
			return "", "", false
		}
	}
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return s, "", true
	}
	if strings.IndexByte(s[i+1:], ':') >= 0 {
		return s, "", true // IPv6 literal, or nonsense that the address parser rejects
	}
	if i == len(s)-1 {
		return "", "", false // "host:" with no port
	}
	return s[:i], s[i+1:], true
}

// hostPort builds an endpoint from a host (name or IP literal) and an optional port.
func hostPort(host, port string) (ep Endpoint, problem string) {
	if port != "" {
		p, ok := parsePort(port)
		if !ok {
			return ep, problemPort
		}
		ep.Port = p
	}
	if host == "" {
		return ep, problemEmpty
	}
	if c := host[0]; isDigit(c) || c == ':' || strings.IndexByte(host, ':') >= 0 {
		if a, err := netip.ParseAddr(host); err == nil {
			if a.Zone() != "" {
				return Endpoint{}, problemZone
			}
			ep.Addr = a.Unmap()
			return ep, ""
		}
	}
	if strings.HasPrefix(host, "*.") {
		return Endpoint{}, problemWildcard
	}
	name, ok := normalizeHostName(host)
	if !ok {
		return Endpoint{}, problemEndpoint
	}
	ep.Host = name
	return ep, ""
}

// parsePort accepts 1..65535 written in decimal without sign.
func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	if n < 1 || n > 65535 {
		return 0, false
	}
	return n, true
}

// normalizeHostName validates a DNS host name (RFC 1123 labels of letters,
// digits and inner hyphens, at most 63 bytes each and 253 in all; the last
// label not all digits, so that "999.1.1.1" is no host) and returns it lower-cased
// without trailing dot. It allocates only when the name has upper-case letters.
func normalizeHostName(h string) (string, bool) {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return "", false
	}
	upper := false
	labelStart := 0
	allDigits := true
	for i := 0; i <= len(h); i++ {
		if i == len(h) || h[i] == '.' {
			n := i - labelStart
			if n == 0 || n > 63 || h[labelStart] == '-' || h[i-1] == '-' {
				return "", false
			}
			if i == len(h) && allDigits {
				return "", false
			}
			labelStart = i + 1
			allDigits = true
			continue
		}
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z', c == '-':
			allDigits = false
		case c >= 'A' && c <= 'Z':
			allDigits = false
			upper = true
		case isDigit(c):
		default:
			return "", false
		}
	}
	if upper {
		h = strings.ToLower(h)
	}
	return h, true
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
