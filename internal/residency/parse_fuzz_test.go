package residency

import (
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"
)

// checkParseErrors asserts what every ParseError of an annotation promises.
func checkParseErrors(t *testing.T, annotation, value string, errs []ParseError) {
	t.Helper()
	if len(value) > MaxAnnotationBytes {
		if len(errs) != 1 || errs[0].Index != -1 {
			t.Fatalf("value of %d bytes: errors %v, want one whole-value error", len(value), errs)
		}
	}
	entries := strings.Count(value, ",") + 1
	last := -1
	for _, e := range errs {
		if e.Annotation != annotation {
			t.Fatalf("error %+v names annotation %q, want %q", e, e.Annotation, annotation)
		}
		if e.Index < -1 || e.Index >= entries || (e.Index == -1 && len(errs) != 1) {
			t.Fatalf("error index %d out of range for %d entries", e.Index, entries)
		}
		if e.Index != -1 && e.Index <= last {
			t.Fatalf("error indexes not increasing: %v", errs)
		}
		last = e.Index
		if len(e.Entry) > maxEntryInError || !utf8.ValidString(e.Entry) {
			t.Fatalf("entry %q: %d bytes or invalid UTF-8", e.Entry, len(e.Entry))
		}
		if e.Index >= 0 && e.Entry == "" {
			t.Fatalf("error without entry: %+v", e)
		}
		if msg := e.Error(); !strings.Contains(msg, annotation) || e.Problem == "" {
			t.Fatalf("message %q does not name the annotation or has no problem", msg)
		}
	}
	if len(errs) > MaxAnnotationEntries+1 {
		t.Fatalf("%d errors for one annotation", len(errs))
	}
}

// checkEndpoint asserts the invariants of one endpoint, whatever produced it.
func checkEndpoint(t *testing.T, ep Endpoint) {
	t.Helper()
	set := 0
	if ep.Host != "" {
		set++
	}
	if ep.Addr.IsValid() {
		set++
	}
	if ep.Prefix.IsValid() {
		set++
		if ep.Prefix != ep.Prefix.Masked() || ep.Port != 0 {
			t.Fatalf("%+v: prefix not masked or with a port", ep)
		}
	}
	if set != 1 {
		t.Fatalf("%+v: %d of Host, Addr, Prefix set, want exactly one", ep, set)
	}
	if ep.Port < 0 || ep.Port > 65535 || ep.Raw == "" || ep.Source == "" {
		t.Fatalf("%+v: bad port, raw or source", ep)
	}
	if ep.Host != "" && (ep.Host != strings.ToLower(ep.Host) || strings.HasSuffix(ep.Host, ".")) {
		t.Fatalf("%+v: host not normalized", ep)
	}
	if ep.Addr.Is4In6() || ep.Addr.Zone() != "" {
		t.Fatalf("%+v: address mapped or zoned", ep)
	}
	s := ep.String()
	again, err := ParseEndpoint(s)
	if err != nil {
		t.Fatalf("%+v: String() %q does not parse: %v", ep, s, err)
	}
	if again.String() != s {
		t.Fatalf("String() %q parses back as %q", s, again.String())
	}
}

func FuzzParseEndpoints(f *testing.F) {
	for _, s := range []string{
		"api.sendgrid.com, *.sendgrid.net, smtp.sendgrid.net:587",
		"https://user:pw@api.example.com:8443/v1?x=1#y,167.89.0.0/17",
		"[2001:db8::1]:443, 2001:db8::/32, ::ffff:1.2.3.4, fe80::1%eth0",
		"ht!tp://x,,, ,\x00,\xff\xfe,ünïcödé.example",
		"jdbc:postgresql://db.example.com/app,example.com:0,example.com:65536",
		strings.Repeat("a.example.com,", 300),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		eps, errs := ParseEndpoints(value)
		checkParseErrors(t, AnnotationEgress, value, errs)
		if len(eps) > MaxAnnotationEntries {
			t.Fatalf("%d endpoints", len(eps))
		}
		seen := map[string]bool{}
		for _, ep := range eps {
			checkEndpoint(t, ep)
			if seen[ep.String()] {
				t.Fatalf("duplicate %s", ep)
			}
			seen[ep.String()] = true
			if raw, err := ParseEndpoint(ep.Raw); err != nil || raw.String() != ep.String() {
				t.Fatalf("Raw %q parses as %q, %v; want %q", ep.Raw, raw.String(), err, ep.String())
			}
		}
		if len(value) <= MaxAnnotationBytes && strings.Count(value, ",") < MaxAnnotationEntries {
			// Below the limits, every non-empty entry is an endpoint or an error.
			for i, entry := range strings.Split(value, ",") {
				entry = strings.TrimSpace(entry)
				if entry == "" {
					continue
				}
				_, err := ParseEndpoint(entry)
				hasErr := false
				for _, e := range errs {
					hasErr = hasErr || e.Index == i
				}
				if (err != nil) != hasErr {
					t.Fatalf("entry %d %q: ParseEndpoint error %v, list error %v", i, entry, err, hasErr)
				}
			}
		}
		if ep, err := ParseEndpoint(value); err == nil {
			ep.Source = "test"
			checkEndpoint(t, ep)
		}
	})
}

// checkNames asserts the list rules shared by the name annotations and
// compares each accepted or rejected entry with a reference check.
func checkNames(t *testing.T, annotation, value string, names []string, errs []ParseError, valid func(string) bool) {
	t.Helper()
	checkParseErrors(t, annotation, value, errs)
	if !sort.StringsAreSorted(names) {
		t.Fatalf("names not sorted: %q", names)
	}
	for i, n := range names {
		if i > 0 && names[i-1] == n {
			t.Fatalf("duplicate %q", n)
		}
		if !valid(n) {
			t.Fatalf("%q accepted, but the reference check rejects it", n)
		}
	}
	if len(names) > MaxAnnotationEntries {
		t.Fatalf("%d names", len(names))
	}
	if len(value) > MaxAnnotationBytes || strings.Count(value, ",") >= MaxAnnotationEntries {
		return
	}
	for i, entry := range strings.Split(value, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		hasErr := false
		for _, e := range errs {
			hasErr = hasErr || e.Index == i
		}
		if valid(entry) == hasErr {
			t.Fatalf("entry %d %q: reference valid=%v, parse error=%v", i, entry, valid(entry), hasErr)
		}
		if !hasErr {
			if j := sort.SearchStrings(names, entry); j == len(names) || names[j] != entry {
				t.Fatalf("valid entry %q missing from %q", entry, names)
			}
		}
	}
}

func FuzzParseSubprocessorNames(f *testing.F) {
	for _, s := range []string{
		"twilio-sendgrid, stripe,,stripe", "Stripe,bad_name,-x,x-,a..b", "a.b-c.d,0day",
		strings.Repeat("a", 254), "\x00,\xff,é", strings.Repeat("x,", 300),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		names, errs := ParseSubprocessorNames(value)
		checkNames(t, AnnotationSubprocessors, value, names, errs, func(s string) bool {
			return len(validation.IsDNS1123Subdomain(s)) == 0
		})
	})
}

var categoryKeyRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

func FuzzParseDataCategories(f *testing.F) {
	for _, s := range []string{
		"user.contact.email, user.name,user.name", "system.operations,user.financial.bank_account",
		"User.Name,user..x,user.,.user,1a,a._b", "\x00,\xff,ñ", strings.Repeat("user.name,", 300),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		names, errs := ParseDataCategories(value)
		checkNames(t, AnnotationDataCategories, value, names, errs, func(s string) bool {
			return len(s) <= 128 && categoryKeyRE.MatchString(s)
		})
	})
}
