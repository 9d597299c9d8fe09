package webhook

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// appendReview appends the JSON of an AdmissionReview answering with resp,
// byte for byte what encoding/json makes of
//
//	admissionv1.AdmissionReview{TypeMeta: {Kind: kind, APIVersion: apiVersion}, Response: resp}
//
// (TestAppendReviewMatchesEncodingJSON), without reflection and without
// allocating: the answer is written into a pooled buffer. Responses with
// fields this webhook never sets (patches, status details) go through
// encoding/json.
func appendReview(dst []byte, kind, apiVersion string, resp *admissionv1.AdmissionResponse) ([]byte, error) {
	if resp.Patch != nil || resp.PatchType != nil || !plainStatus(resp.Result) {
		b, err := json.Marshal(&admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{Kind: kind, APIVersion: apiVersion}, Response: resp})
		return append(dst, b...), err
	}
	dst = append(dst, '{')
	sep := false
	if kind != "" {
		dst = append(dst, `"kind":`...)
		dst = appendString(dst, kind)
		sep = true
	}
	if apiVersion != "" {
		if sep {
			dst = append(dst, ',')
		}
		dst = append(dst, `"apiVersion":`...)
		dst = appendString(dst, apiVersion)
		sep = true
	}
	if sep {
		dst = append(dst, ',')
	}
	dst = append(dst, `"response":{"uid":`...)
	dst = appendString(dst, string(resp.UID))
	if resp.Allowed {
		dst = append(dst, `,"allowed":true`...)
	} else {
		dst = append(dst, `,"allowed":false`...)
	}
	if s := resp.Result; s != nil {
		dst = append(dst, `,"status":{"metadata":{}`...)
		if s.Status != "" {
			dst = append(dst, `,"status":`...)
			dst = appendString(dst, s.Status)
		}
		if s.Message != "" {
			dst = append(dst, `,"message":`...)
			dst = appendString(dst, s.Message)
		}
		if s.Reason != "" {
			dst = append(dst, `,"reason":`...)
			dst = appendString(dst, string(s.Reason))
		}
		if s.Code != 0 {
			dst = append(dst, `,"code":`...)
			dst = strconv.AppendInt(dst, int64(s.Code), 10)
		}
		dst = append(dst, '}')
	}
	if len(resp.AuditAnnotations) > 0 {
		dst = append(dst, `,"auditAnnotations":{`...)
		dst = appendSortedMap(dst, resp.AuditAnnotations)
		dst = append(dst, '}')
	}
	if len(resp.Warnings) > 0 {
		dst = append(dst, `,"warnings":[`...)
		for i, w := range resp.Warnings {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, w)
		}
		dst = append(dst, ']')
	}
	return append(dst, "}}"...), nil
}

// plainStatus reports whether appendReview encodes s itself: nil, or only
// status, message, reason and code set. (TestAppendReviewKnowsEveryField
// fails when a new API version adds fields to these types.)
func plainStatus(s *metav1.Status) bool {
	return s == nil || s.TypeMeta == (metav1.TypeMeta{}) && s.ListMeta == (metav1.ListMeta{}) && s.Details == nil
}

// appendSortedMap appends the members of m in key order, as encoding/json does.
func appendSortedMap(dst []byte, m map[string]string) []byte {
	var buf [8]string
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ { // insertion sort: a handful of keys
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendString(dst, m[k])
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// htmlSafe marks the ASCII bytes encoding/json writes as they are (it
// escapes control characters, the quote, the backslash and <, >, &).
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string, escaped as encoding/json escapes
// it (HTML-safe, invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if htmlSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
