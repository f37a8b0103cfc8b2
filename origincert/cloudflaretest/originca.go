package cloudflaretest

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// validityDays are the requested_validity values the Origin CA accepts
// (Cloudflare API reference, "Create Certificate": 7, 30, 90, 365, 730,
// 1095, 5475; default 5475).
var validityDays = []int{7, 30, 90, 365, 730, 1095, 5475}

// originCA serves /certificates and /certificates/{id}.
func (s *Server) originCA(w http.ResponseWriter, r *http.Request, rest []string) {
	switch {
	case len(rest) == 0 && r.Method == http.MethodPost:
		s.createCertificate(w, r)
	case len(rest) == 0 && r.Method == http.MethodGet:
		s.listCertificates(w, r)
	case len(rest) == 0:
		methodNotAllowed(w)
	case len(rest) == 1:
		c := s.certs[rest[0]]
		if c == nil {
			// The fake's answer for an unknown ID: HTTP 404, code 1003
			// (undocumented).
			fail(w, http.StatusNotFound, 1003, "Certificate not found")
			return
		}
		switch r.Method {
		case http.MethodGet:
			// "Get Certificate" documents id, certificate, csr,
			// expires_on, hostnames, request_type, requested_validity:
			// no revoked_at, so the fake never sends it.
			ok(w, certJSON(c, false))
		case http.MethodDelete:
			s.revokeCertificate(w, c)
		default:
			methodNotAllowed(w)
		}
	default:
		noRoute(w, r)
	}
}

// certJSON is an Origin CA certificate as the API shows it (Cloudflare API
// reference, "Create Certificate"; cloudflare-go v0.119.0
// origin_ca_test.go). expires_on is written in Go's time.String layout
// ("2014-01-01 05:20:00.12345 +0000 UTC"), not RFC 3339, as the reference
// example and the fixture show. oneLineCSR echoes the CSR with its line
// breaks removed, as the List fixture does.
func certJSON(c *OriginCertificate, oneLineCSR bool) map[string]any {
	csr := c.CSR
	if oneLineCSR {
		csr = strings.ReplaceAll(csr, "\n", "")
	}
	return map[string]any{"id": c.ID, "certificate": c.PEM, "hostnames": c.Hostnames, "expires_on": c.NotAfter.String(),
		"request_type": c.RequestType, "requested_validity": c.Validity, "csr": csr}
}

func (s *Server) createCertificate(w http.ResponseWriter, r *http.Request) {
	// The documented body: csr, hostnames, request_type,
	// requested_validity. Nothing else.
	var req struct {
		CSR         *string  `json:"csr"`
		Hostnames   []string `json:"hostnames"`
		RequestType *string  `json:"request_type"`
		Validity    *int     `json:"requested_validity"`
	}
	if err := decodeStrict(r, &req); err != nil {
		badBody(w, err)
		return
	}
	if req.CSR == nil || req.RequestType == nil || len(req.Hostnames) == 0 {
		badBody(w, fmt.Errorf("csr, hostnames and request_type are required"))
		return
	}
	days := 5475
	if req.Validity != nil {
		days = *req.Validity
	}
	if !slices.Contains(validityDays, days) {
		// The fake's code; the reference lists the accepted values only.
		fail(w, http.StatusBadRequest, 1012, fmt.Sprintf("Invalid requested_validity %d", days))
		return
	}
	block, _ := pem.Decode([]byte(*req.CSR))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		fail(w, http.StatusBadRequest, 1001, "Unable to decode CSR")
		return
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		fail(w, http.StatusBadRequest, 1001, "Invalid CSR")
		return
	}
	ecc, rsaCA := roots()
	var ca *testCA
	switch csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		ca = ecc
		if *req.RequestType != "origin-ecc" {
			fail(w, http.StatusBadRequest, 1013, "request_type does not match the CSR key type")
			return
		}
	case *rsa.PublicKey:
		ca = rsaCA
		if *req.RequestType != "origin-rsa" {
			fail(w, http.StatusBadRequest, 1013, "request_type does not match the CSR key type")
			return
		}
	default:
		fail(w, http.StatusBadRequest, 1001, "Unsupported CSR key type")
		return
	}
	var z *zone
	for _, h := range req.Hostnames {
		hz := s.zoneOf(h)
		if hz == nil || hz.denied {
			// A hostname in no zone of the account, and a token
			// without SSL and Certificates permission for its zone,
			// get the same answer: HTTP 400, code 1010 (quoted in
			// cloudflare/origin-ca-issuer issues and Cloudflare's
			// community forum).
			fail(w, http.StatusBadRequest, 1010, fmt.Sprintf("Failed to validate requested hostname %s: This zone is either not part of your account, or you do not have access to it. Please contact support if using a multi-user organization.", h))
			return
		}
		z = hz
	}
	// Valid from the moment of issue: a certificate that says it is valid
	// from an hour ago would hide clock skew in the client.
	now := s.now().Truncate(time.Second)
	leaf, certPEM, err := ca.sign(csr.PublicKey, req.Hostnames, now, now.Add(time.Duration(days)*24*time.Hour))
	if err != nil {
		// 1201 "CA signing failure" (cloudflare/origin-ca-issuer#116).
		fail(w, http.StatusInternalServerError, 1201, "CA signing failure. Could not parse returned certificate")
		return
	}
	s.nextID++
	c := &OriginCertificate{ID: fmt.Sprintf("32846854706298324958%04d", s.nextID), Zone: z.id, CSR: *req.CSR, RequestType: *req.RequestType,
		PEM: string(certPEM), Hostnames: slices.Clone(req.Hostnames), Validity: days, NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter}
	s.certs[c.ID] = c
	s.order = append(s.order, c.ID)
	res := certJSON(c, false)
	for k, v := range s.createExtra {
		res[k] = v
	}
	ok(w, res)
}

// listCertificates serves GET /certificates?zone_id=…&page=…&per_page=….
// result_info has page, per_page, count and total_count, and no
// total_pages, as in cloudflare-go v0.119.0's fixture (origin_ca_test.go,
// TestListOriginCACertificates). The default page size is 20 and the
// largest 50 (the fake's choice): a client must not assume its per_page
// was honoured.
func (s *Server) listCertificates(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	zoneID := q.Get("zone_id")
	if zoneID == "" {
		fail(w, http.StatusBadRequest, 1006, "zone_id is required")
		return
	}
	if z := s.zones[zoneID]; z != nil && z.denied {
		fail(w, http.StatusForbidden, 10000, "Authentication error")
		return
	}
	all := []any{}
	for _, id := range s.order {
		if c := s.certs[id]; c.Zone == zoneID && c.RevokedAt.IsZero() {
			all = append(all, certJSON(c, true))
		}
	}
	page, perPage := 1, 20
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 50)
	}
	lo, hi := min((page-1)*perPage, len(all)), min(page*perPage, len(all))
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "errors": []any{}, "messages": []any{}, "result": all[lo:hi],
		"result_info": map[string]any{"page": page, "per_page": perPage, "count": hi - lo, "total_count": len(all)}})
}

// revokeCertificate serves DELETE /certificates/{id}: the result is
// {"id":…, "revoked_at":…} (Cloudflare API reference, "Revoke
// Certificate").
func (s *Server) revokeCertificate(w http.ResponseWriter, c *OriginCertificate) {
	if !c.RevokedAt.IsZero() {
		// Revoking twice: the reference documents no answer. The fake
		// refuses with HTTP 400 and its own code, so a client cannot
		// rely on a particular one.
		fail(w, http.StatusBadRequest, 1100, "Failed to revoke certificate")
		return
	}
	c.RevokedAt = s.now()
	ok(w, map[string]any{"id": c.ID, "revoked_at": c.RevokedAt.Format(time.RFC3339)})
}
