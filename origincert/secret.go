package origincert

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations written on TLS Secrets.
const (
	AnnotationCertificateID = "originguard.io/origin-ca-certificate-id" // Origin CA certificate ID
	AnnotationHostnames     = "originguard.io/hostnames"                // comma-separated, as requested
	AnnotationExpires       = "originguard.io/expires"                  // RFC 3339, the certificate's NotAfter
	AnnotationKeyType       = "originguard.io/key-type"                 // a KeyType
	// AnnotationRevokePending lists replaced certificates still to be
	// revoked, as "id@RFC3339" (revoke at or after that time), comma-separated.
	AnnotationRevokePending = "originguard.io/revoke-pending"
)

// Secret data keys. tls.crt and tls.key are corev1.TLSCertKey and
// corev1.TLSPrivateKeyKey.
const CAKey = "ca.crt"

// TLSSecret builds a kubernetes.io/tls Secret for an issued certificate:
// tls.crt, tls.key, ca.crt (the Origin CA root for the key type, which
// clients that verify the origin need), and annotations recording the
// certificate ID, hostnames, key type and expiry. It is pure: nothing is
// sent anywhere ([ApplySecret] does that).
func TLSSecret(namespace, name string, cert *Certificate) (*corev1.Secret, error) {
	if cert == nil {
		return nil, errors.New("origincert: no certificate")
	}
	keyPEM, err := cert.Key.pem()
	if err != nil {
		return nil, err
	}
	caPEM, err := OriginCARootPEM(cert.KeyType)
	if err != nil {
		return nil, err
	}
	s := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace,
			Name:      name,
			Annotations: map[string]string{
				AnnotationCertificateID: cert.ID,
				AnnotationHostnames:     strings.Join(cert.Hostnames, ","),
				AnnotationExpires:       cert.NotAfter.UTC().Format(time.RFC3339),
				AnnotationKeyType:       string(cert.KeyType.orDefault()),
			},
		},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       clone(cert.CertificatePEM),
			corev1.TLSPrivateKeyKey: keyPEM,
			CAKey:                   caPEM,
		},
	}
	return s, nil
}

// CASecret builds an Opaque Secret holding only ca.crt, for ingress
// controllers' client-certificate checks (ingress-nginx
// auth-tls-secret, Traefik and Kong CA secrets): Cloudflare's shared
// origin-pull CA ([OriginPullCAPEM]) or a per-zone CA
// ([ZoneClientCertificate.CAPEM]).
func CASecret(namespace, name string, caPEM []byte) (*corev1.Secret, error) {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("origincert: CA is not a PEM certificate")
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{CAKey: clone(caPEM)},
	}, nil
}

// PendingRevoke is a replaced certificate to revoke at or after After.
type PendingRevoke struct {
	ID    string
	After time.Time
}

func formatPending(ps []PendingRevoke) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.ID + "@" + p.After.UTC().Format(time.RFC3339)
	}
	return strings.Join(parts, ",")
}

func parsePending(v string) ([]PendingRevoke, error) {
	var out []PendingRevoke
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, at, ok := strings.Cut(part, "@")
		if !ok || id == "" {
			return nil, fmt.Errorf("origincert: annotation %s: entry %q is not id@time", AnnotationRevokePending, part)
		}
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return nil, fmt.Errorf("origincert: annotation %s: entry %q: %w", AnnotationRevokePending, part, err)
		}
		out = append(out, PendingRevoke{ID: id, After: t})
	}
	return out, nil
}

// Installed is what a TLS Secret written by [TLSSecret] holds, read back:
// a fresh value per call, safe to share read-only.
type Installed struct {
	CertificateID string            // from the annotation
	Hostnames     []string          // from the annotation
	KeyType       KeyType           // of the key in tls.key
	Leaf          *x509.Certificate // tls.crt's first certificate
	Key           *PrivateKey       // tls.key
	Pending       []PendingRevoke   // from the revoke-pending annotation
}

// Problems ReadSecret reports (errors.Is).
var (
	ErrWrongSecretType = errors.New("secret is not of type kubernetes.io/tls")
	ErrUnreadable      = errors.New("secret's tls.crt or tls.key is missing or does not parse")
)

// ReadSecret reads a TLS Secret back. It fails with [ErrWrongSecretType],
// [ErrUnreadable] or [ErrKeyMismatch] when the Secret cannot be served.
func ReadSecret(s *corev1.Secret) (*Installed, error) {
	in, err := readSecret(s)
	if err != nil {
		return nil, err
	}
	if in.Pending, err = parsePending(s.Annotations[AnnotationRevokePending]); err != nil {
		return nil, err
	}
	return in, nil
}

// readSecret reads what serving needs, ignoring the revoke record.
func readSecret(s *corev1.Secret) (*Installed, error) {
	if s == nil {
		return nil, fmt.Errorf("origincert: no secret: %w", ErrUnreadable)
	}
	ref := s.Namespace + "/" + s.Name
	if s.Type != corev1.SecretTypeTLS {
		return nil, fmt.Errorf("origincert: secret %s has type %q: %w", ref, s.Type, ErrWrongSecretType)
	}
	leaf, err := parseLeaf(s.Data[corev1.TLSCertKey])
	if err != nil {
		return nil, fmt.Errorf("origincert: secret %s tls.crt: %v: %w", ref, err, ErrUnreadable)
	}
	key, err := parsePrivateKeyPEM(s.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, fmt.Errorf("origincert: secret %s tls.key: %v: %w", ref, err, ErrUnreadable)
	}
	if !publicKeysEqual(leaf.PublicKey, key.Public()) {
		return nil, fmt.Errorf("origincert: secret %s: %w", ref, ErrKeyMismatch)
	}
	in := &Installed{CertificateID: s.Annotations[AnnotationCertificateID], KeyType: key.kt, Leaf: leaf, Key: key}
	if h := s.Annotations[AnnotationHostnames]; h != "" {
		in.Hostnames = strings.Split(h, ",")
	}
	return in, nil
}

// Reason is why a Secret needs a new certificate; "" means it does not.
type Reason string

const (
	ReasonNone        Reason = ""                  // nothing to renew
	ReasonMissing     Reason = "missing"           // no Secret
	ReasonWrongType   Reason = "wrong-type"        // not kubernetes.io/tls
	ReasonUnreadable  Reason = "unreadable"        // tls.crt / tls.key missing or broken
	ReasonKeyMismatch Reason = "key-mismatch"      // tls.key is not the key of tls.crt
	ReasonKeyType     Reason = "key-type"          // key type differs from the wanted one
	ReasonHostnames   Reason = "hostnames"         // a wanted hostname is not covered
	ReasonExpiring    Reason = "expiring"          // expires within the renewal window
	ReasonNotYetValid Reason = "not-yet-valid"     // NotBefore in the future (clock skew or tampering)
	ReasonForeign     Reason = "not-origin-ca"     // not issued by the Origin CA root for its key type
	ReasonUntracked   Reason = "no-certificate-id" // no certificate ID annotation: cannot be revoked later
)

// Want is what a Secret should hold. The zero value wants no hostnames,
// which no Secret satisfies.
type Want struct {
	Hostnames   []string
	KeyType     KeyType       // zero means ECDSA P-256
	RenewBefore time.Duration // renewal window before expiry; zero means 30 days
}

// DefaultRenewBefore is the renewal window when Want.RenewBefore is zero.
const DefaultRenewBefore = 30 * 24 * time.Hour

// Decision says whether to renew, and why.
type Decision struct {
	Renew  bool
	Reason Reason
	Detail string // human-readable, names the Secret and what is wrong
}

// String says "keep" or "renew" with the reason and detail.
func (d Decision) String() string {
	if !d.Renew {
		return "keep: " + d.Detail
	}
	return fmt.Sprintf("renew (%s): %s", d.Reason, d.Detail)
}

// NeedsRenewal decides whether the Secret s (nil when it does not exist)
// must get a new certificate to satisfy want at time now. It is pure.
// Checks run from the most to the least severe and the first failing one
// is the reason.
func NeedsRenewal(s *corev1.Secret, want Want, now time.Time) Decision {
	renew := func(r Reason, format string, args ...any) Decision {
		return Decision{Renew: true, Reason: r, Detail: fmt.Sprintf(format, args...)}
	}
	if s == nil {
		return renew(ReasonMissing, "secret does not exist")
	}
	ref := s.Namespace + "/" + s.Name
	in, err := readSecret(s)
	switch {
	case errors.Is(err, ErrWrongSecretType):
		return renew(ReasonWrongType, "secret %s has type %q, want %q", ref, s.Type, corev1.SecretTypeTLS)
	case errors.Is(err, ErrKeyMismatch):
		return renew(ReasonKeyMismatch, "secret %s: tls.key is not the key of tls.crt", ref)
	case err != nil:
		return renew(ReasonUnreadable, "%v", err)
	}
	if wantKT := want.KeyType.orDefault(); in.KeyType != wantKT {
		return renew(ReasonKeyType, "secret %s holds a %s key, want %s", ref, in.KeyType, wantKT)
	}
	if root, _ := issuerRoot(in.KeyType); in.Leaf.CheckSignatureFrom(root) != nil {
		return renew(ReasonForeign, "secret %s: certificate (issuer %q) is not signed by the Cloudflare Origin CA", ref, in.Leaf.Issuer.String())
	}
	hs, err := normalizeHostnames(want.Hostnames)
	if err != nil {
		return renew(ReasonHostnames, "wanted hostnames are invalid: %v", err)
	}
	if missing := uncovered(in.Leaf, hs); len(missing) > 0 {
		return renew(ReasonHostnames, "secret %s: certificate does not cover %s", ref, strings.Join(missing, ", "))
	}
	if now.Before(in.Leaf.NotBefore) {
		return renew(ReasonNotYetValid, "secret %s: certificate is valid only from %s", ref, in.Leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	window := want.RenewBefore
	if window == 0 {
		window = DefaultRenewBefore
	}
	if left := in.Leaf.NotAfter.Sub(now); left <= window {
		if left <= 0 {
			return renew(ReasonExpiring, "secret %s: certificate expired at %s", ref, in.Leaf.NotAfter.UTC().Format(time.RFC3339))
		}
		return renew(ReasonExpiring, "secret %s: certificate expires at %s, within the %s renewal window", ref, in.Leaf.NotAfter.UTC().Format(time.RFC3339), window)
	}
	if in.CertificateID == "" {
		return renew(ReasonUntracked, "secret %s: no %s annotation, so the certificate could never be revoked", ref, AnnotationCertificateID)
	}
	return Decision{Detail: fmt.Sprintf("secret %s: certificate %s covers %s until %s", ref, in.CertificateID, strings.Join(hs, ", "), in.Leaf.NotAfter.UTC().Format(time.RFC3339))}
}
