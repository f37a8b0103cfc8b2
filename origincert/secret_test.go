package origincert_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/originguard/originguard/internal/golden"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/originguard/originguard/origincert"
)

// secretSpec describes a TLS Secret for tests; zero values give a valid
// ECDSA Secret for example.com signed by the test ECC root, valid for a
// year from now.
type secretSpec struct {
	hostnames          []string
	kt                 origincert.KeyType
	ca                 *testCA
	notBefore          time.Time
	notAfter           time.Time
	id                 string
	noID               bool
	otherKey           bool // tls.key from another key pair
	typ                corev1.SecretType
	dropKey, badCert   bool
	extraAnnotations   map[string]string
	certHostnamesExtra []string
}

func secretFor(t testing.TB, s secretSpec) *corev1.Secret {
	t.Helper()
	key, err := origincert.GenerateKey(s.kt)
	if err != nil {
		t.Fatal(err)
	}
	if s.hostnames == nil {
		s.hostnames = origincert.ApexAndWildcard("example.com")
	}
	if s.ca == nil {
		s.ca = fakeECCRoot
		if strings.HasPrefix(string(s.kt), "rsa") {
			s.ca = fakeRSARoot
		}
	}
	if s.notBefore.IsZero() {
		s.notBefore = time.Now().Add(-time.Hour)
	}
	if s.notAfter.IsZero() {
		s.notAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	if s.id == "" && !s.noID {
		s.id = "328346854706298300001"
	}
	leaf, certPEM := s.ca.sign(leafSpec{pub: key.Public(), dnsNames: append(append([]string{}, s.hostnames...), s.certHostnamesExtra...), notBefore: s.notBefore, notAfter: s.notAfter})
	cert := &origincert.Certificate{ID: s.id, Hostnames: s.hostnames, KeyType: key.Type(), CertificatePEM: certPEM, Key: key, NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter}
	sec, err := origincert.TLSSecret("default", "origin-tls", cert)
	if err != nil {
		t.Fatal(err)
	}
	if s.noID {
		delete(sec.Annotations, origincert.AnnotationCertificateID)
	}
	if s.otherKey {
		other := secretFor(t, secretSpec{kt: s.kt})
		sec.Data[corev1.TLSPrivateKeyKey] = other.Data[corev1.TLSPrivateKeyKey]
	}
	if s.typ != "" {
		sec.Type = s.typ
	}
	if s.dropKey {
		delete(sec.Data, corev1.TLSPrivateKeyKey)
	}
	if s.badCert {
		sec.Data[corev1.TLSCertKey] = []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
	}
	for k, v := range s.extraAnnotations {
		sec.Annotations[k] = v
	}
	return sec
}

func TestTLSSecret(t *testing.T) {
	for _, kt := range []origincert.KeyType{origincert.ECDSAP256, origincert.RSA2048} {
		s := secretFor(t, secretSpec{kt: kt, hostnames: []string{"example.com", "*.example.com"}})
		if s.Type != corev1.SecretTypeTLS {
			t.Errorf("type %q", s.Type)
		}
		wantCA, _ := origincert.OriginCARootPEM(kt)
		if string(s.Data["ca.crt"]) != string(wantCA) {
			t.Errorf("%s: ca.crt is not the Origin CA root for the key type", kt)
		}
		in, err := origincert.ReadSecret(s)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			origincert.AnnotationCertificateID: "328346854706298300001",
			origincert.AnnotationHostnames:     "example.com,*.example.com",
			origincert.AnnotationExpires:       in.Leaf.NotAfter.UTC().Format(time.RFC3339),
			origincert.AnnotationKeyType:       string(kt),
		}
		if diff := cmp.Diff(want, s.Annotations); diff != "" {
			t.Errorf("annotations (-want +got):\n%s", diff)
		}
		if in.KeyType != kt || in.CertificateID != "328346854706298300001" || len(in.Hostnames) != 2 {
			t.Errorf("read back %+v", in)
		}
		// tls.crt + tls.key load as a Go TLS key pair.
		if _, err := in.Key.TLSCertificate(s.Data[corev1.TLSCertKey]); err != nil {
			t.Error(err)
		}
	}
}

// The CA Secret is deterministic (the embedded origin-pull CA): golden.
func TestCASecretGolden(t *testing.T) {
	s, err := origincert.CASecret("ingress-nginx", "cloudflare-origin-pull-ca", origincert.OriginPullCAPEM())
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "ca-secret.golden.json", string(got))
	if _, err := origincert.CASecret("a", "b", []byte("nope")); err == nil {
		t.Error("CASecret accepted a non-PEM CA")
	}
}

func TestNeedsRenewal(t *testing.T) {
	now := time.Now()
	day := 24 * time.Hour
	apex := origincert.ApexAndWildcard("example.com")
	other := newTestCA("some other CA", false)
	for _, tc := range []struct {
		name   string
		secret *corev1.Secret
		want   origincert.Want
		reason origincert.Reason
		detail string // substring of Detail
	}{
		{"valid", secretFor(t, secretSpec{}), origincert.Want{Hostnames: apex}, origincert.ReasonNone, "covers example.com, *.example.com until"},
		{"missing", nil, origincert.Want{Hostnames: apex}, origincert.ReasonMissing, "does not exist"},
		{"wrong type", secretFor(t, secretSpec{typ: corev1.SecretTypeOpaque}), origincert.Want{Hostnames: apex}, origincert.ReasonWrongType, `type "Opaque"`},
		{"no tls.key", secretFor(t, secretSpec{dropKey: true}), origincert.Want{Hostnames: apex}, origincert.ReasonUnreadable, "tls.key"},
		{"garbage tls.crt", secretFor(t, secretSpec{badCert: true}), origincert.Want{Hostnames: apex}, origincert.ReasonUnreadable, "tls.crt"},
		{"key and certificate differ", secretFor(t, secretSpec{otherKey: true}), origincert.Want{Hostnames: apex}, origincert.ReasonKeyMismatch, "not the key of tls.crt"},
		{"RSA held, ECDSA wanted", secretFor(t, secretSpec{kt: origincert.RSA2048}), origincert.Want{Hostnames: apex}, origincert.ReasonKeyType, "rsa-2048 key, want ecdsa-p256"},
		{"ECDSA held, RSA wanted", secretFor(t, secretSpec{}), origincert.Want{Hostnames: apex, KeyType: origincert.RSA3072}, origincert.ReasonKeyType, "want rsa-3072"},
		{"RSA valid", secretFor(t, secretSpec{kt: origincert.RSA2048}), origincert.Want{Hostnames: apex, KeyType: origincert.RSA2048}, origincert.ReasonNone, "covers"},
		{"other CA", secretFor(t, secretSpec{ca: other}), origincert.Want{Hostnames: apex}, origincert.ReasonForeign, "some other CA"},
		{"hostname added", secretFor(t, secretSpec{}), origincert.Want{Hostnames: append(apex, "example.net")}, origincert.ReasonHostnames, "does not cover example.net"},
		{"deeper name not under wildcard", secretFor(t, secretSpec{}), origincert.Want{Hostnames: []string{"a.b.example.com"}}, origincert.ReasonHostnames, "a.b.example.com"},
		{"name under wildcard is not the wildcard", secretFor(t, secretSpec{}), origincert.Want{Hostnames: []string{"www.example.com"}}, origincert.ReasonHostnames, "no longer wanted"},
		{"hostname removed", secretFor(t, secretSpec{hostnames: append(apex, "example.net")}), origincert.Want{Hostnames: apex}, origincert.ReasonHostnames, "also names example.net, no longer wanted"},
		{"same names, other order and case", secretFor(t, secretSpec{hostnames: []string{"*.example.com", "example.com"}}), origincert.Want{Hostnames: []string{"Example.com", "*.EXAMPLE.com"}}, origincert.ReasonNone, "covers"},
		{"wildcard wanted, only apex held", secretFor(t, secretSpec{hostnames: []string{"example.com"}}), origincert.Want{Hostnames: apex}, origincert.ReasonHostnames, "*.example.com"},
		{"wanted hostnames invalid", secretFor(t, secretSpec{}), origincert.Want{Hostnames: []string{"bad name"}}, origincert.ReasonHostnames, "invalid"},
		{"expires inside default window", secretFor(t, secretSpec{notBefore: now.Add(-336 * day), notAfter: now.Add(29 * day)}), origincert.Want{Hostnames: apex}, origincert.ReasonExpiring, "within the 720h0m0s renewal window"},
		{"expires outside default window", secretFor(t, secretSpec{notBefore: now.Add(-334 * day), notAfter: now.Add(31 * day)}), origincert.Want{Hostnames: apex}, origincert.ReasonNone, "covers"},
		{"expires inside custom window", secretFor(t, secretSpec{notBefore: now.Add(-334 * day), notAfter: now.Add(31 * day)}), origincert.Want{Hostnames: apex, RenewBefore: 60 * day}, origincert.ReasonExpiring, "1440h0m0s"},
		// A fresh 30-day certificate is not "expiring" under the 30-day
		// default window: the window is a third of the lifetime at most.
		{"fresh 30-day certificate", secretFor(t, secretSpec{notBefore: now, notAfter: now.Add(30 * day)}), origincert.Want{Hostnames: apex}, origincert.ReasonNone, "covers"},
		{"fresh 7-day certificate", secretFor(t, secretSpec{notBefore: now, notAfter: now.Add(7 * day)}), origincert.Want{Hostnames: apex}, origincert.ReasonNone, "covers"},
		{"30-day certificate at two thirds", secretFor(t, secretSpec{notBefore: now.Add(-21 * day), notAfter: now.Add(9 * day)}), origincert.Want{Hostnames: apex}, origincert.ReasonExpiring, "240h0m0s"},
		{"window as long as the lifetime is cut to a third", secretFor(t, secretSpec{notBefore: now, notAfter: now.Add(30 * day)}), origincert.Want{Hostnames: apex, RenewBefore: 30 * day}, origincert.ReasonNone, "covers"},
		// NotBefore a little ahead of the local clock is clock skew, not tampering.
		{"not before 30s ahead", secretFor(t, secretSpec{notBefore: now.Add(30 * time.Second)}), origincert.Want{Hostnames: apex}, origincert.ReasonNone, "covers"},
		{"not before 4m ahead", secretFor(t, secretSpec{notBefore: now.Add(4 * time.Minute)}), origincert.Want{Hostnames: apex}, origincert.ReasonNone, "covers"},
		{"not before 10m ahead", secretFor(t, secretSpec{notBefore: now.Add(10 * time.Minute)}), origincert.Want{Hostnames: apex}, origincert.ReasonNotYetValid, "valid only from"},
		{"expired", secretFor(t, secretSpec{notBefore: now.Add(-10 * day), notAfter: now.Add(-day)}), origincert.Want{Hostnames: apex}, origincert.ReasonExpiring, "expired at"},
		{"not yet valid", secretFor(t, secretSpec{notBefore: now.Add(day)}), origincert.Want{Hostnames: apex}, origincert.ReasonNotYetValid, "valid only from"},
		{"no certificate ID", secretFor(t, secretSpec{noID: true}), origincert.Want{Hostnames: apex}, origincert.ReasonUntracked, origincert.AnnotationCertificateID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := origincert.NeedsRenewal(tc.secret, tc.want, now)
			if d.Reason != tc.reason || d.Renew != (tc.reason != origincert.ReasonNone) {
				t.Errorf("decision %v, want reason %q", d, tc.reason)
			}
			if !strings.Contains(d.Detail, tc.detail) {
				t.Errorf("detail %q lacks %q", d.Detail, tc.detail)
			}
		})
	}
}

func TestReadSecretPendingAnnotation(t *testing.T) {
	s := secretFor(t, secretSpec{extraAnnotations: map[string]string{origincert.AnnotationRevokePending: "111@2026-01-02T03:04:05Z, 222@2026-02-03T04:05:06Z"}})
	in, err := origincert.ReadSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	want := []origincert.PendingRevoke{{ID: "111", After: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, {ID: "222", After: time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)}}
	if diff := cmp.Diff(want, in.Pending); diff != "" {
		t.Errorf("pending (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"111", "@2026-01-02T03:04:05Z", "111@tomorrow"} {
		s.Annotations[origincert.AnnotationRevokePending] = bad
		if _, err := origincert.ReadSecret(s); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

// A corrupt revoke record is reported by ReadSecret (and stops Reconcile,
// which cannot know what to revoke) but does not by itself renew.
func TestCorruptPendingDoesNotRenew(t *testing.T) {
	s := secretFor(t, secretSpec{extraAnnotations: map[string]string{origincert.AnnotationRevokePending: "garbage"}})
	if _, err := origincert.ReadSecret(s); err == nil {
		t.Error("ReadSecret accepted a corrupt record")
	}
	if d := origincert.NeedsRenewal(s, origincert.Want{Hostnames: origincert.ApexAndWildcard("example.com")}, time.Now()); d.Renew {
		t.Errorf("decision %v", d)
	}
}
