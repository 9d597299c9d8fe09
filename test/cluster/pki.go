package cluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The cluster's PKI, generated in Go at every start (no openssl needed):
//
//	pki/ca.crt, ca.key                  the cluster CA (client and serving certs)
//	pki/apiserver.crt, apiserver.key    serving cert: 127.0.0.1, localhost, the
//	                                    kubernetes service IP and DNS names
//	pki/front-proxy-ca.*, front-proxy-client.*
//	                                    aggregation layer (request-header auth)
//	pki/sa.key, sa.pub                  service-account token signing key pair
//	pki/<user>.crt, <user>.key          client certs (admin, controller-manager,
//	                                    scheduler, kwok)
type pki struct {
	dir    string
	caCert *x509.Certificate
	caKey  crypto.Signer
}

// clientIdentity is the subject of a client certificate: CN is the user name,
// O the groups.
type clientIdentity struct {
	file   string
	user   string
	groups []string
}

var (
	adminIdentity             = clientIdentity{"admin", "kubernetes-admin", []string{"system:masters"}}
	controllerManagerIdentity = clientIdentity{"kube-controller-manager", "system:kube-controller-manager", nil}
	schedulerIdentity         = clientIdentity{"kube-scheduler", "system:kube-scheduler", nil}
	// kwok updates node and pod status, leases and events, and deletes pods:
	// it runs as a cluster admin, as kwokctl's clusters do.
	kwokIdentity = clientIdentity{"kwok", "kwok-controller", []string{"system:masters"}}
)

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

// newPKI creates the CA, the API server's serving certificate and the
// service-account key pair in dir.
func newPKI(dir string, serviceIP net.IP) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pki{dir: dir}
	if err := p.newCA("ca"); err != nil {
		return nil, err
	}

	// Serving certificate of the API server.
	if err := p.issue("apiserver", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), serviceIP},
	}); err != nil {
		return nil, err
	}

	// The aggregation layer's front proxy: its own CA (the API server trusts
	// request headers only from clients of that CA) and the client cert the
	// API server presents to aggregated API servers.
	fp := &pki{dir: dir}
	if err := fp.newCA("front-proxy-ca"); err != nil {
		return nil, err
	}
	if err := fp.issue("front-proxy-client", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "front-proxy-client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return nil, err
	}

	// Service-account signing key pair (RSA: what every consumer of the
	// tokens' JWKS supports).
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(saKey)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return nil, err
	}
	if err := writePEM(p.path("sa.key"), "PRIVATE KEY", keyDER, 0o600); err != nil {
		return nil, err
	}
	if err := writePEM(p.path("sa.pub"), "PUBLIC KEY", pubDER, 0o644); err != nil {
		return nil, err
	}
	return p, nil
}

// newCA creates a self-signed CA as <name>.crt and <name>.key and makes it
// the issuer of p.
func (p *pki) newCA(name string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "dev-cluster-" + name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return err
	}
	if p.caCert, err = x509.ParseCertificate(der); err != nil {
		return err
	}
	p.caKey = key
	return writeCertAndKey(p.path(name), der, key)
}

// client issues a client certificate for id; it returns the cert and key paths.
func (p *pki) client(id clientIdentity) (certFile, keyFile string, err error) {
	err = p.issue(id.file, &x509.Certificate{
		Subject:     pkix.Name{CommonName: id.user, Organization: id.groups},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return p.path(id.file + ".crt"), p.path(id.file + ".key"), err
}

func (p *pki) issue(name string, tmpl *x509.Certificate) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = now.Add(-time.Hour)
	tmpl.NotAfter = now.Add(365 * 24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, key.Public(), p.caKey)
	if err != nil {
		return fmt.Errorf("issue %s certificate: %w", name, err)
	}
	return writeCertAndKey(p.path(name), der, key)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

func writeCertAndKey(base string, certDER []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(base+".crt", "CERTIFICATE", certDER, 0o644); err != nil {
		return err
	}
	return writePEM(base+".key", "EC PRIVATE KEY", keyDER, 0o600)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}
