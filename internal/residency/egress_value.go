package residency

import (
	"encoding/json"
	"net/netip"
	"sort"
	"strings"
	"unicode/utf8"
)

// How one value (an env value, an argument, a string of a config file) is
// read for endpoints. A value is read as a whole when it is quoted, JSON, an
// Oracle Net descriptor or a key=value connection string (connstring.go);
// otherwise it is a list of entries, each judged alone: an entry that is no
// endpoint ("mailto:x@y", "*", a CIDR, a word) is skipped, not the list.

// readValue reads one value, given under the name key.
func (d *discoverer) readValue(v string, key valueKey, depth int) {
	if d.stopped || depth > maxValueDepth {
		return
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return
	}
	// One pass says what the value may be. Every endpoint has a dot (a name
	// under a TLD, an IPv4 address) or a colon (a port, an IPv6 address);
	// only a Service name can lack both, and only ExternalName Services lead
	// out of the cluster.
	shaped, prose, eq := false, false, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '.' || c == ':':
			shaped = true
		case c == '=':
			eq = true
		case isASCIISpace(c):
			prose = true
		}
	}
	if !shaped && len(d.ctx.ExternalNames) == 0 {
		return
	}
	if q := v[0]; len(v) >= 2 && (q == '"' || q == '\'') && v[len(v)-1] == q && strings.IndexByte(v[1:len(v)-1], q) < 0 {
		d.readValue(v[1:len(v)-1], key, depth+1)
		return
	}
	if (v[0] == '{' || v[0] == '[') && d.readJSON(v, key, depth) {
		return
	}
	if eq && d.readConnString(v, key, depth) {
		return
	}
	for rest := v; rest != "" && !d.stopped; {
		var e string
		e, rest = nextEntry(rest)
		if e != "" {
			d.entry(e, key, prose, depth)
		}
	}
}

// readJSON reads a JSON value's strings, each as a value named by its key.
// It reports false when v is not JSON.
func (d *discoverer) readJSON(v string, key valueKey, depth int) bool {
	var doc any
	if json.Unmarshal([]byte(v), &doc) != nil {
		return false
	}
	d.walk(doc, key.class(), depth+1)
	return true
}

// walk reads the strings of a decoded JSON or YAML document, map keys in
// order; a key that says nothing keeps its parent's meaning.
func (d *discoverer) walk(doc any, key keyClass, depth int) {
	if d.stopped || key == keyInbound {
		return
	}
	switch x := doc.(type) {
	case string:
		d.readValue(x, valueKey{inherit: key}, depth)
	case []any:
		for _, e := range x {
			d.walk(e, key, depth)
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			kc := classifyKey(k)
			if kc == keyUnknown {
				kc = key
			}
			d.walk(x[k], kc, depth)
		}
	}
}

func isASCIISpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isValueSeparator(c byte) bool { return c == ',' || c == ';' || isASCIISpace(c) }

// nextEntry returns the first entry of s and what follows it. Entries are
// separated by commas, semicolons and white space, except that the commas of
// a URL's authority separate the hosts of one multi-host URL
// ("mongodb://a:27017,b:27017/db"), unless a new URL follows them
// ("http://es1:9200,http://es2:9200").
func nextEntry(s string) (entry, rest string) {
	i := 0
	for i < len(s) && isValueSeparator(s[i]) {
		i++
	}
	start := i
	authority := false
	for i < len(s) {
		c := s[i]
		if c == ':' && strings.HasPrefix(s[i:], "://") {
			authority = true
			i += 3
			continue
		}
		if authority {
			switch {
			case c == '/' || c == '?' || c == '#':
				authority = false
			case c == ',' && !startsURL(s[i+1:]):
				i++
				continue
			}
		}
		if isValueSeparator(c) {
			break
		}
		i++
	}
	return s[start:i], s[i:]
}

// startsURL reports whether s starts with scheme://.
func startsURL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':':
			return i > 0 && strings.HasPrefix(s[i:], "://")
		case isLetter(c) || isDigit(c) || c == '+' || c == '-' || c == '.' || c == '_':
		default:
			return false
		}
	}
	return false
}

// trimEntry takes off what quotes or encloses an entry in text: quotes,
// backticks, angle brackets, and a parenthesis without its pair.
func trimEntry(e string) string {
	for e != "" {
		switch first, last := e[0], e[len(e)-1]; {
		case first == '"' || first == '\'' || first == '`' || first == '<':
			e = e[1:]
		case last == '"' || last == '\'' || last == '`' || last == '>':
			e = e[:len(e)-1]
		case first == '(' && strings.IndexByte(e, ')') < 0:
			e = e[1:]
		case last == ')' && strings.IndexByte(e, '(') < 0:
			e = e[:len(e)-1]
		default:
			return e
		}
	}
	return e
}

// entry judges one entry of a value; prose says the value has white space,
// in which a single word is a word, not a Service name.
func (d *discoverer) entry(e string, key valueKey, prose bool, depth int) {
	e = trimEntry(e)
	if e == "" {
		return
	}
	// One pass finds what decides the form: "://", the first "=", "@", "(".
	scheme, eq, at, paren := -1, -1, false, false
	for i := 0; i < len(e); i++ {
		switch c := e[i]; {
		case c >= utf8.RuneSelf || c < ' ' || c == 0x7f:
			return // host names are ASCII (IDNs are written xn--): this is text
		case c == '$' || c == '{':
			if i+1 < len(e) && (e[i+1] == '(' || e[i+1] == '{') {
				return // a reference that stayed unresolved ($(X), ${X}), or a template ({{ }})
			}
		case c == ':':
			if scheme < 0 && i+2 < len(e) && e[i+1] == '/' && e[i+2] == '/' {
				scheme = i
			}
		case c == '=':
			if eq < 0 {
				eq = i
			}
		case c == '@':
			at = true
		case c == '(':
			paren = true
		}
	}
	if eq > 0 && (scheme < 0 || eq < scheme) && isKeyName(e[:eq]) {
		// key=value ("endpoint=https://x", "-Dhttp.proxyHost=proxy.example.eu"):
		// the value, in the light of its key.
		d.readValue(e[eq+1:], valueKey{name: e[:eq], inherit: key.class()}, depth+1)
		return
	}
	switch {
	case at && hasPrefixFold(e, "jdbc:oracle:"):
		d.oracleEntry(e, key)
	case scheme >= 0:
		d.urlEntry(e, e[:scheme], e[scheme+3:], key)
	case strings.HasPrefix(e, "//"):
		d.urlEntry(e, "", e[2:], key) // a network-path reference, or Oracle "//host:port/service"
	case paren && mysqlAddress(e) != "":
		d.hostPortEntry(e, mysqlAddress(e), key)
	case at:
		d.scpEntry(e, key)
	default:
		if ep, ok := d.token(e, prose, key); ok {
			d.add(ep, key)
		}
	}
}

// hasDotOrColon reports whether s has a '.' or a ':'.
func hasDotOrColon(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' || s[i] == ':' {
			return true
		}
	}
	return false
}

// indexAnyByte is strings.IndexAny for a few ASCII bytes, without building a set.
func indexAnyByte(s, chars string) int {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(chars, s[i]) >= 0 {
			return i
		}
	}
	return -1
}

// isKeyName reports whether the text before "=" in an entry is a key
// ("endpoint", "bootstrap.servers", "-Dhttp.proxyHost"), not part of an
// address ("user:pw@tcp(h:3306)/db?parseTime").
func isKeyName(k string) bool {
	for i := 0; i < len(k); i++ {
		if c := k[i]; !isLetter(c) && !isDigit(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// token judges an entry without scheme: [v6]:port, host:port, an IP address,
// a host name, a Service name.
func (d *discoverer) token(tok string, prose bool, key valueKey) (Endpoint, bool) {
	if tok[0] == '[' {
		host, port, ok := splitHostPort(tok)
		if !ok {
			return Endpoint{}, false
		}
		return d.hostPort(tok, host, port)
	}
	if i := strings.IndexByte(tok, '/'); i >= 0 {
		// A path, a CIDR, an image reference ("registry.example.eu:5000/team/app:1.0")
		// or host[:port]/path: the last only where the key names an address.
		if i == 0 || tok[0] == '.' || tok[0] == '~' || key.class() != keyHost {
			return Endpoint{}, false
		}
		return d.token(tok[:i], prose, valueKey{inherit: keyHost})
	}
	if indexAnyByte(tok, "\\*") >= 0 {
		return Endpoint{}, false // a Windows path, a wildcard or a glob
	}
	if strings.IndexByte(tok, ':') >= 0 {
		host, port, ok := splitHostPort(tok)
		if !ok {
			return Endpoint{}, false
		}
		if port == "" { // several colons: an IPv6 address or nothing
			if a, err := netip.ParseAddr(host); err == nil {
				return addrToken(tok, a, 0)
			}
			return Endpoint{}, false
		}
		return d.hostPort(tok, host, port)
	}
	if isDigit(tok[0]) && mayBeIP(tok) {
		if a, err := netip.ParseAddr(tok); err == nil {
			return addrToken(tok, a, 0)
		}
	}
	if strings.IndexByte(tok, '.') < 0 {
		// A single word: a service name at most.
		if !prose && isDNS1123Label(tok) {
			return d.externalName(tok, 0)
		}
		return Endpoint{}, false
	}
	name, ok := bareHostName(tok, key)
	if !ok {
		return Endpoint{}, false
	}
	return d.hostToken(tok, name, 0)
}

// hostPortEntry judges "host[:port]" found inside a larger form.
func (d *discoverer) hostPortEntry(raw, hostport string, key valueKey) {
	host, port, ok := splitHostPort(hostport)
	if !ok {
		return
	}
	if ep, ok := d.hostPort(raw, host, port); ok {
		d.add(ep, key)
	}
}

// hostPort judges a host (name or IP literal) and an optional port written apart.
func (d *discoverer) hostPort(raw, host, port string) (Endpoint, bool) {
	p := 0
	if port != "" {
		var ok bool
		if p, ok = parsePort(port); !ok {
			return Endpoint{}, false
		}
	}
	return d.hostToken(raw, host, p)
}

// mayBeIP reports whether s can be an IP address literal: an IPv6 address
// (it has a colon) or digits and dots with at least one dot. It spares
// netip.ParseAddr, whose errors allocate, the many values that are plain
// numbers ("5000") or names that start with a digit ("1password.com").
func mayBeIP(s string) bool {
	if strings.IndexByte(s, ':') >= 0 {
		return true
	}
	dot := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			dot = true
		case !isDigit(c):
			return false
		}
	}
	return dot
}

// hostToken judges a host (a name or an IP literal) found in a value.
func (d *discoverer) hostToken(raw, host string, port int) (Endpoint, bool) {
	if host == "" {
		return Endpoint{}, false // ":8080": a listen address
	}
	if mayBeIP(host) {
		if a, err := netip.ParseAddr(host); err == nil {
			return addrToken(raw, a, port)
		}
	}
	name, ok := normalizeHostName(host)
	if !ok {
		return Endpoint{}, false
	}
	if ep, ok := d.externalName(name, port); ok {
		return ep, true
	}
	if !d.isEgressName(name) {
		return Endpoint{}, false
	}
	return Endpoint{Raw: raw, Host: name, Port: port}, true
}

// isEgressName reports whether a lower-case host name leads out of the
// cluster: a public top-level domain, not reserved, not cluster-internal, not
// a Service of a namespace known to exist, not a host the cluster serves.
func (d *discoverer) isEgressName(name string) bool {
	if isClusterInternalName(name) || isReservedName(name) || !isPublicTLD(name[strings.LastIndexByte(name, '.')+1:]) {
		// A name under no public top-level domain ("kafka-0.kafka",
		// "otel.observability") resolves through the cluster's search domains.
		return false
	}
	if d.isServiceInNamespace(name) {
		return false
	}
	return d.ctx.Cluster == nil || !d.ctx.Cluster.ServesHost(name)
}

func addrToken(raw string, a netip.Addr, port int) (Endpoint, bool) {
	a = a.Unmap()
	if a.Zone() != "" || !isPublicAddr(a) {
		return Endpoint{}, false
	}
	return Endpoint{Raw: raw, Addr: a, Port: port}, true
}

// serviceName returns the Service and namespace host names, when host is a
// way to name a Service from the pod: "svc", "svc.ns", "svc.ns.svc" or
// "svc.ns.svc.cluster.local".
func (d *discoverer) serviceName(host string) (svc, ns string, ok bool) {
	h := host
	if strings.HasSuffix(h, ".svc.cluster.local") {
		h = h[:len(h)-len(".svc.cluster.local")]
	} else if strings.HasSuffix(h, ".svc") {
		h = h[:len(h)-len(".svc")]
	}
	switch strings.Count(h, ".") {
	case 0:
		// "svc" alone names a Service in the pod's namespace; "svc.svc" nothing.
		if h == host && h != "" && d.ctx.Namespace != "" {
			return h, d.ctx.Namespace, true
		}
		return "", "", false
	case 1:
		svc, ns, _ = strings.Cut(h, ".")
		return svc, ns, true
	default:
		return "", "", false
	}
}

// externalName resolves a name of an ExternalName Service to its externalName,
// unless that is itself cluster-internal.
func (d *discoverer) externalName(host string, port int) (Endpoint, bool) {
	if len(d.ctx.ExternalNames) == 0 {
		return Endpoint{}, false
	}
	svc, ns, ok := d.serviceName(host)
	if !ok {
		return Endpoint{}, false
	}
	// The "name.namespace" key is built on the stack: a map lookup by
	// string(bytes) does not allocate, and most names are not Services.
	var kb [128]byte
	key := append(append(append(kb[:0], svc...), '.'), ns...)
	target, ok := d.ctx.ExternalNames[string(key)]
	if !ok {
		return Endpoint{}, false
	}
	target = strings.TrimSpace(target)
	ep := Endpoint{Raw: target, Port: port}
	if a, err := netip.ParseAddr(target); err == nil {
		a = a.Unmap()
		if a.Zone() != "" || !isPublicAddr(a) {
			return Endpoint{}, false
		}
		ep.Addr = a
	} else {
		name, ok := normalizeHostName(target)
		if !ok || isClusterInternalName(name) || isReservedName(name) || !isPublicTLD(name[strings.LastIndexByte(name, '.')+1:]) {
			return Endpoint{}, false
		}
		ep.Host = name
	}
	if ns == d.ctx.Namespace {
		ep.Source = `service "` + svc + `" (ExternalName)`
	} else {
		ep.Source = `service "` + ns + "/" + svc + `" (ExternalName)`
	}
	return ep, true
}

// isServiceInNamespace reports whether a name is a Service ("svc.ns") or a
// StatefulSet pod of a headless Service ("kafka-0.kafka.ns") in a namespace
// known to exist (the pod's own, "default", one with an ExternalName Service,
// or one ClusterFacts knows) rather than a host under a top-level domain: the
// cluster's search domains resolve it first.
func (d *discoverer) isServiceInNamespace(host string) bool {
	first, rest, ok := strings.Cut(host, ".")
	if !ok || first == "" {
		return false
	}
	ns := rest
	if i := strings.IndexByte(rest, '.'); i >= 0 {
		if !isPodOrdinal(first) || strings.IndexByte(rest[i+1:], '.') >= 0 {
			return false
		}
		ns = rest[i+1:]
	}
	if ns == d.ctx.Namespace || ns == "default" {
		return true
	}
	for key := range d.ctx.ExternalNames {
		if strings.HasSuffix(key, "."+ns) {
			return true
		}
	}
	return d.ctx.Cluster != nil && d.ctx.Cluster.NamespaceExists(ns)
}

// isPodOrdinal reports whether a label names a StatefulSet pod: name-<ordinal>.
func isPodOrdinal(label string) bool {
	i := strings.LastIndexByte(label, '-')
	if i <= 0 || i == len(label)-1 {
		return false
	}
	for j := i + 1; j < len(label); j++ {
		if !isDigit(label[j]) {
			return false
		}
	}
	return true
}

// clusterSuffixes are the name suffixes that never leave the cluster or the node.
var clusterSuffixes = []string{".svc", ".cluster.local", ".local", ".internal", ".localhost", ".localdomain"}

// IsClusterInternal reports whether a host name is cluster-internal, so not
// egress: a single-label name ("localhost", a Service in the same namespace),
// or a name ending in .svc, .svc.cluster.local, .cluster.local, .local,
// .internal or .localhost. An IP literal is internal when it is not public
// (loopback, link-local, unspecified, private, CGNAT, multicast).
func IsClusterInternal(host string) bool {
	h := strings.TrimSuffix(strings.TrimSpace(host), ".")
	if h == "" {
		return true
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return !isPublicAddr(a)
	}
	return isClusterInternalName(strings.ToLower(h))
}

// isClusterInternalName is IsClusterInternal for a lower-case name without trailing dot.
func isClusterInternalName(h string) bool {
	if strings.IndexByte(h, '.') < 0 {
		return true
	}
	for _, s := range clusterSuffixes {
		if len(h) > len(s) && strings.HasSuffix(h, s) {
			return true
		}
	}
	return false
}

// isReservedName reports whether a lower-case name is reserved for
// documentation or special use, so never egress: example.com, example.net,
// example.org and their subdomains (RFC 2606), names under .example, .test,
// .invalid and .localhost (RFC 2606, RFC 6761), and under .arpa, the DNS's
// infrastructure domain (RFC 3172: reverse zones such as in-addr.arpa).
func isReservedName(h string) bool {
	dot := strings.LastIndexByte(h, '.')
	switch h[dot+1:] {
	case "example", "test", "invalid", "localhost", "arpa":
		return true
	case "com", "net", "org":
		return dot > 0 && (h[:dot] == "example" || strings.HasSuffix(h[:dot], ".example"))
	}
	return false
}

var (
	cgnat       = netip.MustParsePrefix("100.64.0.0/10")
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
)

// isPublicAddr reports whether traffic to a is egress: not loopback,
// link-local, unspecified, private (RFC 1918, ULA fc00::/7), CGNAT
// (100.64.0.0/10), "this network" (0.0.0.0/8), multicast or broadcast.
func isPublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	switch {
	case !a.IsValid(), a.IsLoopback(), a.IsLinkLocalUnicast(), a.IsMulticast(),
		a.IsUnspecified(), a.IsPrivate():
		return false
	case a.Is4() && (cgnat.Contains(a) || thisNetwork.Contains(a) || a == netip.AddrFrom4([4]byte{255, 255, 255, 255})):
		return false
	}
	return true
}

// bareHostName is the bar a name written without scheme or port must clear
// to be taken for a host name, returned lower-cased: two or more labels, a
// top-level label of 2-63 letters (or an xn-- IDN), and none of these, which
// are identifiers or file names more often than hosts:
//   - a name under a key that names a file, class or module (keyIdentifier);
//   - a top-level label in mixed case ("System.Net", "Foo.Hosting": .NET
//     namespaces), while "SMTP.Gmail.com" and "LOGS.EXAMPLE.EU" are hosts;
//   - a Java-style reverse-DNS identifier ("com.example.app");
//   - a two-label name whose top-level label is a file extension ("main.cc",
//     "logo.ai", "app.py", "README.md"), unless the key names an address
//     (SMTP_HOST=mail.acme.ai). Such hosts are still found in URLs, host:port
//     and names of three or more labels ("api.vendor.ai").
//
// Like every name found, it must also end in a public top-level domain.
func bareHostName(s string, key valueKey) (string, bool) {
	name, ok := normalizeHostName(s)
	if !ok {
		return "", false
	}
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return "", false
	}
	tld := name[dot+1:]
	if len(tld) < 2 || len(tld) > 63 {
		return "", false
	}
	if !strings.HasPrefix(tld, "xn--") {
		for i := 0; i < len(tld); i++ {
			if tld[i] < 'a' || tld[i] > 'z' {
				return "", false
			}
		}
	}
	written := strings.TrimSuffix(s, ".")[dot+1:] // ToLower kept the length: ASCII
	upper, lower := false, false
	for i := 0; i < len(written); i++ {
		upper = upper || (written[i] >= 'A' && written[i] <= 'Z')
		lower = lower || (written[i] >= 'a' && written[i] <= 'z')
	}
	if upper && lower {
		return "", false
	}
	first := name[:strings.IndexByte(name, '.')]
	if _, reverse := reverseDNSRoots[first]; reverse {
		return "", false
	}
	switch c := key.class(); {
	case c == keyIdentifier:
		return "", false
	case c != keyHost && dot == strings.IndexByte(name, '.'):
		if _, ext := fileExtensions[tld]; ext {
			return "", false
		}
	}
	return name, true
}

// isDNS1123Label is a Service name: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 bytes.
func isDNS1123Label(s string) bool {
	return len(s) <= 63 && strings.IndexByte(s, '.') < 0 && isDNS1123Subdomain(s)
}

// fileExtensions are top-level labels that, in a bare two-label value, mean a
// file name. Many are real top-level domains (.sh, .md, .so, .zip, .py, .ai,
// .cc, .ps, .pl, .rs, .ml, .tf, .mov): see bareHostName for when such a name
// is still a host.
var fileExtensions = setOf(
	"json", "yaml", "yml", "txt", "conf", "cfg", "ini", "xml", "py", "js", "mjs", "cjs", "ts",
	"tsx", "jsx", "sh", "bash", "zsh", "log", "pem", "crt", "cer", "der", "key", "csr", "p12",
	"pfx", "jks", "keystore", "truststore", "pub", "asc", "gpg", "sig", "html", "htm", "css",
	"scss", "csv", "tsv", "properties", "props", "toml", "sql", "jar", "war", "ear", "class",
	"go", "rb", "java", "kt", "kts", "scala", "groovy", "gradle", "swift", "cpp", "hpp", "md",
	"rst", "lock", "pid", "sock", "tmp", "temp", "env", "so", "dll", "dylib", "exe", "bin",
	"gz", "tgz", "bz2", "xz", "zst", "zip", "tar", "rar", "bak", "old", "orig", "swp", "png",
	"jpg", "jpeg", "gif", "svg", "ico", "webp", "bmp", "tif", "tiff", "pdf", "doc", "docx",
	"xls", "xlsx", "ppt", "pptx", "odt", "ods", "db", "sqlite", "dat", "tpl", "tmpl", "jinja",
	"tfvars", "hcl", "proto", "avro", "parquet", "wasm", "map", "php", "pyc", "ipynb",
	"bat", "cmd", "ps1", "out", "err", "pot", "po", "cache", "rdb", "aof", "wal", "patch",
	"diff", "sum", "mod", "dockerfile", "service", "socket", "timer", "crl", "jwk", "jwks",
	"cc", "ps", "ai", "pl", "pm", "rs", "cs", "ml", "tf", "mk", "mov", "mp3", "mp4", "eps",
	"lua", "ex", "exs", "erl", "hs", "vue", "dart", "nix", "ninja", "gd",
)

// reverseDNSRoots start Java, Kotlin and Android identifiers.
var reverseDNSRoots = setOf("com", "org", "net", "io", "java", "javax", "jakarta", "kotlin",
	"kotlinx", "scala", "android", "androidx", "sun", "jdk")

func setOf(s ...string) map[string]struct{} {
	m := make(map[string]struct{}, len(s))
	for _, v := range s {
		m[v] = struct{}{}
	}
	return m
}

// hasPrefixFold is strings.HasPrefix, ASCII case-insensitively.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
