package origincert_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/originguard/originguard/origincert"
)

// Secrets come from the cluster, where anyone with write access may have
// edited them: reading one must never panic, and whatever cannot be read
// must be renewed.
func FuzzReadSecret(f *testing.F) {
	good := secretFor(f, secretSpec{})
	f.Add(good.Data[corev1.TLSCertKey], good.Data[corev1.TLSPrivateKeyKey], "id@2026-01-02T03:04:05Z", "example.com,*.example.com")
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), []byte("-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n"), "@", ",")
	f.Fuzz(func(t *testing.T, crt, key []byte, pending, hostnames string) {
		s := &corev1.Secret{Type: corev1.SecretTypeTLS, Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
			ObjectMeta: good.ObjectMeta}
		s.Annotations = map[string]string{origincert.AnnotationRevokePending: pending, origincert.AnnotationHostnames: hostnames, origincert.AnnotationCertificateID: "1"}
		_, _ = origincert.ReadSecret(s)
		d := origincert.NeedsRenewal(s, origincert.Want{Hostnames: []string{"example.com"}}, time.Now())
		// The revoke record does not decide renewal; the certificate does.
		_, err := origincert.ReadSecret(&corev1.Secret{Type: s.Type, Data: s.Data})
		if err != nil && !d.Renew {
			t.Fatalf("unreadable Secret (%v) kept: %v", err, d)
		}
	})
}
