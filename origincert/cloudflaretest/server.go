package cloudflaretest

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
)

// Token is the API token a new [Server] accepts.
const Token = "cloudflaretest-token-not-secret"

// Zone IDs of the two zones a new [Server] holds. The first is the zone ID
// Cloudflare's API reference uses in its examples.
const (
	ExampleComID = "023e105f4ecef8ad9ca31a8372d0c353" // example.com
	ExampleNetID = "a1b2c3d4e5f60718293a4b5c6d7e8f90" // example.net
)

// Server is a fake Cloudflare API v4 on an httptest server. Build it with
// [NewServer] and Close it when done. All methods are safe for concurrent
// use, also while the server answers requests. The zero Server is not
// usable.
type Server struct {
	srv *httptest.Server

	mu          sync.Mutex
	token       string
	clock       func() time.Time
	deployReads int
	zones       map[string]*zone // id -> zone
	certs       map[string]*OriginCertificate
	order       []string // Origin CA certificate IDs in creation order
	inject      map[string][]Response
	requests    []Request
	nextID      int
	createExtra map[string]any
	limit       int           // requests per window; 0: no limit
	window      time.Duration //
	recent      []time.Time   // times of requests inside the window
}

type zone struct {
	id, name   string
	settings   map[string]string // zone setting id -> value
	zoneAOP    bool              // origin_tls_client_auth/settings enabled
	denied     bool              // the token lacks permission for this zone
	clientCert []*ClientCertificate
	hostCerts  []*ClientCertificate
	hostAOP    map[string]*HostnameAssociation // hostname -> association
}

// Option configures a [Server].
type Option func(*Server)

// WithClock sets the server's clock (default time.Now): certificates are
// valid from its "now", revocations are stamped with it.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.clock = now } }

// WithToken sets the API token the server accepts (default [Token]).
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// WithDeployReads sets after how many reads (GET of the certificate or of
// a list holding it) an uploaded origin-pull client certificate turns from
// pending_deployment to active, and a deleted one from pending_deletion to
// deleted (default 2: the first read after upload still says
// pending_deployment). Cloudflare takes "a few minutes".
func WithDeployReads(n int) Option { return func(s *Server) { s.deployReads = max(n, 0) } }

// WithRateLimit sets how many requests the server answers per window
// before it answers 429 (default 1200 per 5 minutes, Cloudflare's limit
// per token: API reference, "Rate limits"). Zero n switches it off.
func WithRateLimit(n int, per time.Duration) Option {
	return func(s *Server) { s.limit, s.window = max(n, 0), per }
}

// NewServer starts a fake API with the zones example.com ([ExampleComID])
// and example.net ([ExampleNetID]), each with the settings ssl=full,
// min_tls_version=1.0, always_use_https=off, tls_client_auth=off, and
// Authenticated Origin Pulls off at every level.
func NewServer(opts ...Option) *Server {
	s := &Server{
		token:       Token,
		clock:       time.Now,
		deployReads: 2,
		zones:       map[string]*zone{},
		certs:       map[string]*OriginCertificate{},
		inject:      map[string][]Response{},
		limit:       1200,
		window:      5 * time.Minute,
	}
	for _, o := range opts {
		o(s)
	}
	s.addZone(ExampleComID, "example.com")
	s.addZone(ExampleNetID, "example.net")
	roots() // make the CAs before the first request, not during it
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *Server) addZone(id, name string) {
	s.zones[id] = &zone{id: id, name: name, hostAOP: map[string]*HostnameAssociation{},
		settings: map[string]string{"ssl": "full", "min_tls_version": "1.0", "always_use_https": "off", "tls_client_auth": "off"}}
}

// AddZone adds a zone named name with the default settings and returns its
// ID.
func (s *Server) AddZone(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	id := fmt.Sprintf("%032x", 0xc0ffee0000+s.nextID)
	s.addZone(id, strings.ToLower(name))
	return id
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// URL is the API root to give the client (origincert.WithBaseURL), like
// https://api.cloudflare.com/client/v4.
func (s *Server) URL() string { return s.srv.URL + "/client/v4" }

// IssuerRoots returns the test roots that sign the fake's Origin CA
// certificates: ECDSA first, RSA second. They are made once per process.
func (s *Server) IssuerRoots() []*x509.Certificate {
	ecc, rsa := roots()
	return []*x509.Certificate{ecc.cert, rsa.cert}
}

// DenyZone makes the token lack permission on a zone: its endpoints answer
// 403 and the Origin CA refuses its hostnames with the same message it
// gives for a zone outside the account.
func (s *Server) DenyZone(zoneID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if z := s.zones[zoneID]; z != nil {
		z.denied = true
	}
}

// Setting returns a zone setting's value ("" when unknown).
func (s *Server) Setting(zoneID, setting string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if z := s.zones[zoneID]; z != nil {
		return z.settings[setting]
	}
	return ""
}

// SetSetting sets a zone setting, as the dashboard would.
func (s *Server) SetSetting(zoneID, setting, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if z := s.zones[zoneID]; z != nil {
		z.settings[setting] = value
	}
}

// ZoneOriginPulls reports whether zone-level Authenticated Origin Pulls
// are enabled.
func (s *Server) ZoneOriginPulls(zoneID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zones[zoneID]
	return z != nil && z.zoneAOP
}

// SetZoneOriginPulls switches zone-level origin pulls, as the dashboard would.
func (s *Server) SetZoneOriginPulls(zoneID string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if z := s.zones[zoneID]; z != nil {
		z.zoneAOP = on
	}
}

// OriginCertificate is the fake's record of an Origin CA certificate.
type OriginCertificate struct {
	ID, Zone, CSR, RequestType string
	PEM                        string
	Hostnames                  []string
	Validity                   int // requested_validity, days
	NotBefore, NotAfter        time.Time
	RevokedAt                  time.Time // zero when not revoked
}

// Certificate returns a copy of an Origin CA certificate's record.
func (s *Server) Certificate(id string) (OriginCertificate, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.certs[id]
	if c == nil {
		return OriginCertificate{}, false
	}
	out := *c
	out.Hostnames = slices.Clone(c.Hostnames)
	return out, true
}

// Certificates returns every Origin CA certificate issued, revoked ones
// included, in the order they were made.
func (s *Server) Certificates() []OriginCertificate {
	s.mu.Lock()
	ids := slices.Clone(s.order)
	s.mu.Unlock()
	out := make([]OriginCertificate, 0, len(ids))
	for _, id := range ids {
		c, _ := s.Certificate(id)
		out = append(out, c)
	}
	return out
}

// AddCertificateResultFields merges fields into every later create answer,
// to imitate an API that adds fields (e.g. "revoked_at" in a layout
// cloudflare-go cannot parse).
func (s *Server) AddCertificateResultFields(fields map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.createExtra = fields
}

// ClientCertificate is an origin-pull client certificate uploaded for a
// zone or for hostnames.
type ClientCertificate struct {
	ID, Zone   string
	PEM        string
	PrivateKey string // as uploaded
	Status     string // initializing, pending_deployment, active, pending_deletion, deleted
	NotAfter   time.Time
	UploadedOn time.Time
	reads      int
}

// ZoneClientCertificates returns the zone-level origin-pull certificates
// of a zone, deleted ones included, oldest first.
func (s *Server) ZoneClientCertificates(zoneID string) []ClientCertificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyCerts(s.zones[zoneID], false)
}

// HostnameClientCertificates returns the per-hostname origin-pull
// certificates of a zone, deleted ones included, oldest first.
func (s *Server) HostnameClientCertificates(zoneID string) []ClientCertificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyCerts(s.zones[zoneID], true)
}

func copyCerts(z *zone, host bool) []ClientCertificate {
	if z == nil {
		return nil
	}
	src := z.clientCert
	if host {
		src = z.hostCerts
	}
	out := make([]ClientCertificate, 0, len(src))
	for _, c := range src {
		out = append(out, *c)
	}
	return out
}

// HostnameAssociation is a per-hostname origin-pull setting.
type HostnameAssociation struct {
	Hostname, CertID string
	Enabled          bool
}

// HostnameOriginPulls returns the per-hostname origin-pull association of
// a hostname, if any.
func (s *Server) HostnameOriginPulls(hostname string) (HostnameAssociation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, z := range s.zones {
		if a := z.hostAOP[hostname]; a != nil {
			return *a, true
		}
	}
	return HostnameAssociation{}, false
}

// PresentedClientCertificate says which client certificate Cloudflare
// would present to the zone's origin for hostname: the ID of an active
// per-hostname certificate, of the newest active zone-level certificate,
// "shared" for Cloudflare's shared origin-pull certificate, or "" for none.
func (s *Server) PresentedClientCertificate(zoneID, hostname string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zones[zoneID]
	if z == nil {
		return ""
	}
	// Per-hostname settings take precedence over zone level ("Per-hostname
	// AOP", Cloudflare SSL docs).
	if a := z.hostAOP[hostname]; a != nil && a.Enabled {
		for _, c := range z.hostCerts {
			if c.ID == a.CertID && c.Status == "active" {
				return c.ID
			}
		}
	}
	if z.zoneAOP {
		// Cloudflare does not say which of several active zone-level
		// certificates it presents (it asks to keep one active); the
		// fake takes the newest. Tests should hold true for either.
		for _, c := range slices.Backward(z.clientCert) {
			if c.Status == "active" {
				return c.ID
			}
		}
		return "shared" // zone level on without a certificate of its own
	}
	if z.settings["tls_client_auth"] == "on" {
		return "shared"
	}
	return ""
}

// Request is one request the server received.
type Request struct {
	Method, Path string // Path without /client/v4, e.g. /certificates
	Query        string
	Body         []byte
}

// Requests returns every request received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Count returns how many requests "METHOD /path" start with prefix
// ("POST /certificates", "GET /zones/", "" for all).
func (s *Server) Count(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if strings.HasPrefix(r.Method+" "+r.Path, prefix) {
			n++
		}
	}
	return n
}

// Response is an answer to inject in place of the normal one.
type Response struct {
	Status int               // HTTP status
	Header map[string]string // extra headers, e.g. Retry-After
	// Body is sent as is; "" sends the API's error envelope with one
	// error whose code is 10000+Status (Cloudflare documents no codes
	// for 429 or 5xx; the fake chose these).
	Body string
	// Hangup closes the connection without an answer.
	Hangup bool
	// After carries the request out first, then answers with the
	// failure: the outcome the client cannot know.
	After bool
	// Pass answers normally, to reach a later request with the next
	// injected response.
	Pass bool
}

// Inject queues responses for the next requests to route, "METHOD /path"
// without /client/v4 and without the query (e.g. "POST /certificates").
func (s *Server) Inject(route string, rs ...Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inject[route] = append(s.inject[route], rs...)
}

func (s *Server) now() time.Time { return s.clock().UTC() }

// writeJSON sends v with the headers every API answer has.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cf-Ray", "8f0000000000test-LHR") // every Cloudflare answer carries one
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ok sends a success envelope: {"success":true,"errors":[],"messages":[],
// "result":…} (Cloudflare API reference, "API response format").
func ok(w http.ResponseWriter, result any) {
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "errors": []any{}, "messages": []any{}, "result": result})
}

// fail sends an error envelope: {"success":false,"errors":[{"code":…,
// "message":…}],"messages":[],"result":null} (the same reference; the
// shared reference data README quotes it).
func fail(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"success": false, "errors": []any{map[string]any{"code": code, "message": msg}}, "messages": []any{}, "result": nil})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/client/v4")
	route := r.Method + " " + path
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: path, Query: r.URL.RawQuery, Body: body})
	var inj *Response
	if q := s.inject[route]; len(q) > 0 {
		inj = &q[0]
		s.inject[route] = q[1:]
	}
	s.mu.Unlock()
	if inj != nil && inj.Pass {
		inj = nil
	}
	if inj != nil {
		if inj.After && s.authorized(r) {
			s.mu.Lock()
			s.route(httptest.NewRecorder(), r, path)
			s.mu.Unlock()
		}
		if inj.Hangup {
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		}
		for k, v := range inj.Header {
			w.Header().Set(k, v)
		}
		if inj.Body == "" {
			fail(w, inj.Status, 10000+inj.Status, http.StatusText(inj.Status))
			return
		}
		w.WriteHeader(inj.Status)
		_, _ = io.WriteString(w, inj.Body)
		return
	}
	if wait, limited := s.rateLimited(); limited {
		// HTTP 429 with Retry-After; the message as quoted in
		// lablabs/cloudflare-exporter#74 and lfaoro/flares#24. The code
		// (971) is the fake's assumption: the quotes do not show it.
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Round(time.Second)/time.Second)))
		fail(w, http.StatusTooManyRequests, 971, "More than 1200 requests per 300 seconds reached. Please wait and consider throttling your request speed")
		return
	}
	switch auth := r.Header.Get("Authorization"); {
	case auth == "":
		// No credentials: HTTP 400, code 10000 "Authentication error"
		// (cloudflare/origin-ca-issuer#108 quotes the code and message).
		fail(w, http.StatusBadRequest, 10000, "Authentication error")
		return
	case !strings.HasPrefix(auth, "Bearer "):
		// A malformed header: HTTP 400, 6003 "Invalid request headers",
		// with 6111 "Invalid format for Authorization header" in its
		// error_chain (quoted in Ultimate-Multisite/ultimate-multisite#73).
		writeJSON(w, http.StatusBadRequest, map[string]any{"success": false, "messages": []any{}, "result": nil,
			"errors": []any{map[string]any{"code": 6003, "message": "Invalid request headers",
				"error_chain": []any{map[string]any{"code": 6111, "message": "Invalid format for Authorization header"}}}}})
		return
	case !s.authorized(r):
		// A well-formed but unknown token: HTTP 403, 9109 "Invalid
		// access token" (quoted in cert-manager/cert-manager#4465; the
		// 403 with 9109 in jeessy2/ddns-go#1341).
		fail(w, http.StatusForbidden, 9109, "Invalid access token")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.route(w, r, path)
}

// rateLimited counts this request and says whether it is over the limit
// and for how long.
func (s *Server) rateLimited() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limit == 0 {
		return 0, false
	}
	now := s.now()
	keep := s.recent[:0]
	for _, t := range s.recent {
		if now.Sub(t) < s.window {
			keep = append(keep, t)
		}
	}
	s.recent = keep
	if len(s.recent) >= s.limit {
		return max(s.window-now.Sub(s.recent[0]), time.Second), true
	}
	s.recent = append(s.recent, now)
	return 0, false
}

func (s *Server) authorized(r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return r.Header.Get("Authorization") == "Bearer "+s.token
}

// decodeStrict decodes a JSON body into v, refusing unknown fields and
// trailing data. The API reference lists each endpoint's body fields; the
// fake refuses others so a client's bodies stay exactly the documented ones.
func decodeStrict(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON body")
	}
	return nil
}

// badBody answers a body the endpoint does not accept. Cloudflare answers
// malformed or unexpected bodies with HTTP 400; the code (1001) is the
// fake's choice, as the reference gives none per endpoint.
func badBody(w http.ResponseWriter, err error) {
	fail(w, http.StatusBadRequest, 1001, "Invalid request body: "+err.Error())
}

// noRoute answers a path the API does not serve, or an identifier that
// names nothing: HTTP 400 with 7003 "Could not route to /client/v4/…,
// perhaps your object identifier is invalid?" and 7000 "No route for that
// URI" (the answer quoted with its status in cloudflare/cloudflare-go#118).
func noRoute(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"success": false, "messages": []any{}, "result": nil,
		"errors": []any{map[string]any{"code": 7003, "message": "Could not route to " + r.URL.Path + ", perhaps your object identifier is invalid?"},
			map[string]any{"code": 7000, "message": "No route for that URI"}}})
}

// methodNotAllowed: HTTP 405 with 10405 "Method not allowed" (the fake's
// code; Cloudflare's is undocumented).
func methodNotAllowed(w http.ResponseWriter) {
	fail(w, http.StatusMethodNotAllowed, 10405, "Method not allowed")
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, path string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case parts[0] == "certificates":
		s.originCA(w, r, parts[1:])
	case r.Method == http.MethodGet && path == "/zones":
		s.listZones(w, r)
	case parts[0] == "zones" && len(parts) >= 3:
		z := s.zones[parts[1]]
		if z == nil {
			noRoute(w, r) // an unknown zone ID
			return
		}
		if z.denied {
			// A token without the permission: HTTP 403, 10000
			// "Authentication error" (origin-ca-issuer#159, #108).
			fail(w, http.StatusForbidden, 10000, "Authentication error")
			return
		}
		s.zoneRoute(w, r, z, parts[2:])
	default:
		noRoute(w, r)
	}
}

// listZones serves GET /zones?name=… (Cloudflare API reference, "List
// Zones"): result_info carries page, per_page, count, total_count and
// total_pages.
func (s *Server) listZones(w http.ResponseWriter, r *http.Request) {
	name := strings.ToLower(r.URL.Query().Get("name"))
	res := []any{}
	for _, z := range s.zones {
		if name == "" || z.name == name {
			res = append(res, map[string]any{"id": z.id, "name": z.name, "status": "active", "paused": false, "type": "full"})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "errors": []any{}, "messages": []any{}, "result": res,
		"result_info": map[string]any{"page": 1, "per_page": 20, "count": len(res), "total_count": len(res), "total_pages": 1}})
}

// zoneOf returns the zone a hostname belongs to.
func (s *Server) zoneOf(h string) *zone {
	h = strings.TrimPrefix(strings.ToLower(h), "*.")
	for _, z := range s.zones {
		if h == z.name || strings.HasSuffix(h, "."+z.name) {
			return z
		}
	}
	return nil
}
