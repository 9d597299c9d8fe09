package webhook

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dataresidency/operator/internal/residency"
)

// Bounds on what a response carries. The API server keeps at most 4096 runes
// of warnings per request and, past that, cuts every warning to 256 runes; a
// kubectl user reads the first screenful. So each warning stays under 512
// bytes, at most maxWarnings are listed, the total stays under the server's
// budget, and a summary line says what was left out.
const (
	maxWarningBytes    = 500
	maxWarnings        = 20
	maxWarningsRunes   = 3800
	maxDenialBytes     = 16 << 10
	maxAnnotationBytes = 1 << 10
)

// flowText describes one finding the way a developer acts on it:
// "[BasisNotValid] twilio-sendgrid via sendgrid-us (US): transfer to US ...".
func flowText(f *residency.Finding) string {
	var b strings.Builder
	b.Grow(len(f.Message) + 64)
	if f.Reason != "" {
		b.WriteString("[")
		b.WriteString(string(f.Reason))
		b.WriteString("] ")
	}
	subject := true
	switch {
	case f.Subprocessor != "" && f.Route != "":
		b.WriteString(f.Subprocessor)
		b.WriteString(" via ")
		b.WriteString(f.Route)
	case f.Subprocessor != "":
		b.WriteString(f.Subprocessor)
		if f.Endpoint != "" {
			b.WriteString(" (endpoint ")
			b.WriteString(f.Endpoint)
			b.WriteString(")")
		}
	case f.Endpoint != "":
		b.WriteString("endpoint ")
		b.WriteString(f.Endpoint)
	case f.Route != "":
		b.WriteString(f.Route)
	default:
		subject = false
	}
	if subject && f.Country != "" {
		b.WriteString(" (")
		b.WriteString(f.Country)
		b.WriteString(")")
	}
	if subject {
		b.WriteString(": ")
	}
	b.WriteString(f.Message)
	return b.String()
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "..."
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// denialMessage is the one message of a rejection: every violating flow with
// its reason code and legal ground.
// "data residency: Deployment shop/mailer violates 2 flow(s): [BasisNotValid] ...; [...]"
func denialMessage(res *residency.Result, violations int) string {
	var b strings.Builder
	b.WriteString("data residency: ")
	b.WriteString(res.Resource.Kind)
	b.WriteString(" ")
	b.WriteString(objectName(res.Resource.Namespace, res.Resource.Name))
	b.WriteString(" violates ")
	b.WriteString(strconv.Itoa(violations))
	b.WriteString(" flow(s): ")
	written := 0
	for i := range res.Findings {
		f := &res.Findings[i]
		if f.Verdict != residency.Violation || f.Exception != nil {
			continue
		}
		text := flowText(f)
		if b.Len()+len(text) > maxDenialBytes {
			fmt.Fprintf(&b, "; and %d more", violations-written)
			break
		}
		if written > 0 {
			b.WriteString("; ")
		}
		b.WriteString(text)
		written++
	}
	return b.String()
}

// warningsBuilder collects admission warnings within the bounds above.
type warningsBuilder struct {
	out     []string
	runes   int
	omitted int
	// omittedViolations and omittedWarnings count what the summary names.
	omittedViolations, omittedWarnings int
}

func (w *warningsBuilder) add(text string) bool {
	text = truncate(text, maxWarningBytes)
	n := utf8.RuneCountInString(text)
	if len(w.out) >= maxWarnings || w.runes+n > maxWarningsRunes {
		w.omitted++
		return false
	}
	w.out = append(w.out, text)
	w.runes += n
	return true
}

// addFinding adds one Violation or Warning finding.
func (w *warningsBuilder) addFinding(f *residency.Finding) {
	prefix := "data residency warning: "
	if f.Verdict == residency.Violation {
		prefix = "data residency violation: "
	}
	text := prefix + flowText(f)
	if f.Exception != nil {
		// An accepted risk: admitted, and said so with its trail.
		text = "data residency: accepted risk: " + flowText(f) + "; " + f.Exception.String()
	}
	if !w.add(text) {
		if f.Verdict == residency.Violation {
			w.omittedViolations++
		} else {
			w.omittedWarnings++
		}
	}
}

// list returns the warnings, with a summary line for what did not fit.
func (w *warningsBuilder) list() []string {
	if w.omitted == 0 {
		return w.out
	}
	summary := fmt.Sprintf("data residency: %d more finding(s) not shown (%d violation(s), %d warning(s)); `residencyctl scan` or the operator's reports list them all",
		w.omitted, w.omittedViolations, w.omittedWarnings)
	return append(w.out, summary)
}

// reasonsOf lists the distinct reason codes of the findings at or above a verdict, sorted.
func reasonsOf(findings []residency.Finding) string {
	var rs []string
	for i := range findings {
		if findings[i].Verdict == residency.Compliant || findings[i].Reason == "" {
			continue
		}
		r := string(findings[i].Reason)
		found := false
		for _, x := range rs {
			if x == r {
				found = true
				break
			}
		}
		if !found {
			rs = append(rs, r)
		}
	}
	sort.Strings(rs)
	return truncate(strings.Join(rs, ","), maxAnnotationBytes)
}
