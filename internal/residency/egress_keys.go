package residency

// keyClass is what the name a value is given under (an env var, a config
// key, a command-line flag) says about the value.
type keyClass uint8

const (
	keyUnknown keyClass = iota
	// keyHost: the key names an address (SMTP_HOST, DATABASE_URL,
	// bootstrap.servers, --endpoint): a bare name under a top-level domain
	// that is also a file extension is still a host, host[:port]/path too.
	keyHost
	// keyIdentifier: the key names a file, class, module, secret or text
	// (CONFIG_FILE, DJANGO_SETTINGS_MODULE, value.serializer, DESCRIPTION):
	// a bare dotted name is no host (a URL still is).
	keyIdentifier
	// keyInbound: the key lists who may call in or what bypasses a proxy, or
	// the workload's own listen address or name (CORS_ORIGINS, ALLOWED_HOSTS,
	// NO_PROXY, KAFKA_ADVERTISED_LISTENERS, nginx's server_name): never egress.
	keyInbound
)

// valueKey is the name a value is given under, classified only when a
// decision needs it (most values need none); inherit is the class when the
// name says nothing (a JSON key inside a value named by an env var).
type valueKey struct {
	name    string
	inherit keyClass
}

func (k valueKey) class() keyClass {
	if c := classifyKey(k.name); c != keyUnknown {
		return c
	}
	return k.inherit
}

// Word classes of key words (bits).
const (
	wordHost = 1 << iota
	wordIdent
	wordInbound   // alone makes a key inbound
	wordAllowed   // with wordOrigin: inbound
	wordOrigin    // with wordAllowed: inbound
	wordNo        // with wordProxy: inbound
	wordProxy     // also a host word
	wordServer    // "server name", "server alias": inbound
	wordNameAlias // see wordServer
)

// keyWords classify the words of keys, lower case.
var keyWords = func() map[string]uint16 {
	m := map[string]uint16{}
	for _, w := range []string{"host", "hosts", "hostname", "hostnames", "url", "urls", "uri", "uris",
		"endpoint", "endpoints", "servers", "addr", "addrs", "address", "addresses",
		"broker", "brokers", "bootstrap", "dsn", "upstream", "upstreams", "remote", "relay",
		"webhook", "hook", "gateway", "smtp", "smarthost", "target", "targets", "connection",
		"destination", "collector", "sentinel", "sentinels", "seeds"} {
		m[w] |= wordHost
	}
	for _, w := range []string{"module", "modules", "class", "classes", "classname", "package", "packages",
		"logger", "loggers", "file", "files", "filename", "path", "paths", "dir", "directory", "script",
		"template", "serializer", "deserializer", "driver", "dialect", "factory", "plugin", "plugins",
		"profile", "profiles", "locale", "format", "image", "extension", "extensions", "key", "cert",
		"certificate", "password", "pwd", "secret", "token", "settings", "handler", "strategy",
		"description", "text", "message", "title", "banner", "footer", "greeting", "help", "comment"} {
		m[w] |= wordIdent
	}
	for _, w := range []string{"cors", "listen", "listener", "listeners", "bind", "advertised", "cookie"} {
		m[w] |= wordInbound
	}
	for _, w := range []string{"allowed", "trusted"} {
		m[w] |= wordAllowed
	}
	for _, w := range []string{"origin", "origins", "host", "hosts"} {
		m[w] |= wordOrigin
	}
	for _, w := range []string{"no", "non"} {
		m[w] |= wordNo
	}
	for _, w := range []string{"proxy", "proxies"} {
		m[w] |= wordProxy | wordHost
	}
	m["server"] |= wordServer | wordHost
	m["servername"] |= wordInbound
	m["serveralias"] |= wordInbound
	m["name"] |= wordNameAlias
	m["alias"] |= wordNameAlias
	return m
}()

// classifyKey reads the words of a key ("SMTP_HOST", "smtpHost",
// "bootstrap.servers", "--cors-allowed-origins"): an inbound combination
// anywhere decides; otherwise the last word that names an address or an
// identifier ("SMTP_HOST" an address, "SMTP_CERT_FILE" a file).
func classifyKey(k string) keyClass {
	var buf [16]string
	words := splitKeyWords(k, buf[:0])
	var all uint16
	last := keyUnknown
	for _, w := range words {
		var lb [32]byte
		if len(w) > len(lb) {
			continue
		}
		for i := 0; i < len(w); i++ {
			c := w[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			lb[i] = c
		}
		c := keyWords[string(lb[:len(w)])]
		all |= c
		switch {
		case c&wordHost != 0:
			last = keyHost
		case c&wordIdent != 0:
			last = keyIdentifier
		}
	}
	switch {
	case all&wordInbound != 0,
		all&wordAllowed != 0 && all&wordOrigin != 0,
		all&wordNo != 0 && all&wordProxy != 0,
		len(words) == 2 && all&wordServer != 0 && all&wordNameAlias != 0:
		return keyInbound
	}
	return last
}

// splitKeyWords appends to dst the words of a key: runs of letters and
// digits, split further at camelCase ("smtpHost") and acronym
// ("HTTPProxy") boundaries.
func splitKeyWords(k string, dst []string) []string {
	start := -1
	for i := 0; i <= len(k); i++ {
		alnum := i < len(k) && (isLetter(k[i]) || isDigit(k[i]))
		if !alnum {
			if start >= 0 && len(dst) < cap(dst) {
				dst = append(dst, k[start:i])
			}
			start = -1
			continue
		}
		if start < 0 {
			start = i
			continue
		}
		upper := k[i] >= 'A' && k[i] <= 'Z'
		prevLower := k[i-1] >= 'a' && k[i-1] <= 'z'
		prevUpper := k[i-1] >= 'A' && k[i-1] <= 'Z'
		nextLower := i+1 < len(k) && k[i+1] >= 'a' && k[i+1] <= 'z'
		if upper && (prevLower || (prevUpper && nextLower)) {
			if len(dst) < cap(dst) {
				dst = append(dst, k[start:i])
			}
			start = i
		}
	}
	return dst
}
