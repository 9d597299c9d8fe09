// Package badinput_test feeds a corpus of malformed objects and annotations
// (corpus/, one defect per file, described in the file's header) to the two
// doors user input comes through:
//
//   - the API server, with the operator running (bin/manager as a process,
//     serving its webhooks): residency objects must be refused by the schema
//     with a message naming the field, or accepted and then reported by the
//     operator; workloads with bad annotations must show up as
//     InvalidAnnotation in their Report; and the operator must neither panic
//     nor stall: after the corpus, a normal object still reconciles within
//     seconds;
//   - residencyctl scan -f FILE: exit 1 (findings) or 2 (bad input, the message
//     naming the file, the document and the field), never a crash.
//
// Each corpus file starts with
//
//	# bad input: what is wrong
//	# api: rejected FIELD | undecodable | reported REASON | status KIND/NAME TEXT
//	# cli: 2 TEXT | 1 REASON
//
// Large inputs are generated when the test runs, so that the corpus stays
// small in git: @@repeat:N:TEXT@@ (TEXT N times), @@seq:N@@ (N distinct
// two-letter codes), @@list:N:PREFIX@@ ("PREFIX0, PREFIX1, ..."),
// @@measures:N@@, @@envs:N@@ (N env entries), @@urls:N@@ (N comma-separated
// URLs).
package badinput_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dataresidency/operator/internal/testenv"
)

type entry struct {
	file string // base name
	what string
	api  string // rejected | undecodable | reported | status
	apiArg,
	cli string // "1" or "2"
	cliArg string
	data   []byte // expanded
}

var macro = regexp.MustCompile(`@@([a-z]+):([0-9]+)(?::([^@]*))?@@`)

// expand generates the large parts of a corpus file.
func expand(data []byte) []byte {
	return macro.ReplaceAllFunc(data, func(m []byte) []byte {
		g := macro.FindSubmatch(m)
		n, _ := strconv.Atoi(string(g[2]))
		arg := string(g[3])
		var b bytes.Buffer
		switch string(g[1]) {
		case "repeat":
			b.WriteString(strings.Repeat(arg, n))
		case "seq":
			for i := range n {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteByte(byte('A' + i/26%26))
				b.WriteByte(byte('A' + i%26))
			}
		case "list":
			for i := range n {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%s%d", arg, i)
			}
		case "measures":
			all := []string{"EncryptionInTransit", "EncryptionAtRest", "Pseudonymisation", "SplitProcessing", "TransparencyReporting"}
			for i := range n {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(all[i%len(all)])
			}
		case "envs":
			for i := range n {
				fmt.Fprintf(&b, "        - name: ENDPOINT_%d\n          value: https://api-%d.vendor-%d.io:%d/v1\n", i, i, i%97, 1000+i%60000)
			}
		case "urls":
			for i := range n {
				if i > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, "https://h%d.eu", i)
			}
		default:
			return m
		}
		return b.Bytes()
	})
}

func corpus(t *testing.T) []entry {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.Root(), "test", "badinput", "corpus", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 100 {
		t.Fatalf("the corpus has %d files; it is meant to have at least 100", len(files))
	}
	var out []entry
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		e := entry{file: filepath.Base(f), data: expand(raw)}
		for _, line := range strings.Split(string(raw), "\n") {
			if !strings.HasPrefix(line, "# ") {
				break
			}
			k, v, _ := strings.Cut(strings.TrimPrefix(line, "# "), ": ")
			switch k {
			case "bad input":
				e.what = v
			case "api":
				e.api, e.apiArg, _ = strings.Cut(v, " ")
			case "cli":
				e.cli, e.cliArg, _ = strings.Cut(v, " ")
			}
		}
		if e.what == "" || e.api == "" || e.cli == "" {
			t.Fatalf("%s: the header must say what is wrong (# bad input:), what the API server does (# api:) and what residencyctl does (# cli:)", e.file)
		}
		out = append(out, e)
	}
	return out
}

// TestCorpusHeaders keeps the corpus honest: every expectation is one the
// tests know how to check.
func TestCorpusHeaders(t *testing.T) {
	kinds := map[string]int{}
	for _, e := range corpus(t) {
		switch e.api {
		case "rejected", "reported", "status":
			if e.apiArg == "" {
				t.Errorf("%s: api: %s needs an argument", e.file, e.api)
			}
		case "undecodable":
		default:
			t.Errorf("%s: unknown api expectation %q", e.file, e.api)
		}
		if e.cli != "1" && e.cli != "2" {
			t.Errorf("%s: residencyctl must exit 1 or 2, not %q", e.file, e.cli)
		}
		kinds[e.api]++
	}
	t.Logf("corpus: %v", kinds)
}
