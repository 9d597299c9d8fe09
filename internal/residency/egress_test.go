package residency

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// egressEnvPod is a pod with one container "app" and the given env values.
func egressEnvPod(kv ...string) *PodSpec {
	c := corev1.Container{Name: "app"}
	for i := 0; i+1 < len(kv); i += 2 {
		c.Env = append(c.Env, corev1.EnvVar{Name: kv[i], Value: kv[i+1]})
	}
	return PodSpecOf(&corev1.PodSpec{Containers: []corev1.Container{c}})
}

// egressFound renders discovered endpoints as "String() <- Source".
func egressFound(eps []Endpoint) []string {
	var out []string
	for _, ep := range eps {
		out = append(out, ep.String()+" <- "+ep.Source)
	}
	return out
}

func TestDiscoverEgressValues(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  []string // String() of what is found, in order
	}{
		{"bare host", "smtp.sendgrid.net", []string{"smtp.sendgrid.net"}},
		{"bare host trailing dot", "smtp.sendgrid.net.", []string{"smtp.sendgrid.net"}},
		{"host:port", "smtp.sendgrid.net:587", []string{"smtp.sendgrid.net:587"}},
		{"host:port upper case", "SMTP.SendGrid.net:587", []string{"smtp.sendgrid.net:587"}},
		{"https URL", "https://api.sendgrid.com/v3/mail/send", []string{"api.sendgrid.com"}},
		{"URL with port and user", "postgres://app:pw@db.example.eu:5432/app", []string{"db.example.eu:5432"}},
		{"JDBC URL", "jdbc:mysql://mysql.example.com:3306/shop?useSSL=true", []string{"mysql.example.com:3306"}},
		{"URL upper-case host", "HTTPS://Hooks.Slack.COM/services/T0/B0/X", []string{"hooks.slack.com"}},
		{"public IPv4", "203.0.113.7", []string{"203.0.113.7"}},
		{"public IPv4:port", "203.0.113.7:25", []string{"203.0.113.7:25"}},
		{"public IPv6", "2001:db8::25", []string{"2001:db8::25"}},
		{"public [IPv6]:port", "[2001:db8::25]:587", []string{"[2001:db8::25]:587"}},
		{"IPv6 URL", "http://[2001:db8::25]:8080/", []string{"[2001:db8::25]:8080"}},
		{"IPv4-mapped IPv6", "::ffff:203.0.113.7", []string{"203.0.113.7"}},
		{"comma list", "b1.example.com:9092,b2.example.com:9092", []string{"b1.example.com:9092", "b2.example.com:9092"}},
		{"space and semicolon list", " b1.example.com:9092  b2.example.com:9092;b3.example.com:9092 ", []string{"b1.example.com:9092", "b2.example.com:9092", "b3.example.com:9092"}},
		{"list with duplicates", "a.example.com,a.example.com,A.EXAMPLE.COM:443,a.example.com:443", []string{"a.example.com", "a.example.com:443"}},
		{"list mixing internal and external", "kafka-0.kafka:9092,kafka.svc:9092,ext.example.com:9092,10.0.0.3:9092", []string{"ext.example.com:9092"}},
		{"punycode", "xn--bcher-kva.de", []string{"xn--bcher-kva.de"}},
		{"IDN TLD", "xn--80ak6aa92e.xn--p1ai", []string{"xn--80ak6aa92e.xn--p1ai"}},
		{"reserved example TLD", "api.vendor.example", []string{"api.vendor.example"}},
		{"new gTLD", "https://status.vendor.cloud", []string{"status.vendor.cloud"}},

		// Cluster-internal, private or not egress at all.
		{"single label", "postgres", nil},
		{"single label:port", "redis:6379", nil},
		{"localhost", "localhost", nil},
		{"localhost URL", "http://localhost:8080/health", nil},
		{"svc", "mail.default.svc", nil},
		{"svc:port", "mail.prod.svc:25", nil},
		{"svc.cluster.local URL", "http://api.prod.svc.cluster.local:8080/v1", nil},
		{"cluster.local", "db.cluster.local", nil},
		{".local", "printer.local", nil},
		{".internal", "metadata.google.internal", nil},
		{".localhost", "app.localhost", nil},
		{"service in pod namespace", "redis.shop", nil},
		{"service in default namespace", "redis.default:6379", nil},
		{"headless pod", "kafka-0.kafka:9092", nil},
		{"service in another namespace", "http://otel-collector.observability:4317", nil},
		{"pod of a service in another namespace", "kafka-0.kafka.streaming:9092", nil},
		{"private zone", "ldap.corp", nil},
		{"test TLD", "api.vendor.test", nil},
		{"loopback", "127.0.0.1:8080", nil},
		{"loopback v6", "[::1]:8080", nil},
		{"unspecified", "0.0.0.0:8080", nil},
		{"RFC 1918", "10.1.2.3", nil},
		{"RFC 1918 172", "172.16.0.5:5432", nil},
		{"RFC 1918 192", "http://192.168.1.1/", nil},
		{"CGNAT", "100.64.1.1", nil},
		{"link-local", "169.254.169.254", nil},
		{"ULA", "fd00::1", nil},
		{"link-local v6 zone", "fe80::1%eth0", nil},
		{"multicast", "239.1.1.1", nil},
		{"broadcast", "255.255.255.255", nil},
		{"this network", "0.1.2.3", nil},

		// Not hosts.
		{"file name yaml", "config.yaml", nil},
		{"file name json", "settings.json", nil},
		{"file name properties", "application.properties", nil},
		{"file name pem", "tls.pem", nil},
		{"file name key", "server.key", nil},
		{"file name py", "main.py", nil},
		{"file name sh", "entrypoint.sh", nil},
		{"file name tar.gz", "backup.tar.gz", nil},
		{"file name md", "README.md", nil},
		{"path", "/etc/ssl/certs/ca.pem", nil},
		{"relative path", "./data/app.db", nil},
		{"path with host-like part", "/var/run/example.com", nil},
		{"version", "1.2.3", nil},
		{"version v", "v1.2.3", nil},
		{"version pre-release", "2.0.1-beta.1", nil},

		{"java class", "com.example.MyClass", nil},
		{"java class lower-case package", "org.postgresql.driver", nil},
		{"kafka serializer", "org.apache.kafka.common.serialization.StringSerializer", nil},
		{"e-mail address", "dpo@example.com", nil},
		{"mailto", "mailto:dpo@example.com", nil},
		{"list of e-mail addresses", "a@example.com,b@example.com", nil},
		{"JSON", `{"host":"api.example.com","port":443}`, nil},
		{"JSON array", `["api.example.com"]`, nil},
		{"prose", "Send mail via smtp.sendgrid.net please", nil},
		{"prose with URL", "see https://docs.example.com for details", nil},
		{"list with a service name", "api.example.com,fallback", []string{"api.example.com"}},
		{"list with a path", "api.example.com,/tmp/x", nil},
		{"var reference", "$(SMTP_HOST)", nil},
		{"var reference with port", "$(SMTP_HOST):587,b.example.com:1", []string{"b.example.com:1"}},
		{"shell var", "${API_HOST}", nil},
		{"URL with var", "https://$(API_HOST)/v1", nil},
		{"time", "12:30", nil},
		{"duration", "1h30m", nil},
		{"number", "8080", nil},
		{"bool", "true", nil},
		{"CIDR", "203.0.113.0/24", nil},
		{"NO_PROXY list", "localhost,127.0.0.1,.svc,.cluster.local,api.example.com", nil},
		{"host:port/path", "api.example.com:443/v1", nil},
		{"bad port", "api.example.com:99999", nil},
		{"named port", "api.example.com:https", nil},
		{"file URL", "file:///etc/config.yaml", nil},
		{"wildcard", "*.example.com", nil},
		{"underscore", "my_host.example.com", nil},
		{"unicode host", "bücher.example", nil},
		{"numeric TLD", "host.example.123", nil},
		{"one-letter TLD", "host.x", nil},
		{"base64", "c2VjcmV0LmV4YW1wbGUuY29t", nil},
		{"key=value", "host=api.example.com", nil},
		{"control chars", "api.example.com\x00", nil},
		{"empty", "", nil},
		{"blank", " \t\n ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eps := DiscoverEgress(egressEnvPod("VALUE", tt.value), PodContext{Namespace: "shop"})
			var got []string
			for _, ep := range eps {
				got = append(got, ep.String())
				if ep.Source != `env VALUE of container "app"` {
					t.Errorf("%s: Source = %q", ep, ep.Source)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DiscoverEgress(%q) = %q, want %q", tt.value, got, tt.want)
			}
		})
	}
}

func TestDiscoverEgressSMTPHost(t *testing.T) {
	eps := DiscoverEgress(egressEnvPod("SMTP_HOST", "smtp.sendgrid.net", "SMTP_PORT", "587", "LOG_LEVEL", "info"), PodContext{})
	if len(eps) != 1 {
		t.Fatalf("found %v, want smtp.sendgrid.net only", egressFound(eps))
	}
	ep := eps[0]
	if ep.Host != "smtp.sendgrid.net" || ep.Port != 0 || ep.Raw != "smtp.sendgrid.net" || ep.Source != `env SMTP_HOST of container "app"` {
		t.Errorf("endpoint = %+v", ep)
	}
}

func TestDiscoverEgressContainersAndConfigMaps(t *testing.T) {
	optional := true
	spec := PodSpecOf(&corev1.PodSpec{
		InitContainers: []corev1.Container{{
			Name: "migrate",
			Env:  []corev1.EnvVar{{Name: "DATABASE_URL", Value: "postgres://db.eu.example.com:5432/app"}},
		}},
		Containers: []corev1.Container{{
			Name: "app",
			EnvFrom: []corev1.EnvFromSource{
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "mail"}}},
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: &optional}},
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}}},
				{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}},
				{Prefix: "LATE_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "late"}}},
			},
			Env: []corev1.EnvVar{
				{Name: "API", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "endpoints"}, Key: "API_URL"}}},
				{Name: "GONE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "endpoints"}, Key: "NO_SUCH_KEY"}}},
				{Name: "NOPE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Key: "X"}}},
				{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "url"}}},
				{Name: "OVERRIDDEN", Value: "override.example.com"},
				{Name: "TWICE", Value: "first.example.com"},
				{Name: "TWICE", Value: "second.example.com"},
			},
		}},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debug",
			Env:  []corev1.EnvVar{{Name: "TARGET", Value: "https://debug.example.org"}},
		}}},
	})
	ctx := PodContext{
		Namespace: "shop",
		ConfigMaps: map[string]map[string]string{
			"mail": {
				"SMTP_HOST":  "smtp.sendgrid.net",
				"SMTP_PORT":  "587",
				"OVERRIDDEN": "shadowed-by-env.example.com",
				"SHADOWED":   "shadowed-by-later-source.example.com",
			},
			"late":      {"X": "late.example.com", "_": "x"},
			"endpoints": {"API_URL": "https://api.stripe.com/v1", "UNUSED": "unused.example.com"},
		},
	}
	// "late" has prefix LATE_, so it shadows nothing in "mail"; add a source that does.
	spec.Containers[0].EnvFrom = append(spec.Containers[0].EnvFrom, corev1.EnvFromSource{
		ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "shadow"}}})
	ctx.ConfigMaps["shadow"] = map[string]string{"SHADOWED": "winner.example.com"}

	got := egressFound(DiscoverEgress(spec, ctx))
	want := []string{
		`db.eu.example.com:5432 <- env DATABASE_URL of container "migrate"`,
		`smtp.sendgrid.net <- configmap "mail" key SMTP_HOST (container "app")`,
		`late.example.com <- configmap "late" key X (container "app")`,
		`winner.example.com <- configmap "shadow" key SHADOWED (container "app")`,
		`api.stripe.com <- configmap "endpoints" key API_URL (container "app")`,
		`override.example.com <- env OVERRIDDEN of container "app"`,
		`second.example.com <- env TWICE of container "app"`,
		`debug.example.org <- env TARGET of container "debug"`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	gotCMs := ReferencedConfigMaps(spec)
	wantCMs := []string{"absent", "endpoints", "late", "mail", "missing", "shadow"}
	if !reflect.DeepEqual(gotCMs, wantCMs) {
		t.Errorf("ReferencedConfigMaps = %q, want %q", gotCMs, wantCMs)
	}
	if DiscoverEgress(spec, PodContext{Namespace: "shop"}) == nil {
		t.Error("env values must be found without ConfigMaps")
	}
}

func TestReferencedConfigMaps(t *testing.T) {
	ref := func(name string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: "k"}}
	}
	from := func(name string) corev1.EnvFromSource {
		return corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}
	}
	spec := PodSpecOf(&corev1.PodSpec{
		InitContainers: []corev1.Container{{Env: []corev1.EnvVar{{Name: "A", ValueFrom: ref("init-cm")}}}},
		Containers: []corev1.Container{
			{EnvFrom: []corev1.EnvFromSource{from("b"), from("a"), {SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "secret"}}}}},
			{Env: []corev1.EnvVar{{Name: "B", ValueFrom: ref("a")}, {Name: "C", ValueFrom: ref("")}, {Name: "D", Value: "x"}}},
		},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{EnvFrom: []corev1.EnvFromSource{from("eph")}}}},
		Volumes:             []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "volume-cm"}}}}},
	})
	got := ReferencedConfigMaps(spec)
	want := []string{"a", "b", "eph", "init-cm"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReferencedConfigMaps = %q, want %q", got, want)
	}
	if got := ReferencedConfigMaps(nil); got != nil {
		t.Errorf("nil spec: %q", got)
	}
	if got := DiscoverEgress(nil, PodContext{}); got != nil {
		t.Errorf("nil spec: %v", got)
	}
}

func TestDiscoverEgressExternalName(t *testing.T) {
	ctx := PodContext{
		Namespace: "shop",
		ExternalNames: map[string]string{
			"mail.shop":    "smtp.sendgrid.net",
			"stripe.pay":   "API.Stripe.com.",
			"db.shop":      "db.shop.svc.cluster.local", // internal target: not egress
			"legacy.shop":  "203.0.113.9",               // an address, as some clusters allow
			"private.shop": "10.0.0.9",
			"corp.shop":    "ldap.corp", // a private zone, not the internet
		},
	}
	tests := []struct {
		value string
		want  []string
	}{
		{"mail", []string{`smtp.sendgrid.net <- service "mail" (ExternalName)`}},
		{"mail:587", []string{`smtp.sendgrid.net:587 <- service "mail" (ExternalName)`}},
		{"mail.shop", []string{`smtp.sendgrid.net <- service "mail" (ExternalName)`}},
		{"mail.shop.svc", []string{`smtp.sendgrid.net <- service "mail" (ExternalName)`}},
		{"mail.shop.svc.cluster.local:25", []string{`smtp.sendgrid.net:25 <- service "mail" (ExternalName)`}},
		{"smtp://mail.shop.svc.cluster.local.:587", []string{`smtp.sendgrid.net:587 <- service "mail" (ExternalName)`}},
		{"https://stripe.pay.svc/v1", []string{`api.stripe.com <- service "pay/stripe" (ExternalName)`}},
		{"stripe.pay:443", []string{`api.stripe.com:443 <- service "pay/stripe" (ExternalName)`}},
		{"mail,stripe.pay", []string{`smtp.sendgrid.net <- service "mail" (ExternalName)`, `api.stripe.com <- service "pay/stripe" (ExternalName)`}},
		{"legacy:80", []string{`203.0.113.9:80 <- service "legacy" (ExternalName)`}},
		// Not ExternalName Services, or not external ones.
		{"stripe", nil},         // stripe is in namespace pay, not shop
		{"mail.other.svc", nil}, // no such service
		{"mail.svc", nil},       // names no Service
		{"mail.shop.cluster.local", nil},
		{"x.mail.shop.svc", nil},
		{"db", nil},
		{"private", nil},
		{"corp", nil},
		{"check mail", nil}, // a word in prose is no service name
		{"other.pay", nil},  // namespace pay exists: a service there, not a host
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got := egressFound(DiscoverEgress(egressEnvPod("V", tt.value), ctx))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DiscoverEgress(%q) = %q, want %q", tt.value, got, tt.want)
			}
		})
	}
	// Without a namespace, single-label names resolve nowhere.
	if got := DiscoverEgress(egressEnvPod("V", "mail"), PodContext{ExternalNames: ctx.ExternalNames}); got != nil {
		t.Errorf("single label without namespace: %v", egressFound(got))
	}
}

func TestDiscoverEgressDeduplicatesAcrossContainers(t *testing.T) {
	spec := PodSpecOf(&corev1.PodSpec{Containers: []corev1.Container{
		{Name: "a", Env: []corev1.EnvVar{{Name: "X", Value: "https://api.example.com/a"}}},
		{Name: "b", Env: []corev1.EnvVar{{Name: "Y", Value: "api.example.com"}, {Name: "Z", Value: "api.example.com:443"}}},
	}})
	got := egressFound(DiscoverEgress(spec, PodContext{}))
	want := []string{`api.example.com <- env X of container "a"`, `api.example.com:443 <- env Z of container "b"`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("found %q, want %q", got, want)
	}
}

func TestDiscoverEgressIsBounded(t *testing.T) {
	var kv []string
	for i := range 2000 {
		kv = append(kv, fmt.Sprintf("V%d", i), fmt.Sprintf("h%d.example.com", i))
	}
	if got := DiscoverEgress(egressEnvPod(kv...), PodContext{}); len(got) != maxDiscoveredEndpoints {
		t.Errorf("found %d endpoints, want the cap %d", len(got), maxDiscoveredEndpoints)
	}
	var list []string
	for i := range maxValueTokens + 1 {
		list = append(list, fmt.Sprintf("h%d.example.com", i))
	}
	if got := DiscoverEgress(egressEnvPod("L", strings.Join(list[:maxValueTokens], ",")), PodContext{}); len(got) != maxValueTokens {
		t.Errorf("a list of %d: found %d", maxValueTokens, len(got))
	}
	if got := DiscoverEgress(egressEnvPod("L", strings.Join(list, ",")), PodContext{}); len(got) != 0 {
		t.Errorf("a list of %d tokens is no endpoint list, found %d", len(list), len(got))
	}
	huge := "a.example.com," + strings.Repeat("b", maxScannedValueBytes)
	if got := DiscoverEgress(egressEnvPod("H", huge), PodContext{}); len(got) != 0 {
		t.Errorf("a huge value: found %v", egressFound(got))
	}
}

func TestIsClusterInternal(t *testing.T) {
	internal := []string{
		"", "localhost", "LOCALHOST", "mail", "redis.", "mail.shop.svc", "mail.shop.svc.cluster.local",
		"mail.shop.svc.cluster.local.", "x.cluster.local", "printer.local", "metadata.google.internal",
		"app.localhost", "MAIL.SHOP.SVC", "host.localdomain",
		"127.0.0.1", "10.0.0.1", "172.31.255.255", "192.168.0.1", "100.64.0.1", "100.127.255.255",
		"169.254.169.254", "::1", "fd12::1", "fe80::1", "0.0.0.0", "::",
	}
	external := []string{
		"smtp.sendgrid.net", "api.stripe.com.", "svc.example.com", "local.example.com",
		"internal.example.com", "example.svc.com", "localhost.example.com", "203.0.113.7",
		"100.128.0.1", "172.32.0.1", "2001:db8::1", "mail.shop",
	}
	for _, h := range internal {
		if !IsClusterInternal(h) {
			t.Errorf("IsClusterInternal(%q) = false, want true", h)
		}
	}
	for _, h := range external {
		if IsClusterInternal(h) {
			t.Errorf("IsClusterInternal(%q) = true, want false", h)
		}
	}
}

func BenchmarkDiscoverEgress(b *testing.B) {
	spec := egressEnvPod(
		"SMTP_HOST", "smtp.sendgrid.net",
		"SMTP_PORT", "587",
		"DATABASE_URL", "postgres://app:secret@db.eu-north-1.rds.amazonaws.com:5432/app",
		"REDIS_URL", "redis://redis.shop.svc.cluster.local:6379",
		"KAFKA_BROKERS", "b1.kafka.example.com:9092,b2.kafka.example.com:9092,b3.kafka.example.com:9092",
		"SENTRY_DSN", "https://abc123@o123.ingest.sentry.io/42",
		"LOG_LEVEL", "info",
		"LOG_FORMAT", "json",
		"CONFIG_FILE", "/etc/app/config.yaml",
		"JAVA_OPTS", "-Xmx512m -XX:+UseG1GC",
		"VERSION", "1.2.3",
		"FEATURE_FLAGS", "checkout,search,reviews",
		"TZ", "Europe/Stockholm",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.observability.svc:4317",
		"STRIPE_API", "https://api.stripe.com/v1",
		"S3_ENDPOINT", "s3.eu-north-1.amazonaws.com",
		"SUPPORT_EMAIL", "dpo@example.com",
		"HOSTNAME_OVERRIDE", "$(POD_NAME).shop",
		"WORKERS", "8",
		"METRICS_ADDR", "0.0.0.0:9090",
	)
	ctx := PodContext{Namespace: "shop", ExternalNames: map[string]string{"mail.shop": "smtp.sendgrid.net"}}
	b.ReportAllocs()
	for b.Loop() {
		if eps := DiscoverEgress(spec, ctx); len(eps) != 8 {
			b.Fatal(egressFound(eps))
		}
	}
}
