// Package rbac_test proves the operator's RBAC is least privilege: no
// ClusterRole anywhere in config/ grants access to Secrets or uses wildcards,
// and any namespaced grant on a Secret is pinned to named objects.
package rbac_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/dataresidency/operator/internal/testenv"
)

type role struct {
	file  string
	kind  string
	name  string
	rules []rbacv1.PolicyRule
}

func roles(t *testing.T) []role {
	t.Helper()
	var out []role
	root := filepath.Join(testenv.Root(), "config")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		objs, err := testenv.ReadObjects(path)
		if err != nil {
			return nil // kustomize patches and the like are not whole objects
		}
		for _, o := range objs {
			if o.GetKind() != "ClusterRole" && o.GetKind() != "Role" {
				continue
			}
			raw, _ := yaml.Marshal(o.Object)
			var r rbacv1.ClusterRole
			if err := yaml.Unmarshal(raw, &r); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			out = append(out, role{file: path, kind: o.GetKind(), name: o.GetName(), rules: r.Rules})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNoSecretsAndNoWildcards(t *testing.T) {
	rs := roles(t)
	var manager bool
	for _, r := range rs {
		manager = manager || r.name == "manager-role"
		for i, rule := range r.rules {
			where := r.file + ": " + r.kind + " " + r.name + " rule " + string(rune('0'+i))
			for _, field := range [][]string{rule.Verbs, rule.Resources, rule.APIGroups} {
				if slices.Contains(field, "*") {
					t.Errorf("%s uses a wildcard: %+v", where, rule)
				}
			}
			if len(rule.NonResourceURLs) > 0 && r.kind == "ClusterRole" && !strings.Contains(r.name, "metrics") {
				t.Errorf("%s grants non-resource URLs %v", where, rule.NonResourceURLs)
			}
			if slices.Contains(rule.Resources, "secrets") {
				if r.kind == "ClusterRole" {
					t.Errorf("%s: a ClusterRole grants access to Secrets: %+v", where, rule)
				} else if len(rule.ResourceNames) == 0 {
					// With resourceNames, even list and watch only work with a
					// metadata.name field selector on those names.
					t.Errorf("%s: a Role grants Secrets beyond named objects: %+v", where, rule)
				}
			}
		}
	}
	if !manager {
		t.Fatalf("the generated manager-role was not found under config/")
	}
}

// TestViewerReadsOnly: residency-viewer can read compliance state and nothing else.
func TestViewerReadsOnly(t *testing.T) {
	for _, r := range roles(t) {
		if r.name != "residency-viewer" {
			continue
		}
		for _, rule := range r.rules {
			for _, v := range rule.Verbs {
				if v != "get" && v != "list" && v != "watch" {
					t.Errorf("residency-viewer may %s %v", v, rule.Resources)
				}
			}
			for _, g := range rule.APIGroups {
				if g != "dataresidency.io" && g != "openreports.io" {
					t.Errorf("residency-viewer reaches API group %q", g)
				}
			}
		}
		return
	}
	t.Fatal("residency-viewer not found")
}
