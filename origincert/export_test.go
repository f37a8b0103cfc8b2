package origincert

import "crypto/x509"

// SetIssuerRoots makes NeedsRenewal accept certificates from test CAs in
// place of the Origin CA roots, whose keys tests do not have. It returns a
// function restoring the real roots. Not safe to call while tests run in
// parallel.
func SetIssuerRoots(ecc, rsa *x509.Certificate) (restore func()) {
	old := issuerRoot
	issuerRoot = func(kt KeyType) (*x509.Certificate, error) {
		if kt.isRSA() {
			return rsa, nil
		}
		return ecc, nil
	}
	return func() { issuerRoot = old }
}

var realIssuerRoot = issuerRoot

// UseRealIssuerRoots puts the embedded Origin CA roots back until restore.
func UseRealIssuerRoots() (restore func()) {
	old := issuerRoot
	issuerRoot = realIssuerRoot
	return func() { issuerRoot = old }
}
