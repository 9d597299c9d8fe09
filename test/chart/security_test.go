package chart_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/dataresidency/operator/internal/testenv"
)

func typed[T any](t *testing.T, o object) *T {
	t.Helper()
	b, err := yaml.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := yaml.UnmarshalStrict(b, &v); err != nil {
		t.Fatalf("%s: %v", id(o), err)
	}
	return &v
}

// TestProductionPosture holds the installation to what docs/install.md
// promises, in the chart's default rendering (and kustomize's, which the
// chart equals): two replicas spread over nodes, a disruption budget,
// probes, requests and a memory limit that GOMEMLIMIT follows, a container
// that runs as non-root on a read-only root filesystem with no capabilities
// and the RuntimeDefault seccomp profile, a restricted namespace, and a
// NetworkPolicy that lets in only the webhook and the monitoring namespace's
// scrapes.
func TestProductionPosture(t *testing.T) {
	helmBin(t)
	objs := helmTemplate(t, namespace, "--set", "namespace.create=true")
	dep := typed[appsv1.Deployment](t, find(t, objs, "Deployment", "dataresidency-controller-manager"))
	pod := dep.Spec.Template.Spec
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas < 2 {
		t.Errorf("replicas %v: the webhook fails closed, run at least two", dep.Spec.Replicas)
	}
	if !strings.Contains(strings.Join(pod.Containers[0].Args, " "), "--leader-elect") {
		t.Errorf("two replicas without --leader-elect would both reconcile")
	}
	if a := pod.Affinity; a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 ||
		a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" ||
		!matches(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.LabelSelector.MatchLabels, dep.Spec.Template.Labels) {
		t.Errorf("no preferred pod anti-affinity by hostname over the manager's own Pods: %+v", pod.Affinity)
	}
	pdb := typed[policyv1.PodDisruptionBudget](t, find(t, objs, "PodDisruptionBudget", "dataresidency-controller-manager"))
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 || !matches(pdb.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) {
		t.Errorf("PodDisruptionBudget: minAvailable %v over %v", pdb.Spec.MinAvailable, pdb.Spec.Selector)
	}

	if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext: want runAsNonRoot and seccomp RuntimeDefault, got %+v", sc)
	}
	c := pod.Containers[0]
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
		len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) != 0 || sc.Privileged != nil && *sc.Privileged {
		t.Errorf("container securityContext: want a read-only root filesystem, no privilege escalation, all capabilities dropped; got %+v", sc)
	}
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			t.Errorf("volume %s is a hostPath", v.Name)
		}
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Errorf("the manager shares a host namespace")
	}
	for _, p := range []struct {
		probe *corev1.Probe
		path  string
	}{{c.LivenessProbe, "/healthz"}, {c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.IntValue() != 8081 {
			t.Errorf("want a probe on :8081%s, got %+v", p.path, p.probe)
		}
	}
	if !strings.Contains(strings.Join(c.Args, " "), "--health-probe-bind-address=:8081") {
		t.Errorf("the probes ask :8081, the manager serves them elsewhere: %v", c.Args)
	}
	mem := c.Resources.Limits.Memory()
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || mem.IsZero() {
		t.Errorf("resources: want CPU and memory requests and a memory limit, got %+v", c.Resources)
	}
	gomemlimit := false
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" && e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil &&
			e.ValueFrom.ResourceFieldRef.Resource == "limits.memory" && e.ValueFrom.ResourceFieldRef.ContainerName == c.Name {
			gomemlimit = true
		}
	}
	if !gomemlimit {
		t.Errorf("GOMEMLIMIT does not come from the container's memory limit (downward API resourceFieldRef)")
	}

	ns := typed[corev1.Namespace](t, find(t, objs, "Namespace", namespace))
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("the namespace does not enforce the restricted Pod Security Standard: %v", ns.Labels)
	}

	np := typed[networkingv1.NetworkPolicy](t, find(t, objs, "NetworkPolicy", "dataresidency-controller-manager"))
	if !matches(np.Spec.PodSelector.MatchLabels, dep.Spec.Template.Labels) || len(np.Spec.PolicyTypes) != 1 || np.Spec.PolicyTypes[0] != networkingv1.PolicyTypeIngress {
		t.Errorf("the NetworkPolicy does not isolate the manager's Pods for ingress: %+v", np.Spec)
	}
	ports := map[string]bool{}
	for _, p := range c.Ports {
		ports[p.Name] = true
	}
	var open []string
	for _, rule := range np.Spec.Ingress {
		if len(rule.Ports) == 0 {
			t.Errorf("an ingress rule opens every port: %+v", rule)
		}
		for _, p := range rule.Ports {
			if p.Port == nil || !ports[p.Port.String()] {
				t.Errorf("ingress to port %v, which the manager does not name", p.Port)
			}
			open = append(open, p.Port.String())
			if p.Port.String() == "metrics" && (len(rule.From) != 1 || rule.From[0].NamespaceSelector == nil ||
				rule.From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring") {
				t.Errorf("metrics must be open to the monitoring namespace only: %+v", rule.From)
			}
			// dnstap is unauthenticated: only the cluster DNS's Pods may
			// send observations, or any Pod could forge them.
			if p.Port.String() == "dnstap" && (len(rule.From) != 1 || rule.From[0].NamespaceSelector == nil || rule.From[0].PodSelector == nil ||
				rule.From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "kube-system" ||
				rule.From[0].PodSelector.MatchLabels["k8s-app"] != "kube-dns") {
				t.Errorf("dnstap must be open to the cluster DNS's Pods only: %+v", rule.From)
			}
		}
	}
	if strings.Join(open, ",") != "webhook-server,metrics,dnstap" {
		t.Errorf("open ports %v, want the webhook's, the metrics' and dnstap's", open)
	}
}

// TestImageRunsAsNonRoot: runAsNonRoot can only be verified against a
// numeric user, so the image's final stage must name one, and not root.
func TestImageRunsAsNonRoot(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.Root(), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := strings.Split(string(data), "\nFROM ")
	final := stages[len(stages)-1]
	m := regexp.MustCompile(`(?m)^USER\s+(\d+)(?::(\d+))?\s*$`).FindStringSubmatch(final)
	if m == nil {
		t.Fatalf("the final stage has no numeric USER:\n%s", final)
	}
	if uid, _ := strconv.Atoi(m[1]); uid == 0 {
		t.Errorf("the image runs as root")
	}
	if !strings.Contains(final, "distroless") {
		t.Errorf("the final stage is not distroless (no shell, no package manager):\n%s", final)
	}
}

// matches reports whether a non-empty selector selects labels.
func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
