package origincert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// KeyType is the closed vocabulary of private-key kinds the Origin CA
// signs. The zero value means [ECDSAP256].
type KeyType string

const (
	ECDSAP256 KeyType = "ecdsa-p256" // default; Origin CA request type origin-ecc
	RSA2048   KeyType = "rsa-2048"   // origin-rsa
	RSA3072   KeyType = "rsa-3072"   // origin-rsa
	RSA4096   KeyType = "rsa-4096"   // origin-rsa
)

// Origin CA API request types.
const (
	requestTypeECC = "origin-ecc"
	requestTypeRSA = "origin-rsa"
)

func (kt KeyType) isECDSA() bool { return kt == "" || kt == ECDSAP256 }
func (kt KeyType) isRSA() bool   { return kt == RSA2048 || kt == RSA3072 || kt == RSA4096 }

// Validate reports whether kt is one of the defined key types (or zero).
func (kt KeyType) Validate() error {
	if kt.isECDSA() || kt.isRSA() {
		return nil
	}
	return fmt.Errorf("origincert: unknown key type %q (want %s, %s, %s or %s)", string(kt), ECDSAP256, RSA2048, RSA3072, RSA4096)
}

// RequestType is the Origin CA API request_type for keys of this type:
// "origin-ecc" for ECDSA, "origin-rsa" for RSA, "" for an unknown type.
func (kt KeyType) RequestType() string {
	switch {
	case kt.isECDSA():
		return requestTypeECC
	case kt.isRSA():
		return requestTypeRSA
	}
	return ""
}

func (kt KeyType) orDefault() KeyType {
	if kt == "" {
		return ECDSAP256
	}
	return kt
}

func (kt KeyType) rsaBits() int {
	switch kt {
	case RSA2048:
		return 2048
	case RSA3072:
		return 3072
	case RSA4096:
		return 4096
	}
	return 0
}

// redacted is what every printing path shows instead of key material.
const redacted = "REDACTED"

// PrivateKey holds a private key made in this process. Its material is
// reachable only by this package: it goes into a Secret's tls.key (or an
// upload to Cloudflare for per-zone origin pulls) and nowhere else. Every
// way of printing it — fmt verbs, %#v, JSON, text, slog — shows only the key
// type. A PrivateKey is immutable and safe for concurrent use; the zero
// value holds no key and is not usable.
type PrivateKey struct {
	signer crypto.Signer
	kt     KeyType
}

// GenerateKey makes a fresh private key of type kt (zero means ECDSA P-256)
// from crypto/rand.
func GenerateKey(kt KeyType) (*PrivateKey, error) {
	return generateKey(kt, rand.Reader)
}

func generateKey(kt KeyType, r io.Reader) (*PrivateKey, error) {
	if err := kt.Validate(); err != nil {
		return nil, err
	}
	kt = kt.orDefault()
	var (
		s   crypto.Signer
		err error
	)
	if kt.isRSA() {
		s, err = rsa.GenerateKey(r, kt.rsaBits())
	} else {
		s, err = ecdsa.GenerateKey(elliptic.P256(), r)
	}
	if err != nil {
		return nil, fmt.Errorf("origincert: generate %s key: %w", kt, err)
	}
	return &PrivateKey{signer: s, kt: kt}, nil
}

// parsePrivateKeyPEM reads a PKCS#8, SEC 1 or PKCS#1 PEM key of a
// supported type. Errors never quote the input.
//
// Like tls.X509KeyPair, it skips PEM blocks that are not a private key:
// `openssl ecparam -genkey` writes an EC PARAMETERS block before the key.
func parsePrivateKeyPEM(b []byte) (*PrivateKey, error) {
	var block *pem.Block
	for {
		block, b = pem.Decode(b)
		if block == nil {
			return nil, errors.New("private key is not PEM")
		}
		if block.Type == "PRIVATE KEY" || strings.HasSuffix(block.Type, " PRIVATE KEY") {
			break
		}
	}
	var (
		k   any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unsupported private key PEM block %q", block.Type)
	}
	if err != nil {
		return nil, errors.New("private key does not parse")
	}
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("unsupported ECDSA curve %s", k.Curve.Params().Name)
		}
		return &PrivateKey{signer: k, kt: ECDSAP256}, nil
	case *rsa.PrivateKey:
		kt := KeyType(fmt.Sprintf("rsa-%d", k.N.BitLen()))
		if !kt.isRSA() {
			return nil, fmt.Errorf("unsupported RSA size %d", k.N.BitLen())
		}
		return &PrivateKey{signer: k, kt: kt}, nil
	}
	return nil, fmt.Errorf("unsupported private key type %T", k)
}

// Type is the key's type.
func (k PrivateKey) Type() KeyType { return k.kt }

// Public returns the public half, which is safe to share.
func (k PrivateKey) Public() crypto.PublicKey {
	if k.signer == nil {
		return nil
	}
	return k.signer.Public()
}

// String shows the key type only.
func (k PrivateKey) String() string {
	return fmt.Sprintf("origincert.PrivateKey(%s, %s)", k.kt, redacted)
}

// GoString shows the key type only, for %#v.
func (k PrivateKey) GoString() string { return k.String() }

// Format makes every fmt verb (%v %+v %#v %s %q %x …) print [PrivateKey.String].
func (k PrivateKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// MarshalText keeps key material out of JSON, YAML and text encoders.
func (k PrivateKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// LogValue keeps key material out of log/slog output.
func (k PrivateKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// pem encodes the key as PKCS#8. Only for tls.key and per-zone uploads.
func (k *PrivateKey) pem() ([]byte, error) {
	if k == nil || k.signer == nil {
		return nil, errors.New("origincert: no private key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.signer)
	if err != nil {
		return nil, fmt.Errorf("origincert: encode %s key: %w", k.kt, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// TLSCertificate pairs the key with a PEM certificate chain, checking that
// the first certificate is for this key, for use as a tls.Config
// certificate.
func (k *PrivateKey) TLSCertificate(certPEM []byte) (tls.Certificate, error) {
	if k == nil || k.signer == nil {
		return tls.Certificate{}, errors.New("origincert: no private key")
	}
	var c tls.Certificate
	for rest := certPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			c.Certificate = append(c.Certificate, block.Bytes)
		}
	}
	if len(c.Certificate) == 0 {
		return tls.Certificate{}, errors.New("origincert: no PEM certificate")
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("origincert: parse certificate: %w", err)
	}
	if !publicKeysEqual(leaf.PublicKey, k.signer.Public()) {
		return tls.Certificate{}, fmt.Errorf("origincert: %w", ErrKeyMismatch)
	}
	c.PrivateKey = k.signer
	c.Leaf = leaf
	return c, nil
}

// ErrKeyMismatch is returned when a certificate is not for the private key
// it is paired with.
var ErrKeyMismatch = errors.New("certificate does not match the private key")

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	ea, ok := a.(equaler)
	return ok && ea.Equal(b)
}

// NewCSR makes a PEM certificate signing request for hostnames, signed by
// key: the first hostname is the subject common name and every hostname is
// a DNS subject alternative name. Hostnames must pass [ValidateHostnames].
func NewCSR(key *PrivateKey, hostnames []string) ([]byte, error) {
	if key == nil || key.signer == nil {
		return nil, errors.New("origincert: no private key")
	}
	hs, err := normalizeHostnames(hostnames)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: hs[0]},
		DNSNames: hs,
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key.signer)
	if err != nil {
		return nil, fmt.Errorf("origincert: create CSR: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}
