package origincert_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync/atomic"
	"time"

	"github.com/originguard/originguard/origincert"
	"github.com/originguard/originguard/origincert/cloudflaretest"
)

// testCA stands in for a Cloudflare CA (Origin CA roots, origin-pull CA),
// whose private keys tests do not have.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
}

var serialCounter atomic.Int64

func nextSerial() *big.Int { return big.NewInt(serialCounter.Add(1) + 1000) }

// newTestCA makes a self-signed CA; rsaKey picks RSA 2048 over P-256.
func newTestCA(name string, rsaKey bool) *testCA {
	var key crypto.Signer
	var err error
	if rsaKey {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"originguard test"}},
		NotBefore:             time.Now().Add(-24 * time.Hour),
		NotAfter:              time.Now().Add(20 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		panic(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// leafSpec describes a certificate a testCA signs.
type leafSpec struct {
	pub       crypto.PublicKey
	dnsNames  []string
	cn        string
	notBefore time.Time
	notAfter  time.Time
	client    bool // client-auth EKU instead of server-auth
}

func (ca *testCA) sign(s leafSpec) (*x509.Certificate, []byte) {
	eku := x509.ExtKeyUsageServerAuth
	if s.client {
		eku = x509.ExtKeyUsageClientAuth
	}
	cn := s.cn
	if cn == "" && len(s.dnsNames) > 0 {
		cn = s.dnsNames[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     s.dnsNames,
		NotBefore:    s.notBefore,
		NotAfter:     s.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{eku},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, s.pub, ca.key)
	if err != nil {
		panic(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// Test stand-ins for the two Origin CA roots, made once per test binary.
var (
	fakeECCRoot = newTestCA("test Origin CA ECC root", false)
	fakeRSARoot = newTestCA("test Origin CA RSA root", true)
)

// The fake Cloudflare signs with test roots; NeedsRenewal must accept
// them. TestEmbeddedRootsAreTheDefaultIssuers restores the real ones.
func init() {
	s := cloudflaretest.NewServer()
	defer s.Close()
	apiRoots = s.IssuerRoots()
	origincert.SetIssuerRoots(append([]*x509.Certificate{fakeECCRoot.cert, fakeRSARoot.cert}, apiRoots...)...)
}

// apiRoots are the roots of the fake API (cloudflaretest), which signs
// the certificates Client.Issue gets.
var apiRoots []*x509.Certificate
