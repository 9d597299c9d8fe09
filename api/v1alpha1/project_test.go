package v1alpha1

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// TestProjectFileListsTheAPI keeps the hand-written PROJECT file in step with
// the kinds this package registers: every kind (not its List) once, in this
// group and version, with the repository's module path.
func TestProjectFileListsTheAPI(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "PROJECT"))
	if err != nil {
		t.Fatal(err)
	}
	var project struct {
		Domain    string `json:"domain"`
		Repo      string `json:"repo"`
		Resources []struct {
			Group   string `json:"group"`
			Domain  string `json:"domain"`
			Kind    string `json:"kind"`
			Version string `json:"version"`
			Path    string `json:"path"`
			API     struct {
				Namespaced bool `json:"namespaced"`
			} `json:"api"`
		} `json:"resources"`
	}
	if err := yaml.UnmarshalStrict(raw, &project); err != nil {
		// Strict only about what is read: unknown keys are kubebuilder's.
		if err := yaml.Unmarshal(raw, &project); err != nil {
			t.Fatal(err)
		}
	}
	if project.Domain != "io" || project.Repo != "github.com/dataresidency/operator" {
		t.Errorf("PROJECT domain %q repo %q", project.Domain, project.Repo)
	}
	var inProject []string
	for _, r := range project.Resources {
		if r.Group+"."+r.Domain != GroupVersion.Group || r.Version != GroupVersion.Version {
			t.Errorf("PROJECT resource %s: group %s.%s version %s, want %s", r.Kind, r.Group, r.Domain, r.Version, GroupVersion)
		}
		if r.Path != project.Repo+"/api/"+GroupVersion.Version {
			t.Errorf("PROJECT resource %s: path %q", r.Kind, r.Path)
		}
		// Every kind the organisation writes is cluster-scoped (a tenant
		// cannot grant itself a Subprocessor or an exception); ObservedEgress
		// is the operator's own record of a namespace's workloads.
		if r.API.Namespaced != (r.Kind == "ObservedEgress") {
			t.Errorf("PROJECT resource %s: namespaced %v; only ObservedEgress is namespaced", r.Kind, r.API.Namespaced)
		}
		inProject = append(inProject, r.Kind)
	}
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	var registered []string
	for gvk := range s.KnownTypes(GroupVersion) {
		if !strings.HasSuffix(gvk, "List") && gvk != "WatchEvent" && !strings.HasSuffix(gvk, "Options") && gvk != "Status" && gvk != "APIGroup" && gvk != "APIVersions" && gvk != "APIResourceList" && gvk != "APIGroupList" {
			registered = append(registered, gvk)
		}
	}
	sort.Strings(inProject)
	sort.Strings(registered)
	if strings.Join(inProject, ",") != strings.Join(registered, ",") {
		t.Errorf("PROJECT lists %v, the scheme registers %v", inProject, registered)
	}
}
