package cloudflaretest

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
	"sync"
	"time"
)

// testCA stands in for one of Cloudflare's Origin CA roots, whose keys a
// test does not have.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var (
	rootsOnce sync.Once
	eccRoot   *testCA
	rsaRoot   *testCA
)

func roots() (ecc, rsa *testCA) {
	rootsOnce.Do(func() {
		eccRoot = newTestCA("cloudflaretest Origin CA ECC root", false)
		rsaRoot = newTestCA("cloudflaretest Origin CA RSA root", true)
	})
	return eccRoot, rsaRoot
}

func newTestCA(name string, useRSA bool) *testCA {
	var (
		key crypto.Signer
		err error
	)
	if useRSA {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		panic("cloudflaretest: generate CA key: " + err.Error())
	}
	// Like the real roots (2019-08-23 to 2029-08-15), the test roots are
	// long-lived but not unbounded.
	now := time.Now().UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"originguard cloudflaretest"}},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(20 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		panic("cloudflaretest: create CA: " + err.Error())
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic("cloudflaretest: parse CA: " + err.Error())
	}
	return &testCA{cert: c, key: key}
}

// sign issues a server certificate for pub, valid from notBefore to
// notAfter, as the Origin CA does: the hostnames as DNS names, the first
// as common name.
func (ca *testCA) sign(pub crypto.PublicKey, hostnames []string, notBefore, notAfter time.Time) (*x509.Certificate, []byte, error) {
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hostnames[0], Organization: []string{"CloudFlare, Inc."}, OrganizationalUnit: []string{"CloudFlare Origin CA"}},
		DNSNames:     hostnames,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return c, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n
}
