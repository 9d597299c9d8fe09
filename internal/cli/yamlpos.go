package cli

import (
	"regexp"
	"strconv"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
)

// Positions and the YAML 1.1 trap. Documents are decoded the way kubectl
// decodes them (sigs.k8s.io/yaml, YAML 1.1: an unquoted NO is the boolean
// false); a second, YAML 1.2 reading of the same text gives the line of a field
// and the scalar exactly as written, so that an error can say where it is and
// why a country became a boolean.

// yaml11Booleans are the plain scalars YAML 1.1 reads as booleans but YAML 1.2
// (and a human) reads as words: Norway is "NO".
var yaml11Booleans = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true,
	"n": true, "N": true, "no": true, "No": true, "NO": true,
	"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true,
}

// docTree is the YAML 1.2 node tree of a document, parsed on demand.
type docTree struct {
	raw    []byte
	offset int // file line of raw line 1
	parsed bool
	root   *yamlv3.Node
}

func (t *docTree) node() *yamlv3.Node {
	if !t.parsed {
		t.parsed = true
		var n yamlv3.Node
		func() {
			defer func() { _ = recover() }()
			if err := yamlv3.Unmarshal(t.raw, &n); err == nil && len(n.Content) > 0 {
				t.root = n.Content[0]
			}
		}()
	}
	return t.root
}

var pathToken = regexp.MustCompile(`([^.\[\]]+)|\[([^\]]*)\]`)

// splitFieldPath splits "spec.egress.hosts[0]" into spec, egress, hosts, [0].
func splitFieldPath(p string) []string {
	var out []string
	for _, m := range pathToken.FindAllStringSubmatch(p, -1) {
		if m[1] != "" {
			out = append(out, m[1])
		} else {
			out = append(out, "["+m[2]+"]")
		}
	}
	return out
}

// lookup finds the node of a field path below n (a mapping or sequence), or
// the deepest ancestor that exists; exact says whether the field itself was
// found, and line is the line of its key (or of the ancestor's key).
func lookup(n *yamlv3.Node, path []string) (found *yamlv3.Node, line int, exact bool) {
	cur := n
	if cur != nil {
		line = cur.Line
	}
	for _, seg := range path {
		for cur != nil && cur.Kind == yamlv3.AliasNode {
			cur = cur.Alias
		}
		if cur == nil {
			return nil, line, false
		}
		var next *yamlv3.Node
		nextLine := 0
		switch {
		case strings.HasPrefix(seg, "[") && cur.Kind == yamlv3.SequenceNode:
			if i, err := strconv.Atoi(seg[1 : len(seg)-1]); err == nil && i >= 0 && i < len(cur.Content) {
				next = cur.Content[i]
				nextLine = next.Line
			}
		case cur.Kind == yamlv3.MappingNode:
			key := strings.TrimSuffix(strings.TrimPrefix(seg, "["), "]")
			for i := 0; i+1 < len(cur.Content); i += 2 {
				if cur.Content[i].Value == key {
					next = cur.Content[i+1]
					nextLine = cur.Content[i].Line
					break
				}
			}
		}
		if next == nil {
			return cur, line, false
		}
		cur, line = next, nextLine
	}
	return cur, line, true
}

// fieldLine is the file line of a field of the document (the document's own
// line when the field cannot be found), and the scalar as written when the
// field is a plain YAML 1.1 boolean word.
func (t *docTree) fieldLine(base *yamlv3.Node, path string) (line int, yaml11Bool string) {
	root := base
	if root == nil {
		root = t.node()
	}
	if root == nil {
		return 0, ""
	}
	n, l, exact := lookup(root, splitFieldPath(path))
	if n == nil || l == 0 {
		return 0, ""
	}
	if exact && n.Kind == yamlv3.ScalarNode && n.Style == 0 && yaml11Booleans[n.Value] {
		yaml11Bool = n.Value
	}
	return t.offset + l - 1, yaml11Bool
}

// yaml11BooleanHint explains what became of an unquoted word.
func yaml11BooleanHint(word string) string {
	b := "false"
	switch word {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON":
		b = "true"
	}
	return "the unquoted " + word + " is the boolean " + b + " in YAML 1.1, which kubectl and the API server use: quote it: \"" + word + "\""
}
