package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Bounds on what residencyctl reads: manifests come from CI pipelines and
// chart renderings, and a runaway input must fail, not exhaust the runner.
const (
	// MaxFileBytes is the largest file (or stdin stream) read.
	MaxFileBytes = 64 << 20
	// maxFiles bounds the files a directory walk may yield.
	maxFiles = 100000
	// maxDocuments bounds the documents of one file.
	maxDocuments = 100000
)

// StdinName is how standard input is named in messages unless --stdin-name says otherwise.
const StdinName = "<stdin>"

// manifestExtensions are the files a directory walk reads.
var manifestExtensions = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// source is one file to read, and whether it was named on the command line
// (explicit) or found in a directory walk.
type source struct {
	path     string // as shown in messages
	stdin    bool
	explicit bool
}

// InputError is bad input: something residencyctl cannot read or will not
// trust, located by file, document (1-based) and, when known, line, object and field.
type InputError struct {
	File     string
	Document int // 0: the file as a whole
	Item     int // index in a List's items, -1 if not in a List
	Line     int // 0: unknown
	Kind     string
	Name     string
	Field    string
	Msg      string
}

func (e *InputError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Document > 0 {
		fmt.Fprintf(&b, ": document %d", e.Document)
		if e.Item >= 0 {
			fmt.Fprintf(&b, ", items[%d]", e.Item)
		}
		if e.Line > 0 {
			fmt.Fprintf(&b, " (line %d)", e.Line)
		}
	} else if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d", e.Line)
	}
	if e.Kind != "" || e.Name != "" {
		b.WriteString(": ")
		b.WriteString(strings.TrimSpace(e.Kind + " " + e.Name))
	}
	b.WriteString(": ")
	if e.Field != "" && !strings.HasPrefix(e.Msg, e.Field+":") {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// document is one YAML document of a file.
type document struct {
	file string
	// index is 1-based among the documents kubectl reads: those that do not
	// decode to nothing (white space, comments, null), which kubectl skips.
	index int
	// line is the 1-based line of the document's first content line in the file;
	// offset is the file line its raw text starts at (raw line 1 is file line offset).
	line, offset int
	raw          []byte
}

// expandSources turns the -f arguments into files: "-" is stdin, a directory
// is walked recursively for *.yaml, *.yml and *.json (in lexical order).
func expandSources(paths []string) ([]source, error) {
	var out []source
	stdinSeen := false
	for _, p := range paths {
		if p == "-" {
			if stdinSeen {
				return nil, errors.New("-f -: standard input can be read only once")
			}
			stdinSeen = true
			out = append(out, source{path: "-", stdin: true, explicit: true})
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			return nil, &InputError{File: p, Item: -1, Msg: pathError(err)}
		}
		if !info.IsDir() {
			out = append(out, source{path: p, explicit: true})
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return &InputError{File: path, Item: -1, Msg: pathError(err)}
			}
			if d.IsDir() {
				return nil
			}
			if !manifestExtensions[strings.ToLower(filepath.Ext(path))] {
				return nil
			}
			if !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			found = append(found, path)
			if len(found) > maxFiles {
				return &InputError{File: p, Item: -1, Msg: fmt.Sprintf("more than %d manifest files under this directory", maxFiles)}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		for _, f := range found {
			out = append(out, source{path: f})
		}
	}
	return out, nil
}

func pathError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// readBounded reads r to its end, failing beyond MaxFileBytes.
// fileLimit is MaxFileBytes, lowered by tests.
var fileLimit int64 = MaxFileBytes

func readBounded(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, fileLimit+1))
	if err != nil {
		return nil, &InputError{File: name, Item: -1, Msg: "read: " + err.Error()}
	}
	if int64(len(data)) > fileLimit {
		return nil, &InputError{File: name, Item: -1, Msg: fmt.Sprintf("larger than %d bytes (%d MiB): split it; residencyctl reads at most that much per file", fileLimit, fileLimit>>20)}
	}
	return data, nil
}

// splitDocuments splits a YAML stream into documents with kubectl's own reader
// (k8s.io/apimachinery's YAMLReader, which kubectl's resource builder reads
// YAML through): the library decides what a separator is and what is an
// error ("--- {a: 1}"). Every document it returns is a run of whole lines of
// the input, the "---" that ended the previous one skipped, which is how each
// is located. Documents are not numbered here: kubectl skips the empty ones
// (white space, comments, null), which only decoding tells.
func splitDocuments(file string, data []byte) ([]document, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	// The reader's lines: "\r\n" ends a line as "\n" does, and the last line ends in "\n".
	text := bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	if len(text) > 0 && text[len(text)-1] != '\n' {
		text = append(text, '\n')
	}
	var docs []document
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	pos, line := 0, 1 // the end of the previous document in text, and its line
	for {
		raw, err := r.Read()
		from, fromLine := pos, line
		if len(docs) > 0 && pos < len(text) {
			// Skip the separator line that ended the previous document.
			from = pos + bytes.IndexByte(text[pos:], '\n') + 1
			fromLine++
		}
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, separatorError(file, text[from:], fromLine, err)
		}
		if len(docs) >= maxDocuments {
			return nil, &InputError{File: file, Item: -1, Msg: fmt.Sprintf("more than %d documents", maxDocuments)}
		}
		start := locate(text, raw, from)
		line = fromLine + bytes.Count(text[from:start], []byte("\n"))
		docs = append(docs, document{file: file, line: line + contentLine(raw), offset: line, raw: raw})
		pos = start + len(raw)
		line += bytes.Count(raw, []byte("\n"))
	}
}

// locate returns where doc, a run of whole lines, is in text at or after from
// (a line start): from itself unless the reader skipped more than expected.
func locate(text, doc []byte, from int) int {
	for i := from; i < len(text); {
		j := bytes.Index(text[i:], doc)
		if j < 0 {
			break
		}
		if i+j == from || text[i+j-1] == '\n' {
			return i + j
		}
		i += j + 1
	}
	return from
}

// contentLine is the 0-based line of raw that holds the document's first
// content: past white space, comments and the "---" the reader leaves at
// the start of a document.
func contentLine(raw []byte) int {
	for n := 0; len(raw) > 0; n++ {
		l, rest, _ := bytes.Cut(raw, []byte("\n"))
		t := bytes.TrimSpace(l)
		if len(t) > 0 && t[0] != '#' && !(n == 0 && bytes.HasPrefix(l, []byte("---"))) {
			return n
		}
		raw = rest
	}
	return 0
}

// separatorError is the reader's error for the lines from fromLine on (text):
// a "---" line followed by content, as kubectl rejects it, located at that line.
func separatorError(file string, text []byte, fromLine int, err error) error {
	bad, ok := strings.CutPrefix(err.Error(), "invalid Yaml document separator: ")
	if !ok {
		return &InputError{File: file, Item: -1, Msg: "read: " + err.Error()}
	}
	e := &InputError{File: file, Item: -1,
		Msg: fmt.Sprintf("invalid YAML: %q after the document separator \"---\": only a comment may follow it on its line, as kubectl requires (put the content on the next line)", bad)}
	for n := 0; len(text) > 0; n++ {
		l, rest, _ := bytes.Cut(text, []byte("\n"))
		if after, ok := bytes.CutPrefix(l, []byte("---")); ok && string(bytes.TrimSpace(after)) == bad {
			e.Line = fromLine + n
			break
		}
		text = rest
	}
	return e
}
