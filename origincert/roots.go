package origincert

import (
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
	"time"
)

// The PEM files under roots/ are copies of the checked files in the shared
// Cloudflare reference data; roots_test.go pins their SHA-256 fingerprints.
//
//go:embed roots/origin_ca_ecc_root.pem roots/origin_ca_rsa_root.pem roots/authenticated_origin_pull_ca.pem
var rootsFS embed.FS

var (
	eccRootPEM    = mustRead("roots/origin_ca_ecc_root.pem")
	rsaRootPEM    = mustRead("roots/origin_ca_rsa_root.pem")
	originPullPEM = mustRead("roots/authenticated_origin_pull_ca.pem")

	eccRoot    = mustParse(eccRootPEM)
	rsaRoot    = mustParse(rsaRootPEM)
	originPull = mustParse(originPullPEM)
)

func mustRead(name string) []byte {
	b, err := rootsFS.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("origincert: embedded %s: %v", name, err))
	}
	return b
}

func mustParse(pemBytes []byte) *x509.Certificate {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE" {
		panic("origincert: embedded root is not a PEM certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		panic(fmt.Sprintf("origincert: embedded root: %v", err))
	}
	return c
}

// OriginCARootPEM returns the PEM of the Cloudflare Origin CA root that
// signs certificates for keys of type kt: the ECC root for ECDSA keys, the
// RSA root for RSA keys. It is the ca.crt written into TLS Secrets: the
// Origin CA is not in public trust stores, so a client that verifies the
// origin (a sidecar, a health checker, Cloudflare itself) needs it.
// The returned slice is a fresh copy.
func OriginCARootPEM(kt KeyType) ([]byte, error) {
	switch {
	case kt.isECDSA():
		return clone(eccRootPEM), nil
	case kt.isRSA():
		return clone(rsaRootPEM), nil
	}
	return nil, fmt.Errorf("origincert: unknown key type %q", string(kt))
}

// OriginCARoot returns the parsed Origin CA root for keys of type kt.
// Callers must not modify the returned certificate.
func OriginCARoot(kt KeyType) (*x509.Certificate, error) {
	switch {
	case kt.isECDSA():
		return eccRoot, nil
	case kt.isRSA():
		return rsaRoot, nil
	}
	return nil, fmt.Errorf("origincert: unknown key type %q", string(kt))
}

// OriginPullCAPEM returns the PEM of Cloudflare's shared Authenticated
// Origin Pulls CA (CN=origin-pull.cloudflare.net), the CA that signs the
// client certificate Cloudflare presents to origins of every zone that
// enables zone-level origin pulls without uploading its own certificate.
// The returned slice is a fresh copy.
func OriginPullCAPEM() []byte { return clone(originPullPEM) }

// OriginPullCA returns the parsed shared origin-pull CA. Callers must not
// modify the returned certificate.
func OriginPullCA() *x509.Certificate { return originPull }

// OriginPullCAExpiry is when the embedded shared origin-pull CA expires
// (2029-11-01 17:00 UTC). Cloudflare must publish a successor before then,
// and every origin that trusts only this CA must add the new one: alert
// well ahead of it.
func OriginPullCAExpiry() time.Time { return originPull.NotAfter }

// OriginPullCAPool returns a new pool holding only the shared origin-pull CA.
func OriginPullCAPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(originPull)
	return p
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// issuerRoots are the roots NeedsRenewal requires a certificate to chain
// to when Want.Issuers is empty. Tests swap it (export_test.go) because
// Cloudflare's key is not theirs.
var issuerRoots = func(kt KeyType) []*x509.Certificate {
	r, err := OriginCARoot(kt)
	if err != nil {
		return nil
	}
	return []*x509.Certificate{r}
}

// OriginCARootsExpiry is when the first of the embedded Origin CA roots
// (ECC and RSA, written as ca.crt into every Secret) expires: 2029-08-15.
// Certificates of 1095 or 5475 days issued now outlive it; a ca.crt past
// it is an expired trust anchor for every client that verifies the origin
// with it. Cloudflare must publish new roots before then, and this package
// must embed them: [NeedsRenewal] and [Renewer] warn ahead of it.
func OriginCARootsExpiry() time.Time {
	if eccRoot.NotAfter.Before(rsaRoot.NotAfter) {
		return eccRoot.NotAfter
	}
	return rsaRoot.NotAfter
}
