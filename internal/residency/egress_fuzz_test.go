package residency

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// fuzzPod builds a pod from fuzz input: each line is an env value of an app
// container, a key of a ConfigMap it reads through envFrom and configMapKeyRef,
// and the first line is also an init container's value and an ExternalName target.
func fuzzPod(data string) (*PodSpec, PodContext) {
	lines := strings.Split(data, "\n")
	if len(lines) > 64 {
		lines = lines[:64]
	}
	cm := map[string]string{}
	app := corev1.Container{
		Name:    "app",
		EnvFrom: []corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}},
	}
	for i, v := range lines {
		key := fmt.Sprintf("K%d", i)
		cm[key] = v
		app.Env = append(app.Env, corev1.EnvVar{Name: fmt.Sprintf("V%d", i), Value: v})
	}
	app.Env = append(app.Env, corev1.EnvVar{Name: "REF", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Key: "K0"}}})
	spec := PodSpecOf(&corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Env: []corev1.EnvVar{{Name: "FIRST", Value: lines[0]}}}},
		Containers:     []corev1.Container{app},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debug", Env: []corev1.EnvVar{{Name: "LAST", Value: lines[len(lines)-1]}}}}},
	})
	ctx := PodContext{
		Namespace:  "ns",
		ConfigMaps: map[string]map[string]string{"cm": cm},
		ExternalNames: map[string]string{
			"mail.ns":    "smtp.sendgrid.net",
			"target.ns":  lines[0],
			"stripe.pay": "api.stripe.com",
			"local.ns":   "db.ns.svc.cluster.local",
		},
	}
	return spec, ctx
}

func FuzzDiscoverEgress(f *testing.F) {
	for _, s := range []string{
		"smtp.sendgrid.net\nhttps://api.stripe.com/v1\nb1.example.com:9092,b2.example.com:9092",
		"mail:587\nmail.ns.svc.cluster.local\nhttp://stripe.pay.svc/x\ntarget\nlocal",
		"203.0.113.7:25\n[2001:db8::1]:443\n10.0.0.1\n::ffff:8.8.8.8\nfe80::1%eth0",
		"config.yaml\n1.2.3\ncom.example.MyClass\ndpo@example.com\n/etc/x\n{\"a\":1}\nhello world",
		"$(HOST):80\n${X}\njdbc:mysql://db.example.com:3306/x\nfile:///x\n:8080\n[::1",
		"\x00\xff\xfe\n\u00e9.example\n" + strings.Repeat("a.example.com ", 200),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		spec, ctx := fuzzPod(data)
		checkDiscovery(t, spec, ctx)
		if got := ReferencedConfigMaps(spec); !reflect.DeepEqual(got, []string{"cm"}) {
			t.Fatalf("ReferencedConfigMaps = %q", got)
		}
	})
}

// checkDiscovery runs discovery and checks what must hold of any result:
// bounded, valid, public, deduplicated, attributed, deterministic.
func checkDiscovery(t *testing.T, spec *PodSpec, ctx PodContext) []Endpoint {
	t.Helper()
	eps, notes := discoverEgressInto(nil, spec, ctx)
	if len(eps) > maxDiscoveredEndpoints || len(notes) > maxNotes+1 {
		t.Fatalf("%d endpoints, %d notes", len(eps), len(notes))
	}
	seen := map[string]bool{}
	for _, ep := range eps {
		checkEndpoint(t, ep)
		if ep.Prefix.IsValid() {
			t.Fatalf("%+v: a CIDR discovered", ep)
		}
		if ep.Host != "" && (IsClusterInternal(ep.Host) || isReservedName(ep.Host)) {
			t.Fatalf("%+v: cluster-internal or reserved host discovered", ep)
		}
		if ep.Addr.IsValid() && (!isPublicAddr(ep.Addr) || IsClusterInternal(ep.Addr.String())) {
			t.Fatalf("%+v: non-public address discovered", ep)
		}
		if ep.Source == "" {
			t.Fatalf("%+v: no source", ep)
		}
		if seen[ep.String()] {
			t.Fatalf("duplicate %s", ep)
		}
		seen[ep.String()] = true
	}
	if again, notesAgain := discoverEgressInto(nil, spec, ctx); !reflect.DeepEqual(eps, again) || !reflect.DeepEqual(notes, notesAgain) {
		t.Fatalf("not deterministic:\n%v\n%v", eps, again)
	}
	return eps
}

// FuzzConnString: connection strings and other address forms, read under
// keys of each kind, never panic and yield only valid external endpoints.
func FuzzConnString(f *testing.F) {
	for _, s := range []string{
		"mongodb://a.acme.eu:27017,b.acme.eu:27017/db?replicaSet=rs0",
		"jdbc:sqlserver://h.database.windows.net:1433;database=orders",
		`jdbc:sqlserver://h\inst:1433;x=y`,
		"jdbc:postgresql://h1.acme.eu,h2.acme.eu/db",
		"jdbc:oracle:thin:@//h.acme.eu:1521/svc",
		"jdbc:oracle:thin:@h.acme.eu:1521:SID",
		"jdbc:oracle:thin:@(DESCRIPTION=(ADDRESS=(HOST=h.acme.eu)(PORT=1521)))",
		"Host=h.postgres.database.azure.com;Username=u",
		"Server=tcp:h.acme.eu,1433;Database=x;",
		"Data Source=h.acme.eu:1521/svc;User Id=u",
		"host=h.acme.eu port=5432 dbname=x",
		"user:pass@tcp(h.acme.eu:3306)/db?x=y",
		"SASL_SSL://h.acme.eu:9093,PLAINTEXT://k:9092",
		"dns:///h.acme.eu:443",
		"git@github.com:org/repo.git",
		`"https://x.acme.eu"`, "'h.acme.eu:443'",
		`{"endpoint": "https://x.acme.eu", "list": ["a.acme.eu:1", {"k": "b.acme.eu"}]}`,
		"endpoint=https://x.acme.eu,mailto:a@b.eu,*,10.0.0.0/8 word",
		"(((HOST=(", "jdbc:oracle:thin:@", "tcp(", "@:", "a@b:", "//", ":///", "[::1", "Server=;Port=;",
	} {
		f.Add("DATABASE_URL", s)
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		spec := egressEnvPod(key, value)
		ctx := PodContext{Namespace: "ns", ExternalNames: map[string]string{"mail.ns": "smtp.sendgrid.net"},
			Cluster: fakeCluster{namespaces: []string{"shop"}, hosts: []string{"shop.acme.eu"}}}
		checkDiscovery(t, spec, ctx)
	})
}

// FuzzConfigFile: mounted files of every format never panic, and what they
// yield is valid and bounded.
func FuzzConfigFile(f *testing.F) {
	for _, s := range []struct{ name, content string }{
		{"relay.yaml", "relay:\n  upstream: https://intake.acme.eu\n---\nx: [a.acme.eu:1]\n"},
		{"app.json", `{"url": "https://api.acme.eu", "n": 1, "nested": {"hosts": ["b.acme.eu"]}}`},
		{"grafana.ini", "[smtp]\nhost = smtp.acme.eu:587\n;comment\n"},
		{"client.properties", "bootstrap.servers=a.acme.eu:9092,b.acme.eu:9092\n"},
		{"nginx.conf", "server {\n  proxy_pass https://api.acme.eu;\n  server_name shop.acme.eu;\n}\n"},
		{"Corefile", ".:53 {\n  forward . 1.1.1.1\n}\n"},
		{"bad.yaml", "a: [\n  - {{ x }\n"},
		{"anchors.yaml", "a: &a [x, y]\nb: [*a, *a, *a]\n"},
	} {
		f.Add(s.name, s.content)
	}
	f.Fuzz(func(t *testing.T, name, content string) {
		spec := PodSpecOf(&corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", VolumeMounts: []corev1.VolumeMount{{Name: "v", MountPath: "/etc/c"}}}},
			Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "cm"},
				Items:                []corev1.KeyToPath{{Key: "k", Path: name}}}}}},
		})
		checkDiscovery(t, spec, PodContext{ConfigMaps: map[string]map[string]string{"cm": {"k": content}}})
	})
}

// FuzzCommandArgs: commands and arguments, with $(VAR) references to the
// container's env, never panic and yield valid endpoints.
func FuzzCommandArgs(f *testing.F) {
	for _, s := range []string{
		"sh\x00-c\x00curl -fsS https://hc-ping.com/$(ID) && nc -z db.acme.eu 5432",
		"--endpoint=https://x.acme.eu\x00-h\x00pg.acme.eu\x00--upstream\x00$(UP)",
		"$$(UP)\x00$(UP\x00$(\x00$$\x00-\x00--=\x00-Dhttp.proxyHost=proxy.acme.eu",
	} {
		f.Add(s, "https://up.acme.eu", "$(A)$(A)")
	}
	f.Fuzz(func(t *testing.T, words, up, chain string) {
		args := strings.Split(words, "\x00")
		env := []corev1.EnvVar{{Name: "A", Value: up}, {Name: "UP", Value: chain}, {Name: "ID", Value: "$(UP)/$(A)"}}
		spec := PodSpecOf(&corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Command: args[:len(args)/2], Args: args[len(args)/2:], Env: env}}})
		checkDiscovery(t, spec, PodContext{})
	})
}
