package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"
)

// Every reason the engine can give has help (SARIF rules, docs/cli.md): the
// engine's Reason constants are read from its source.
func TestEveryReasonHasHelp(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../residency/types.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok || vs.Type == nil || len(vs.Values) != 1 {
			return true
		}
		if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Reason" {
			return true
		}
		lit, ok := vs.Values[0].(*ast.BasicLit)
		if !ok {
			return true
		}
		reason, _ := strconv.Unquote(lit.Value)
		if reason == "" {
			return true
		}
		n++
		if h, ok := reasonHelp[reason]; !ok || h.Short == "" || h.Help == "" {
			t.Errorf("reason %s has no help in reasonHelp", reason)
		}
		return true
	})
	if n < 15 {
		t.Fatalf("read %d reasons from types.go", n)
	}
}
