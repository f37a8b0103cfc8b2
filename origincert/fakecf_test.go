package origincert_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// fakeCloudflare is an httptest server speaking the Cloudflare API v4
// shapes this package uses (documented in the shared reference data and
// Cloudflare's public API schema): the envelope, Origin CA create / list /
// get / revoke, zone list, zone settings, and zone-level origin pulls.
// It signs CSRs with test CAs. Failures are injected per route.
type fakeCloudflare struct {
	srv   *httptest.Server
	token string

	mu        sync.Mutex
	now       time.Time // when zero, time.Now
	certs     map[string]*fakeCert
	order     []string
	zones     map[string]string            // name -> id
	settings  map[string]map[string]string // zone id -> setting -> value
	aop       map[string]bool              // zone id -> origin_tls_client_auth enabled
	uploads   map[string][]string          // zone id -> uploaded cert PEMs
	requests  []string                     // "METHOD /path"
	inject    map[string][]injected        // "METHOD /path" -> queued responses
	nextID    int
	hostCerts map[string]string      // per-hostname certificate id -> PEM
	hostAOP   map[string]fakeHostAOP // hostname -> setting
	extraJSON map[string]any         // extra fields merged into create results
}

type fakeCert struct {
	ID, PEM, CSR, RequestType, Zone string
	Hostnames                       []string
	Validity                        int
	NotAfter                        time.Time
	RevokedAt                       time.Time
}

type fakeHostAOP struct {
	certID  string
	enabled bool
}

type injected struct {
	status int
	header map[string]string
	body   string // raw; "" means a standard error envelope
	hangup bool   // close the connection without answering
	after  bool   // carry the request out first, then fail (ambiguous outcome)
	pass   bool   // answer normally (to reach a later request)
}

const fakeToken = "test-token-not-secret"

func newFakeCloudflare() *fakeCloudflare {
	f := &fakeCloudflare{
		token:     fakeToken,
		certs:     map[string]*fakeCert{},
		zones:     map[string]string{"example.com": "023e105f4ecef8ad9ca31a8372d0c353", "example.net": "a1b2c3d4e5f60718293a4b5c6d7e8f90"},
		settings:  map[string]map[string]string{},
		aop:       map[string]bool{},
		uploads:   map[string][]string{},
		inject:    map[string][]injected{},
		hostCerts: map[string]string{},
		hostAOP:   map[string]fakeHostAOP{},
	}
	for _, id := range f.zones {
		f.settings[id] = map[string]string{"ssl": "full", "min_tls_version": "1.0", "always_use_https": "off", "tls_client_auth": "off", "brotli": "on"}
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

func (f *fakeCloudflare) Close()      { f.srv.Close() }
func (f *fakeCloudflare) URL() string { return f.srv.URL + "/client/v4" }

// failNext queues responses for "METHOD /client/v4/path".
func (f *fakeCloudflare) failNext(route string, rs ...injected) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inject[route] = append(f.inject[route], rs...)
}

// count returns how many requests matched "METHOD /path" (prefix match).
func (f *fakeCloudflare) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func (f *fakeCloudflare) cert(id string) fakeCert {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.certs[id]; c != nil {
		return *c
	}
	return fakeCert{}
}

func (f *fakeCloudflare) clock() time.Time {
	if f.now.IsZero() {
		return time.Now()
	}
	return f.now
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cf-Ray", "8f0000000000test-LHR")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func ok(w http.ResponseWriter, result any) {
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "errors": []any{}, "messages": []any{}, "result": result})
}

func fail(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"success": false, "errors": []any{map[string]any{"code": code, "message": msg}}, "messages": []any{}, "result": nil})
}

func (f *fakeCloudflare) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/client/v4")
	route := r.Method + " " + path
	f.mu.Lock()
	f.requests = append(f.requests, route)
	var inj *injected
	if q := f.inject[route]; len(q) > 0 {
		inj = &q[0]
		f.inject[route] = q[1:]
	}
	f.mu.Unlock()
	raw, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(raw))
	if inj != nil && inj.pass {
		inj = nil
	}
	if inj != nil && inj.after && r.Header.Get("Authorization") == "Bearer "+f.token {
		f.mu.Lock()
		f.route(httptest.NewRecorder(), r, path)
		f.mu.Unlock()
	}
	if inj != nil {
		if inj.hangup {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		for k, v := range inj.header {
			w.Header().Set(k, v)
		}
		if inj.body == "" {
			fail(w, inj.status, 10000+inj.status, http.StatusText(inj.status))
			return
		}
		w.WriteHeader(inj.status)
		_, _ = io.WriteString(w, inj.body)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		fail(w, http.StatusForbidden, 9109, "Invalid access token")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.route(w, r, path)
}

func decodeBody(r *http.Request, v any) error { return json.NewDecoder(r.Body).Decode(v) }

func (f *fakeCloudflare) route(w http.ResponseWriter, r *http.Request, path string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == http.MethodPost && path == "/certificates":
		f.create(w, r)
	case r.Method == http.MethodGet && path == "/certificates":
		q := r.URL.Query()
		all := []any{}
		for _, id := range f.order {
			if c := f.certs[id]; c.Zone == q.Get("zone_id") && c.RevokedAt.IsZero() {
				all = append(all, f.certJSON(c))
			}
		}
		page, perPage := 1, 20
		if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
			page = v
		}
		if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
			perPage = v
		}
		lo, hi := min((page-1)*perPage, len(all)), min(page*perPage, len(all))
		writeJSON(w, http.StatusOK, map[string]any{"success": true, "errors": []any{}, "messages": []any{}, "result": all[lo:hi],
			"result_info": map[string]any{"page": page, "per_page": perPage, "count": hi - lo, "total_count": len(all), "total_pages": (len(all) + perPage - 1) / perPage}})
	case len(parts) == 2 && parts[0] == "certificates":
		c := f.certs[parts[1]]
		if c == nil {
			fail(w, http.StatusNotFound, 1003, "Certificate not found")
			return
		}
		switch r.Method {
		case http.MethodGet:
			ok(w, f.certJSON(c))
		case http.MethodDelete:
			if !c.RevokedAt.IsZero() {
				fail(w, http.StatusBadRequest, 1100, "Certificate has already been revoked")
				return
			}
			c.RevokedAt = f.clock().UTC()
			ok(w, map[string]any{"id": c.ID, "revoked_at": c.RevokedAt.Format(time.RFC3339)})
		default:
			fail(w, http.StatusMethodNotAllowed, 10405, "method not allowed")
		}
	case r.Method == http.MethodGet && path == "/zones":
		name := r.URL.Query().Get("name")
		res := []any{}
		if id, found := f.zones[name]; found {
			res = append(res, map[string]any{"id": id, "name": name, "status": "active"})
		}
		writeJSON(w, http.StatusOK, map[string]any{"success": true, "errors": []any{}, "messages": []any{}, "result": res,
			"result_info": map[string]any{"page": 1, "per_page": 50, "count": len(res), "total_count": len(res), "total_pages": 1}})
	case len(parts) >= 3 && parts[0] == "zones":
		zone := parts[1]
		if _, found := f.settings[zone]; !found {
			fail(w, http.StatusNotFound, 1001, "Invalid zone identifier")
			return
		}
		f.zoneRoute(w, r, zone, parts[2:])
	default:
		fail(w, http.StatusNotFound, 7000, "No route for that URI")
	}
}

func (f *fakeCloudflare) zoneRoute(w http.ResponseWriter, r *http.Request, zone string, rest []string) {
	switch {
	case r.Method == http.MethodGet && len(rest) == 1 && rest[0] == "settings":
		var res []any
		keys := make([]string, 0, len(f.settings[zone]))
		for k := range f.settings[zone] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			res = append(res, map[string]any{"id": k, "value": f.settings[zone][k], "editable": true, "modified_on": "2026-01-02T03:04:05.678Z"})
		}
		ok(w, res)
	case r.Method == http.MethodPatch && len(rest) == 2 && rest[0] == "settings":
		var body struct {
			Value any `json:"value"`
		}
		if err := decodeBody(r, &body); err != nil {
			fail(w, http.StatusBadRequest, 1007, "Invalid JSON")
			return
		}
		v, isString := body.Value.(string)
		if !isString {
			fail(w, http.StatusBadRequest, 1007, "Invalid value for zone setting "+rest[1])
			return
		}
		f.settings[zone][rest[1]] = v
		ok(w, map[string]any{"id": rest[1], "value": v, "editable": true})
	case r.Method == http.MethodPost && len(rest) == 1 && rest[0] == "origin_tls_client_auth":
		var body struct {
			Certificate string `json:"certificate"`
			PrivateKey  string `json:"private_key"`
		}
		if err := decodeBody(r, &body); err != nil {
			fail(w, http.StatusBadRequest, 1007, "Invalid JSON")
			return
		}
		pair, err := tls.X509KeyPair([]byte(body.Certificate), []byte(body.PrivateKey))
		if err != nil {
			fail(w, http.StatusBadRequest, 1405, "The certificate and private key do not match")
			return
		}
		f.nextID++
		id := fmt.Sprintf("2458ce5a-0c35-4c7f-82c7-8e9487d3ff%02d", f.nextID)
		f.uploads[zone] = append(f.uploads[zone], body.Certificate)
		ok(w, map[string]any{"id": id, "certificate": body.Certificate, "issuer": pair.Leaf.Issuer.String(), "signature": pair.Leaf.SignatureAlgorithm.String(),
			"status": "pending_deployment", "expires_on": pair.Leaf.NotAfter.UTC().Format(time.RFC3339), "uploaded_on": f.clock().UTC().Format(time.RFC3339)})
	case r.Method == http.MethodPost && len(rest) == 3 && rest[0] == "origin_tls_client_auth" && rest[1] == "hostnames" && rest[2] == "certificates":
		var body struct {
			Certificate string `json:"certificate"`
			PrivateKey  string `json:"private_key"`
		}
		if err := decodeBody(r, &body); err != nil {
			fail(w, http.StatusBadRequest, 1007, "Invalid JSON")
			return
		}
		pair, err := tls.X509KeyPair([]byte(body.Certificate), []byte(body.PrivateKey))
		if err != nil {
			fail(w, http.StatusBadRequest, 1405, "The certificate and private key do not match")
			return
		}
		f.nextID++
		id := fmt.Sprintf("8c1b4f1e-3c9a-4f2e-9a57-1d2c3b4a59%02d", f.nextID)
		f.hostCerts[id] = body.Certificate
		ok(w, map[string]any{"id": id, "certificate": body.Certificate, "issuer": pair.Leaf.Issuer.String(), "signature": pair.Leaf.SignatureAlgorithm.String(),
			"serial_number": pair.Leaf.SerialNumber.String(), "status": "pending_deployment", "expires_on": pair.Leaf.NotAfter.UTC().Format(time.RFC3339), "uploaded_on": f.clock().UTC().Format(time.RFC3339)})
	case r.Method == http.MethodPut && len(rest) == 2 && rest[0] == "origin_tls_client_auth" && rest[1] == "hostnames":
		var body struct {
			Config []struct {
				Hostname string `json:"hostname"`
				CertID   string `json:"cert_id"`
				Enabled  *bool  `json:"enabled"`
			} `json:"config"`
		}
		if err := decodeBody(r, &body); err != nil || len(body.Config) == 0 {
			fail(w, http.StatusBadRequest, 1007, "config is required")
			return
		}
		var res []any
		for _, c := range body.Config {
			if _, known := f.hostCerts[c.CertID]; !known {
				fail(w, http.StatusBadRequest, 1406, "Unknown certificate "+c.CertID)
				return
			}
			if _, inZone := f.zoneOf(c.Hostname); !inZone || c.Enabled == nil {
				fail(w, http.StatusBadRequest, 1407, "Invalid hostname "+c.Hostname)
				return
			}
			f.hostAOP[c.Hostname] = fakeHostAOP{c.CertID, *c.Enabled}
			res = append(res, map[string]any{"hostname": c.Hostname, "cert_id": c.CertID, "enabled": *c.Enabled, "status": "pending_deployment",
				"created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05Z", "cert_uploaded_on": "2026-01-02T03:04:05Z"})
		}
		ok(w, res)
	case len(rest) == 2 && rest[0] == "origin_tls_client_auth" && rest[1] == "settings":
		if r.Method == http.MethodPut {
			var body struct {
				Enabled *bool `json:"enabled"`
			}
			if err := decodeBody(r, &body); err != nil || body.Enabled == nil {
				fail(w, http.StatusBadRequest, 1007, "enabled is required")
				return
			}
			f.aop[zone] = *body.Enabled
		}
		ok(w, map[string]any{"enabled": f.aop[zone]})
	default:
		fail(w, http.StatusNotFound, 7000, "No route for that URI")
	}
}

func (f *fakeCloudflare) certJSON(c *fakeCert) map[string]any {
	m := map[string]any{"id": c.ID, "certificate": c.PEM, "hostnames": c.Hostnames, "expires_on": c.NotAfter.String(),
		"request_type": c.RequestType, "requested_validity": c.Validity, "csr": c.CSR}
	if !c.RevokedAt.IsZero() {
		m["revoked_at"] = c.RevokedAt.Format(time.RFC3339)
	}
	return m
}

// zoneOf returns the zone a hostname belongs to, if the fake has it.
func (f *fakeCloudflare) zoneOf(h string) (string, bool) {
	h = strings.TrimPrefix(h, "*.")
	for name, id := range f.zones {
		if h == name || strings.HasSuffix(h, "."+name) {
			return id, true
		}
	}
	return "", false
}

func (f *fakeCloudflare) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Hostnames   []string `json:"hostnames"`
		Validity    int      `json:"requested_validity"`
		RequestType string   `json:"request_type"`
		CSR         string   `json:"csr"`
	}
	if err := decodeBody(r, &req); err != nil {
		fail(w, http.StatusBadRequest, 1007, "Invalid JSON")
		return
	}
	if !slices.Contains([]int{7, 30, 90, 365, 730, 1095, 5475}, req.Validity) {
		fail(w, http.StatusBadRequest, 1012, fmt.Sprintf("Invalid requested_validity %d", req.Validity))
		return
	}
	block, _ := pem.Decode([]byte(req.CSR))
	if block == nil {
		fail(w, http.StatusBadRequest, 1001, "Unable to decode CSR")
		return
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		fail(w, http.StatusBadRequest, 1001, "Invalid CSR")
		return
	}
	var ca *testCA
	switch csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		ca = fakeECCRoot
		if req.RequestType != "origin-ecc" {
			fail(w, http.StatusBadRequest, 1013, "request_type does not match the CSR key type")
			return
		}
	case *rsa.PublicKey:
		ca = fakeRSARoot
		if req.RequestType != "origin-rsa" {
			fail(w, http.StatusBadRequest, 1013, "request_type does not match the CSR key type")
			return
		}
	}
	zone := ""
	for _, h := range req.Hostnames {
		z, found := f.zoneOf(h)
		if !found {
			fail(w, http.StatusBadRequest, 1010, fmt.Sprintf("Failed to validate requested hostname %s: This zone is either not part of your account, or you do not have access to it.", h))
			return
		}
		zone = z
	}
	now := f.clock()
	leaf, certPEM := ca.sign(leafSpec{pub: csr.PublicKey, dnsNames: req.Hostnames, cn: req.Hostnames[0],
		notBefore: now.Add(-time.Hour), notAfter: now.Add(time.Duration(req.Validity) * 24 * time.Hour).Truncate(time.Second)})
	f.nextID++
	c := &fakeCert{ID: fmt.Sprintf("3283468547062983%04d", f.nextID), PEM: string(certPEM), CSR: req.CSR, RequestType: req.RequestType,
		Zone: zone, Hostnames: req.Hostnames, Validity: req.Validity, NotAfter: leaf.NotAfter.UTC()}
	f.certs[c.ID] = c
	f.order = append(f.order, c.ID)
	res := f.certJSON(c)
	for k, v := range f.extraJSON {
		res[k] = v
	}
	ok(w, res)
}
