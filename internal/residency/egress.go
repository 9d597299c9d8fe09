package residency

import (
	"net/netip"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// PodContext is what discovery may look at beyond the pod spec. Secrets are
// never read: a value in a Secret is not discovered.
type PodContext struct {
	// Namespace is the pod's namespace; single-label service names resolve in it.
	Namespace string
	// ConfigMaps maps a ConfigMap name to its data, in the pod's namespace.
	// Absent means unknown or missing: nothing is discovered from it.
	ConfigMaps map[string]map[string]string
	// ExternalNames maps "name.namespace" of an ExternalName Service to its spec.externalName.
	ExternalNames map[string]string
}

// Bounds on discovery: a pod spec (and the ConfigMaps it names) comes from
// users and is read on the admission path.
const (
	// maxDiscoveredEndpoints bounds the endpoints discovered for one pod.
	maxDiscoveredEndpoints = 512
	// maxScannedValueBytes: longer values are configuration files, not endpoints.
	maxScannedValueBytes = 16 << 10
	// maxValueTokens: a value that splits into more tokens is not an endpoint list.
	maxValueTokens = 128
)

// eachContainer calls fn for init containers, containers and ephemeral
// containers, in that order, until fn returns false.
func eachContainer(spec *PodSpec, fn func(*Container) bool) {
	for _, cs := range [...][]Container{spec.InitContainers, spec.Containers, spec.EphemeralContainers} {
		for i := range cs {
			if !fn(&cs[i]) {
				return
			}
		}
	}
}

// ReferencedConfigMaps returns, sorted and deduplicated, the names of the
// ConfigMaps the pod spec references through env valueFrom.configMapKeyRef and
// envFrom.configMapRef, in all containers, init containers and ephemeral
// containers (volumes are not read): the ConfigMaps a caller should put in
// PodContext.ConfigMaps.
func ReferencedConfigMaps(spec *PodSpec) []string {
	if spec == nil {
		return nil
	}
	var names []string
	eachContainer(spec, func(c *Container) bool {
		for i := range c.Env {
			if vf := c.Env[i].ValueFrom; vf != nil && vf.ConfigMapKeyRef != nil && vf.ConfigMapKeyRef.Name != "" {
				names = append(names, vf.ConfigMapKeyRef.Name)
			}
		}
		for i := range c.EnvFrom {
			if ref := c.EnvFrom[i].ConfigMapRef; ref != nil && ref.Name != "" {
				names = append(names, ref.Name)
			}
		}
		return true
	})
	return sortedUnique(names)
}

// DiscoverEgress finds the external endpoints a pod talks to, deduplicated by
// String(), in a deterministic order: containers as listed (init, regular,
// ephemeral), and in each the envFrom ConfigMaps (keys sorted) before env.
//
// Only what the container really sees is read: an envFrom key overridden by a
// later envFrom source or by env, or an env entry overridden by a later one of
// the same name, is skipped. A value is an endpoint, or a comma, semicolon or
// space separated list of them, when it is a URL, host:port, a fully qualified
// host name or an IP address; cluster-internal names and non-public addresses
// are not egress, except that a name of an ExternalName Service yields the
// service's externalName. A name is only egress under a public top-level
// domain: "kafka-0.kafka:9092" or "http://otel.observability:4317" reach a
// Service through the cluster's search domains.
func DiscoverEgress(spec *PodSpec, ctx PodContext) []Endpoint {
	out := discoverEgressInto(nil, spec, ctx)
	if len(out) == 0 {
		return nil
	}
	return out
}

// discoverEgressInto is DiscoverEgress appending to dst.
func discoverEgressInto(dst []Endpoint, spec *PodSpec, ctx PodContext) []Endpoint {
	if spec == nil {
		return dst
	}
	d := discoverer{ctx: ctx, out: dst, base: len(dst)}
	eachContainer(spec, func(c *Container) bool {
		if d.full() {
			return false
		}
		d.container(c)
		return true
	})
	return d.out
}

type discoverer struct {
	ctx PodContext
	out []Endpoint
	// base is where this pod's endpoints start in out.
	base int
}

// envIndexes are the maps from env name to its last index that containers
// with many variables use, reused across evaluations (bench/notes.md, round 2).
var envIndexes = sync.Pool{New: func() any { return make(map[string]int, 64) }}

// sameEndpoint reports whether two endpoints are the same place (what
// String() prints), without building the strings.
func sameEndpoint(a, b *Endpoint) bool {
	return a.Host == b.Host && a.Addr == b.Addr && a.Prefix == b.Prefix && a.Port == b.Port
}

// seen reports whether an endpoint was already discovered. The list is
// bounded (maxDiscoveredEndpoints), so a scan beats a map here.
func (d *discoverer) seen(ep *Endpoint) bool {
	for i := d.base; i < len(d.out); i++ {
		if sameEndpoint(&d.out[i], ep) {
			return true
		}
	}
	return false
}

func (d *discoverer) full() bool { return len(d.out)-d.base >= maxDiscoveredEndpoints }

func (d *discoverer) container(c *Container) {
	// Names set by env: they override every envFrom source; and the last
	// entry of a name wins over earlier ones. Containers have few variables:
	// scan them rather than build a map, unless there are many.
	var lastEnv map[string]int
	if len(c.Env) > 32 {
		lastEnv = envIndexes.Get().(map[string]int)
		defer func() {
			clear(lastEnv)
			envIndexes.Put(lastEnv)
		}()
		for i := range c.Env {
			lastEnv[c.Env[i].Name] = i
		}
	}
	isLast := func(i int) bool {
		if lastEnv != nil {
			return lastEnv[c.Env[i].Name] == i
		}
		for j := i + 1; j < len(c.Env); j++ {
			if c.Env[j].Name == c.Env[i].Name {
				return false
			}
		}
		return true
	}
	setByEnv := func(name string) bool {
		if lastEnv != nil {
			_, ok := lastEnv[name]
			return ok
		}
		for j := range c.Env {
			if c.Env[j].Name == name {
				return true
			}
		}
		return false
	}
	// envFrom: the last source that defines a name wins. Walk backwards to know
	// what later sources define, then emit forwards.
	type kv struct{ cm, key, value string }
	var perSource [][]kv
	var definedLater map[string]struct{}
	if len(c.EnvFrom) > 0 {
		perSource = make([][]kv, len(c.EnvFrom))
		definedLater = map[string]struct{}{}
	}
	for i := len(c.EnvFrom) - 1; i >= 0; i-- {
		ef := c.EnvFrom[i]
		if ef.ConfigMapRef == nil {
			continue // Secrets are never read; what they override stays unknown
		}
		data, ok := d.ctx.ConfigMaps[ef.ConfigMapRef.Name]
		if !ok {
			continue // missing (optional or not) or unknown: nothing to read
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := ef.Prefix + k
			if setByEnv(name) {
				continue
			}
			if _, ok := definedLater[name]; ok {
				continue
			}
			perSource[i] = append(perSource[i], kv{ef.ConfigMapRef.Name, k, data[k]})
		}
		for _, k := range keys {
			definedLater[ef.Prefix+k] = struct{}{}
		}
	}
	for _, src := range perSource {
		for _, e := range src {
			if d.full() {
				return
			}
			d.value(e.value, valueSource{configMap: e.cm, key: e.key, container: c.Name})
		}
	}
	for i := range c.Env {
		if d.full() {
			return
		}
		ev := &c.Env[i]
		if !isLast(i) {
			continue
		}
		switch {
		case ev.ValueFrom == nil:
			d.value(ev.Value, valueSource{key: ev.Name, container: c.Name})
		case ev.ValueFrom.ConfigMapKeyRef != nil:
			ref := ev.ValueFrom.ConfigMapKeyRef
			if v, ok := d.ctx.ConfigMaps[ref.Name][ref.Key]; ok {
				d.value(v, valueSource{configMap: ref.Name, key: ref.Key, container: c.Name})
			}
		}
	}
}

// tokenKind is what one token of a value turned out to be.
type tokenKind int

const (
	// tokenOther: not endpoint-shaped (a word, a path, an e-mail address, JSON):
	// a value with such a token is not an endpoint list at all.
	tokenOther tokenKind = iota
	// tokenQuiet: endpoint-shaped but not egress (cluster-internal, private, $(VAR)).
	tokenQuiet
	// tokenEndpoint: an external endpoint.
	tokenEndpoint
)

// valueSource says where a value was read; it becomes Endpoint.Source only
// when the value holds an endpoint.
type valueSource struct {
	configMap string // empty for a literal env value
	key       string // the env var name, or the ConfigMap key
	container string
}

func (s valueSource) String() string {
	if s.configMap == "" {
		return "env " + s.key + ` of container "` + s.container + `"`
	}
	return `configmap "` + s.configMap + `" key ` + s.key + ` (container "` + s.container + `")`
}

// value discovers the endpoints in one environment value. Host names are
// ASCII (IDNs are written in their xn-- form), so a value with other bytes is
// text, not an endpoint list.
func (d *discoverer) value(v string, src valueSource) {
	if len(v) > maxScannedValueBytes {
		return
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return
	}
	prose, shaped := false, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= utf8.RuneSelf:
			return
		case isASCIISpace(c):
			prose = true
		case c == '.' || c == ':':
			shaped = true
		}
	}
	// Every endpoint has a dot (a name under a TLD, an IPv4 address) or a
	// colon (a port, an IPv6 address); only a Service name can lack both, and
	// only ExternalName Services lead out of the cluster.
	if !shaped && len(d.ctx.ExternalNames) == 0 {
		return
	}
	var buf [4]Endpoint
	eps := buf[:0]
	n := 0
	for rest := v; rest != ""; {
		i := 0
		for i < len(rest) && !isValueSeparator(rest[i]) {
			i++
		}
		tok := rest[:i]
		if i < len(rest) {
			rest = rest[i+1:]
		} else {
			rest = ""
		}
		if tok == "" {
			continue
		}
		if n == maxValueTokens {
			return
		}
		n++
		ep, kind := d.token(tok, prose)
		switch kind {
		case tokenOther:
			return
		case tokenEndpoint:
			eps = append(eps, ep)
		}
	}
	var source string
	for i := range eps {
		if d.full() {
			return
		}
		if d.seen(&eps[i]) {
			continue
		}
		if eps[i].Source == "" {
			if source == "" {
				source = src.String()
			}
			eps[i].Source = source
		}
		d.out = append(d.out, eps[i])
	}
}

func isASCIISpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isValueSeparator(c byte) bool { return c == ',' || c == ';' || isASCIISpace(c) }

// token classifies one token of a value. In prose (a value with spaces) a bare
// single word is a word, not a service name.
func (d *discoverer) token(tok string, prose bool) (Endpoint, tokenKind) {
	if strings.Contains(tok, "$(") || strings.Contains(tok, "${") {
		return Endpoint{}, tokenQuiet // a reference to another variable, resolved elsewhere
	}
	if strings.Contains(tok, "://") {
		host, port, ok := splitURL(tok)
		if !ok {
			return Endpoint{}, tokenOther
		}
		if host == "" {
			return Endpoint{}, tokenQuiet // file:///path and the like
		}
		p := 0
		if port != "" {
			if p, ok = parsePort(port); !ok {
				return Endpoint{}, tokenOther
			}
		}
		return d.hostToken(tok, host, p)
	}
	if tok[0] == '[' {
		host, port, ok := splitHostPort(tok)
		if !ok {
			return Endpoint{}, tokenOther
		}
		p := 0
		if port != "" {
			if p, ok = parsePort(port); !ok {
				return Endpoint{}, tokenOther
			}
		}
		return d.hostToken(tok, host, p)
	}
	if strings.ContainsAny(tok, "@/") {
		return Endpoint{}, tokenOther // an e-mail address, a path, a CIDR, host:port/path
	}
	if strings.IndexByte(tok, ':') >= 0 {
		host, port, ok := splitHostPort(tok)
		if !ok {
			return Endpoint{}, tokenOther
		}
		if port == "" { // several colons: an IPv6 address or nothing
			a, err := netip.ParseAddr(host)
			if err != nil {
				return Endpoint{}, tokenOther
			}
			return addrToken(tok, a, 0)
		}
		p, ok := parsePort(port)
		if !ok {
			return Endpoint{}, tokenOther
		}
		return d.hostToken(tok, host, p)
	}
	if isDigit(tok[0]) && mayBeIP(tok) {
		if a, err := netip.ParseAddr(tok); err == nil {
			return addrToken(tok, a, 0)
		}
	}
	if strings.IndexByte(tok, '.') < 0 {
		// A single word: a service name at most.
		if !prose && isDNS1123Label(tok) {
			if ep, ok := d.externalName(tok, 0); ok {
				return ep, tokenEndpoint
			}
			return Endpoint{}, tokenQuiet
		}
		return Endpoint{}, tokenOther
	}
	if !looksLikeBareHostName(tok) {
		return Endpoint{}, tokenOther
	}
	return d.hostToken(tok, tok, 0)
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

// hostToken classifies a host (a name or an IP literal) found in a token.
func (d *discoverer) hostToken(raw, host string, port int) (Endpoint, tokenKind) {
	if host == "" {
		return Endpoint{}, tokenOther // ":8080": a listen address
	}
	if mayBeIP(host) {
		if a, err := netip.ParseAddr(host); err == nil {
			return addrToken(raw, a, port)
		}
	}
	name, ok := normalizeHostName(host)
	if !ok {
		return Endpoint{}, tokenOther
	}
	if ep, ok := d.externalName(name, port); ok {
		return ep, tokenEndpoint
	}
	if isClusterInternalName(name) || d.isServiceInNamespace(name) || !isPublicTLD(name[strings.LastIndexByte(name, '.')+1:]) {
		// A name under no public top-level domain ("kafka-0.kafka",
		// "otel.observability") resolves through the cluster's search domains.
		return Endpoint{}, tokenQuiet
	}
	return Endpoint{Raw: raw, Host: name, Port: port}, tokenEndpoint
}

func addrToken(raw string, a netip.Addr, port int) (Endpoint, tokenKind) {
	a = a.Unmap()
	if a.Zone() != "" || !isPublicAddr(a) {
		return Endpoint{}, tokenQuiet
	}
	return Endpoint{Raw: raw, Addr: a, Port: port}, tokenEndpoint
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
		if !ok || isClusterInternalName(name) || !isPublicTLD(name[strings.LastIndexByte(name, '.')+1:]) {
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

// isServiceInNamespace reports whether a two-label name "svc.ns" names a
// Service in a namespace known to exist (the pod's own, "default", or one
// with an ExternalName Service) rather than a host under a top-level domain.
func (d *discoverer) isServiceInNamespace(host string) bool {
	svc, ns, ok := strings.Cut(host, ".")
	if !ok || svc == "" || strings.IndexByte(ns, '.') >= 0 {
		return false
	}
	if ns == d.ctx.Namespace || ns == "default" {
		return true
	}
	for key := range d.ctx.ExternalNames {
		if strings.HasSuffix(key, "."+ns) {
			return true
		}
	}
	return false
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

// looksLikeBareHostName is the bar a value without scheme or port must clear to
// be taken for a host name: lower case, two or more labels, a top-level label
// of 2-63 letters (or an xn-- IDN) that is not a common file extension, and not
// a Java-style reverse-DNS identifier ("com.example.app"). Like every name
// found, it must also end in a public top-level domain.
func looksLikeBareHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if _, ok := normalizeHostName(s); !ok {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return false
		}
	}
	dot := strings.LastIndexByte(s, '.')
	if dot < 0 {
		return false
	}
	tld := s[dot+1:]
	if len(tld) < 2 || len(tld) > 63 {
		return false
	}
	for i := 0; i < len(tld) && !strings.HasPrefix(tld, "xn--"); i++ {
		if tld[i] < 'a' || tld[i] > 'z' {
			return false
		}
	}
	if _, ext := fileExtensions[tld]; ext {
		return false
	}
	first, _, _ := strings.Cut(s, ".")
	_, reverse := reverseDNSRoots[first]
	return !reverse
}

// isDNS1123Label is a Service name: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 bytes.
func isDNS1123Label(s string) bool {
	return len(s) <= 63 && strings.IndexByte(s, '.') < 0 && isDNS1123Subdomain(s)
}

// fileExtensions are top-level labels that, in a bare value, mean a file name.
// Some are real top-level domains (.sh, .md, .so, .zip): such hosts are still
// found in URLs and host:port values.
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
