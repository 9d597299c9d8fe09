package residency

import (
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const modulePath = "github.com/dataresidency/operator"

// The engine is pure: it may import the standard library, k8s.io/api,
// k8s.io/apimachinery and the API types, and nothing that talks to a cluster.
func TestEngineImportsArePure(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !allowedEngineImport(path) {
				t.Errorf("%s imports %s: the engine may import only the standard library, k8s.io/api, k8s.io/apimachinery and %s/api/v1alpha1",
					name, path, modulePath)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source files checked")
	}
}

func allowedEngineImport(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	switch {
	case !strings.Contains(first, "."): // standard library
		return true
	case strings.HasPrefix(path, "k8s.io/api/"), strings.HasPrefix(path, "k8s.io/apimachinery/"):
		return true
	case path == modulePath+"/api/v1alpha1":
		return true
	}
	return false
}

// Transitively too: nothing the engine links may pull in client-go or
// controller-runtime.
func TestEngineDependenciesArePure(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		if g := filepath.Join(os.Getenv("GOROOT"), "bin", "go"); fileExists(g) {
			goTool = g
		} else {
			t.Skip("go tool not found")
		}
	}
	out, err := exec.Command(goTool, "list", "-deps", modulePath+"/internal/residency").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed %d packages: %s", len(deps), out)
	}
	for _, dep := range deps {
		for _, banned := range []string{"k8s.io/client-go", "sigs.k8s.io/controller-runtime"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("the engine depends on %s", dep)
			}
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
