package cloudflaretest

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// settingValues are the values the fake accepts per zone setting (Cloudflare
// API reference, "Zone Settings": ssl off/flexible/full/strict (and
// origin_pull, "Strict (SSL-Only Origin Pull)"), min_tls_version 1.0–1.3,
// always_use_https and tls_client_auth on/off).
var settingValues = map[string][]string{
	"ssl":              {"off", "flexible", "full", "strict", "origin_pull"},
	"min_tls_version":  {"1.0", "1.1", "1.2", "1.3"},
	"always_use_https": {"on", "off"},
	"tls_client_auth":  {"on", "off"},
}

func (s *Server) zoneRoute(w http.ResponseWriter, r *http.Request, z *zone, rest []string) {
	switch {
	case rest[0] == "settings" && len(rest) == 1:
		// The batch "Get all Zone settings" was deprecated on
		// 2025-04-23, end of life 2026-09-15 (Cloudflare API
		// deprecations). The fake serves today's API: no such route.
		noRoute(w, r)
	case rest[0] == "settings" && len(rest) == 2:
		s.setting(w, r, z, rest[1])
	case rest[0] == "origin_tls_client_auth":
		s.originPulls(w, r, z, rest[1:])
	default:
		noRoute(w, r)
	}
}

// setting serves GET and PATCH /zones/{id}/settings/{setting_id}
// (Cloudflare API reference, "Get zone setting", "Edit zone setting"):
// the result is {id, value, editable, modified_on}; the PATCH body is
// {"value": …}.
func (s *Server) setting(w http.ResponseWriter, r *http.Request, z *zone, id string) {
	allowed, known := settingValues[id]
	if !known {
		noRoute(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPatch:
		var body struct {
			Value *json.RawMessage `json:"value"`
		}
		if err := decodeStrict(r, &body); err != nil || body.Value == nil {
			badBody(w, fmt.Errorf("value is required"))
			return
		}
		var v string
		if json.Unmarshal(*body.Value, &v) != nil || !slices.Contains(allowed, v) {
			// 1007 "Invalid value for zone setting …" (Cloudflare
			// community reports of the Edit zone setting endpoint).
			fail(w, http.StatusBadRequest, 1007, "Invalid value for zone setting "+id)
			return
		}
		z.settings[id] = v
	default:
		methodNotAllowed(w)
		return
	}
	ok(w, map[string]any{"id": id, "value": z.settings[id], "editable": true, "modified_on": "2026-01-02T03:04:05.678901Z"})
}

// originPulls serves /zones/{id}/origin_tls_client_auth/… (Cloudflare API
// reference, "Origin TLS Client Auth": Zone Certificates, Settings,
// Hostname Certificates, Hostnames).
func (s *Server) originPulls(w http.ResponseWriter, r *http.Request, z *zone, rest []string) {
	switch {
	case len(rest) == 0 && r.Method == http.MethodPost:
		s.uploadClientCert(w, r, z, false)
	case len(rest) == 0 && r.Method == http.MethodGet:
		s.listClientCerts(w, z, false)
	case len(rest) == 1 && rest[0] == "settings":
		s.zoneOriginPullsSetting(w, r, z)
	case len(rest) == 1 && rest[0] == "hostnames" && r.Method == http.MethodPut:
		s.putHostnames(w, r, z)
	case len(rest) == 1 && rest[0] != "hostnames":
		s.clientCert(w, r, z, false, rest[0])
	case len(rest) == 2 && rest[0] == "hostnames" && rest[1] == "certificates" && r.Method == http.MethodPost:
		s.uploadClientCert(w, r, z, true)
	case len(rest) == 2 && rest[0] == "hostnames" && rest[1] == "certificates" && r.Method == http.MethodGet:
		s.listClientCerts(w, z, true)
	case len(rest) == 3 && rest[0] == "hostnames" && rest[1] == "certificates":
		s.clientCert(w, r, z, true, rest[2])
	case len(rest) == 2 && rest[0] == "hostnames" && r.Method == http.MethodGet:
		s.getHostname(w, z, rest[1])
	default:
		noRoute(w, r)
	}
}

// zoneOriginPullsSetting serves GET and PUT
// /zones/{id}/origin_tls_client_auth/settings: {"enabled": bool}.
func (s *Server) zoneOriginPullsSetting(w http.ResponseWriter, r *http.Request, z *zone) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut:
		var body struct {
			Enabled *bool `json:"enabled"`
		}
		if err := decodeStrict(r, &body); err != nil || body.Enabled == nil {
			badBody(w, fmt.Errorf("enabled is required"))
			return
		}
		z.zoneAOP = *body.Enabled
	default:
		methodNotAllowed(w)
		return
	}
	ok(w, map[string]any{"enabled": z.zoneAOP})
}

// advance moves a certificate's status along on each read, as Cloudflare's
// deployment does over a few minutes.
func (s *Server) advance(c *ClientCertificate) {
	c.reads++
	if c.reads < s.deployReads {
		return
	}
	switch c.Status {
	case "pending_deployment":
		c.Status = "active"
		c.reads = 0
	case "pending_deletion":
		c.Status = "deleted"
		c.reads = 0
	}
}

// clientCertJSON is a zone or hostname client certificate as the API
// shows it ("ZoneAuthenticatedOriginPull" and "Hostname Certificate
// Details": id, certificate, expires_on, issuer, signature, status,
// uploaded_on; hostname certificates add serial_number).
func clientCertJSON(c *ClientCertificate, host bool) map[string]any {
	m := map[string]any{"id": c.ID, "certificate": c.PEM, "expires_on": c.NotAfter.Format(time.RFC3339), "issuer": "CN=test origin-pull CA",
		"signature": "ECDSAWithSHA256", "status": c.Status, "uploaded_on": c.UploadedOn.Format(time.RFC3339)}
	if host {
		m["serial_number"] = "6743787633689793699141714808227354901"
	}
	return m
}

func (s *Server) certsOf(z *zone, host bool) *[]*ClientCertificate {
	if host {
		return &z.hostCerts
	}
	return &z.clientCert
}

// uploadClientCert serves POST /zones/{id}/origin_tls_client_auth and
// …/hostnames/certificates: the body is {certificate, private_key}, the
// answer the certificate with status pending_deployment. The API refuses a
// certificate whose key does not match (the fake: HTTP 400, its code 1405).
func (s *Server) uploadClientCert(w http.ResponseWriter, r *http.Request, z *zone, host bool) {
	var body struct {
		Certificate *string `json:"certificate"`
		PrivateKey  *string `json:"private_key"`
	}
	if err := decodeStrict(r, &body); err != nil || body.Certificate == nil || body.PrivateKey == nil {
		badBody(w, fmt.Errorf("certificate and private_key are required"))
		return
	}
	pair, err := tls.X509KeyPair([]byte(*body.Certificate), []byte(*body.PrivateKey))
	if err != nil {
		fail(w, http.StatusBadRequest, 1405, "The certificate and private key do not match")
		return
	}
	s.nextID++
	c := &ClientCertificate{ID: fmt.Sprintf("2458ce5a0c354c7f82c78e9487d3%04x", s.nextID), Zone: z.id, PEM: *body.Certificate, PrivateKey: *body.PrivateKey,
		Status: "pending_deployment", NotAfter: pair.Leaf.NotAfter.UTC(), UploadedOn: s.now()}
	list := s.certsOf(z, host)
	*list = append(*list, c)
	ok(w, clientCertJSON(c, host))
}

// listClientCerts serves GET /zones/{id}/origin_tls_client_auth and
// …/hostnames/certificates. Deleted certificates are no longer listed.
func (s *Server) listClientCerts(w http.ResponseWriter, z *zone, host bool) {
	res := []any{}
	for _, c := range *s.certsOf(z, host) {
		if c.Status == "deleted" {
			continue
		}
		s.advance(c)
		res = append(res, clientCertJSON(c, host))
	}
	ok(w, res)
}

// clientCert serves GET and DELETE of one zone or hostname client
// certificate. A hostname certificate still associated with a hostname
// cannot be deleted: "you must first invalidate the hostname … by sending
// a PUT request with enabled set to null" (reference, "Delete Hostname
// Client Certificate"; the fake's code 1406).
func (s *Server) clientCert(w http.ResponseWriter, r *http.Request, z *zone, host bool, id string) {
	var c *ClientCertificate
	for _, x := range *s.certsOf(z, host) {
		if x.ID == id {
			c = x
		}
	}
	if c == nil {
		fail(w, http.StatusNotFound, 1404, "Certificate not found")
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.advance(c)
	case http.MethodDelete:
		if host {
			for _, a := range z.hostAOP {
				if a.CertID == id {
					fail(w, http.StatusBadRequest, 1406, "Certificate is associated with hostname "+a.Hostname+"; invalidate the association first")
					return
				}
			}
		}
		if c.Status != "deleted" && c.Status != "pending_deletion" {
			c.Status, c.reads = "pending_deletion", 0
		}
	default:
		methodNotAllowed(w)
		return
	}
	ok(w, clientCertJSON(c, host))
}

// associationJSON is a hostname association as "Enable or Disable a
// Hostname for Client Authentication" and "Get the Hostname Status" show
// it: hostname, cert_id, enabled, status, cert_status, expires_on and
// timestamps.
func associationJSON(a *HostnameAssociation, c *ClientCertificate) map[string]any {
	m := map[string]any{"hostname": a.Hostname, "cert_id": a.CertID, "enabled": a.Enabled, "status": "active",
		"created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05Z"}
	if c != nil {
		m["cert_status"] = c.Status
		m["expires_on"] = c.NotAfter.Format(time.RFC3339)
		m["cert_uploaded_on"] = c.UploadedOn.Format(time.RFC3339)
	}
	return m
}

func (s *Server) hostCert(z *zone, id string) *ClientCertificate {
	for _, c := range z.hostCerts {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// putHostnames serves PUT /zones/{id}/origin_tls_client_auth/hostnames
// with {"config":[{"hostname","cert_id","enabled"}]}; enabled null removes
// the association ("Use a null value for parameter enabled to invalidate
// the association").
func (s *Server) putHostnames(w http.ResponseWriter, r *http.Request, z *zone) {
	var body struct {
		Config []struct {
			Hostname *string         `json:"hostname"`
			CertID   *string         `json:"cert_id"`
			Enabled  json.RawMessage `json:"enabled"`
		} `json:"config"`
	}
	if err := decodeStrict(r, &body); err != nil || len(body.Config) == 0 {
		badBody(w, fmt.Errorf("config is required"))
		return
	}
	var res []any
	for _, c := range body.Config {
		if c.Hostname == nil || c.CertID == nil || len(c.Enabled) == 0 {
			badBody(w, fmt.Errorf("hostname, cert_id and enabled are required"))
			return
		}
		cert := s.hostCert(z, *c.CertID)
		if cert == nil || cert.Status == "deleted" || cert.Status == "pending_deletion" {
			fail(w, http.StatusBadRequest, 1406, "Unknown certificate "+*c.CertID)
			return
		}
		if hz := s.zoneOf(*c.Hostname); hz != z {
			fail(w, http.StatusBadRequest, 1407, "Invalid hostname "+*c.Hostname)
			return
		}
		if string(c.Enabled) == "null" {
			delete(z.hostAOP, *c.Hostname)
			res = append(res, map[string]any{"hostname": *c.Hostname, "cert_id": *c.CertID, "enabled": nil, "status": "pending_deletion"})
			continue
		}
		var on bool
		if json.Unmarshal(c.Enabled, &on) != nil {
			badBody(w, fmt.Errorf("enabled must be true, false or null"))
			return
		}
		a := &HostnameAssociation{Hostname: *c.Hostname, CertID: *c.CertID, Enabled: on}
		z.hostAOP[*c.Hostname] = a
		res = append(res, associationJSON(a, cert))
	}
	ok(w, res)
}

// getHostname serves GET /zones/{id}/origin_tls_client_auth/hostnames/{hostname}.
func (s *Server) getHostname(w http.ResponseWriter, z *zone, hostname string) {
	a := z.hostAOP[hostname]
	if a == nil {
		fail(w, http.StatusNotFound, 1404, "Hostname "+hostname+" has no client authentication setting")
		return
	}
	c := s.hostCert(z, a.CertID)
	if c != nil {
		s.advance(c)
	}
	ok(w, associationJSON(a, c))
}
