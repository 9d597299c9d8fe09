package rbac_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/dataresidency/operator/internal/testenv"
)

// installed is the RBAC an installation creates, as rendered.
type installed struct {
	clusterRoles    []rbacv1.ClusterRole
	roles           []rbacv1.Role
	clusterBindings []rbacv1.ClusterRoleBinding
	bindings        []rbacv1.RoleBinding
}

func decodeRBAC(t *testing.T, what string, data []byte) installed {
	t.Helper()
	var in installed
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return in
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		var into any
		switch meta.Kind {
		case "ClusterRole":
			in.clusterRoles = append(in.clusterRoles, rbacv1.ClusterRole{})
			into = &in.clusterRoles[len(in.clusterRoles)-1]
		case "Role":
			in.roles = append(in.roles, rbacv1.Role{})
			into = &in.roles[len(in.roles)-1]
		case "ClusterRoleBinding":
			in.clusterBindings = append(in.clusterBindings, rbacv1.ClusterRoleBinding{})
			into = &in.clusterBindings[len(in.clusterBindings)-1]
		case "RoleBinding":
			in.bindings = append(in.bindings, rbacv1.RoleBinding{})
			into = &in.bindings[len(in.bindings)-1]
		default:
			continue
		}
		if err := yaml.UnmarshalStrict(doc, into); err != nil {
			t.Fatalf("%s: %s: %v", what, meta.Kind, err)
		}
	}
}

// renderings are what users install: config/default and its overlays through
// kustomize, and the Helm chart with its RBAC-relevant variants.
func renderings(t *testing.T) map[string]installed {
	t.Helper()
	out := map[string]installed{}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		testenv.MissingTool(t, "kubectl is not on PATH (kubectl kustomize renders config/)")
	}
	for _, overlay := range []string{"default", "default-certmanager", "default-monitoring"} {
		cmd := exec.Command(kubectl, "kustomize", filepath.Join(testenv.Root(), "config", overlay))
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl kustomize config/%s: %v", overlay, err)
		}
		out["config/"+overlay] = decodeRBAC(t, overlay, b)
	}
	helm := filepath.Join(testenv.Root(), "bin", "helm")
	if _, err := os.Stat(helm); err != nil {
		t.Log("bin/helm is missing (make helm): the chart's RBAC is not checked")
		return out
	}
	for _, set := range []string{"", "certManager.enabled=true", "namespace.create=true,metrics.serviceMonitor.enabled=true"} {
		args := []string{"template", "dataresidency", filepath.Join(testenv.Root(), "dist", "chart"), "--namespace", "compliance"}
		if set != "" {
			args = append(args, "--set", set)
		}
		b, err := exec.Command(helm, args...).Output()
		if err != nil {
			t.Fatalf("helm %s: %v", strings.Join(args, " "), err)
		}
		out["chart --set "+set] = decodeRBAC(t, "chart", b)
	}
	return out
}

// TestInstalledRBAC checks the RBAC as installed (names prefixed, namespaces
// set, overlays applied), not only the files under config/:
//   - no wildcards; no ClusterRole grants Secrets; a Role grants Secrets only
//     by name, and not at all with cert-manager;
//   - the operator writes nothing but its own output: Reports, Events, the
//     status of the residency kinds, its leader-election lease, and by name the
//     webhook configuration and the one Secret. It never writes the catalog or
//     any workload;
//   - every binding binds the operator's ServiceAccount, in the installation's
//     namespace, to a role the installation itself defines;
//   - the viewer and editor roles are installed and aggregated into the
//     built-in view, edit and admin roles; the metrics-reader grants GET
//     /metrics and nothing else.
func TestInstalledRBAC(t *testing.T) {
	for what, in := range renderings(t) {
		t.Run(what, func(t *testing.T) {
			ns := "dataresidency-system"
			if strings.HasPrefix(what, "chart") {
				ns = "compliance"
			}
			defined := map[string]bool{}
			type named struct {
				kind, name string
				rules      []rbacv1.PolicyRule
			}
			var all []named
			for _, r := range in.clusterRoles {
				all = append(all, named{"ClusterRole", r.Name, r.Rules})
				defined["ClusterRole/"+r.Name] = true
			}
			for _, r := range in.roles {
				if r.Namespace != ns {
					t.Errorf("Role %s is in namespace %q, not %s", r.Name, r.Namespace, ns)
				}
				all = append(all, named{"Role", r.Name, r.Rules})
				defined["Role/"+r.Name] = true
			}
			for _, r := range all {
				for _, rule := range r.rules {
					where := r.kind + " " + r.name
					for _, f := range [][]string{rule.Verbs, rule.Resources, rule.APIGroups, rule.NonResourceURLs} {
						if slices.Contains(f, "*") {
							t.Errorf("%s uses a wildcard: %+v", where, rule)
						}
					}
					if len(rule.NonResourceURLs) > 0 && (r.name != "dataresidency-metrics-reader" || !slices.Equal(rule.NonResourceURLs, []string{"/metrics"}) || !slices.Equal(rule.Verbs, []string{"get"})) {
						t.Errorf("%s grants non-resource URLs: %+v", where, rule)
					}
					if slices.Contains(rule.Resources, "secrets") {
						switch {
						case r.kind == "ClusterRole":
							t.Errorf("%s grants Secrets", where)
						case len(rule.ResourceNames) == 0:
							t.Errorf("%s grants Secrets beyond named objects: %+v", where, rule)
						case strings.Contains(what, "certmanager") || strings.Contains(what, "certManager"):
							t.Errorf("%s: with cert-manager the operator needs no Secret at all: %+v", where, rule)
						}
					}
				}
			}

			// What the operator's ServiceAccount may write.
			mayWrite := func(group, resource string, names []string) bool {
				switch {
				case group == "openreports.io" && resource == "reports",
					group == "dataresidency.io" && resource == "observedegresses", // what the cluster DNS reported
					// The egress policies of labelled namespaces (internal/egress):
					// its own output, labelled and owned by the workloads.
					group == "networking.k8s.io" && resource == "networkpolicies",
					group == "cilium.io" && resource == "ciliumnetworkpolicies",
					group == "policy.networking.k8s.io" && resource == "clusternetworkpolicies",
					group == "events.k8s.io" && resource == "events",
					group == "" && resource == "events",
					group == "dataresidency.io" && strings.HasSuffix(resource, "/status"),
					group == "coordination.k8s.io" && resource == "leases",
					group == "authentication.k8s.io" && resource == "tokenreviews",
					group == "authorization.k8s.io" && resource == "subjectaccessreviews":
					return true
				case group == "admissionregistration.k8s.io" && resource == "validatingwebhookconfigurations",
					group == "" && resource == "secrets":
					return len(names) > 0
				}
				return false
			}
			operatorRoles := map[string]bool{}
			sa := "dataresidency-controller-manager"
			check := func(kind, name string, subjects []rbacv1.Subject, ref rbacv1.RoleRef) {
				if !defined[ref.Kind+"/"+ref.Name] {
					t.Errorf("%s %s binds %s %s, which the installation does not define", kind, name, ref.Kind, ref.Name)
				}
				for _, s := range subjects {
					if s.Kind != rbacv1.ServiceAccountKind || s.Name != sa || s.Namespace != ns {
						t.Errorf("%s %s binds %s %s/%s, not the operator's ServiceAccount %s/%s", kind, name, s.Kind, s.Namespace, s.Name, ns, sa)
					}
				}
				operatorRoles[ref.Kind+"/"+ref.Name] = true
			}
			for _, b := range in.clusterBindings {
				check("ClusterRoleBinding", b.Name, b.Subjects, b.RoleRef)
			}
			for _, b := range in.bindings {
				if b.Namespace != ns {
					t.Errorf("RoleBinding %s is in namespace %q, not %s", b.Name, b.Namespace, ns)
				}
				check("RoleBinding", b.Name, b.Subjects, b.RoleRef)
			}
			for _, r := range all {
				if !operatorRoles[r.kind+"/"+r.name] {
					continue
				}
				for _, rule := range r.rules {
					writes := slices.ContainsFunc(rule.Verbs, func(v string) bool { return v != "get" && v != "list" && v != "watch" })
					if !writes {
						continue
					}
					for _, g := range rule.APIGroups {
						for _, res := range rule.Resources {
							if !mayWrite(g, res, rule.ResourceNames) {
								t.Errorf("the operator may %v %s %q (via %s %s): it writes only its own output", rule.Verbs, res, g, r.kind, r.name)
							}
						}
					}
				}
			}

			aggregated := map[string][]string{
				"dataresidency-residency-viewer": {"rbac.authorization.k8s.io/aggregate-to-view"},
				"dataresidency-residency-editor": {"rbac.authorization.k8s.io/aggregate-to-edit", "rbac.authorization.k8s.io/aggregate-to-admin"},
			}
			for name, labels := range aggregated {
				i := slices.IndexFunc(in.clusterRoles, func(r rbacv1.ClusterRole) bool { return r.Name == name })
				if i < 0 {
					t.Errorf("%s is not installed", name)
					continue
				}
				for _, l := range labels {
					if in.clusterRoles[i].Labels[l] != "true" {
						t.Errorf("%s lacks the label %s=true", name, l)
					}
				}
			}
			if !defined["ClusterRole/dataresidency-metrics-reader"] {
				t.Errorf("the metrics-reader ClusterRole is not installed")
			}
		})
	}
}
