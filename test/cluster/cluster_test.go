package cluster

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

// No binaries needed: the PKI and kubeconfigs Start writes.
func TestPKI(t *testing.T) {
	dir := t.TempDir()
	p, err := newPKI(dir, serviceIP)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := p.client(adminIdentity)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.caCert)

	serving := readCert(t, p.path("apiserver.crt"))
	for _, host := range []string{"127.0.0.1", "localhost", "kubernetes.default.svc", "10.96.0.1"} {
		if _, err := serving.Verify(x509.VerifyOptions{DNSName: host, Roots: roots}); err != nil {
			t.Errorf("serving cert for %s: %v", host, err)
		}
	}
	admin := readCert(t, certFile)
	if _, err := admin.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("admin cert: %v", err)
	}
	if admin.Subject.CommonName != "kubernetes-admin" || strings.Join(admin.Subject.Organization, ",") != "system:masters" {
		t.Errorf("admin subject %v", admin.Subject)
	}
	for _, f := range []string{"sa.key", "ca.key"} {
		if _, err := os.Stat(p.path(f)); err != nil {
			t.Error(err)
		}
	}

	kc := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(kc, "https://127.0.0.1:1", p.path("ca.crt"), certFile, keyFile, "kubernetes-admin"); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://127.0.0.1:1" || len(cfg.CertData) == 0 || len(cfg.CAData) == 0 {
		t.Errorf("kubeconfig: %+v", cfg)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestKwokStages(t *testing.T) {
	s := kwokStages()
	for _, name := range []string{"node-initialize", "node-heartbeat-with-lease", "pod-ready", "pod-complete", "pod-delete"} {
		if !strings.Contains(s, "name: "+name+"\n") {
			t.Errorf("stage %s missing", name)
		}
	}
	if got := strings.Count(s, "\n---\n"); got != 4 {
		t.Errorf("%d document separators, want 4", got)
	}
}

func TestFreePorts(t *testing.T) {
	ports, err := freePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] || p == 0 {
			t.Fatalf("ports %v", ports)
		}
		seen[p] = true
	}
}
