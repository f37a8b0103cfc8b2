package origincert

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
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
	Hostnames []string
	KeyType   KeyType // zero means ECDSA P-256
	// RenewBefore is the renewal window before expiry. Zero means
	// [DefaultRenewBefore] or a third of the certificate's lifetime,
	// whichever is shorter. A window as long as the lifetime or longer
	// would renew every certificate the moment it is made; it is cut to
	// a third of the lifetime too.
	RenewBefore time.Duration
	// Issuers are the roots a certificate must be signed by. Zero means
	// the embedded Cloudflare Origin CA root for the key type; tests pass
	// the fake API's roots (cloudflaretest.Server.IssuerRoots).
	Issuers []*x509.Certificate
}

// DefaultRenewBefore is the longest renewal window when Want.RenewBefore
// is zero.
const DefaultRenewBefore = 30 * 24 * time.Hour

// ClockSkew is how far a certificate's NotBefore may lie ahead of the
// local clock before [NeedsRenewal] calls it not yet valid: clocks of a
// node and of Cloudflare differ by seconds, sometimes minutes.
const ClockSkew = 5 * time.Minute

// RenewWindow is the renewal window [NeedsRenewal] applies to leaf for
// a wanted renewBefore (see [Want.RenewBefore]).
func RenewWindow(renewBefore time.Duration, leaf *x509.Certificate) time.Duration {
	lifetime := leaf.NotAfter.Sub(leaf.NotBefore)
	third := lifetime / 3
	switch {
	case renewBefore == 0:
		return min(DefaultRenewBefore, third)
	case renewBefore >= lifetime:
		return third
	}
	return renewBefore
}

// Decision says whether to renew, and why.
type Decision struct {
	Renew  bool
	Reason Reason
	Detail string // human-readable, names the Secret and what is wrong
	// Warnings are problems renewal cannot fix, such as the Origin CA
	// root in ca.crt expiring before the certificate (see
	// [OriginCARootsExpiry]).
	Warnings []string
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
// is the reason. The certificate must hold exactly the wanted hostnames:
// one added and one removed both renew.
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
	if !signedByOneOf(in.Leaf, issuersFor(want.Issuers, in.KeyType)) {
		return renew(ReasonForeign, "secret %s: certificate (issuer %q) is not signed by the Cloudflare Origin CA", ref, in.Leaf.Issuer.String())
	}
	hs, err := normalizeHostnames(want.Hostnames)
	if err != nil {
		return renew(ReasonHostnames, "wanted hostnames are invalid: %v", err)
	}
	if missing := uncovered(in.Leaf, hs); len(missing) > 0 {
		return renew(ReasonHostnames, "secret %s: certificate does not cover %s", ref, strings.Join(missing, ", "))
	}
	if extra := unwanted(in.Leaf, hs); len(extra) > 0 {
		return renew(ReasonHostnames, "secret %s: certificate also names %s, no longer wanted", ref, strings.Join(extra, ", "))
	}
	if now.Add(ClockSkew).Before(in.Leaf.NotBefore) {
		return renew(ReasonNotYetValid, "secret %s: certificate is valid only from %s", ref, in.Leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	window := RenewWindow(want.RenewBefore, in.Leaf)
	if left := in.Leaf.NotAfter.Sub(now); left <= window {
		if left <= 0 {
			return renew(ReasonExpiring, "secret %s: certificate expired at %s", ref, in.Leaf.NotAfter.UTC().Format(time.RFC3339))
		}
		return renew(ReasonExpiring, "secret %s: certificate expires at %s, within the %s renewal window", ref, in.Leaf.NotAfter.UTC().Format(time.RFC3339), window)
	}
	if in.CertificateID == "" {
		return renew(ReasonUntracked, "secret %s: no %s annotation, so the certificate could never be revoked", ref, AnnotationCertificateID)
	}
	d := Decision{Detail: fmt.Sprintf("secret %s: certificate %s covers %s until %s", ref, in.CertificateID, strings.Join(hs, ", "), in.Leaf.NotAfter.UTC().Format(time.RFC3339))}
	d.Warnings = rootWarnings(ref, in.Leaf.NotAfter, in.KeyType, window, now)
	return d
}

// rootWarnings warns when the Origin CA root written as ca.crt expires
// before the certificate, or within the renewal window from now.
func rootWarnings(ref string, notAfter time.Time, kt KeyType, window time.Duration, now time.Time) []string {
	root, err := OriginCARoot(kt)
	if err != nil {
		return nil
	}
	var w []string
	if notAfter.After(root.NotAfter) {
		w = append(w, fmt.Sprintf("secret %s: certificate valid until %s outlives the Origin CA root in ca.crt (expires %s)", ref,
			notAfter.UTC().Format(time.RFC3339), root.NotAfter.UTC().Format(time.RFC3339)))
	}
	if root.NotAfter.Sub(now) <= window {
		w = append(w, fmt.Sprintf("secret %s: the Origin CA root in ca.crt expires at %s, within the %s renewal window: update this package for Cloudflare's new root", ref,
			root.NotAfter.UTC().Format(time.RFC3339), window))
	}
	return w
}

func issuersFor(given []*x509.Certificate, kt KeyType) []*x509.Certificate {
	if len(given) > 0 {
		return given
	}
	return issuerRoots(kt)
}

func signedByOneOf(leaf *x509.Certificate, roots []*x509.Certificate) bool {
	for _, r := range roots {
		if r != nil && leaf.CheckSignatureFrom(r) == nil {
			return true
		}
	}
	return false
}

// unwanted lists the certificate's DNS names that are not wanted.
func unwanted(leaf *x509.Certificate, hostnames []string) []string {
	var extra []string
	for _, n := range leaf.DNSNames {
		if !slices.Contains(hostnames, strings.ToLower(n)) {
			extra = append(extra, n)
		}
	}
	return extra
}
