package origincert

import "crypto/x509"

// SetIssuerRoots makes NeedsRenewal accept certificates from the given
// test CAs in place of the Origin CA roots, whose keys tests do not have.
// It returns a function restoring the real roots. Not safe to call while
// tests run in parallel.
func SetIssuerRoots(roots ...*x509.Certificate) (restore func()) {
	old := issuerRoots
	issuerRoots = func(KeyType) []*x509.Certificate { return roots }
	return func() { issuerRoots = old }
}

var realIssuerRoots = issuerRoots

// UseRealIssuerRoots puts the embedded Origin CA roots back until restore.
func UseRealIssuerRoots() (restore func()) {
	old := issuerRoots
	issuerRoots = realIssuerRoots
	return func() { issuerRoots = old }
}
