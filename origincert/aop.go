package origincert

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"time"
)

// ServerTLSConfig returns a tls.Config for a Go origin server behind
// Cloudflare with Authenticated Origin Pulls: it serves cert (usually the
// Origin CA certificate, from [PrivateKey.TLSCertificate]) and requires
// every client to present a certificate that chains to clientCAs and is
// valid for client authentication. A nil clientCAs means Cloudflare's
// shared origin-pull CA ([OriginPullCAPool]); pass your own CA
// ([ZoneClientCertificate.CAPEM]) for per-zone origin pulls. TLS 1.2 is
// the minimum. The returned config is new and the caller's to modify.
func ServerTLSConfig(cert tls.Certificate, clientCAs *x509.CertPool) (*tls.Config, error) {
	if len(cert.Certificate) == 0 || cert.PrivateKey == nil {
		return nil, errors.New("origincert: server certificate has no certificate or key")
	}
	if clientCAs == nil {
		clientCAs = OriginPullCAPool()
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCAs,
	}, nil
}

// ZoneClientSpec describes a per-zone origin-pull client certificate.
// Zero values work: ECDSA P-256, one year, time.Now.
type ZoneClientSpec struct {
	Zone     string           // the zone name, used in the subjects
	KeyType  KeyType          //
	Validity time.Duration    // zero means one year
	Clock    func() time.Time // zero means time.Now
}

// Validate reports every problem with the spec.
func (s ZoneClientSpec) Validate() error {
	var errs []error
	if err := ValidateHostnames([]string{s.Zone}); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, s.KeyType.Validate())
	if s.Validity < 0 {
		errs = append(errs, fmt.Errorf("origincert: validity %s is negative", s.Validity))
	}
	return errors.Join(errs...)
}

// ZoneClientCertificate (immutable once made) is what per-zone — or,
// with Zone set to a hostname, per-hostname — Authenticated Origin Pulls need:
// a client certificate and key that Cloudflare presents to your origin for
// this zone only, and the CA that signed it, which your origin trusts.
//
// The CA's private key is discarded once the client certificate is
// signed, so nothing else can ever chain to CAPEM: the origin that trusts
// it admits exactly this client certificate. Rotation makes a new pair.
type ZoneClientCertificate struct {
	CAPEM          []byte      // trust this at the origin (ca.crt)
	CertificatePEM []byte      // upload to Cloudflare with Key
	Key            *PrivateKey // uploaded to Cloudflare, then no longer needed
	NotAfter       time.Time
}

// NewZoneClientCertificate makes a per-zone origin-pull CA and client
// certificate. Both are valid from an hour before the spec's clock says
// now: the origin checks the client certificate with its own clock, which
// may run behind, and a certificate it sees as not yet valid would be
// refused for exactly as long.
func NewZoneClientCertificate(spec ZoneClientSpec) (*ZoneClientCertificate, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	now := time.Now()
	if spec.Clock != nil {
		now = spec.Clock()
	}
	validity := spec.Validity
	if validity == 0 {
		validity = 365 * 24 * time.Hour
	}
	zone := ApexAndWildcard(spec.Zone)[0]
	caKey, err := GenerateKey(ECDSAP256)
	if err != nil {
		return nil, err
	}
	key, err := GenerateKey(spec.KeyType)
	if err != nil {
		return nil, err
	}
	notBefore, notAfter := now.Add(-time.Hour).UTC().Truncate(time.Second), now.Add(validity).UTC().Truncate(time.Second)
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "originguard origin-pull CA for " + zone},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey.signer)
	if err != nil {
		return nil, fmt.Errorf("origincert: create origin-pull CA: %w", err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "cloudflare origin pull for " + zone},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if key.kt.isRSA() {
		leafTmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, key.Public(), caKey.signer)
	if err != nil {
		return nil, fmt.Errorf("origincert: create origin-pull client certificate: %w", err)
	}
	return &ZoneClientCertificate{
		CAPEM:          pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		CertificatePEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		Key:            key,
		NotAfter:       notAfter,
	}, nil
}

// CAPool returns a pool holding the per-zone CA, for [ServerTLSConfig].
func (z *ZoneClientCertificate) CAPool() (*x509.CertPool, error) {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(z.CAPEM) {
		return nil, errors.New("origincert: per-zone CA is not PEM")
	}
	return p, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n
}

// UploadZoneClientCertificate uploads the client certificate and key for
// zone-level origin pulls (POST /zones/{id}/origin_tls_client_auth) and
// returns Cloudflare's ID for it. Only a 429 is retried. The key leaves
// the process here, to Cloudflare, by design.
func (c *Client) UploadZoneClientCertificate(ctx context.Context, zoneID string, z *ZoneClientCertificate) (string, error) {
	return c.uploadClientCertificate(ctx, "origin-pull certificate", zoneID, z, zonePath(zoneID, "origin_tls_client_auth"))
}

// uploadClientCertificate uploads z's certificate and key to path with
// exactly the documented body {certificate, private_key}, retrying only a
// 429, and checks that the answer names an ID.
func (c *Client) uploadClientCertificate(ctx context.Context, what, zoneID string, z *ZoneClientCertificate, path string) (string, error) {
	if zoneID == "" || z == nil {
		return "", fmt.Errorf("origincert: upload %s: empty zone ID or certificate: %w", what, ErrInvalidRequest)
	}
	keyPEM, err := z.Key.pem()
	if err != nil {
		return "", err
	}
	var id string
	op := fmt.Sprintf("upload %s to zone %s", what, zoneID)
	body := struct {
		Certificate string `json:"certificate"`
		PrivateKey  string `json:"private_key"`
	}{string(z.CertificatePEM), string(keyPEM)}
	err = c.call(ctx, op, retry429Only, func(ctx context.Context, ex *exchange) error {
		var res zoneCertificate
		err := c.raw(ctx, ex, op, http.MethodPost, path, body, &res, nil)
		id = res.ID
		return err
	})
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", &APIError{Op: op, Kind: ErrMalformedResponse, StatusCode: 200, Messages: []string{"result lacks id"}}
	}
	return id, nil
}

// SetZoneOriginPulls turns zone-level Authenticated Origin Pulls on or off
// (PUT /zones/{id}/origin_tls_client_auth/settings) and checks the answer.
func (c *Client) SetZoneOriginPulls(ctx context.Context, zoneID string, enabled bool) error {
	if zoneID == "" {
		return fmt.Errorf("origincert: set origin pulls: empty zone ID: %w", ErrInvalidRequest)
	}
	op := fmt.Sprintf("set origin pulls of zone %s to %t", zoneID, enabled)
	return c.call(ctx, op, retrySafe, func(ctx context.Context, ex *exchange) error {
		var res struct {
			Enabled bool `json:"enabled"`
		}
		if err := c.raw(ctx, ex, op, http.MethodPut, zonePath(zoneID, "origin_tls_client_auth", "settings"), struct {
			Enabled bool `json:"enabled"`
		}{enabled}, &res, nil); err != nil {
			return err
		}
		if res.Enabled != enabled {
			return &APIError{Op: op, Kind: ErrMalformedResponse, StatusCode: ex.status, Messages: []string{fmt.Sprintf("API answered enabled=%t", res.Enabled)}}
		}
		return nil
	})
}

// ZoneOriginPulls reports whether zone-level Authenticated Origin Pulls
// are enabled.
func (c *Client) ZoneOriginPulls(ctx context.Context, zoneID string) (bool, error) {
	if zoneID == "" {
		return false, fmt.Errorf("origincert: get origin pulls: empty zone ID: %w", ErrInvalidRequest)
	}
	var on bool
	op := "get origin pulls of zone " + zoneID
	err := c.call(ctx, op, retrySafe, func(ctx context.Context, ex *exchange) error {
		var res struct {
			Enabled bool `json:"enabled"`
		}
		err := c.raw(ctx, ex, op, http.MethodGet, zonePath(zoneID, "origin_tls_client_auth", "settings"), nil, &res, nil)
		on = res.Enabled
		return err
	})
	return on, err
}

// UploadHostnameClientCertificate uploads a client certificate and key for
// per-hostname origin pulls (POST
// /zones/{id}/origin_tls_client_auth/hostnames/certificates) and returns
// its ID, for [Client.SetHostnameOriginPulls]. A per-hostname certificate
// proves "this hostname of this zone": give each origin its own
// [ZoneClientCertificate] (Zone set to the hostname) and trust only its
// CA there. Only a 429 is retried.
func (c *Client) UploadHostnameClientCertificate(ctx context.Context, zoneID string, z *ZoneClientCertificate) (string, error) {
	return c.uploadClientCertificate(ctx, "hostname origin-pull certificate", zoneID, z, zonePath(zoneID, "origin_tls_client_auth", "hostnames", "certificates"))
}

// SetHostnameOriginPulls makes Cloudflare present certificate certID when
// it connects to the origin of hostname (enabled), or stop (PUT
// /zones/{id}/origin_tls_client_auth/hostnames), and checks the answer.
// Per-hostname settings take precedence over zone-level origin pulls.
func (c *Client) SetHostnameOriginPulls(ctx context.Context, zoneID, hostname, certID string, enabled bool) error {
	var errs []error
	if zoneID == "" || certID == "" {
		errs = append(errs, fmt.Errorf("origincert: set hostname origin pulls: empty zone or certificate ID: %w", ErrInvalidRequest))
	}
	hs, err := normalizeHostnames([]string{hostname})
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	op := fmt.Sprintf("set origin pulls of %s in zone %s to %t", hs[0], zoneID, enabled)
	return c.putHostnameAssociation(ctx, op, zoneID, hs[0], certID, &enabled)
}

// hostnameConfig is one entry of PUT /zones/{id}/origin_tls_client_auth/hostnames:
// enabled null removes the association.
type hostnameConfig struct {
	Hostname string `json:"hostname"`
	CertID   string `json:"cert_id"`
	Enabled  *bool  `json:"enabled"`
}

func (c *Client) putHostnameAssociation(ctx context.Context, op, zoneID, hostname, certID string, enabled *bool) error {
	body := struct {
		Config []hostnameConfig `json:"config"`
	}{[]hostnameConfig{{Hostname: hostname, CertID: certID, Enabled: enabled}}}
	return c.call(ctx, op, retrySafe, func(ctx context.Context, ex *exchange) error {
		var res []hostnameAssociation
		if err := c.raw(ctx, ex, op, http.MethodPut, zonePath(zoneID, "origin_tls_client_auth", "hostnames"), body, &res, nil); err != nil {
			return err
		}
		for _, d := range res {
			if d.Hostname == hostname && d.CertID == certID && (enabled == nil || d.Enabled != nil && *d.Enabled == *enabled) {
				return nil
			}
		}
		return &APIError{Op: op, Kind: ErrMalformedResponse, StatusCode: ex.status, Messages: []string{"answer does not confirm the setting"}}
	})
}
