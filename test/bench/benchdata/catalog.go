// Package benchdata is what the benchmarks share: the residency catalog, the
// ValidatingAdmissionPolicy of comparable CEL checks, and the workloads.
package benchdata

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
)

// Catalog is the residency catalog of the benchmark (the one of the
// webhook's handler benchmark): Twilio SendGrid resting only on Privacy
// Shield, Brevo in France, and forty vendors in Germany, each claiming an
// API host and a CDN wildcard. The policy's lists are derived from it.
type Catalog struct {
	// Objects are the residency objects.
	Objects           []client.Object
	approved          map[string][]string // subprocessor -> approved categories
	privacyShieldOnly []string
	eea               []string
	claimed           []string
	wildcards         []string
}

// NewCatalog builds the catalog.
func NewCatalog() *Catalog {
	c := &Catalog{approved: map[string][]string{}}
	add := func(sub *v1alpha1.Subprocessor, eea, psOnly bool) {
		c.Objects = append(c.Objects, sub)
		var cats []string
		for _, dc := range sub.Spec.DataCategories {
			cats = append(cats, string(dc))
		}
		c.approved[sub.Name] = cats
		if eea {
			c.eea = append(c.eea, sub.Name)
		}
		if psOnly {
			c.privacyShieldOnly = append(c.privacyShieldOnly, sub.Name)
		}
		for _, h := range sub.Spec.Egress.Hosts {
			if rest, ok := strings.CutPrefix(h, "*."); ok {
				c.wildcards = append(c.wildcards, rest)
			} else {
				c.claimed = append(c.claimed, h)
			}
		}
	}
	c.Objects = append(c.Objects,
		&v1alpha1.ResidencyPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName},
			Spec: v1alpha1.ResidencyPolicySpec{DefaultEnforcement: v1alpha1.EnforcementAudit, ExcludedNamespaces: []string{"kube-system"}}},
		&v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: "sendgrid-us"}, Spec: v1alpha1.ProcessingLocationSpec{Country: "US"}},
		&v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: "brevo-fr"}, Spec: v1alpha1.ProcessingLocationSpec{Country: "FR"}},
		&v1alpha1.TransferBasis{ObjectMeta: metav1.ObjectMeta{Name: "sendgrid-ps"},
			Spec: v1alpha1.TransferBasisSpec{Mechanism: v1alpha1.MechanismPrivacyShield, Countries: []v1alpha1.CountryCode{"US"}}},
	)
	add(&v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "twilio-sendgrid"}, Spec: v1alpha1.SubprocessorSpec{
		LegalName: "Twilio SendGrid, Inc.", Country: "US", Purpose: "E-mail delivery",
		DataCategories:      []v1alpha1.DataCategory{"user.contact.email", "user.name"},
		ProcessingLocations: []v1alpha1.ObjectName{"sendgrid-us"},
		TransferBases:       []v1alpha1.ObjectName{"sendgrid-ps"},
		Egress:              &v1alpha1.Egress{Hosts: []string{"api.sendgrid.com", "*.sendgrid.net"}},
	}}, false, true)
	add(&v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: "brevo"}, Spec: v1alpha1.SubprocessorSpec{
		LegalName: "Sendinblue SAS", Country: "FR", Purpose: "E-mail delivery",
		DataCategories:      []v1alpha1.DataCategory{"user.contact.email", "user.name"},
		ProcessingLocations: []v1alpha1.ObjectName{"brevo-fr"},
		Egress:              &v1alpha1.Egress{Hosts: []string{"api.brevo.com", "smtp-relay.brevo.com"}},
	}}, true, false)
	for i := 0; i < 40; i++ {
		loc := fmt.Sprintf("vendor-%02d-eu", i)
		c.Objects = append(c.Objects, &v1alpha1.ProcessingLocation{ObjectMeta: metav1.ObjectMeta{Name: loc}, Spec: v1alpha1.ProcessingLocationSpec{Country: "DE"}})
		add(&v1alpha1.Subprocessor{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("vendor-%02d", i)}, Spec: v1alpha1.SubprocessorSpec{
			LegalName: "Vendor GmbH", Country: "DE", Purpose: "testing", ProcessingLocations: []v1alpha1.ObjectName{v1alpha1.ObjectName(loc)},
			Egress: &v1alpha1.Egress{Hosts: []string{fmt.Sprintf("api.vendor%02d.example.de", i), fmt.Sprintf("*.cdn.vendor%02d.de", i)}},
		}}, true, false)
	}
	return c
}

func celString(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

func celList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = celString(x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// celSet is a map to true: membership in O(1).
func celSet(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = celString(x) + ": true"
	}
	return "{" + strings.Join(q, ", ") + "}"
}

func (c *Catalog) celKnown() string {
	names := make([]string, 0, len(c.approved))
	for n := range c.approved {
		names = append(names, n)
	}
	sort.Strings(names)
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = celString(n) + ": " + celList(c.approved[n])
	}
	return "{" + strings.Join(q, ", ") + "}"
}

//go:embed policy.yaml
var policyTemplate string

// AdmissionPolicy is policy.yaml with the catalog's lists written in: the
// ValidatingAdmissionPolicy and its binding.
func AdmissionPolicy(cat *Catalog) (policy, binding *unstructured.Unstructured, err error) {
	text := strings.NewReplacer(
		"{{KNOWN}}", cat.celKnown(),
		"{{PRIVACY_SHIELD_ONLY}}", celList(cat.privacyShieldOnly),
		"{{EEA}}", celList(cat.eea),
		"{{CLAIMED}}", celSet(cat.claimed),
		"{{WILDCARDS}}", celSet(cat.wildcards),
	).Replace(policyTemplate)
	var docs []*unstructured.Unstructured
	for _, doc := range strings.Split(text, "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			return nil, nil, err
		}
		if len(u.Object) > 0 {
			docs = append(docs, u)
		}
	}
	if len(docs) != 2 {
		return nil, nil, fmt.Errorf("policy.yaml: %d documents, want the policy and its binding", len(docs))
	}
	return docs[0], docs[1], nil
}

// RealisticDeployment is the ~10 KB Deployment of the webhook's handler
// benchmark (internal/webhook/bench_test.go): an app, a sidecar and an init
// container, about eighty environment variables (URLs of vendors in the
// catalog, cluster-internal names, a ConfigMap reference), probes,
// resources, volumes; compliant: brevo and the vendors are in the EEA.
func RealisticDeployment() *appsv1.Deployment {
	labels := map[string]string{"app": "mailer"}
	var env []corev1.EnvVar
	for i := 0; i < 75; i++ {
		var v string
		switch i % 5 {
		case 0:
			v = fmt.Sprintf("http://backend-%d.shop.svc.cluster.local:8080/api/v1", i)
		case 1:
			v = fmt.Sprintf("redis-%d:6379", i)
		case 2:
			v = fmt.Sprintf("https://api.vendor%02d.example.de/v2/", i%40)
		case 3:
			v = fmt.Sprintf("value-%d-with-no-endpoint-in-it", i)
		default:
			v = fmt.Sprintf("%d", i*1000)
		}
		env = append(env, corev1.EnvVar{Name: fmt.Sprintf("SETTING_NUMBER_%02d", i), Value: v})
	}
	env = append(env,
		corev1.EnvVar{Name: "SMTP_HOST", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "mailer-config"}, Key: "SMTP_HOST"}}},
		corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		corev1.EnvVar{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
	)
	res := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
	}
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 10}
	sc := &corev1.SecurityContext{RunAsNonRoot: ptr.To(true), ReadOnlyRootFilesystem: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false),
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      map[string]string{"app.kubernetes.io/name": "mailer", "app.kubernetes.io/part-of": "shop", "app.kubernetes.io/version": "4.2.1", "team": "growth"},
			Annotations: map[string]string{"meta.helm.sh/release-name": "shop", "meta.helm.sh/release-namespace": "shop"},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{
					v1alpha1.AnnotationSubprocessors:  "brevo",
					v1alpha1.AnnotationDataCategories: "user.contact.email",
					v1alpha1.AnnotationEgress:         "https://api.brevo.com, smtp-relay.brevo.com:587",
					"prometheus.io/scrape":            "true",
				}},
				Spec: corev1.PodSpec{
					InitContainers: []corev1.Container{{Name: "migrate", Image: "registry.example/shop/mailer:4.2.1", Command: []string{"/mailer", "migrate"}, Env: env[:10], Resources: res, SecurityContext: sc}},
					Containers: []corev1.Container{
						{Name: "mailer", Image: "registry.example/shop/mailer:4.2.1", Args: []string{"--port=8080", "--log-format=json"}, Env: env,
							EnvFrom:   []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "mailer-config"}}}},
							Ports:     []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}},
							Resources: res, LivenessProbe: probe, ReadinessProbe: probe, SecurityContext: sc,
							VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}, {Name: "templates", MountPath: "/etc/mailer/templates"}}},
						{Name: "otel", Image: "otel/opentelemetry-collector:0.100.0", Env: []corev1.EnvVar{{Name: "OTLP_ENDPOINT", Value: "http://otel-collector.observability:4317"}},
							Resources: res, SecurityContext: sc},
					},
					Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
						{Name: "templates", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "mailer-templates"}}}}},
					ServiceAccountName: "mailer",
					NodeSelector:       map[string]string{"kubernetes.io/os": "linux"},
					Tolerations:        []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "shop", Effect: corev1.TaintEffectNoSchedule}},
				},
			},
		},
	}
}

// ViolatingDeployment sends e-mail addresses to a vendor resting only on
// Privacy Shield: both the webhook and the policy reject it.
func ViolatingDeployment(ns string) *appsv1.Deployment {
	labels := map[string]string{"app": "probe"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{
					v1alpha1.AnnotationSubprocessors: "twilio-sendgrid", v1alpha1.AnnotationDataCategories: "user.contact.email"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/probe:1"}}},
			},
		},
	}
}

// KyvernoPolicy is the ValidatingAdmissionPolicy and its binding as one
// Kyverno ValidatingPolicy (policies.kyverno.io/v1, the CEL policy type that
// Kyverno 1.19 recommends over the deprecated ClusterPolicy): the same
// variables and validations, evaluated by Kyverno's admission controller
// instead of kube-apiserver, denying (validationActions: Deny, the
// ValidatingPolicy's Enforce) in the namespaces the binding selects.
func KyvernoPolicy(policy, binding *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	spec, _, err := unstructured.NestedMap(policy.Object, "spec")
	if err != nil {
		return nil, err
	}
	match, _, err := unstructured.NestedMap(spec, "matchConstraints")
	if err != nil {
		return nil, err
	}
	exprs, _, err := unstructured.NestedSlice(match, "namespaceSelector", "matchExpressions")
	if err != nil {
		return nil, err
	}
	more, _, err := unstructured.NestedSlice(binding.Object, "spec", "matchResources", "namespaceSelector", "matchExpressions")
	if err != nil {
		return nil, err
	}
	if err := unstructured.SetNestedSlice(match, append(exprs, more...), "namespaceSelector", "matchExpressions"); err != nil {
		return nil, err
	}
	actions, _, err := unstructured.NestedSlice(binding.Object, "spec", "validationActions")
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "policies.kyverno.io/v1",
		"kind":       "ValidatingPolicy",
		"metadata":   map[string]any{"name": policy.GetName()},
		"spec": map[string]any{
			"failurePolicy":     spec["failurePolicy"],
			"matchConstraints":  match,
			"variables":         spec["variables"],
			"validations":       spec["validations"],
			"validationActions": actions,
			// Admission only: no background scans (nor their controller).
			"evaluation": map[string]any{"background": map[string]any{"enabled": false}},
		},
	}}, nil
}
