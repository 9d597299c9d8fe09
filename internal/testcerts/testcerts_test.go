package testcerts

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/util/cert"
)

func TestLocalServing(t *testing.T) {
	s, err := NewLocalServing()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "certs")
	if err := s.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	roots, err := cert.NewPool(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if _, err := pair.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "tls.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("tls.key: %v %v", fi.Mode(), err)
	}
}

func TestCA(t *testing.T) {
	ca, err := NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)

	certPEM, keyPEM, err := ca.Issue(cert.Config{
		CommonName: "kube-apiserver",
		AltNames:   cert.AltNames{DNSNames: []string{"kubernetes.default.svc"}, IPs: []net.IP{net.IPv4(10, 96, 0, 1)}},
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		t.Fatal(err)
	}
	serving, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"kubernetes.default.svc", "10.96.0.1"} {
		if _, err := serving.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}

	certPEM, keyPEM, err = ca.Issue(cert.Config{
		CommonName: "kubernetes-admin", Organization: []string{"system:masters"},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		t.Fatal(err)
	}
	client, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Error(err)
	}
	if _, err := client.Leaf.Verify(x509.VerifyOptions{Roots: roots}); err == nil {
		t.Error("a client certificate verifies as a serving one")
	}
	if s := client.Leaf.Subject; s.CommonName != "kubernetes-admin" || strings.Join(s.Organization, ",") != "system:masters" {
		t.Errorf("subject %v", s)
	}

	base := filepath.Join(t.TempDir(), "ca")
	if err := ca.Write(base); err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(base+".crt", base+".key"); err != nil {
		t.Error(err)
	}
}
