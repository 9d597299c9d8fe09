package residency

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Annotation keys a workload declares its flows with (domain contract).
const (
	AnnotationSubprocessors  = "dataresidency.io/subprocessors"
	AnnotationDataCategories = "dataresidency.io/data-categories"
	AnnotationEgress         = "dataresidency.io/egress"
)

// Limits on what one annotation may make the engine do. A declaration beyond
// them is not read at all rather than read in part: it fails closed.
const (
	// MaxAnnotationBytes is the largest annotation value that is read.
	MaxAnnotationBytes = 64 << 10
	// MaxAnnotationEntries is how many entries of one annotation are read.
	MaxAnnotationEntries = 256
	// maxEntryInError bounds the entry quoted in a ParseError.
	maxEntryInError = 80
)

// ParseError says which entry of a comma-separated annotation cannot be read.
type ParseError struct {
	// Annotation is the annotation key, e.g. "dataresidency.io/egress".
	Annotation string
	// Index is the 0-based position of the entry in the comma-separated list
	// (empty entries count), or -1 when the error is about the whole value.
	// Messages count entries from 1, as people do (Error).
	Index int
	// Entry is the offending entry, truncated to 80 bytes of valid UTF-8.
	Entry string
	// Problem says what is wrong with it.
	Problem string
}

// Error reads `annotation dataresidency.io/egress, entry 2 "ht!tp://x": is not a
// valid host name, host:port, URL, IP address or CIDR`: entries are counted
// from 1 (Index+1), empty ones included, as a person counts them.
func (e ParseError) Error() string {
	switch {
	case e.Annotation == "" && e.Entry == "":
		return e.Problem
	case e.Annotation == "":
		return strconv.Quote(e.Entry) + ": " + e.Problem
	case e.Index < 0:
		return "annotation " + e.Annotation + ": " + e.Problem
	default:
		return fmt.Sprintf("annotation %s, entry %d %q: %s", e.Annotation, e.Index+1, e.Entry, e.Problem)
	}
}

// truncateEntry makes an entry fit for a message: invalid UTF-8 replaced, at
// most maxEntryInError bytes, cut on a rune boundary and marked with "...".
func truncateEntry(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= maxEntryInError {
		return s
	}
	cut := maxEntryInError - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// splitEntries walks a comma-separated annotation value: each non-empty,
// trimmed entry is passed to fn with its 0-based position in the list. It
// enforces the size and count limits, reporting them as errors.
func splitEntries(annotation, value string, fn func(index int, entry string)) []ParseError {
	if len(value) > MaxAnnotationBytes {
		return []ParseError{{
			Annotation: annotation,
			Index:      -1,
			Problem:    fmt.Sprintf("value is %d bytes, more than the %d that are read", len(value), MaxAnnotationBytes),
		}}
	}
	var errs []ParseError
	accepted := 0
	index := 0
	for rest := value; ; index++ {
		entry, tail, more := strings.Cut(rest, ",")
		rest = tail
		entry = strings.TrimSpace(entry)
		if entry != "" {
			if accepted == MaxAnnotationEntries {
				surplus := 1
				for _, e := range strings.Split(rest, ",") {
					if strings.TrimSpace(e) != "" {
						surplus++
					}
				}
				errs = append(errs, ParseError{
					Annotation: annotation,
					Index:      index,
					Entry:      truncateEntry(entry),
					Problem: fmt.Sprintf("is beyond the limit of %d entries (%d more not read)",
						MaxAnnotationEntries, surplus),
				})
				return errs
			}
			accepted++
			fn(index, entry)
		}
		if !more {
			return errs
		}
	}
}

// NoSubprocessors is the dataresidency.io/subprocessors value that declares
// that no personal data leaves the workload. It is a declaration, not a
// Subprocessor name: the engine reads it alone as such, and beside names as a
// contradiction (InvalidAnnotation). ParseSubprocessorNames returns it as any
// other name.
const NoSubprocessors = "none"

// ParseSubprocessorNames parses dataresidency.io/subprocessors: comma-separated
// Subprocessor names (DNS-1123 subdomains). White space around entries is
// trimmed, empty entries are ignored, and the result is sorted and deduplicated.
func ParseSubprocessorNames(value string) ([]string, []ParseError) {
	return parseNameList(AnnotationSubprocessors, value, isDNS1123Subdomain,
		"is not a valid Subprocessor name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)")
}

// ParseDataCategories parses dataresidency.io/data-categories: comma-separated
// fideslang keys such as "user.contact.email", under the same list rules as
// ParseSubprocessorNames.
func ParseDataCategories(value string) ([]string, []ParseError) {
	return parseNameList(AnnotationDataCategories, value, isCategoryKey,
		"is not a valid data category (a fideslang key such as user.contact.email: dot-separated lower-case words of letters, digits and '_', at most 128 characters)")
}

func parseNameList(annotation, value string, valid func(string) bool, problem string) ([]string, []ParseError) {
	var out []string
	var errs []ParseError
	limitErrs := splitEntries(annotation, value, func(index int, entry string) {
		if !valid(entry) {
			errs = append(errs, ParseError{Annotation: annotation, Index: index, Entry: truncateEntry(entry), Problem: problem})
			return
		}
		out = append(out, entry)
	})
	// The limit error, if any, is about the entries after every other error.
	return sortedUnique(out), append(errs, limitErrs...)
}

func sortedUnique(s []string) []string {
	if len(s) < 2 {
		return s
	}
	sort.Strings(s)
	out := s[:1]
	for _, v := range s[1:] {
		if v != out[len(out)-1] {
			out = append(out, v)
		}
	}
	return out
}

// ParseEndpoints parses dataresidency.io/egress: comma-separated endpoints, each
// a host, host:port, URL, IPv4 or IPv6 address ([v6]:port too) or CIDR. The
// endpoints keep the order they are written in, deduplicated by String().
func ParseEndpoints(value string) ([]Endpoint, []ParseError) {
	var out []Endpoint
	var errs []ParseError
	seen := map[string]struct{}{}
	limitErrs := splitEntries(AnnotationEgress, value, func(index int, entry string) {
		ep, problem := parseEndpoint(entry)
		if problem != "" {
			errs = append(errs, ParseError{Annotation: AnnotationEgress, Index: index, Entry: truncateEntry(entry), Problem: problem})
			return
		}
		key := ep.String()
		if _, dup := seen[key]; dup {
			return
		}
		seen[key] = struct{}{}
		ep.Source, ep.Origin = "annotation "+AnnotationEgress, OriginDeclared
		out = append(out, ep)
	})
	return out, append(errs, limitErrs...)
}

// isDNS1123Subdomain is Kubernetes' object name rule: at most 253 characters of
// [a-z0-9]([-a-z0-9]*[a-z0-9])? labels joined by dots.
func isDNS1123Subdomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	labelStart := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if i == labelStart || s[labelStart] == '-' || s[i-1] == '-' {
				return false
			}
			labelStart = i + 1
			continue
		}
		if c := s[i]; !(c >= 'a' && c <= 'z') && !isDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

// isCategoryKey matches ^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$, at most 128 bytes.
func isCategoryKey(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	wordStart := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
		case (isDigit(c) || c == '_') && !wordStart:
		case c == '.' && !wordStart:
			wordStart = true
			continue
		default:
			return false
		}
		wordStart = false
	}
	return !wordStart
}
