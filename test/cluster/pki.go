package cluster

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"

	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"

	"github.com/dataresidency/operator/internal/testcerts"
)

// The cluster's PKI, generated in Go at every start (no openssl needed):
//
//	pki/ca.crt, ca.key                  the cluster CA (client and serving certs)
//	pki/apiserver.crt, apiserver.key    serving cert: 127.0.0.1, localhost, the
//	                                    kubernetes service IP and DNS names
//	pki/front-proxy-ca.*, front-proxy-client.*
//	                                    aggregation layer (request-header auth)
//	pki/sa.key                          service-account token signing key (the
//	                                    API server verifies with its public half)
//	pki/<user>.crt, <user>.key          client certs (admin, controller-manager,
//	                                    scheduler, kwok)
type pki struct {
	dir    string
	caCert *x509.Certificate
	ca     *testcerts.CA
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
// service-account key in dir.
func newPKI(dir string, serviceIP net.IP) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pki{dir: dir}
	if err := p.newCA("ca"); err != nil {
		return nil, err
	}

	// Serving certificate of the API server.
	if err := p.issue("apiserver", cert.Config{
		CommonName: "kube-apiserver",
		AltNames: cert.AltNames{
			DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
				"kubernetes.default.svc.cluster.local"},
			IPs: []net.IP{net.IPv4(127, 0, 0, 1), serviceIP},
		},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
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
	if err := fp.issue("front-proxy-client", cert.Config{
		CommonName: "front-proxy-client",
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return nil, err
	}

	// Service-account signing key (RSA: what every consumer of the tokens'
	// JWKS supports).
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	saPEM, err := keyutil.MarshalPrivateKeyToPEM(saKey)
	if err != nil {
		return nil, err
	}
	if err := keyutil.WriteKey(p.path("sa.key"), saPEM); err != nil {
		return nil, err
	}
	return p, nil
}

// newCA creates a self-signed CA as <name>.crt and <name>.key and makes it
// the issuer of p.
func (p *pki) newCA(name string) error {
	ca, err := testcerts.NewCA("dev-cluster-" + name)
	if err != nil {
		return err
	}
	p.ca, p.caCert = ca, ca.Cert
	return ca.Write(p.path(name))
}

// client issues a client certificate for id; it returns the cert and key paths.
func (p *pki) client(id clientIdentity) (certFile, keyFile string, err error) {
	err = p.issue(id.file, cert.Config{
		CommonName:   id.user,
		Organization: id.groups,
		Usages:       []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return p.path(id.file + ".crt"), p.path(id.file + ".key"), err
}

func (p *pki) issue(name string, cfg cert.Config) error {
	certPEM, keyPEM, err := p.ca.Issue(cfg)
	if err != nil {
		return err
	}
	return testcerts.WritePair(p.path(name), certPEM, keyPEM)
}
