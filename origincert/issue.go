package origincert

import (
	"context"
	"crypto"
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

	"github.com/originguard/originguard/internal/cfapi"
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
	// for its own key, if the API did create it.
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
// by its public key (the key is still in memory) and returns it if found.
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
	// Exactly the documented body (Cloudflare API reference, "Create
	// Certificate"): cloudflare-go's CreateOriginCertificateParams would
	// add zero-valued id, certificate, expires_on and revoked_at.
	body := createRequest{CSR: string(csr), Hostnames: hostnames, RequestType: kt.RequestType(), RequestedValidity: days}
	op := fmt.Sprintf("create origin certificate for %s", strings.Join(hostnames, ","))
	var got apiCertificate
	err = c.call(ctx, op, retry429Only, func(ctx context.Context, ex *exchange) error {
		got = apiCertificate{}
		return c.raw(ctx, ex, op, http.MethodPost, "/certificates", body, &got, nil)
	})
	if err != nil && req.ZoneID != "" && (errors.Is(err, ErrServer) || errors.Is(err, ErrUnavailable)) {
		if found, ok := c.findByKey(ctx, req.ZoneID, key.Public()); ok {
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
	var out []apiCertificate
	seen := map[string]bool{}
	op := fmt.Sprintf("list origin certificates of zone %s", zoneID)
	// Page until a page comes back empty or short. result_info may lack
	// total_pages (cloudflare-go v0.119.0's own fixture has only page,
	// per_page, count and total_count), and the server may cap per_page:
	// only a page shorter than the per_page it reports (20 when it does
	// not say) ends the listing.
	for page := 1; page <= maxPages; page++ {
		uri := "/certificates?" + url.Values{"zone_id": {zoneID}, "page": {strconv.Itoa(page)}}.Encode()
		pop := op
		if page > 1 {
			pop = fmt.Sprintf("%s, page %d", op, page)
		}
		var (
			more []apiCertificate
			info cfapi.ResultInfo
		)
		err := c.call(ctx, pop, retrySafe, func(ctx context.Context, ex *exchange) error {
			more, info = nil, cfapi.ResultInfo{}
			return c.raw(ctx, ex, pop, http.MethodGet, uri, nil, &more, &info)
		})
		if err != nil {
			return nil, err
		}
		fresh := 0
		for _, m := range more {
			if !seen[m.ID] {
				seen[m.ID] = true
				out = append(out, m)
				fresh++
			}
		}
		perPage := info.PerPage
		if perPage <= 0 {
			perPage = defaultPerPage
		}
		switch {
		case len(more) == 0 || len(more) < perPage:
		case fresh == 0, info.Page > 0 && info.Page != page:
			// The server ignored the page asked for and repeated one.
		case info.TotalCount > 0 && len(out) >= info.TotalCount:
		default:
			continue
		}
		return out, nil
	}
	// Never a silently short list.
	return nil, &APIError{Op: op, Kind: ErrMalformedResponse, StatusCode: http.StatusOK,
		Messages: []string{fmt.Sprintf("still full pages after %d pages; not listing further", maxPages)}}
}

// maxPages bounds listing (at the API's default page size, thousands of
// certificates).
const maxPages = 100

// defaultPerPage is the Origin CA list's page size when the answer does
// not say (cloudflare-go v0.119.0 fixture: 20).
const defaultPerPage = 20

// findByKey looks for a certificate of the zone for the public key pub.
// The list echoes each CSR, but not in a form to compare (the fixture has
// it on one line, which pem.Decode cannot read); the leaf's public key is
// what identifies the certificate made from this process's key.
func (c *Client) findByKey(ctx context.Context, zoneID string, pub crypto.PublicKey) (apiCertificate, bool) {
	certs, err := c.listRaw(ctx, zoneID)
	if err != nil {
		return apiCertificate{}, false
	}
	for _, a := range certs {
		if leaf, err := parseLeaf([]byte(a.Certificate)); err == nil && publicKeysEqual(leaf.PublicKey, pub) {
			return a, true
		}
	}
	return apiCertificate{}, false
}

// Revoke revokes an Origin CA certificate. Revocation is retried on
// transient failures. A certificate the API no longer knows (HTTP 404, or
// a GET that says it is revoked) counts as revoked. Cloudflare documents
// no answer for revoking a certificate twice, and its documented GET has
// no revoked_at, so a second revocation may well be refused: that is
// returned as the [*APIError] it is ([Renewer] copes with it).
func (c *Client) Revoke(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("origincert: revoke: empty certificate ID: %w", ErrInvalidRequest)
	}
	op := fmt.Sprintf("revoke origin certificate %s", id)
	path := "/certificates/" + url.PathEscape(id)
	err := c.call(ctx, op, retrySafe, func(ctx context.Context, ex *exchange) error {
		return c.raw(ctx, ex, op, http.MethodDelete, path, nil, nil, nil)
	})
	if err == nil || errors.Is(err, ErrNotFound) {
		return nil
	}
	if errors.Is(err, ErrInvalidRequest) {
		// Perhaps already revoked: ask. The documented GET schema has no
		// revoked_at, so a "no" here proves nothing; [Renewer] does not
		// rely on it.
		if revoked, gerr := c.revoked(ctx, id); gerr == nil && revoked {
			return nil
		}
	}
	return err
}

// revoked reports whether the certificate is gone or has a revoked_at.
func (c *Client) revoked(ctx context.Context, id string) (bool, error) {
	var got apiCertificate
	op := fmt.Sprintf("get origin certificate %s", id)
	err := c.call(ctx, op, retrySafe, func(ctx context.Context, ex *exchange) error {
		got = apiCertificate{}
		return c.raw(ctx, ex, op, http.MethodGet, "/certificates/"+url.PathEscape(id), nil, &got, nil)
	})
	if errors.Is(err, ErrNotFound) {
		return true, nil
	}
	return !got.RevokedAt.IsZero(), err
}

// createRequest is the body of POST /certificates, exactly as documented.
type createRequest struct {
	CSR               string   `json:"csr"`
	Hostnames         []string `json:"hostnames"`
	RequestType       string   `json:"request_type"`
	RequestedValidity int      `json:"requested_validity"`
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

// UnmarshalJSON decodes what identifies and carries the certificate
// strictly (id, certificate, hostnames, csr, request_type) and the rest
// leniently: an expires_on or revoked_at in a layout not known here, or a
// requested_validity sent as a string, must not lose a certificate the API
// has made (its expiry is read from the certificate itself). A revoked_at
// that does not parse is left zero: not proven revoked.
func (a *apiCertificate) UnmarshalJSON(b []byte) error {
	type plain apiCertificate
	aux := struct {
		*plain
		RequestedValidity json.RawMessage `json:"requested_validity"`
		ExpiresOn         json.RawMessage `json:"expires_on"`
		RevokedAt         json.RawMessage `json:"revoked_at"`
	}{plain: (*plain)(a)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	var days json.Number
	if len(aux.RequestedValidity) > 0 {
		var s string
		if json.Unmarshal(aux.RequestedValidity, &s) == nil {
			days = json.Number(s)
		} else {
			_ = json.Unmarshal(aux.RequestedValidity, &days)
		}
		if n, err := days.Int64(); err == nil {
			a.RequestedValidity = int(n)
		}
	}
	a.ExpiresOn = lenientTime(aux.ExpiresOn)
	a.RevokedAt = lenientTime(aux.RevokedAt)
	return nil
}

// lenientTime parses a JSON string timestamp with ParseAPITime; anything
// else (absent, null, another type, another layout) is the zero time.
func lenientTime(raw json.RawMessage) time.Time {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil || s == "" {
		return time.Time{}
	}
	t, err := ParseAPITime(s)
	if err != nil {
		return time.Time{}
	}
	return t
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
