package origincert_test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/originguard/originguard/origincert"
)

// Key generation is the one expensive local step of issuing; RSA sizes
// differ by orders of magnitude, which is why ECDSA P-256 is the default.
func BenchmarkGenerateKey(b *testing.B) {
	for _, kt := range []origincert.KeyType{origincert.ECDSAP256, origincert.RSA2048, origincert.RSA3072, origincert.RSA4096} {
		b.Run(string(kt), func(b *testing.B) {
			for b.Loop() {
				if _, err := origincert.GenerateKey(kt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// NeedsRenewal runs on every reconcile of every Secret. Compared with the
// least a controller would do instead: tls.X509KeyPair on tls.crt/tls.key
// (parse both, check they match), without hostname, issuer or expiry checks.
func BenchmarkNeedsRenewal(b *testing.B) {
	for _, kt := range []origincert.KeyType{origincert.ECDSAP256, origincert.RSA2048} {
		s := secretFor(b, secretSpec{kt: kt})
		// One issuer, as in production (the embedded root for the key
		// type), not the tests' list of every test root.
		issuer := fakeECCRoot.cert
		if kt == origincert.RSA2048 {
			issuer = fakeRSARoot.cert
		}
		want := origincert.Want{Hostnames: origincert.ApexAndWildcard("example.com"), KeyType: kt, Issuers: []*x509.Certificate{issuer}}
		now := time.Now()
		b.Run("NeedsRenewal/"+string(kt), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if d := origincert.NeedsRenewal(s, want, now); d.Renew {
					b.Fatal(d)
				}
			}
		})
		b.Run("X509KeyPair/"+string(kt), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tls.X509KeyPair(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
