package residency

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// mountPod is a pod whose container "agent" mounts volume "cfg" at mountPath
// (subPath optional), and whose container "other" mounts nothing.
func mountPod(vol corev1.VolumeSource, mountPath, subPath string) *PodSpec {
	return PodSpecOf(&corev1.PodSpec{
		Containers: []corev1.Container{
			{Name: "agent", VolumeMounts: []corev1.VolumeMount{{Name: "cfg", MountPath: mountPath, SubPath: subPath}}},
			{Name: "other"},
		},
		Volumes: []corev1.Volume{{Name: "cfg", VolumeSource: vol}},
	})
}

func configMapVolume(name string, items ...corev1.KeyToPath) corev1.VolumeSource {
	return corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: name}, Items: items}}
}

// Mounted ConfigMaps were not read before: every case below found nothing.
func TestDiscoverEgressMountedConfigFiles(t *testing.T) {
	files := map[string]string{
		"relay.yaml": `# Datadog-style relay
relay:
  upstream: https://intake.logs.datadoghq.eu:443
  fallback:
    - tcp-intake.logs.datadoghq.eu:10516
  listen: 0.0.0.0:8126
  cors:
    allowedOrigins: ["https://shop.acme.eu"]
---
exporters:
  otlphttp:
    endpoint: https://otlp.eu01.nr-data.net
`,
		"grafana.ini": `[server]
;domain = localhost
root_url = %(protocol)s://%(domain)s:%(http_port)s/grafana/
[smtp]
enabled = true
host = smtp.sendgrid.net:587
[auth.generic_oauth]
auth_url = https://login.microsoftonline.com/tenant/oauth2/v2.0/authorize
`,
		"client.properties": `bootstrap.servers=pkc-4r297.europe-west1.gcp.confluent.cloud:9092
security.protocol=SASL_SSL
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="k" password="s";
key.serializer=org.apache.kafka.common.serialization.StringSerializer
`,
		"nginx.conf": `worker_processes 1;
http {
  server {
    listen 80;
    server_name shop.acme.eu www.acme.eu;
    location /api/ { proxy_pass http://checkout.shop.svc:8080; }
    location /pay/ { proxy_pass https://api.stripe.com; }
    resolver 1.1.1.1 valid=30s;
  }
}
`,
		"app.json":    `{"payments": {"url": "https://api.adyen.com/checkout/v71"}, "retries": 3}`,
		"notify.sh":   "#!/bin/sh\ncurl -X POST https://hooks.slack.com/services/T0/B0/X\n", // scripts are not read
		"broken.yaml": "smtp:\n  host: smtp.mailgun.org\n  password: {{ .Values.pw }\n",     // not YAML: read line by line
	}
	ctx := PodContext{Namespace: "shop", ConfigMaps: map[string]map[string]string{"agent-config": files}}
	got := egressFound(DiscoverEgress(mountPod(configMapVolume("agent-config"), "/etc/agent", ""), ctx))
	want := []string{
		`api.adyen.com <- configmap "agent-config" mounted at /etc/agent/app.json (container "agent")`,
		`smtp.mailgun.org <- configmap "agent-config" mounted at /etc/agent/broken.yaml (container "agent")`,
		`pkc-4r297.europe-west1.gcp.confluent.cloud:9092 <- configmap "agent-config" mounted at /etc/agent/client.properties (container "agent")`,
		`smtp.sendgrid.net:587 <- configmap "agent-config" mounted at /etc/agent/grafana.ini (container "agent")`,
		`login.microsoftonline.com <- configmap "agent-config" mounted at /etc/agent/grafana.ini (container "agent")`,
		`api.stripe.com <- configmap "agent-config" mounted at /etc/agent/nginx.conf (container "agent")`,
		`1.1.1.1 <- configmap "agent-config" mounted at /etc/agent/nginx.conf (container "agent")`,
		`tcp-intake.logs.datadoghq.eu:10516 <- configmap "agent-config" mounted at /etc/agent/relay.yaml (container "agent")`,
		`intake.logs.datadoghq.eu:443 <- configmap "agent-config" mounted at /etc/agent/relay.yaml (container "agent")`,
		`otlp.eu01.nr-data.net <- configmap "agent-config" mounted at /etc/agent/relay.yaml (container "agent")`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := ReferencedConfigMaps(mountPod(configMapVolume("agent-config"), "/etc/agent", "")); !reflect.DeepEqual(got, []string{"agent-config"}) {
		t.Errorf("ReferencedConfigMaps = %q", got)
	}
}

// items select keys and name their files; subPath mounts one file; a
// projected volume's configMap sources count; only mounting containers read.
func TestDiscoverEgressMountSelection(t *testing.T) {
	data := map[string]string{
		"relay":     "upstream: https://relay.vendor-a.eu",
		"other.ini": "host = smtp.vendor-b.eu",
		"unused":    "https://unused.vendor-c.eu",
	}
	ctx := PodContext{ConfigMaps: map[string]map[string]string{"cm": data, "second": {"x.yaml": "url: https://second.vendor-d.eu"}}}
	items := []corev1.KeyToPath{{Key: "relay", Path: "conf/relay.yaml"}, {Key: "other.ini", Path: "other.ini"}, {Key: "missing", Path: "m.yaml"}}
	tests := []struct {
		name           string
		vol            corev1.VolumeSource
		mountPath, sub string
		want           []string
	}{
		{"items", configMapVolume("cm", items...), "/etc/a", "", []string{
			`relay.vendor-a.eu <- configmap "cm" mounted at /etc/a/conf/relay.yaml (container "agent")`,
			`smtp.vendor-b.eu <- configmap "cm" mounted at /etc/a/other.ini (container "agent")`}},
		{"subPath file", configMapVolume("cm", items...), "/etc/relay.yaml", "conf/relay.yaml", []string{
			`relay.vendor-a.eu <- configmap "cm" mounted at /etc/relay.yaml (container "agent")`}},
		{"subPath directory", configMapVolume("cm", items...), "/etc/conf", "conf", []string{
			`relay.vendor-a.eu <- configmap "cm" mounted at /etc/conf/relay.yaml (container "agent")`}},
		{"no items: keys as files, extension decides", configMapVolume("cm"), "/cfg", "", []string{
			`smtp.vendor-b.eu <- configmap "cm" mounted at /cfg/other.ini (container "agent")`,
			`relay.vendor-a.eu <- configmap "cm" mounted at /cfg/relay (container "agent")`,
			`unused.vendor-c.eu <- configmap "cm" mounted at /cfg/unused (container "agent")`}},
		{"projected", corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Items: items[:1]}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "second"}}},
		}}}, "/p", "", []string{
			`relay.vendor-a.eu <- configmap "cm" mounted at /p/conf/relay.yaml (container "agent")`,
			`second.vendor-d.eu <- configmap "second" mounted at /p/x.yaml (container "agent")`}},
		{"unknown ConfigMap", configMapVolume("absent"), "/x", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := mountPod(tt.vol, tt.mountPath, tt.sub)
			if got := egressFound(DiscoverEgress(spec, ctx)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	spec := mountPod(tests[0].vol, "/etc/a", "")
	spec.Containers[0].VolumeMounts = nil // nobody mounts it
	if got := DiscoverEgress(spec, ctx); got != nil {
		t.Errorf("unmounted volume read: %v", egressFound(got))
	}
	if got := ReferencedConfigMaps(spec); got != nil {
		t.Errorf("unmounted volume referenced: %q", got)
	}
	proj := mountPod(tests[4].vol, "/p", "")
	if got := ReferencedConfigMaps(proj); !reflect.DeepEqual(got, []string{"cm", "second"}) {
		t.Errorf("ReferencedConfigMaps(projected) = %q", got)
	}
}

// A file over the per-value bound is not read, and that is said.
func TestDiscoverEgressLargeFileIsReported(t *testing.T) {
	big := "url: https://big.vendor.eu\n" + strings.Repeat("# padding\n", maxScannedValueBytes/10+1)
	ctx := PodContext{ConfigMaps: map[string]map[string]string{"cm": {"big.yaml": big, "small.yaml": "url: https://small.vendor.eu"}}}
	eps, notes := discoverEgressInto(nil, mountPod(configMapVolume("cm"), "/etc/x", ""), ctx)
	if got := egressFound(eps); len(got) != 1 || !strings.HasPrefix(got[0], "small.vendor.eu <-") {
		t.Errorf("found %q", got)
	}
	want := `configmap "cm" mounted at /etc/x/big.yaml (container "agent") is 262177 bytes, over the 262144 read per value: not read`
	if len(notes) != 1 || notes[0] != want {
		t.Errorf("notes = %q, want %q", notes, want)
	}
}

func TestSplitConfigLine(t *testing.T) {
	for line, want := range map[string][2]string{
		"host = smtp.x.eu":            {"host", "smtp.x.eu"},
		"host=smtp.x.eu":              {"host", "smtp.x.eu"},
		"host: smtp.x.eu":             {"host", "smtp.x.eu"},
		"Host  es.x.eu":               {"Host", "es.x.eu"},
		"proxy_pass https://x.eu;":    {"proxy_pass", "https://x.eu;"},
		"https://x.eu/hook":           {"", "https://x.eu/hook"},
		"export API_URL=https://x.eu": {"API_URL", "https://x.eu"},
		"- https://x.eu":              {"", "https://x.eu"},
		"key : value":                 {"key", "value"},
		"smtp.x.eu:587":               {"", "smtp.x.eu:587"},
		`url = "https://x.eu"`:        {"url", `"https://x.eu"`},
		"brokers = [\"a.x.eu:9092\"]": {"brokers", `["a.x.eu:9092"]`},
		"standalone":                  {"", "standalone"},
	} {
		if k, v := splitConfigLine(line); k != want[0] || v != want[1] {
			t.Errorf("splitConfigLine(%q) = %q, %q; want %q, %q", line, k, v, want[0], want[1])
		}
	}
}

func TestFileFormatOf(t *testing.T) {
	for p, want := range map[string]fileFormat{
		"/etc/a/relay.yaml": formatStructured, "/x/APP.JSON": formatStructured, "/x/c.yml": formatStructured,
		"/etc/grafana/grafana.ini": formatLines, "/etc/nginx/nginx.conf": formatLines, "/x/.env": formatLines,
		"/etc/coredns/Corefile": formatLines, "/x/client.properties": formatLines, "/x/my.cnf": formatLines,
		"/x/run.sh": formatNone, "/x/index.html": formatNone, "/x/tls.crt": formatNone, "/x/logback.xml": formatNone,
		"/x/welcome.tmpl": formatNone,
	} {
		if got := fileFormatOf(p); got != want {
			t.Errorf("fileFormatOf(%q) = %d, want %d", p, got, want)
		}
	}
}
