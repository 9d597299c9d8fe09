package residency

import "strings"

// The address forms of database, broker and RPC clients, as their drivers
// document them: URLs with several hosts (MongoDB, PostgreSQL, JDBC), JDBC's
// sub-protocols (SQL Server's ";property=value", Oracle's thin "@" forms),
// Oracle Net descriptors, key=value connection strings (ADO.NET, ODBC,
// libpq), the Go MySQL driver's "user:pass@tcp(host:port)/db", gRPC targets
// ("dns:///host:443"), Kafka listeners ("SASL_SSL://host:9093") and scp-like
// Git remotes ("git@github.com:org/repo.git"). Each finds hosts and ports;
// what a host is worth is decided as for any other (hostToken).

// nonHostSchemes are URL schemes whose authority is no network host: local
// files and sockets, object-store buckets, image references, in-process
// resources and service-mesh names.
var nonHostSchemes = setOf("file", "unix", "unixgram", "unixpacket", "s3", "s3a", "s3n", "gs", "gcs",
	"jar", "classpath", "docker", "oci", "oci-archive", "docker-archive", "containers-storage",
	"xds", "k8s", "kubernetes", "data", "blob", "about", "chrome", "vault", "secret", "env")

// targetSchemes are gRPC name resolvers whose target is the path
// ("dns:///host:443", "dns://8.8.8.8/host:443"), not the authority.
var targetSchemes = setOf("dns", "passthrough")

// urlEntry judges scheme://authority[/path]: every host of the authority
// ("mongodb://a:27017,b:27017/db", "jdbc:sqlserver://h:1433;database=x",
// "jdbc:sqlserver://h\\instance:1433"). The scheme may hold colons (JDBC's
// "jdbc:postgresql") and underscores (Kafka's "SASL_SSL"); empty is a
// network-path reference ("//host/path").
func (d *discoverer) urlEntry(raw, scheme, rest string, key valueKey) {
	if scheme != "" && !validDiscoveryScheme(scheme) {
		return
	}
	last := strings.ToLower(scheme[strings.LastIndexByte(scheme, ':')+1:])
	if _, skip := nonHostSchemes[last]; skip {
		return
	}
	if _, target := targetSchemes[last]; target {
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return
		}
		target := rest[i+1:]
		if j := indexAnyByte(target, "/?#"); j >= 0 {
			target = target[:j]
		}
		d.hostPortEntry(raw, target, key)
		return
	}
	authority := rest
	for i := 0; i < len(authority); i++ {
		if c := authority[i]; c == '/' || c == '?' || c == '#' || c == ';' {
			authority = authority[:i]
			break
		}
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:]
	}
	for authority != "" && !d.stopped {
		h := authority
		if i := strings.IndexByte(authority, ','); i >= 0 {
			h, authority = authority[:i], authority[i+1:]
		} else {
			authority = ""
		}
		if i := strings.IndexByte(h, '\\'); i >= 0 { // SQL Server's host\instance[:port]
			inst := h[i+1:]
			h = h[:i]
			if j := strings.IndexByte(inst, ':'); j >= 0 {
				h += inst[j:]
			}
		}
		d.hostPortEntry(raw, h, key)
	}
}

// validDiscoveryScheme is validScheme that also takes Kafka's listener names
// ("SASL_SSL", "PLAINTEXT"), which have underscores.
func validDiscoveryScheme(s string) bool {
	return validScheme(strings.ReplaceAll(s, "_", "-"))
}

// oracleEntry judges the JDBC thin and OCI forms of Oracle: after "@",
// "//host:port/service", "host:port:SID", "host:port/service" or
// "tcps://host:port/service" (descriptors are read by readConnString).
func (d *discoverer) oracleEntry(e string, key valueKey) {
	at := strings.LastIndexByte(e, '@')
	if at < 0 {
		return
	}
	addr := strings.TrimPrefix(e[at+1:], "//")
	if i := strings.Index(addr, "://"); i >= 0 {
		d.urlEntry(e, addr[:i], addr[i+3:], key)
		return
	}
	end := strings.IndexAny(addr, ":/?")
	if end < 0 {
		d.hostPortEntry(e, addr, key)
		return
	}
	host, port := addr[:end], ""
	if addr[end] == ':' {
		port = addr[end+1:]
		if i := strings.IndexAny(port, ":/?"); i >= 0 {
			port = port[:i]
		}
	}
	if ep, ok := d.hostPort(e, host, port); ok {
		d.add(ep, key)
	}
}

// mysqlAddress returns the address of a Go MySQL driver DSN,
// "[user[:pass]@]tcp(host:port)/db", or "".
func mysqlAddress(e string) string {
	for _, proto := range [...]string{"tcp(", "tcp6("} {
		i := strings.Index(e, proto)
		if i < 0 || (i > 0 && e[i-1] != '@') {
			continue
		}
		addr := e[i+len(proto):]
		if j := strings.IndexByte(addr, ')'); j > 0 {
			return addr[:j]
		}
	}
	return ""
}

// scpEntry judges user@host:path, the scp-like form of Git and rsync
// remotes ("git@github.com:org/repo.git"); user@host:port too. An e-mail
// address (no colon after the host) or "mailto:" is no endpoint.
func (d *discoverer) scpEntry(e string, key valueKey) {
	at := strings.IndexByte(e, '@')
	user, rest := e[:at], e[at+1:]
	if user == "" || strings.ContainsAny(user, ":/") {
		return
	}
	colon := strings.IndexByte(rest, ':')
	if colon <= 0 || colon == len(rest)-1 {
		return
	}
	host, after := rest[:colon], rest[colon+1:]
	port := ""
	if _, ok := parsePort(after); ok {
		port = after
	}
	if ep, ok := d.hostPort(e, host, port); ok {
		d.add(ep, key)
	}
}

// readConnString reads a value that is one connection string as a whole: an
// Oracle Net descriptor ("(DESCRIPTION=(ADDRESS=(HOST=h)(PORT=1521)))", also
// MySQL's "address=(host=h)(port=3306)"), or key=value pairs separated by
// semicolons (ADO.NET, ODBC: "Server=tcp:h,1433;Database=x") or white space
// (libpq: "host=h port=5432 dbname=x") with a host key. It reports whether v
// was one.
func (d *discoverer) readConnString(v string, key valueKey, depth int) bool {
	if strings.IndexByte(v, '=') < 0 {
		return false
	}
	if strings.IndexByte(v, '(') >= 0 && containsFold(v, "host") {
		found := false
		tnsAddresses(v, func(host, port string) {
			found = true
			if ep, ok := d.hostPort(v, host, port); ok {
				d.add(ep, key)
			}
		})
		if found {
			return true
		}
	}
	return d.readKeyValues(v, key, depth)
}

// tnsAddresses calls fn for each HOST of an Oracle Net descriptor, with the
// PORT of the same address ("" if none).
func tnsAddresses(s string, fn func(host, port string)) {
	var host, port string
	flush := func() {
		if host != "" {
			fn(host, port)
		}
		host, port = "", ""
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '(' {
			continue
		}
		kv := s[i+1:]
		if end := strings.IndexAny(kv, "()"); end >= 0 {
			kv = kv[:end]
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch k, v = strings.TrimSpace(k), strings.TrimSpace(v); {
		case strings.EqualFold(k, "ADDRESS"), strings.EqualFold(k, "DESCRIPTION"):
			flush()
		case strings.EqualFold(k, "HOST"):
			if host != "" {
				flush()
			}
			host = v
		case strings.EqualFold(k, "PORT"):
			port = v
		}
	}
	flush()
}

// maxConnHosts bounds the hosts of one connection string.
const maxConnHosts = 16

// readKeyValues reads a key=value connection string: the hosts of its host
// keys, with the port of its port key (or SQL Server's "host,port"), and the
// other values as values named by their keys (ADO.NET's
// "AccountEndpoint=https://..."). An Azure Storage connection string names
// its blob endpoint by AccountName and EndpointSuffix. It reports false when
// v is not one: a part without "=", fewer than two parts, or no host key.
func (d *discoverer) readKeyValues(v string, key valueKey, depth int) bool {
	semi := strings.IndexByte(v, ';') >= 0
	sep := func(c byte) bool { return (semi && c == ';') || (!semi && isASCIISpace(c)) }
	parts, hasHost := 0, false
	var account, suffix string
	ok := eachPart(v, sep, func(k, val string) bool {
		if k == "" || strings.ContainsAny(k, "/:\"'") {
			return false
		}
		parts++
		hasHost = hasHost || isConnHostKey(k)
		switch {
		case strings.EqualFold(k, "AccountName"):
			account = val
		case strings.EqualFold(k, "EndpointSuffix"):
			suffix = val
		}
		return true
	})
	azure := account != "" && suffix != ""
	if !ok || parts < 2 || (!hasHost && !azure) {
		return false
	}
	if azure {
		if ep, ok := d.hostToken(v, account+".blob."+suffix, 0); ok {
			d.add(ep, key)
		}
	}
	var hosts, ports [maxConnHosts]string
	nh, np := 0, 0
	eachPart(v, sep, func(k, val string) bool {
		val = strings.Trim(val, `"'`)
		switch {
		case azure && strings.EqualFold(k, "EndpointSuffix"):
		case isConnHostKey(k):
			for _, h := range strings.Split(val, ",") {
				if h = strings.TrimSpace(h); h == "" {
					continue
				}
				if _, isPort := parsePort(h); isPort && nh > 0 && ports[nh-1] == "" {
					ports[nh-1] = h // SQL Server: "host,port"
					continue
				}
				if nh < maxConnHosts {
					hosts[nh] = h
					nh++
				}
			}
		case strings.EqualFold(k, "port"):
			for _, p := range strings.Split(val, ",") {
				if np < maxConnHosts {
					ports[np] = strings.TrimSpace(p)
					np++
				}
			}
		default:
			d.readValue(val, valueKey{name: k}, depth+1)
		}
		return true
	})
	for i := 0; i < nh; i++ {
		host, port := connHost(hosts[i])
		if port == "" {
			switch {
			case i < np:
				port = ports[i]
			case np == 1:
				port = ports[0] // one port for every host
			case np == 0 && ports[i] != "":
				port = ports[i]
			}
		}
		if host == "" {
			continue
		}
		if ep, ok := d.hostPort(v, host, port); ok {
			d.add(ep, key)
		}
	}
	return true
}

// eachPart calls fn with the trimmed key and value of each non-empty part of
// s (split where sep says), stopping when fn returns false or a part has no
// "=". It reports whether every part was key=value and fn accepted it.
func eachPart(s string, sep func(byte) bool, fn func(k, v string) bool) bool {
	for s != "" {
		i := 0
		for i < len(s) && !sep(s[i]) {
			i++
		}
		part := strings.TrimSpace(s[:i])
		if i < len(s) {
			s = s[i+1:]
		} else {
			s = ""
		}
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || !fn(strings.TrimSpace(k), strings.TrimSpace(v)) {
			return false
		}
	}
	return true
}

// connHost reads one host of a connection string: SQL Server's
// "tcp:host,port" and "host\instance", "host:port", "host/service" (Oracle
// EZConnect). Named pipes and shared memory ("np:", "lpc:", "(local)", ".")
// are local.
func connHost(h string) (host, port string) {
	switch {
	case hasPrefixFold(h, "tcp:"):
		h = h[4:]
	case hasPrefixFold(h, "np:"), hasPrefixFold(h, "lpc:"), h == ".", strings.HasPrefix(h, "("):
		return "", ""
	}
	if i := strings.IndexByte(h, '/'); i >= 0 {
		h = h[:i]
	}
	if i := strings.IndexByte(h, '\\'); i >= 0 {
		h = h[:i]
	}
	host, port, ok := splitHostPort(h)
	if !ok {
		return "", ""
	}
	return host, port
}

// isConnHostKey reports whether a connection-string key names the server.
func isConnHostKey(k string) bool {
	for _, h := range connHostKeys {
		if strings.EqualFold(k, h) {
			return true
		}
	}
	return false
}

// connHostKeys are the keys that name the server in ADO.NET, ODBC and libpq
// connection strings.
var connHostKeys = [...]string{"server", "data source", "datasource", "host", "hostname", "hostaddr",
	"address", "addr", "network address", "networkaddress", "server name", "servername"}

// containsFold reports whether s contains substr (ASCII lower case), case-insensitively.
func containsFold(s, substr string) bool {
	for i := 0; i+len(substr) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(substr)], substr) {
			return true
		}
	}
	return false
}
