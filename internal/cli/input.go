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
	// index is 1-based among the documents that hold anything but comments.
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

// splitDocuments splits a YAML stream at "---" lines (and "..." end markers)
// the way kubectl does, numbering the documents that hold anything but white
// space and comments from 1, with the line each starts at.
func splitDocuments(file string, data []byte) ([]document, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var (
		docs    []document
		cur     bytes.Buffer
		start   = 1 // file line of cur's first line
		content = 0 // file line of cur's first content line, 0 if none yet
		lineNo  = 0
	)
	flush := func() error {
		if content > 0 {
			if len(docs) >= maxDocuments {
				return &InputError{File: file, Item: -1, Msg: fmt.Sprintf("more than %d documents", maxDocuments)}
			}
			raw := append([]byte(nil), cur.Bytes()...)
			docs = append(docs, document{file: file, index: len(docs) + 1, line: content, offset: start, raw: raw})
		}
		cur.Reset()
		content = 0
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), MaxFileBytes+1)
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		trimmed := bytes.TrimRight(line, " \t\r")
		if isDocumentMarker(trimmed) {
			if err := flush(); err != nil {
				return nil, err
			}
			start = lineNo
			if bytes.Equal(trimmed, []byte("...")) {
				// An end marker: the next document starts on the next line.
				start = lineNo + 1
				continue
			}
			// "--- {a: 1}" carries content after the marker: keep it, blanking the marker.
			rest := bytes.TrimLeft(trimmed[3:], " \t")
			if len(rest) > 0 && rest[0] != '#' {
				cur.WriteString(strings.Repeat(" ", len(trimmed)-len(rest)))
				cur.Write(rest)
				content = lineNo
			}
			cur.WriteByte('\n')
			continue
		}
		if content == 0 && isContentLine(trimmed) {
			content = lineNo
		}
		cur.Write(line)
		cur.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, &InputError{File: file, Item: -1, Msg: "read: " + err.Error()}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return docs, nil
}

// isDocumentMarker reports whether a line (trailing space removed) starts or
// ends a YAML document: "---", "--- anything", or "...".
func isDocumentMarker(line []byte) bool {
	if bytes.Equal(line, []byte("...")) || bytes.Equal(line, []byte("---")) {
		return true
	}
	return len(line) > 3 && bytes.HasPrefix(line, []byte("---")) && (line[3] == ' ' || line[3] == '\t')
}

// isContentLine reports whether a line holds more than white space or a comment.
// Directives (%YAML) are not content.
func isContentLine(line []byte) bool {
	t := bytes.TrimLeft(line, " \t")
	return len(t) > 0 && t[0] != '#' && t[0] != '%'
}
