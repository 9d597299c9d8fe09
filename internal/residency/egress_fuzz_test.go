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
		eps := DiscoverEgress(spec, ctx)
		if len(eps) > maxDiscoveredEndpoints {
			t.Fatalf("%d endpoints", len(eps))
		}
		seen := map[string]bool{}
		for _, ep := range eps {
			checkEndpoint(t, ep)
			if ep.Prefix.IsValid() {
				t.Fatalf("%+v: a CIDR discovered", ep)
			}
			if ep.Host != "" && IsClusterInternal(ep.Host) {
				t.Fatalf("%+v: cluster-internal host discovered", ep)
			}
			if ep.Addr.IsValid() && (!isPublicAddr(ep.Addr) || IsClusterInternal(ep.Addr.String())) {
				t.Fatalf("%+v: non-public address discovered", ep)
			}
			if seen[ep.String()] {
				t.Fatalf("duplicate %s", ep)
			}
			seen[ep.String()] = true
		}
		if again := DiscoverEgress(spec, ctx); !reflect.DeepEqual(eps, again) {
			t.Fatalf("not deterministic:\n%v\n%v", eps, again)
		}
		if got := ReferencedConfigMaps(spec); !reflect.DeepEqual(got, []string{"cm"}) {
			t.Fatalf("ReferencedConfigMaps = %q", got)
		}
	})
}
