package residency

import (
	"errors"
	"io"
	"path"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Mounted ConfigMap files are read by their name's extension, with the same
// value reader as env values:
//   - .yaml, .yml, .json: every string of every document, named by its map
//     key (apimachinery's YAML decoder, as kubectl reads manifests); a file
//     that does not decode is read line by line;
//   - .ini, .properties, .conf, .cfg, .cnf, .env, .toml, .config, .props,
//     .hcl, .tfvars and names without extension (Corefile, Caddyfile): line
//     by line, "key = value", "key: value" or "key value", comments and
//     [section] lines skipped;
//   - any other file (scripts, templates, certificates, XML, text) is not read.

// fileFormat is how a mounted file is read.
type fileFormat uint8

const (
	formatNone fileFormat = iota
	formatStructured
	formatLines
)

// fileFormatOf says how to read a file, by its extension.
func fileFormatOf(p string) fileFormat {
	switch strings.ToLower(path.Ext(path.Base(p))) {
	case ".yaml", ".yml", ".json":
		return formatStructured
	case ".ini", ".properties", ".conf", ".cfg", ".cnf", ".env", ".toml", ".config", ".props",
		".hcl", ".tfvars", "":
		return formatLines
	}
	return formatNone
}

// readFile reads a mounted file found at p.
func (d *discoverer) readFile(content, p string) {
	switch fileFormatOf(p) {
	case formatStructured:
		if !d.readStructured(content) {
			d.readLines(content)
		}
	case formatLines:
		d.readLines(content)
	}
}

// readStructured reads the strings of a YAML or JSON file's documents. It
// reports false, having read nothing, when the file does not decode.
func (d *discoverer) readStructured(content string) bool {
	var docs []any
	dec := utilyaml.NewYAMLToJSONDecoder(strings.NewReader(content))
	for {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false
		}
		docs = append(docs, doc)
	}
	for _, doc := range docs {
		d.walk(doc, keyUnknown, 1)
	}
	return true
}

// readLines reads a configuration file line by line.
func (d *discoverer) readLines(content string) {
	for content != "" && !d.stopped {
		line := content
		if i := strings.IndexByte(content, '\n'); i >= 0 {
			line, content = content[:i], content[i+1:]
		} else {
			content = ""
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '!' || strings.HasPrefix(line, "//") ||
			(line[0] == '[' && line[len(line)-1] == ']' && !strings.ContainsAny(line, ":=\"")) {
			continue
		}
		key, value := splitConfigLine(line)
		d.readValue(value, valueKey{name: key}, 1)
	}
}

// splitConfigLine splits "key = value", "key: value", "key value" (nginx,
// Fluent Bit) and "export KEY=value"; a line that starts with a URL, or a
// YAML list item, has no key.
func splitConfigLine(line string) (key, value string) {
	if strings.HasPrefix(line, "- ") {
		return "", line[2:]
	}
	cut := -1
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '=' || isASCIISpace(c) || (c == ':' && (i+1 == len(line) || isASCIISpace(line[i+1]))) {
			cut = i
			break
		}
		if c == ':' && strings.HasPrefix(line[i:], "://") {
			return "", line
		}
	}
	if cut < 0 {
		return "", line
	}
	key, value = line[:cut], strings.TrimSpace(line[cut+1:])
	if key == "export" && isASCIISpace(line[cut]) {
		if k, v, ok := strings.Cut(value, "="); ok && !strings.ContainsAny(k, " \t") {
			return k, v
		}
	}
	if isASCIISpace(line[cut]) {
		// "key = value" and "key : value" keep their separator after the space.
		if rest := strings.TrimLeft(value, " \t"); rest != "" && (rest[0] == '=' || rest[0] == ':') {
			value = strings.TrimSpace(rest[1:])
		}
	}
	return key, value
}
