package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzScan feeds arbitrary bytes to scan's reading, validation and evaluation:
// any input is either bad input (located in the file) or evaluated; nothing panics.
func FuzzScan(f *testing.F) {
	for _, pattern := range []string{"test/fixtures/malformed/*.yaml", "test/fixtures/seeds/*/workloads.yaml", "test/fixtures/seeds/000-*/catalog.yaml"} {
		files, _ := filepath.Glob(filepath.Join(repo, pattern))
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: List, items: []}, 3, null]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("--- {apiVersion: v1, kind: Pod, metadata: {name: p}}\n...\n---\n"))
	f.Add([]byte("\xef\xbb\xbf# c\r\n---\r\n---\r\napiVersion: v1\r\nkind: Pod\r\nmetadata: {name: p}\r\n...\r\n---\r\n# c\r\n---\r\n---x\r"))
	f.Add([]byte("apiVersion: dataresidency.io/v1alpha1\nkind: Subprocessor\nmetadata: {name: s}\nspec: {legalName: x, country: NO, purpose: p, processingLocations: [a, a]}\n"))
	at := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		// Each document is located: its text is the input's lines from its offset.
		if docs, err := splitDocuments("fuzz.yaml", data); err == nil {
			lines := strings.Split(strings.ReplaceAll(strings.TrimPrefix(string(data), "\xef\xbb\xbf"), "\r\n", "\n"), "\n")
			for _, d := range docs {
				raw := strings.Split(strings.TrimSuffix(string(d.raw), "\n"), "\n")
				if d.offset < 1 || d.offset-1+len(raw) > len(lines) || strings.Join(lines[d.offset-1:d.offset-1+len(raw)], "\n") != strings.Join(raw, "\n") {
					t.Fatalf("document at line %d is not there: %q", d.offset, d.raw)
				}
			}
		}
		b := Load([]string{"-"}, bytes.NewReader(data), "fuzz.yaml", "")
		for _, e := range b.Errors {
			if !strings.HasPrefix(e.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %s", e.Error())
			}
			if strings.Contains(e.Msg, "internal error") {
				t.Fatalf("panic recovered: %s", e.Error())
			}
		}
		if len(b.Errors) > 0 {
			return
		}
		rep, errs := Evaluate(b, at)
		for _, e := range errs {
			if strings.Contains(e.Msg, "internal error") {
				t.Fatalf("panic recovered: %s", e.Error())
			}
		}
		var out bytes.Buffer
		_ = writeScanJSON(&out, rep)
		_ = writeScanSARIF(&out, rep)
		_ = writeScanTable(&out, rep)
		_ = writeRegisterMarkdown(&out, BuildRegister(b, at, "fuzz"))
	})
}
