package residency

import (
	"regexp"
	"testing"
	"time"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// datePattern is the CRDs' pattern for a Date (api/v1alpha1): what the API
// server lets through to ParseDate.
var datePattern = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`)

// FuzzParseDate: every date of the residency objects (expiry, effective and
// review dates, override dates) and residencyctl's --at goes through
// ParseDate. Whatever it accepts matches the API's pattern, is UTC midnight,
// and writes back unchanged; it never panics. (2027-02-30 matches the pattern
// and is refused here: the operator reports such a basis Incomplete.)
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2027-03-05", "2027-02-30", "2024-02-29", "2023-02-29", "0000-01-01", "9999-12-31",
		"05.03.2027", "2027-3-5", "", "2027-03-05T00:00:00Z", "２０２７-０３-０５", "-002-01-01", "2027-03-05\n", "2027-00-10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDate(v1alpha1.Date(s))
		if err != nil {
			return
		}
		if !datePattern.MatchString(s) {
			t.Fatalf("ParseDate(%q) accepted a value the API's pattern refuses", s)
		}
		if d.Location() != time.UTC || d.Hour() != 0 || d.Minute() != 0 || d.Second() != 0 || d.Nanosecond() != 0 {
			t.Fatalf("ParseDate(%q) = %v, not UTC midnight", s, d)
		}
		if got := FormatDate(d); string(got) != s && !(s == "0001-01-01" && got == "") {
			t.Fatalf("ParseDate(%q) writes back as %q", s, got)
		}
	})
}
