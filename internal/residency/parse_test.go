package residency

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in      string
		want    string // String(); empty when an error is expected
		host    string
		addr    string
		prefix  string
		port    int
		problem string // substring of the error when want is empty
	}{
		// host names
		{in: "api.sendgrid.com", want: "api.sendgrid.com", host: "api.sendgrid.com"},
		{in: "API.SendGrid.COM.", want: "api.sendgrid.com", host: "api.sendgrid.com"},
		{in: "  smtp.sendgrid.net\t", want: "smtp.sendgrid.net", host: "smtp.sendgrid.net"},
		{in: "mail", want: "mail", host: "mail"},
		{in: "1e100.net", want: "1e100.net", host: "1e100.net"},
		{in: "xn--bcher-kva.example", want: "xn--bcher-kva.example", host: "xn--bcher-kva.example"},
		{in: "a-b.c-d.io", want: "a-b.c-d.io", host: "a-b.c-d.io"},
		// host:port
		{in: "smtp.sendgrid.net:587", want: "smtp.sendgrid.net:587", host: "smtp.sendgrid.net", port: 587},
		{in: "Kafka.Example.com:9092", want: "kafka.example.com:9092", host: "kafka.example.com", port: 9092},
		{in: "h.example.com:65535", want: "h.example.com:65535", host: "h.example.com", port: 65535},
		// URLs
		{in: "https://api.sendgrid.com/v3/mail/send", want: "api.sendgrid.com", host: "api.sendgrid.com"},
		{in: "https://api.sendgrid.com:8443/v3", want: "api.sendgrid.com:8443", host: "api.sendgrid.com", port: 8443},
		{in: "postgres://user:p%40ss@db.example.com:5432/app?sslmode=require", want: "db.example.com:5432", host: "db.example.com", port: 5432},
		{in: "redis://:secret@cache.example.com:6379", want: "cache.example.com:6379", host: "cache.example.com", port: 6379},
		{in: "jdbc:postgresql://db.example.com/app", want: "db.example.com", host: "db.example.com"},
		{in: "amqps://mq.example.com?heartbeat=10", want: "mq.example.com", host: "mq.example.com"},
		{in: "https://EXAMPLE.com#frag", want: "example.com", host: "example.com"},
		{in: "https://[2001:db8::1]:8443/x", want: "[2001:db8::1]:8443", addr: "2001:db8::1", port: 8443},
		{in: "http://203.0.113.7/", want: "203.0.113.7", addr: "203.0.113.7"},
		// IP addresses
		{in: "203.0.113.7", want: "203.0.113.7", addr: "203.0.113.7"},
		{in: "203.0.113.7:443", want: "203.0.113.7:443", addr: "203.0.113.7", port: 443},
		{in: "2001:db8::1", want: "2001:db8::1", addr: "2001:db8::1"},
		{in: "[2001:DB8::1]", want: "2001:db8::1", addr: "2001:db8::1"},
		{in: "[2001:db8::1]:443", want: "[2001:db8::1]:443", addr: "2001:db8::1", port: 443},
		{in: "::ffff:203.0.113.7", want: "203.0.113.7", addr: "203.0.113.7"},
		{in: "10.0.0.1", want: "10.0.0.1", addr: "10.0.0.1"}, // private, but declared: the evaluator decides
		// CIDRs
		{in: "167.89.0.0/17", want: "167.89.0.0/17", prefix: "167.89.0.0/17"},
		{in: "167.89.12.34/17", want: "167.89.0.0/17", prefix: "167.89.0.0/17"},
		{in: "2001:db8::/32", want: "2001:db8::/32", prefix: "2001:db8::/32"},
		{in: "::ffff:10.0.0.0/104", want: "10.0.0.0/8", prefix: "10.0.0.0/8"},
		// invalid
		{in: "", problem: "has no host"},
		{in: "   ", problem: "has no host"},
		{in: "ht!tp://x", problem: "is not a valid host name, host:port, URL, IP address or CIDR"},
		{in: "://example.com", problem: "is not a valid"},
		{in: "1http://example.com", problem: "is not a valid"},
		{in: "https://", problem: "has no host"},
		{in: "https://:443", problem: "has no host"},
		{in: "https://user@/x", problem: "has no host"},
		{in: "example.com:", problem: "is not a valid"},
		{in: "example.com:0", problem: "port"},
		{in: "example.com:65536", problem: "port"},
		{in: "example.com:-1", problem: "port"},
		{in: "example.com:+80", problem: "port"},
		{in: "example.com:http", problem: "port"},
		{in: "example.com:080000", problem: "port"},
		{in: "[2001:db8::1]:", problem: "is not a valid"},
		{in: "[2001:db8::1", problem: "is not a valid"},
		{in: "[example.com]:80", problem: "is not a valid"},
		{in: "[2001:db8::1]x", problem: "is not a valid"},
		{in: "fe80::1%eth0", problem: "zone"},
		{in: "fe80::/10%eth0", problem: "is not a valid"},
		{in: "10.0.0.0/33", problem: "is not a valid"},
		{in: "::ffff:10.0.0.0/8", problem: "is not a valid"},
		{in: "example.com/path", problem: "is not a valid"},
		{in: "*.sendgrid.net", problem: "wildcard"},
		{in: "exa mple.com", problem: "is not a valid"},
		{in: "-example.com", problem: "is not a valid"},
		{in: "example-.com", problem: "is not a valid"},
		{in: "example..com", problem: "is not a valid"},
		{in: ".example.com", problem: "is not a valid"},
		{in: "under_score.example.com", problem: "is not a valid"},
		{in: "bücher.example", problem: "is not a valid"},
		{in: "999.1.1.1", problem: "is not a valid"},
		{in: "1.2.3", problem: "is not a valid"},
		{in: "a:b:c", problem: "is not a valid"},
		{in: "dpo@example.com", problem: "is not a valid"},
		{in: "example.com\x00", problem: "is not a valid"},
		{in: strings.Repeat("a", 64) + ".com", problem: "is not a valid"},
		{in: strings.Repeat("abcdefghi.", 26) + "com", problem: "is not a valid"}, // 263 bytes
		{in: "https://example.com/" + strings.Repeat("p", 5000), problem: "longer than 4096"},
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			ep, err := ParseEndpoint(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("ParseEndpoint(%q) = %+v, want an error", tt.in, ep)
				}
				if !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("error %q does not say %q", err, tt.problem)
				}
				if ep != (Endpoint{}) {
					t.Errorf("endpoint %+v returned with the error", ep)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEndpoint(%q): %v", tt.in, err)
			}
			if got := ep.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if ep.Host != tt.host || ep.Port != tt.port {
				t.Errorf("host, port = %q, %d, want %q, %d", ep.Host, ep.Port, tt.host, tt.port)
			}
			if got := addrString(ep.Addr); got != tt.addr {
				t.Errorf("Addr = %q, want %q", got, tt.addr)
			}
			if got := prefixString(ep.Prefix); got != tt.prefix {
				t.Errorf("Prefix = %q, want %q", got, tt.prefix)
			}
			if ep.Raw != strings.TrimSpace(tt.in) {
				t.Errorf("Raw = %q, want the trimmed input", ep.Raw)
			}
			again, err := ParseEndpoint(ep.String())
			if err != nil || again.String() != ep.String() {
				t.Errorf("String() %q does not parse back: %v, %q", ep.String(), err, again.String())
			}
		})
	}
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func prefixString(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

func TestParseEndpointsList(t *testing.T) {
	eps, errs := ParseEndpoints(" https://api.sendgrid.com/v3 ,, smtp.sendgrid.net:587,API.SENDGRID.COM, ht!tp://x, 167.89.0.0/17 ,167.89.1.1/17,")
	var got []string
	for _, ep := range eps {
		got = append(got, ep.String())
		if ep.Source != "annotation dataresidency.io/egress" {
			t.Errorf("%s: Source = %q", ep, ep.Source)
		}
	}
	want := []string{"api.sendgrid.com", "smtp.sendgrid.net:587", "167.89.0.0/17"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("endpoints = %q, want %q (written order, deduplicated)", got, want)
	}
	if eps[0].Raw != "https://api.sendgrid.com/v3" {
		t.Errorf("first occurrence kept: Raw = %q", eps[0].Raw)
	}
	if len(errs) != 1 {
		t.Fatalf("errors = %v, want one", errs)
	}
	wantErr := `annotation dataresidency.io/egress, entry 5 "ht!tp://x": is not a valid host name, host:port, URL, IP address or CIDR`
	if errs[0].Error() != wantErr {
		t.Errorf("error:\n got %s\nwant %s", errs[0].Error(), wantErr)
	}
	if errs[0].Annotation != AnnotationEgress || errs[0].Index != 4 || errs[0].Entry != "ht!tp://x" {
		t.Errorf("error fields = %+v", errs[0])
	}
}

func TestParseSubprocessorNames(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		errIdx  []int
		errText string // the first error, exactly
	}{
		{in: "", want: nil},
		{in: " , ,, ", want: nil},
		{in: "twilio-sendgrid", want: []string{"twilio-sendgrid"}},
		{in: "stripe, twilio-sendgrid ,aws-eu", want: []string{"aws-eu", "stripe", "twilio-sendgrid"}},
		{in: "b,a,b,a,", want: []string{"a", "b"}},
		{in: "\tsentry.io\n,mailjet", want: []string{"mailjet", "sentry.io"}},
		{in: "0day,a.b-c.d", want: []string{"0day", "a.b-c.d"}},
		{in: "Stripe", errIdx: []int{0},
			errText: `annotation dataresidency.io/subprocessors, entry 1 "Stripe": is not a valid Subprocessor name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)`},
		{in: "ok,,bad_name,-x,x-,a..b,.a,ok", want: []string{"ok"}, errIdx: []int{2, 3, 4, 5, 6}},
		{in: "stripe twilio", errIdx: []int{0}},
		{in: "sentrý", errIdx: []int{0}},
		{in: "a\x00b,c", want: []string{"c"}, errIdx: []int{0}},
		{in: strings.Repeat("a", 253), want: []string{strings.Repeat("a", 253)}},
		{in: strings.Repeat("a", 254), errIdx: []int{0}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.30q", tt.in), func(t *testing.T) {
			got, errs := ParseSubprocessorNames(tt.in)
			checkNameList(t, got, errs, tt.want, tt.errIdx, AnnotationSubprocessors)
			if tt.errText != "" && (len(errs) == 0 || errs[0].Error() != tt.errText) {
				t.Errorf("error = %v,\nwant %s", errs, tt.errText)
			}
		})
	}
}

func TestParseDataCategories(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		errIdx  []int
		errText string
	}{
		{in: "user.contact.email, user.name", want: []string{"user.contact.email", "user.name"}},
		{in: "user.name,user.name , system", want: []string{"system", "user.name"}},
		{in: "user.financial.bank_account,user.health_and_medical", want: []string{"user.financial.bank_account", "user.health_and_medical"}},
		{in: "a1.b_2", want: []string{"a1.b_2"}},
		{in: "User.Name", errIdx: []int{0},
			errText: `annotation dataresidency.io/data-categories, entry 1 "User.Name": is not a valid data category (a fideslang key such as user.contact.email: dot-separated lower-case words of letters, digits and '_', at most 128 characters)`},
		{in: "user..name,user.,.user,1user,user._x,user-name,user.9", errIdx: []int{0, 1, 2, 3, 4, 5, 6}},
		{in: "user.name,,,user.contact*", want: []string{"user.name"}, errIdx: []int{3}},
		{in: "user.ñame", errIdx: []int{0}},
		{in: "user.name user.email", errIdx: []int{0}},
		{in: "u" + strings.Repeat(".a", 63) + "b", want: []string{"u" + strings.Repeat(".a", 63) + "b"}}, // 128 bytes
		{in: "u" + strings.Repeat(".a", 64), errIdx: []int{0}},                                           // 129 bytes
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.30q", tt.in), func(t *testing.T) {
			got, errs := ParseDataCategories(tt.in)
			checkNameList(t, got, errs, tt.want, tt.errIdx, AnnotationDataCategories)
			if tt.errText != "" && (len(errs) == 0 || errs[0].Error() != tt.errText) {
				t.Errorf("error = %v,\nwant %s", errs, tt.errText)
			}
		})
	}
}

func checkNameList(t *testing.T, got []string, errs []ParseError, want []string, errIdx []int, annotation string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("names = %q, want %q", got, want)
	}
	var idx []int
	for _, e := range errs {
		idx = append(idx, e.Index)
		if e.Annotation != annotation {
			t.Errorf("error names annotation %q, want %q", e.Annotation, annotation)
		}
		if !strings.Contains(e.Error(), annotation) || !strings.Contains(e.Error(), fmt.Sprintf("%q", e.Entry)) {
			t.Errorf("error %q does not name the annotation and entry", e.Error())
		}
	}
	if !reflect.DeepEqual(idx, errIdx) {
		t.Errorf("error indexes = %v, want %v (%v)", idx, errIdx, errs)
	}
}

func TestParseLimits(t *testing.T) {
	t.Run("value over 64 KiB", func(t *testing.T) {
		value := strings.Repeat("a.example.com,", MaxAnnotationBytes/14+1)
		for name, parse := range map[string]func(string) (int, []ParseError){
			AnnotationEgress:         func(v string) (int, []ParseError) { e, errs := ParseEndpoints(v); return len(e), errs },
			AnnotationSubprocessors:  func(v string) (int, []ParseError) { e, errs := ParseSubprocessorNames(v); return len(e), errs },
			AnnotationDataCategories: func(v string) (int, []ParseError) { e, errs := ParseDataCategories(v); return len(e), errs },
		} {
			n, errs := parse(value)
			if n != 0 || len(errs) != 1 || errs[0].Index != -1 || errs[0].Annotation != name {
				t.Fatalf("%s: %d entries, errors %v; want none and one whole-value error", name, n, errs)
			}
			want := fmt.Sprintf("annotation %s: value is %d bytes, more than the 65536 that are read", name, len(value))
			if errs[0].Error() != want {
				t.Errorf("error = %q, want %q", errs[0].Error(), want)
			}
		}
	})
	t.Run("exactly 64 KiB is read", func(t *testing.T) {
		value := "a" + strings.Repeat(" ", MaxAnnotationBytes-1)
		if got, errs := ParseSubprocessorNames(value); len(errs) != 0 || len(got) != 1 {
			t.Errorf("got %q, %v", got, errs)
		}
	})
	entries := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "h%d.example.com, ,", i)
		}
		return b.String()
	}
	t.Run("256 entries", func(t *testing.T) {
		eps, errs := ParseEndpoints(entries(256))
		if len(eps) != 256 || len(errs) != 0 {
			t.Errorf("%d endpoints, %v", len(eps), errs)
		}
	})
	t.Run("surplus entries", func(t *testing.T) {
		eps, errs := ParseEndpoints(entries(300))
		if len(eps) != 256 {
			t.Errorf("%d endpoints, want the first 256", len(eps))
		}
		if len(errs) != 1 {
			t.Fatalf("errors = %v, want one for the surplus", errs)
		}
		want := `annotation dataresidency.io/egress, entry 513 "h256.example.com": is beyond the limit of 256 entries (44 more not read)`
		if errs[0].Error() != want {
			t.Errorf("error = %q\nwant %q", errs[0].Error(), want)
		}
		names, errs := ParseSubprocessorNames(strings.Repeat("Bad,", 300))
		if len(names) != 0 || len(errs) != 257 || errs[256].Index != 256 || !strings.Contains(errs[256].Problem, "limit") {
			t.Errorf("names %v, %d errors; want 256 entry errors then the limit error", names, len(errs))
		}
	})
}

func TestParseErrorEntryIsBounded(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	_, errs := ParseSubprocessorNames("ok," + long)
	if len(errs) != 1 {
		t.Fatalf("errors = %v", errs)
	}
	e := errs[0]
	if len(e.Entry) > 80 || !utf8.ValidString(e.Entry) || !strings.HasSuffix(e.Entry, "...") || !strings.HasPrefix(e.Entry, "éé") {
		t.Errorf("Entry = %q (%d bytes), want at most 80 bytes of valid UTF-8 ending in ...", e.Entry, len(e.Entry))
	}
	_, errs = ParseDataCategories("\xff\xfeuser")
	if len(errs) != 1 || !utf8.ValidString(errs[0].Entry) || errs[0].Entry != "\uFFFDuser" {
		t.Errorf("invalid UTF-8 entry = %q", errs[0].Entry)
	}
	_, err := ParseEndpoint("ht!tp://x")
	if err == nil || err.Error() != `"ht!tp://x": is not a valid host name, host:port, URL, IP address or CIDR` {
		t.Errorf("ParseEndpoint error = %v", err)
	}
}

func BenchmarkParseEndpoints(b *testing.B) {
	value := "https://api.sendgrid.com/v3, smtp.sendgrid.net:587, 167.89.0.0/17, 203.0.113.7:443, " +
		"[2001:db8::1]:443, hooks.slack.com, postgres://app@db.eu-north-1.rds.amazonaws.com:5432/app, o123.ingest.sentry.io"
	b.ReportAllocs()
	for b.Loop() {
		eps, errs := ParseEndpoints(value)
		if len(eps) != 8 || len(errs) != 0 {
			b.Fatal(eps, errs)
		}
	}
}
