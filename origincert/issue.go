package origincert

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloudflare/cloudflare-go"
)

// Request is what to issue: a certificate for Hostnames, for a key of
// KeyType, valid for at least Validity. The zero KeyType is ECDSA P-256;
// the zero Validity is [DefaultValidity]. Validity is rounded up by
// [RoundValidity].
type Request struct {
	Hostnames []string
	KeyType   KeyType
	Validity  time.Duration
	// ZoneID, when set, lets Issue recover from an ambiguous failure (a
	// 5xx or a lost connection after the create was sent): instead of
	// creating again it lists the zone's certificates and adopts the one
	// signed from its own CSR, if the API did create it.
	ZoneID string
}

// Validate reports every problem with the request (errors.Join).
func (r Request) Validate() error {
	var errs []error
	errs = append(errs, ValidateHostnames(r.Hostnames), r.KeyType.Validate())
	if _, err := RoundValidity(r.Validity); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Certificate is an issued Origin CA certificate with the private key
// made for it. Treat it as immutable once returned; printing it never
// prints the key. The zero value holds no certificate.
type Certificate struct {
	ID             string      // Origin CA certificate ID (for revocation)
	Hostnames      []string    // as requested, normalised
	KeyType        KeyType     //
	CertificatePEM []byte      // the leaf, PEM
	Key            *PrivateKey // made in this process
	NotBefore      time.Time   // from the certificate itself
	NotAfter       time.Time   // from the certificate itself
	ValidityDays   int         // requested_validity sent to the API
}

// Issue makes a key and CSR locally and asks the Origin CA to sign it.
// The request is never repeated after a 5xx or a lost connection (the
// certificate may exist); with Request.ZoneID set, Issue then looks for it
// by its CSR (the key is still in memory) and returns it if found.
func (c *Client) Issue(ctx context.Context, req Request) (*Certificate, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	hostnames, _ := normalizeHostnames(req.Hostnames)
	days, _ := RoundValidity(req.Validity)
	kt := req.KeyType.orDefault()
	key, err := GenerateKey(kt)
	if err != nil {
		return nil, err
	}
	csr, err := NewCSR(key, hostnames)
	if err != nil {
		return nil, err
	}
	params := cloudflare.CreateOriginCertificateParams{
		Hostnames:       hostnames,
		RequestValidity: days,
		RequestType:     kt.RequestType(),
		CSR:             string(csr),
	}
	op := fmt.Sprintf("create origin certificate for %s", strings.Join(hostnames, ","))
	var got apiCertificate
	err = c.call(ctx, op, retry429Only, func(ctx context.Context, ex *exchange) error {
		res, err := c.api.CreateOriginCACertificate(ctx, params)
		if err == nil && res != nil {
			got = apiCertificate{ID: res.ID, Certificate: res.Certificate, Hostnames: res.Hostnames, ExpiresOn: res.ExpiresOn}
			return nil
		}
		// cloudflare-go could not decode a 2xx body (its expires_on and
		// revoked_at parsing is strict): the certificate was still
		// created, so decode it here rather than lose it.
		if fb, ok := decodeCertificateFallback(ex); ok {
			got = fb
			return nil
		}
		return err
	})
	if err != nil && req.ZoneID != "" && (errors.Is(err, ErrServer) || errors.Is(err, ErrUnavailable)) {
		if found, ok := c.findByCSR(ctx, req.ZoneID, csr); ok {
			got, err = found, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if got.ID == "" || got.Certificate == "" {
		return nil, &APIError{Op: op, Kind: ErrMalformedResponse, StatusCode: http.StatusOK, Messages: []string{"result lacks id or certificate"}}
	}
	leaf, err := parseLeaf([]byte(got.Certificate))
	if err != nil {
		return nil, &APIError{Op: op, Kind: ErrMalformedResponse, StatusCode: http.StatusOK, Messages: []string{"certificate " + got.ID + ": " + err.Error()}}
	}
	if !publicKeysEqual(leaf.PublicKey, key.Public()) {
		return nil, &APIError{Op: op, Kind: ErrMalformedResponse, StatusCode: http.StatusOK, Messages: []string{"certificate " + got.ID + " is not for the key in the CSR"}}
	}
	if missing := uncovered(leaf, hostnames); len(missing) > 0 {
		return nil, &APIError{Op: op, Kind: ErrMalformedResponse, StatusCode: http.StatusOK, Messages: []string{fmt.Sprintf("certificate %s does not cover %s", got.ID, strings.Join(missing, ","))}}
	}
	return &Certificate{
		ID:             got.ID,
		Hostnames:      hostnames,
		KeyType:        kt,
		CertificatePEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}),
		Key:            key,
		NotBefore:      leaf.NotBefore,
		NotAfter:       leaf.NotAfter,
		ValidityDays:   days,
	}, nil
}

// IssuedCertificate is one entry of [Client.List]; a plain value.
type IssuedCertificate struct {
	ID             string
	Hostnames      []string
	RequestType    string    // origin-ecc or origin-rsa
	ValidityDays   int       // requested_validity
	ExpiresOn      time.Time // as the API reports it
	CertificatePEM []byte
}

// List returns the zone's Origin CA certificates, every page of them (up
// to 100 pages).
func (c *Client) List(ctx context.Context, zoneID string) ([]IssuedCertificate, error) {
	raw, err := c.listRaw(ctx, zoneID)
	if err != nil {
		return nil, err
	}
	out := make([]IssuedCertificate, 0, len(raw))
	for _, r := range raw {
		out = append(out, IssuedCertificate{ID: r.ID, Hostnames: r.Hostnames, RequestType: r.RequestType, ValidityDays: r.RequestedValidity, ExpiresOn: r.ExpiresOn, CertificatePEM: []byte(r.Certificate)})
	}
	return out, nil
}

func (c *Client) listRaw(ctx context.Context, zoneID string) ([]apiCertificate, error) {
	if zoneID == "" {
		return nil, fmt.Errorf("origincert: list certificates: empty zone ID: %w", ErrInvalidRequest)
	}
	var (
		out   []apiCertificate
		pages pageInfo
	)
	op := fmt.Sprintf("list origin certificates of zone %s", zoneID)
	err := c.call(ctx, op, retrySafe, func(ctx context.Context, ex *exchange) error {
		out = nil
		res, err := c.api.ListOriginCACertificates(ctx, cloudflare.ListOriginCertificatesParams{ZoneID: zoneID})
		pages = ex.pageInfo()
		if err == nil {
			for _, r := range res {
				out = append(out, apiCertificate{ID: r.ID, Certificate: r.Certificate, Hostnames: r.Hostnames, RequestType: r.RequestType,
					RequestedValidity: r.RequestValidity, ExpiresOn: r.ExpiresOn, CSR: r.CSR})
			}
			return nil
		}
		// cloudflare-go failed to decode a 2xx answer: decode leniently.
		env, ok := ex.parseEnvelope()
		if !ok || !*env.Success || ex.status/100 != 2 || json.Unmarshal(env.Result, &out) != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// ListOriginCACertificates reads only the first page; fetch the rest.
	for page := 2; page <= pages.TotalPages && page <= maxPages; page++ {
		uri := fmt.Sprintf("/certificates?%s", url.Values{"zone_id": {zoneID}, "page": {strconv.Itoa(page)}, "per_page": {strconv.Itoa(pages.PerPage)}}.Encode())
		var more []apiCertificate
		err := c.call(ctx, fmt.Sprintf("%s, page %d", op, page), retrySafe, func(ctx context.Context, ex *exchange) error {
			raw, err := c.api.Raw(ctx, http.MethodGet, uri, nil, nil)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(raw.Result, &more); err != nil {
				return &APIError{Op: fmt.Sprintf("%s, page %d", op, page), Kind: ErrMalformedResponse, StatusCode: ex.status, Err: err}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

// maxPages bounds listing (at the API's default page size, thousands of
// certificates).
const maxPages = 100

type pageInfo struct {
	PerPage    int `json:"per_page"`
	TotalPages int `json:"total_pages"`
}

// pageInfo reads result_info from a list answer; zero when absent.
func (ex *exchange) pageInfo() pageInfo {
	var v struct {
		ResultInfo pageInfo `json:"result_info"`
	}
	if json.Unmarshal(ex.body, &v) != nil || v.ResultInfo.PerPage <= 0 {
		return pageInfo{}
	}
	return v.ResultInfo
}

// findByCSR looks for a certificate of the zone signed from csrPEM.
func (c *Client) findByCSR(ctx context.Context, zoneID string, csrPEM []byte) (apiCertificate, bool) {
	want, _ := pem.Decode(csrPEM)
	certs, err := c.listRaw(ctx, zoneID)
	if err != nil || want == nil {
		return apiCertificate{}, false
	}
	for _, a := range certs {
		if got, _ := pem.Decode([]byte(a.CSR)); got != nil && bytes.Equal(got.Bytes, want.Bytes) {
			return a, true
		}
	}
	return apiCertificate{}, false
}

// Revoke revokes an Origin CA certificate. Revocation is retried on
// transient failures (revoking twice harms nothing). A certificate that
// is already revoked or gone is reported as success.
func (c *Client) Revoke(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("origincert: revoke: empty certificate ID: %w", ErrInvalidRequest)
	}
	op := fmt.Sprintf("revoke origin certificate %s", id)
	err := c.call(ctx, op, retrySafe, func(ctx context.Context, _ *exchange) error {
		_, err := c.api.RevokeOriginCACertificate(ctx, id)
		return err
	})
	if err == nil || errors.Is(err, ErrNotFound) {
		return nil
	}
	if errors.Is(err, ErrInvalidRequest) {
		// Perhaps already revoked: ask.
		if revoked, gerr := c.revoked(ctx, id); gerr == nil && revoked {
			return nil
		}
	}
	return err
}

// revoked reports whether the certificate has a revoked_at.
func (c *Client) revoked(ctx context.Context, id string) (bool, error) {
	var got apiCertificate
	op := fmt.Sprintf("get origin certificate %s", id)
	err := c.call(ctx, op, retrySafe, func(ctx context.Context, ex *exchange) error {
		// Decoded here, not with GetOriginCACertificate: its revoked_at
		// is a time.Time that fails on the API's non-RFC 3339 timestamps.
		_, err := c.api.Raw(ctx, http.MethodGet, "/certificates/"+id, nil, nil)
		if err != nil {
			return err
		}
		if fb, ok := decodeCertificateFallback(ex); ok {
			got = fb
			return nil
		}
		return &APIError{Op: op, Kind: ErrMalformedResponse, StatusCode: ex.status}
	})
	if errors.Is(err, ErrNotFound) {
		return true, nil
	}
	return !got.RevokedAt.IsZero(), err
}

// apiCertificate is the Origin CA result, decoded leniently.
type apiCertificate struct {
	ID                string    `json:"id"`
	Certificate       string    `json:"certificate"`
	Hostnames         []string  `json:"hostnames"`
	RequestType       string    `json:"request_type"`
	RequestedValidity int       `json:"requested_validity"`
	CSR               string    `json:"csr"`
	ExpiresOn         time.Time `json:"-"`
	RevokedAt         time.Time `json:"-"`
}

func (a *apiCertificate) UnmarshalJSON(b []byte) error {
	type plain apiCertificate
	aux := struct {
		*plain
		ExpiresOn string `json:"expires_on"`
		RevokedAt string `json:"revoked_at"`
	}{plain: (*plain)(a)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	var err error
	if aux.ExpiresOn != "" {
		if a.ExpiresOn, err = ParseAPITime(aux.ExpiresOn); err != nil {
			return err
		}
	}
	if aux.RevokedAt != "" {
		if a.RevokedAt, err = ParseAPITime(aux.RevokedAt); err != nil {
			return err
		}
	}
	return nil
}

func decodeCertificateFallback(ex *exchange) (apiCertificate, bool) {
	env, ok := ex.parseEnvelope()
	if !ok || !*env.Success || ex.status/100 != 2 {
		return apiCertificate{}, false
	}
	var a apiCertificate
	if json.Unmarshal(env.Result, &a) != nil || a.ID == "" {
		return apiCertificate{}, false
	}
	return a, true
}

var monotonic = regexp.MustCompile(` m=[+-][0-9.]+$`)

// ParseAPITime parses a timestamp as the Origin CA API writes it: Go's
// time.Time.String layout ("2014-01-01 05:20:00.12345 +0000 UTC"), with or
// without fractional seconds or a monotonic-clock suffix, or RFC 3339.
func ParseAPITime(s string) (time.Time, error) {
	v := monotonic.ReplaceAllString(strings.TrimSpace(s), "")
	for _, layout := range []string{"2006-01-02 15:04:05.999999999 -0700 MST", "2006-01-02 15:04:05.999999999 -0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("origincert: timestamp %q is neither Go time.String layout nor RFC 3339", s)
}

func parseLeaf(certPEM []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// uncovered lists the hostnames the certificate does not cover.
func uncovered(leaf *x509.Certificate, hostnames []string) []string {
	var missing []string
	for _, h := range hostnames {
		if !slices.ContainsFunc(leaf.DNSNames, func(n string) bool { return covers(n, h) }) {
			missing = append(missing, h)
		}
	}
	return missing
}
