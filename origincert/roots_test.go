package origincert_test

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/originguard/originguard/origincert"
)

// Fingerprints as recorded in the shared Cloudflare reference data.
const (
	fpECC        = "AA:63:69:7A:22:76:4B:67:B2:13:4C:E1:4C:B5:69:0E:A3:36:94:0B:93:98:61:13:F4:95:45:91:78:32:D8:0D"
	fpRSA        = "D3:C7:E8:5C:91:70:7F:C0:A1:2A:BC:5D:88:26:67:47:AA:4F:A8:E7:B1:62:F6:33:FF:B3:C9:D9:89:94:76:20"
	fpOriginPull = "9A:1A:C2:B4:BE:15:F9:F2:7E:EE:20:A7:34:CB:A4:E9:89:8F:61:00:1B:3B:D7:C8:4B:69:B5:6A:3E:25:A2:B9"
)

func fingerprint(t *testing.T, pemBytes []byte) (string, *x509.Certificate) {
	t.Helper()
	block, rest := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE" || len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("not exactly one PEM certificate")
	}
	sum := sha256.Sum256(block.Bytes)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ToUpper(strings.Join(splitPairs(hex.EncodeToString(sum[:])), ":")), c
}

func splitPairs(s string) []string {
	var out []string
	for i := 0; i < len(s); i += 2 {
		out = append(out, s[i:i+2])
	}
	return out
}

func TestEmbeddedRootsArePinned(t *testing.T) {
	ecc, _ := origincert.OriginCARootPEM(origincert.ECDSAP256)
	rsaPEM, _ := origincert.OriginCARootPEM(origincert.RSA4096)
	for _, tc := range []struct {
		name  string
		pem   []byte
		fp    string
		until time.Time
		isRSA bool
	}{
		{"origin CA ECC", ecc, fpECC, time.Date(2029, 8, 15, 17, 0, 0, 0, time.UTC), false},
		{"origin CA RSA", rsaPEM, fpRSA, time.Date(2029, 8, 15, 17, 0, 0, 0, time.UTC), true},
		{"origin pull CA", origincert.OriginPullCAPEM(), fpOriginPull, time.Date(2029, 11, 1, 17, 0, 0, 0, time.UTC), true},
	} {
		fp, c := fingerprint(t, tc.pem)
		if fp != tc.fp {
			t.Errorf("%s: SHA-256 %s, pinned %s", tc.name, fp, tc.fp)
		}
		if !c.NotAfter.Equal(tc.until) || !c.IsCA {
			t.Errorf("%s: NotAfter %s IsCA %t, want %s CA", tc.name, c.NotAfter, c.IsCA, tc.until)
		}
		if err := c.CheckSignatureFrom(c); err != nil {
			t.Errorf("%s: self-signature: %v", tc.name, err)
		}
		_, isRSA := c.PublicKey.(*rsa.PublicKey)
		_, isEC := c.PublicKey.(*ecdsa.PublicKey)
		if isRSA != tc.isRSA || isEC == tc.isRSA {
			t.Errorf("%s: public key %T", tc.name, c.PublicKey)
		}
	}
	if want := time.Date(2029, 11, 1, 17, 0, 0, 0, time.UTC); !origincert.OriginPullCAExpiry().Equal(want) {
		t.Errorf("OriginPullCAExpiry = %s, want %s", origincert.OriginPullCAExpiry(), want)
	}
	if got := origincert.OriginPullCA().Subject.CommonName; got != "origin-pull.cloudflare.net" {
		t.Errorf("origin pull CA CN = %q", got)
	}
	for _, kt := range []origincert.KeyType{"", origincert.ECDSAP256, origincert.RSA2048, origincert.RSA3072, origincert.RSA4096} {
		root, err := origincert.OriginCARoot(kt)
		if err != nil {
			t.Fatal(err)
		}
		_, isRSA := root.PublicKey.(*rsa.PublicKey)
		if isRSA != strings.HasPrefix(string(kt), "rsa") {
			t.Errorf("root for %q has a %T key", kt, root.PublicKey)
		}
	}
	if _, err := origincert.OriginCARootPEM("ed25519"); err == nil || !strings.Contains(err.Error(), `"ed25519"`) {
		t.Errorf("unknown key type: err = %v", err)
	}
	// Callers get copies.
	a := origincert.OriginPullCAPEM()
	a[0] = 'X'
	if origincert.OriginPullCAPEM()[0] == 'X' {
		t.Error("OriginPullCAPEM returned the embedded slice")
	}
}

// Without the test override, NeedsRenewal demands the real Origin CA
// roots: a certificate from any other CA is foreign.
func TestEmbeddedRootsAreTheDefaultIssuers(t *testing.T) {
	defer origincert.UseRealIssuerRoots()()
	s := secretFor(t, secretSpec{hostnames: origincert.ApexAndWildcard("example.com")})
	d := origincert.NeedsRenewal(s, origincert.Want{Hostnames: origincert.ApexAndWildcard("example.com")}, time.Now())
	if d.Reason != origincert.ReasonForeign {
		t.Errorf("decision %v, want %s", d, origincert.ReasonForeign)
	}
}
