package residency

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	v1alpha1 "github.com/dataresidency/operator/api/v1alpha1"
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
		{"JDBC URL", "jdbc:mysql://mysql.acme.eu:3306/shop?useSSL=true", []string{"mysql.acme.eu:3306"}},
		{"URL upper-case host", "HTTPS://Hooks.Slack.COM/services/T0/B0/X", []string{"hooks.slack.com"}},
		{"public IPv4", "203.0.113.7", []string{"203.0.113.7"}},
		{"public IPv4:port", "203.0.113.7:25", []string{"203.0.113.7:25"}},
		{"public IPv6", "2001:db8::25", []string{"2001:db8::25"}},
		{"public [IPv6]:port", "[2001:db8::25]:587", []string{"[2001:db8::25]:587"}},
		{"IPv6 URL", "http://[2001:db8::25]:8080/", []string{"[2001:db8::25]:8080"}},
		{"IPv4-mapped IPv6", "::ffff:203.0.113.7", []string{"203.0.113.7"}},
		{"comma list", "b1.acme.eu:9092,b2.acme.eu:9092", []string{"b1.acme.eu:9092", "b2.acme.eu:9092"}},
		{"space and semicolon list", " b1.acme.eu:9092  b2.acme.eu:9092;b3.acme.eu:9092 ", []string{"b1.acme.eu:9092", "b2.acme.eu:9092", "b3.acme.eu:9092"}},
		{"list with duplicates", "a.acme.eu,a.acme.eu,A.ACME.EU:443,a.acme.eu:443", []string{"a.acme.eu", "a.acme.eu:443"}},
		{"list mixing internal and external", "kafka-0.kafka:9092,kafka.svc:9092,ext.acme.eu:9092,10.0.0.3:9092", []string{"ext.acme.eu:9092"}},
		{"punycode", "xn--bcher-kva.de", []string{"xn--bcher-kva.de"}},
		{"IDN TLD", "xn--80ak6aa92e.xn--p1ai", []string{"xn--80ak6aa92e.xn--p1ai"}},
		{"upper-case bare host", "SMTP.Gmail.com", []string{"smtp.gmail.com"}},
		{"mixed-case bare host", "Logs.Logtail.com", []string{"logs.logtail.com"}},
		{"multi-host URL", "mongodb://a.mongo.acme.eu:27017,b.mongo.acme.eu:27017/db?replicaSet=rs0", []string{"a.mongo.acme.eu:27017", "b.mongo.acme.eu:27017"}},
		{"URL list", "http://es1.acme.eu:9200,http://es2.acme.eu:9200", []string{"es1.acme.eu:9200", "es2.acme.eu:9200"}},
		{"quoted URL", `"https://api.acme.eu/v1"`, []string{"api.acme.eu"}},
		{"single-quoted host:port", "'h.acme.eu:443'", []string{"h.acme.eu:443"}},
		{"key=URL", "endpoint=https://collector.acme.eu/v1", []string{"collector.acme.eu"}},
		{"Kafka listener", "SASL_SSL://kafka.acme.eu:9093", []string{"kafka.acme.eu:9093"}},
		{"gRPC target", "dns:///pubsub.googleapis.com:443", []string{"pubsub.googleapis.com:443"}},
		{"scp-like Git remote", "git@github.com:org/repo.git", []string{"github.com"}},
		{"MySQL DSN", "app:pw@tcp(db.acme.eu:3306)/shop?parseTime=true", []string{"db.acme.eu:3306"}},
		{"list with a mailto", "https://events.pagerduty.com/v2/enqueue,mailto:oncall@shop.io", []string{"events.pagerduty.com"}},
		{"host:port and a word", "smtp.mailgun.org:587 tls", []string{"smtp.mailgun.org:587"}},
		{"list with a wildcard", "api.acme.eu,*", []string{"api.acme.eu"}},
		{"list with a CIDR", "api.acme.eu,10.0.0.0/8", []string{"api.acme.eu"}},

		// Reserved for documentation and special use (RFC 2606, RFC 6761).
		{"reserved example TLD", "api.vendor.example", nil},
		{"reserved example.com", "https://api.example.com/v1", nil},
		{"reserved example.net", "smtp.example.net:587", nil},
		{"reserved example.org", "example.org", nil},
		{"reserved invalid", "host.invalid:443", nil},
		{"reserved localhost", "http://app.localhost:3000", nil},
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
		{"file name cc", "main.cc", nil},
		{"file name ps", "figure.ps", nil},
		{"file name ai", "logo.ai", nil},
		{".NET namespace", "System.Net", nil},
		{"image reference", "gcr.io/google-samples/microservices-demo/frontend:v0.10.1", nil},
		{"image reference with registry port", "registry.acme.eu:5000/team/app:1.0", nil},
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
		{"JSON", `{"host":"api.acme.eu","port":443}`, []string{"api.acme.eu"}},
		{"JSON array", `["api.acme.eu"]`, []string{"api.acme.eu"}},
		{"prose", "Send mail via smtp.sendgrid.net please", []string{"smtp.sendgrid.net"}},
		{"prose with URL", "see https://docs.acme.eu for details", []string{"docs.acme.eu"}},
		{"list with a service name", "api.acme.eu,fallback", []string{"api.acme.eu"}},
		{"list with a path", "api.acme.eu,/tmp/x", []string{"api.acme.eu"}},
		{"var reference", "$(SMTP_HOST)", nil},
		{"var reference with port", "$(SMTP_HOST):587,b.acme.eu:1", []string{"b.acme.eu:1"}},
		{"shell var", "${API_HOST}", nil},
		{"URL with var", "https://$(API_HOST)/v1", nil},
		{"time", "12:30", nil},
		{"duration", "1h30m", nil},
		{"number", "8080", nil},
		{"bool", "true", nil},
		{"CIDR", "203.0.113.0/24", nil},
		{"list with suffixes", "localhost,127.0.0.1,.svc,.cluster.local,api.acme.eu", []string{"api.acme.eu"}},
		{"host:port/path", "api.acme.eu:443/v1", nil},
		{"bad port", "api.acme.eu:99999", nil},
		{"named port", "api.acme.eu:https", nil},
		{"file URL", "file:///etc/config.yaml", nil},
		{"wildcard", "*.acme.eu", nil},
		{"underscore", "my_host.acme.eu", nil},
		{"unicode host", "bücher.example", nil},
		{"numeric TLD", "host.example.123", nil},
		{"one-letter TLD", "host.x", nil},
		{"base64", "c2VjcmV0LmV4YW1wbGUuY29t", nil},
		{"key=value", "host=api.acme.eu", []string{"api.acme.eu"}},
		{"control chars", "api.acme.eu\x00", nil},
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
			Env:  []corev1.EnvVar{{Name: "DATABASE_URL", Value: "postgres://db.eu.acme.eu:5432/app"}},
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
				{Name: "OVERRIDDEN", Value: "override.acme.eu"},
				{Name: "TWICE", Value: "first.acme.eu"},
				{Name: "TWICE", Value: "second.acme.eu"},
			},
		}},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debug",
			Env:  []corev1.EnvVar{{Name: "TARGET", Value: "https://debug.acme.org"}},
		}}},
	})
	ctx := PodContext{
		Namespace: "shop",
		ConfigMaps: map[string]map[string]string{
			"mail": {
				"SMTP_HOST":  "smtp.sendgrid.net",
				"SMTP_PORT":  "587",
				"OVERRIDDEN": "shadowed-by-env.acme.eu",
				"SHADOWED":   "shadowed-by-later-source.acme.eu",
			},
			"late":      {"X": "late.acme.eu", "_": "x"},
			"endpoints": {"API_URL": "https://api.stripe.com/v1", "UNUSED": "unused.acme.eu"},
		},
	}
	// "late" has prefix LATE_, so it shadows nothing in "mail"; add a source that does.
	spec.Containers[0].EnvFrom = append(spec.Containers[0].EnvFrom, corev1.EnvFromSource{
		ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "shadow"}}})
	ctx.ConfigMaps["shadow"] = map[string]string{"SHADOWED": "winner.acme.eu"}

	got := egressFound(DiscoverEgress(spec, ctx))
	want := []string{
		`db.eu.acme.eu:5432 <- env DATABASE_URL of container "migrate"`,
		`smtp.sendgrid.net <- configmap "mail" key SMTP_HOST (container "app")`,
		`late.acme.eu <- configmap "late" key X (container "app")`,
		`winner.acme.eu <- configmap "shadow" key SHADOWED (container "app")`,
		`api.stripe.com <- configmap "endpoints" key API_URL (container "app")`,
		`override.acme.eu <- env OVERRIDDEN of container "app"`,
		`second.acme.eu <- env TWICE of container "app"`,
		`debug.acme.org <- env TARGET of container "debug"`,
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
		{Name: "a", Env: []corev1.EnvVar{{Name: "X", Value: "https://api.acme.eu/a"}}},
		{Name: "b", Env: []corev1.EnvVar{{Name: "Y", Value: "api.acme.eu"}, {Name: "Z", Value: "api.acme.eu:443"}}},
	}})
	got := egressFound(DiscoverEgress(spec, PodContext{}))
	want := []string{`api.acme.eu <- env X of container "a"`, `api.acme.eu:443 <- env Z of container "b"`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("found %q, want %q", got, want)
	}
}

// Bounds keep the work on the admission path finite, and say so when they
// are reached: what was found stays found, and a note says where it stopped.
func TestDiscoverEgressIsBounded(t *testing.T) {
	var kv []string
	for i := range 2000 {
		kv = append(kv, fmt.Sprintf("V%d", i), fmt.Sprintf("h%d.acme.eu", i))
	}
	eps, notes := discoverEgressInto(nil, egressEnvPod(kv...), PodContext{})
	if len(eps) != maxDiscoveredEndpoints {
		t.Errorf("found %d endpoints, want the cap %d", len(eps), maxDiscoveredEndpoints)
	}
	if want := `found more than 512 endpoints, the most read per workload: stopped at env V512 of container "app"`; len(notes) != 1 || notes[0] != want {
		t.Errorf("notes = %q, want %q", notes, want)
	}

	// A long list is read whole: no cap on entries.
	var list []string
	for i := range 300 {
		list = append(list, fmt.Sprintf("h%d.acme.eu", i))
	}
	eps, notes = discoverEgressInto(nil, egressEnvPod("L", strings.Join(list, ",")), PodContext{})
	if len(eps) != 300 || notes != nil {
		t.Errorf("a list of 300: found %d, notes %q", len(eps), notes)
	}

	huge := "a.acme.eu," + strings.Repeat("b", maxScannedValueBytes)
	eps, notes = discoverEgressInto(nil, egressEnvPod("H", huge), PodContext{})
	if len(eps) != 0 || len(notes) != 1 || !strings.Contains(notes[0], `env H of container "app" is 262154 bytes, over the 262144 read per value: not read`) {
		t.Errorf("a huge value: found %v, notes %q", egressFound(eps), notes)
	}

	// The bytes read per workload are bounded too; notes are bounded.
	var big []string
	for i := range 6 {
		big = append(big, fmt.Sprintf("B%d", i), fmt.Sprintf("h%d.acme.eu,", i)+strings.Repeat("x", maxScannedValueBytes-20))
	}
	big = append(big, "LATE", "late.acme.eu")
	eps, notes = discoverEgressInto(nil, egressEnvPod(big...), PodContext{})
	if len(eps) != 4 || len(notes) != 1 || !strings.HasPrefix(notes[0], "read 1048540 bytes, the most read per workload: stopped at env B4") {
		t.Errorf("budget: found %d, notes %q", len(eps), notes)
	}
	var many []string
	for i := range 6 {
		many = append(many, fmt.Sprintf("H%d", i), strings.Repeat("y", maxScannedValueBytes+1))
	}
	if _, notes = discoverEgressInto(nil, egressEnvPod(many...), PodContext{}); len(notes) != maxNotes+1 || notes[maxNotes] != "and 3 more" {
		t.Errorf("notes = %q", notes)
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
		"smtp.sendgrid.net", "api.stripe.com.", "svc.acme.eu", "local.acme.eu",
		"internal.acme.eu", "example.svc.com", "localhost.acme.eu", "203.0.113.7",
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

// benchDeploymentSpec is the pod spec of a ~10 KB Deployment as a team ships
// it (internal/webhook's realisticDeployment): an init container, an app with
// about eighty environment variables, flags and a mounted ConfigMap, and an
// OpenTelemetry sidecar.
func benchDeploymentSpec() (*PodSpec, PodContext) {
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
		corev1.EnvVar{Name: "SMTP_HOST", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "mailer-config"}, Key: "SMTP_HOST"}}},
		corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
	)
	spec := PodSpecOf(&corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "migrate", Command: []string{"/mailer", "migrate"}, Env: env[:10]}},
		Containers: []corev1.Container{
			{Name: "mailer", Args: []string{"--port=8080", "--log-format=json"}, Env: env,
				EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "mailer-config"}}}},
				VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}, {Name: "templates", MountPath: "/etc/mailer/templates"}}},
			{Name: "otel", Env: []corev1.EnvVar{{Name: "OTLP_ENDPOINT", Value: "http://otel-collector.observability:4317"}}},
		},
		Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "templates", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "mailer-templates"}}}}},
	})
	// The ConfigMaps of internal/webhook's bench world: mailer-templates is not there.
	ctx := PodContext{Namespace: "shop", ConfigMaps: map[string]map[string]string{
		"mailer-config": {"SMTP_HOST": "smtp-relay.brevo.com:587", "LOG_LEVEL": "info", "FEATURE_FLAGS": "a,b,c"},
	}}
	return spec, ctx
}

func BenchmarkDiscoverEgress(b *testing.B) {
	b.Run("env", benchmarkDiscoverEgressEnv)
	b.Run("deployment", func(b *testing.B) {
		spec, ctx := benchDeploymentSpec()
		b.ReportAllocs()
		for b.Loop() {
			if eps := DiscoverEgress(spec, ctx); len(eps) < 8 {
				b.Fatal(egressFound(eps))
			}
		}
	})
	// The same with the mounted ConfigMap there: a YAML file and a template
	// (which is not read).
	b.Run("deployment+files", func(b *testing.B) {
		spec, ctx := benchDeploymentSpec()
		ctx.ConfigMaps["mailer-templates"] = map[string]string{
			"mailer.yaml":  "smtp:\n  host: smtp-relay.brevo.com\n  port: 587\ntemplates:\n  dir: /etc/mailer/templates\n  default: welcome\nretries: 3\n",
			"welcome.tmpl": "Hello {{ .Name }}, welcome to the shop. Unsubscribe: https://shop.example.se/u/{{ .Token }}\n",
		}
		b.ReportAllocs()
		for b.Loop() {
			if eps := DiscoverEgress(spec, ctx); len(eps) < 9 {
				b.Fatal(egressFound(eps))
			}
		}
	})
}

func benchmarkDiscoverEgressEnv(b *testing.B) {
	spec := egressEnvPod(
		"SMTP_HOST", "smtp.sendgrid.net",
		"SMTP_PORT", "587",
		"DATABASE_URL", "postgres://app:secret@db.eu-north-1.rds.amazonaws.com:5432/app",
		"REDIS_URL", "redis://redis.shop.svc.cluster.local:6379",
		"KAFKA_BROKERS", "b1.kafka.acme.eu:9092,b2.kafka.acme.eu:9092,b3.kafka.acme.eu:9092",
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

// Commands and arguments were not read before.
func TestDiscoverEgressCommandAndArgs(t *testing.T) {
	spec := PodSpecOf(&corev1.PodSpec{Containers: []corev1.Container{{
		Name:    "probe",
		Command: []string{"sh", "-c", `curl -fsS "https://hc-ping.com/$(CHECK_ID)" && nc -z db.acme.eu 5432 || wget -qO- https://status.acme.eu/ping`},
		Args: []string{"--endpoint=https://otlp.vendor.eu:4318", "-h", "pg.acme.eu", "--config=/etc/app/config.yaml",
			"--metrics-bind-address=:8080", "--cors-allowed-origins=https://shop.acme.eu", "-Dhttp.proxyHost=proxy.acme.eu",
			"--upstream", "$(UPSTREAM)", "--log-level", "info", "$$(NOT_A_REF).acme.eu"},
		Env: []corev1.EnvVar{{Name: "UPSTREAM", Value: "https://api.partner.eu"}},
	}}})
	got := egressFound(DiscoverEgress(spec, PodContext{}))
	want := []string{
		`api.partner.eu <- env UPSTREAM of container "probe"`,
		`db.acme.eu <- command of container "probe"`,
		`status.acme.eu <- command of container "probe"`,
		`otlp.vendor.eu:4318 <- args of container "probe"`,
		`pg.acme.eu <- args of container "probe"`,
		`proxy.acme.eu <- args of container "probe"`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// $(VAR) is expanded as the kubelet does; today's code skipped any value with one.
func TestDiscoverEgressExpandsEnvReferences(t *testing.T) {
	spec := PodSpecOf(&corev1.PodSpec{Containers: []corev1.Container{{
		Name: "app",
		EnvFrom: []corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "hosts"}}}},
		Env: []corev1.EnvVar{
			{Name: "LATER", Value: "$(DEFINED_AFTER)"}, // defined after: stays literal
			{Name: "API_HOST", Value: "api.partner.eu"},
			{Name: "API_URL", Value: "https://$(API_HOST)/v2"},
			{Name: "FROM_CM", Value: "$(CM_SMTP):587"},
			{Name: "ESCAPED", Value: "$$(API_HOST).other.eu"},
			{Name: "UNDEFINED", Value: "https://$(NOPE)/x"},
			{Name: "SECRET_HOST", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "h"}}},
			{Name: "FROM_SECRET", Value: "https://$(SECRET_HOST)/"},
			{Name: "CHAIN", Value: "$(API_URL)/hooks,$(FROM_CM)"},
			{Name: "DEFINED_AFTER", Value: "late.partner.eu"},
		},
	}}})
	ctx := PodContext{ConfigMaps: map[string]map[string]string{"hosts": {"SMTP": "smtp.partner.eu"}}}
	got := egressFound(DiscoverEgress(spec, ctx))
	want := []string{
		`smtp.partner.eu <- configmap "hosts" key SMTP (container "app")`,
		`api.partner.eu <- env API_HOST of container "app"`,
		`smtp.partner.eu:587 <- env FROM_CM of container "app"`,
		`late.partner.eu <- env DEFINED_AFTER of container "app"`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	x := envExpander{ctx: &ctx, c: &spec.Containers[0]}
	for in, want := range map[string]string{
		"$(API_HOST)":            "api.partner.eu",
		"$$(API_HOST)":           "$(API_HOST)",
		"$$$(API_HOST)":          "$api.partner.eu",
		"$(API_URL)/x":           "https://api.partner.eu/v2/x",
		"$(NOPE)":                "$(NOPE)",
		"$(SECRET_HOST)":         "$(SECRET_HOST)",
		"$(CM_SMTP)":             "smtp.partner.eu",
		"$(UNCLOSED":             "$(UNCLOSED",
		"$HOME and $":            "$HOME and $",
		"$(DEFINED_AFTER)":       "late.partner.eu",
		"a$()b":                  "a$()b",
		"$(API_HOST)$(API_HOST)": "api.partner.euapi.partner.eu",
	} {
		if got, ok := x.expand(in, len(spec.Containers[0].Env)); !ok || got != want {
			t.Errorf("expand(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	// Expansion that grows past the bound is reported, not built.
	var env []corev1.EnvVar
	env = append(env, corev1.EnvVar{Name: "V0", Value: strings.Repeat("x", 1000)})
	for i := 1; i < 12; i++ {
		env = append(env, corev1.EnvVar{Name: fmt.Sprintf("V%d", i), Value: fmt.Sprintf("$(V%d)$(V%d).", i-1, i-1)})
	}
	env = append(env, corev1.EnvVar{Name: "HOST", Value: "$(V11),a.partner.eu"})
	_, notes := discoverEgressInto(nil, PodSpecOf(&corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Env: env}}}), PodContext{})
	if len(notes) == 0 || !strings.Contains(notes[0], `env V9 of container "c" expands to more than 262144 bytes: not read`) {
		t.Errorf("notes = %q", notes)
	}
}

// fakeCluster is ClusterFacts for tests.
type fakeCluster struct{ namespaces, hosts []string }

func (f fakeCluster) NamespaceExists(n string) bool { return slicesContains(f.namespaces, n) }
func (f fakeCluster) ServesHost(h string) bool      { return slicesContains(f.hosts, h) }

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Names of Services in namespaces named like top-level domains, and the
// workload's own public hosts, are not egress when the cluster says so;
// without ClusterFacts they are found as before.
func TestDiscoverEgressClusterFacts(t *testing.T) {
	facts := fakeCluster{namespaces: []string{"shop", "events", "storage"}, hosts: []string{"shop.acme.eu", "www.acme.eu"}}
	tests := []struct {
		key, value string
		want       []string // with facts
		without    []string // without
	}{
		{"MYSQL", "mysql.shop:3306", nil, []string{"mysql.shop:3306"}},
		{"KAFKA", "kafka.events:9092", nil, []string{"kafka.events:9092"}},
		{"KAFKA", "kafka-0.kafka.events:9092", nil, []string{"kafka-0.kafka.events:9092"}},
		{"S3", "http://minio.storage:9000", nil, []string{"minio.storage:9000"}},
		{"MINIO", "minio.storage", nil, []string{"minio.storage"}},
		{"APP_URL", "https://shop.acme.eu", nil, []string{"shop.acme.eu"}},
		{"PUBLIC", "https://www.acme.eu/img", nil, []string{"www.acme.eu"}},
		{"API", "https://api.acme.eu", []string{"api.acme.eu"}, []string{"api.acme.eu"}},
		{"OTHER_NS", "redis.cache:6379", nil, nil}, // .cache is no TLD either way
		{"NOT_A_NS", "api.vendor.events", []string{"api.vendor.events"}, []string{"api.vendor.events"}},
	}
	for _, tt := range tests {
		if got := discoverValue(tt.key, tt.value, PodContext{Namespace: "app", Cluster: facts}); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("with facts, %s=%q: found %q, want %q", tt.key, tt.value, got, tt.want)
		}
		if got := discoverValue(tt.key, tt.value, PodContext{Namespace: "app"}); !reflect.DeepEqual(got, tt.without) {
			t.Errorf("without facts, %s=%q: found %q, want %q", tt.key, tt.value, got, tt.without)
		}
	}
}

// What a key names decides what its value's bare names are.
func TestDiscoverEgressKeys(t *testing.T) {
	tests := []struct {
		key, value string
		want       []string
	}{
		{"CORS_ORIGINS", "https://shop.acme.eu,https://admin.acme.eu", nil},
		{"CSRF_TRUSTED_ORIGINS", "https://shop.acme.eu", nil},
		{"ALLOWED_HOSTS", "shop.acme.eu,.acme.eu,localhost", nil},
		{"NO_PROXY", "localhost,.svc,api.partner.eu", nil},
		{"no_proxy", "api.partner.eu", nil},
		{"JAVA_OPTS", "-Dhttp.proxyHost=proxy.acme.eu -Dhttp.proxyPort=3128 -Dhttp.nonProxyHosts=api.partner.eu", []string{"proxy.acme.eu"}},
		{"KAFKA_ADVERTISED_LISTENERS", "PLAINTEXT://kafka.acme.eu:9092", nil},
		{"LISTEN_ADDR", "0.0.0.0:8080", nil},
		{"SESSION_COOKIE_DOMAIN", "shop.acme.eu", nil},
		{"SMTP_HOST", "mail.acme.ai", []string{"mail.acme.ai"}},
		{"LOGO", "logo.ai", nil},
		{"ENTRYPOINT", "main.cc", nil},
		{"API_BASE", "api.ai", nil},
		{"API_HOST", "api.ai", []string{"api.ai"}},
		{"SEARCH", "api.vendor.ai", []string{"api.vendor.ai"}},
		{"DJANGO_SETTINGS_MODULE", "config.settings.prod", nil},
		{"LOGGER", "shop.checkout.app", nil},
		{"TEMPLATE_FILE", "mail.html.de", nil},
		{"HTTP_PROXY", "http://proxy.acme.eu:3128", []string{"proxy.acme.eu:3128"}},
		{"API_BASE_URL", "api.partner.eu/v1", []string{"api.partner.eu"}},
		{"IMAGE", "ghcr.io/acme/app:1.2.3", nil},
		{"OTEL_RESOURCE_ATTRIBUTES", "service.name=checkout,deployment.environment=prod,k8s.pod.name=$(POD_NAME)", nil},
	}
	for _, tt := range tests {
		if got := discoverValue(tt.key, tt.value, PodContext{}); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s=%q: found %q, want %q", tt.key, tt.value, got, tt.want)
		}
	}
	for key, want := range map[string]keyClass{
		"SMTP_HOST": keyHost, "smtpHost": keyHost, "bootstrap.servers": keyHost, "--endpoint": keyHost,
		"DATABASE_URL": keyHost, "HTTPProxy": keyHost, "SMTP_CERT_FILE": keyIdentifier,
		"DJANGO_SETTINGS_MODULE": keyIdentifier, "value.serializer": keyIdentifier, "CORS_ORIGINS": keyInbound,
		"ALLOWED_HOSTS": keyInbound, "NO_PROXY": keyInbound, "server_name": keyInbound, "TLS_SERVER_NAME": keyHost,
		"LOG_LEVEL": keyUnknown, "": keyUnknown, "-h": keyUnknown,
	} {
		if got := classifyKey(key); got != want {
			t.Errorf("classifyKey(%q) = %d, want %d", key, got, want)
		}
	}
}

// The engine reports where discovery stopped: a Warning, whatever the policy
// says of unattributed egress.
func TestEvaluateDiscoveryIncomplete(t *testing.T) {
	var kv []string
	for i := range 600 {
		kv = append(kv, fmt.Sprintf("V%d", i), fmt.Sprintf("h%d.acme.eu", i))
	}
	d := deployment("many", flowAnn("eu-mail", "user.contact.email"), kv...)
	s := evalWorld(&v1alpha1.ResidencyPolicySpec{UnattributedEgress: v1alpha1.RuleIgnore})
	r := evalDeployment(t, s, d)
	var found []Finding
	for _, f := range r.Findings {
		if f.Reason == ReasonDiscoveryIncomplete {
			found = append(found, f)
		}
	}
	want := `endpoint discovery did not read the whole pod spec (found more than 512 endpoints, the most read per workload: stopped at env V512 of container "app"): endpoints there are not checked; declare them in dataresidency.io/egress`
	if len(found) != 1 || found[0].Verdict != Warning || found[0].Message != want {
		t.Errorf("findings:\n%s", dumpFindings(r))
	}
	if r := evalDeployment(t, s, deployment("few", flowAnn("eu-mail", "user.contact.email"), kv[:20]...)); slicesContainsReason(r, ReasonDiscoveryIncomplete) {
		t.Errorf("a small workload reports DiscoveryIncomplete:\n%s", dumpFindings(r))
	}
}

func slicesContainsReason(r Result, reason Reason) bool {
	for _, f := range r.Findings {
		if f.Reason == reason {
			return true
		}
	}
	return false
}
