// Package testcerts makes the throw-away certificates of the tests, the demo
// and the local cluster: a webhook server's serving certificate for 127.0.0.1,
// and the local cluster's CAs with the serving and client certificates they
// sign. Never the operator's own: in a cluster it rotates its certificate
// itself, or cert-manager issues it.
//
// It is built on client-go's k8s.io/client-go/util/cert and util/keyutil, the
// code kube-apiserver uses for its own self-signed certificates. Those make a
// self-signed CA, and a serving certificate under a CA of its own, but sign
// nothing with a CA the caller keeps; CA.Issue does that one thing.
package testcerts

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// Serving is a serving certificate signed by a CA made for it alone.
type Serving struct {
	// CertPEM is the certificate followed by its CA's (what tls.crt holds).
	CertPEM []byte
	// KeyPEM is the certificate's private key.
	KeyPEM []byte
	// CAPEM is the CA's certificate alone: a webhook's caBundle.
	CAPEM []byte
}

// NewLocalServing makes the certificate a webhook server on 127.0.0.1 serves
// with: valid for 127.0.0.1 and localhost, for a year.
func NewLocalServing() (*Serving, error) {
	return NewServing("127.0.0.1", nil, []string{"localhost"})
}

// NewServing makes a serving certificate for host (an IP or a DNS name) and
// the other IPs and DNS names, signed by a new CA, with util/cert.
func NewServing(host string, ips []net.IP, dnsNames []string) (*Serving, error) {
	certPEM, keyPEM, err := cert.GenerateSelfSignedCertKey(host, ips, dnsNames)
	if err != nil {
		return nil, err
	}
	chain, err := cert.ParseCertsPEM(certPEM)
	if err != nil {
		return nil, err
	}
	if len(chain) != 2 {
		return nil, fmt.Errorf("util/cert returned %d certificates, want the serving certificate and its CA", len(chain))
	}
	caPEM, err := cert.EncodeCertificates(chain[1])
	if err != nil {
		return nil, err
	}
	return &Serving{CertPEM: certPEM, KeyPEM: keyPEM, CAPEM: caPEM}, nil
}

// WriteDir writes tls.crt and tls.key (what controller-runtime's webhook
// server reads from its certificate directory) and ca.crt into dir.
func (s *Serving) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return errors.Join(
		cert.WriteCert(filepath.Join(dir, "tls.crt"), s.CertPEM),
		keyutil.WriteKey(filepath.Join(dir, "tls.key"), s.KeyPEM),
		cert.WriteCert(filepath.Join(dir, "ca.crt"), s.CAPEM),
	)
}

// CA is a self-signed certificate authority that signs the certificates of
// one PKI, such as the local cluster's.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	KeyPEM  []byte
	key     crypto.Signer
}

// NewCA makes a self-signed CA named commonName (an ECDSA P-256 key, valid
// for ten years) with util/cert.
func NewCA(commonName string) (*CA, error) {
	keyPEM, key, err := newKey()
	if err != nil {
		return nil, err
	}
	// An hour back, as util/cert's serving certificates: clocks of the
	// processes that check it may be a little behind.
	c, err := cert.NewSelfSignedCACert(cert.Config{CommonName: commonName, NotBefore: time.Now().Add(-time.Hour)}, key)
	if err != nil {
		return nil, err
	}
	certPEM, err := cert.EncodeCertificates(c)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: c, CertPEM: certPEM, KeyPEM: keyPEM, key: key}, nil
}

// Issue signs a certificate for cfg with a new ECDSA P-256 key, valid for a
// year: a client certificate (CommonName the user, Organization the groups,
// Usages ClientAuth) or a serving one (AltNames, Usages ServerAuth). It
// returns the certificate's and the key's PEM.
func (ca *CA) Issue(cfg cert.Config) (certPEM, keyPEM []byte, err error) {
	keyPEM, key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(math.MaxInt64))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)),
		Subject:               pkix.Name{CommonName: cfg.CommonName, Organization: cfg.Organization},
		DNSNames:              cfg.AltNames.DNSNames,
		IPAddresses:           cfg.AltNames.IPs,
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           cfg.Usages,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("issue a certificate for %s: %w", cfg.CommonName, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: cert.CertificateBlockType, Bytes: der}), keyPEM, nil
}

// Write writes the CA as base.crt and base.key.
func (ca *CA) Write(base string) error {
	return WritePair(base, ca.CertPEM, ca.KeyPEM)
}

// WritePair writes a certificate as base.crt (0644) and its key as base.key
// (0600).
func WritePair(base string, certPEM, keyPEM []byte) error {
	return errors.Join(cert.WriteCert(base+".crt", certPEM), keyutil.WriteKey(base+".key", keyPEM))
}

func newKey() ([]byte, crypto.Signer, error) {
	keyPEM, err := keyutil.MakeEllipticPrivateKeyPEM()
	if err != nil {
		return nil, nil, err
	}
	key, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("keyutil made a %T, not a signer", key)
	}
	return keyPEM, signer, nil
}
