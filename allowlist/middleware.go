package allowlist

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Header names where a trusted edge puts the real client's address. A
// [Middleware] canonicalises it ([http.CanonicalHeaderKey]) in
// [Middleware.Wrap], so "cf-connecting-ip" and "CF-Connecting-IP" name the
// same header.
type Header string

// The headers a [Middleware] can read the client address from.
const (
	// CFConnectingIP is Cloudflare's header: exactly one address, set by
	// the edge on every proxied request. The default.
	CFConnectingIP Header = "Cf-Connecting-Ip"
	// TrueClientIP is the header of Cloudflare's Enterprise
	// True-Client-IP setting (and of Akamai); one address. Without that
	// setting Cloudflare passes a True-Client-IP the visitor sent through
	// untouched, so anyone can choose it: use it only if your zone has the
	// setting on.
	TrueClientIP Header = "True-Client-Ip"
	// XForwardedFor is the comma-separated proxy chain, every hop
	// appending the address it saw. The client is the entry the edge
	// appended: the rightmost one, unless your own proxies stand between
	// the edge and this server ([Middleware.TrustedProxies],
	// [Middleware.TrustedProxyCount]). Every entry left of it was written
	// by the client and is never returned.
	XForwardedFor Header = "X-Forwarded-For"
	// PeerOnly believes no header: the client is the peer itself.
	PeerOnly Header = "-"
)

// Middleware admits HTTP requests only from trusted peers and recovers the
// real client address behind them.
//
// The peer is the address the connection came from (Request.RemoteAddr);
// a request from a peer that Trusted does not contain is answered with
// RejectStatus and never reaches the wrapped handler, whatever its headers
// say. For a trusted peer the client address is read from Header; a header
// that is missing, repeated, malformed, or carries a zone is not believed
// and the client is taken to be the peer itself, so no header can produce a
// forged address. Handlers read the result with [ClientFrom] or [ClientIP].
//
// # Who may connect is not whose headers to believe
//
// Trusted says which peers may connect. It says nothing about who wrote a
// header: every Cloudflare customer sends traffic through Cloudflare from
// Cloudflare's ranges (a Worker's subrequest arrives from the edge with a
// CF-Connecting-IP inside 2a06:98c0::/29 and any X-Forwarded-For it likes).
// So an address being in Trusted never makes an X-Forwarded-For entry
// believable: the edge appends exactly one entry, what it saw, and the
// client is that entry, whatever it is. Skipping further entries is a
// separate, explicit choice, for your own proxies only: name them in
// TrustedProxies, or count them in TrustedProxyCount.
//
// The request passed on is r.WithContext(...): the caller's *http.Request
// is never modified, as net/http requires, so outer middleware that keeps r
// (a logger reading it from a timer, context.AfterFunc, a mirror) does not
// race with this one. The accept path costs one allocation, which holds
// the request copy and the context carrying the Client.
//
// A Middleware is a value: configure it, then call [Middleware.Wrap]. The
// zero value trusts no one (a nil Trusted rejects every request).
type Middleware struct {
	// Trusted holds the peers that may connect: a Set, a *Refresher, or
	// any Matcher.
	Trusted Matcher
	// Header is where the client address is read from; "" means
	// CFConnectingIP. Any spelling of a header name works.
	Header Header
	// TrustedProxies, for X-Forwarded-For only, holds the addresses of
	// your own proxies between the edge and this server (an ingress, a
	// load balancer). The walk starts at the peer and steps one entry left
	// for every address in TrustedProxies; the first address that is not
	// is the edge, and the client is the entry the edge wrote, just left of
	// it. It must not contain the edge's ranges: then a Cloudflare
	// customer's Worker would pass for one of your proxies.
	TrustedProxies Matcher
	// TrustedProxyCount, for X-Forwarded-For only, is the number of your
	// own proxies between the edge and this server, each appending one
	// entry: the client is the entry TrustedProxyCount places left of the
	// rightmost. Zero (with a nil TrustedProxies) means the peer is the
	// edge. Set TrustedProxies or TrustedProxyCount, not both.
	TrustedProxyCount int
	// RejectStatus answers untrusted peers; zero means 403 Forbidden.
	RejectStatus int
	// OnReject, if set, is called for every rejected request (for logs or
	// metrics) before the answer is written.
	OnReject func(r *http.Request, peer netip.Addr)
}

// ErrInvalidMiddleware is matched by every error of [Middleware.Validate].
var ErrInvalidMiddleware = errors.New("allowlist: invalid Middleware")

// Validate reports every problem of m's configuration, or nil: a header
// name that is not an HTTP token, a negative TrustedProxyCount, both
// TrustedProxies and TrustedProxyCount, either of them with a header other
// than X-Forwarded-For, or a RejectStatus that is not an error status.
// [Middleware.Wrap] panics with this error.
func (m Middleware) Validate() error {
	var errs []error
	h := m.header()
	if h != PeerOnly && !validHeaderName(string(h)) {
		errs = append(errs, fmt.Errorf("header name %q is not an HTTP token", string(m.Header)))
	}
	if m.TrustedProxyCount < 0 {
		errs = append(errs, fmt.Errorf("TrustedProxyCount %d is negative", m.TrustedProxyCount))
	}
	if m.TrustedProxies != nil && m.TrustedProxyCount != 0 {
		errs = append(errs, errors.New("set TrustedProxies or TrustedProxyCount, not both"))
	}
	if (m.TrustedProxies != nil || m.TrustedProxyCount != 0) && h != XForwardedFor {
		errs = append(errs, fmt.Errorf("TrustedProxies and TrustedProxyCount apply to X-Forwarded-For, not to %q", string(h)))
	}
	if m.RejectStatus != 0 && (m.RejectStatus < 400 || m.RejectStatus > 599) {
		errs = append(errs, fmt.Errorf("RejectStatus %d is not a 4xx or 5xx status", m.RejectStatus))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidMiddleware, errors.Join(errs...))
}

// header returns m.Header canonicalised, with the default applied.
func (m Middleware) header() Header {
	switch m.Header {
	case "":
		return CFConnectingIP
	case PeerOnly:
		return PeerOnly
	}
	return Header(http.CanonicalHeaderKey(string(m.Header)))
}

// validHeaderName reports whether s is a token (RFC 9110, section 5.6.2).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// Client is what a [Middleware] learnt about where a request came from.
type Client struct {
	// IP is the real client's address: from the header when it could be
	// believed, else the peer's.
	IP netip.Addr
	// Peer is the trusted edge address the connection came from.
	Peer netip.Addr
	// FromHeader reports whether IP was read from the header.
	FromHeader bool
}

// clientCtx carries a Client in a request's context. It is the context
// itself, so storing a Client costs one allocation.
type clientCtx struct {
	context.Context
	client Client
}

type clientKey struct{}

func (c *clientCtx) Value(key any) any {
	if key == (clientKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// ClientFrom returns what the [Middleware] learnt about r's origin, and false
// if r did not pass through one.
func ClientFrom(r *http.Request) (Client, bool) {
	if c, ok := r.Context().Value(clientKey{}).(*clientCtx); ok {
		return c.client, true
	}
	return Client{}, false
}

// ClientIP returns the real client address of r as recovered by the
// [Middleware], or the zero Addr if r did not pass through one.
func ClientIP(r *http.Request) netip.Addr {
	c, _ := ClientFrom(r)
	return c.IP
}

// Wrap returns a handler that applies m in front of next. The header name
// is canonicalised here, once. Wrap panics if m is invalid (see
// [Middleware.Validate]): a misspelt configuration must fail at start-up,
// not trust the wrong thing quietly.
func (m Middleware) Wrap(next http.Handler) http.Handler {
	if err := m.Validate(); err != nil {
		panic(err)
	}
	m.Header = m.header()
	if m.RejectStatus == 0 {
		m.RejectStatus = http.StatusForbidden
	}
	return &guarded{m: m, next: next}
}

// guarded is a wrapped handler. A method, not a closure, so that the
// compiler treats the accept path the same wherever Wrap is called from.
type guarded struct {
	m    Middleware
	next http.Handler
}

func (g *guarded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	peer, ok := peerAddr(r.RemoteAddr)
	if !ok || g.m.Trusted == nil || !g.m.Trusted.Contains(peer) {
		g.m.reject(w, r, peer)
		return
	}
	client := Client{IP: peer, Peer: peer}
	if ip, ok := g.m.clientFromHeader(r.Header, peer); ok {
		client.IP, client.FromHeader = ip, true
	}
	parent := r.Context()
	if c, ok := parent.(*clientCtx); ok {
		parent = c.Context // wrapped twice: the inner Middleware decides
	}
	// A copy: the caller's request is not ours to modify. The copy and the
	// context that carries the Client share one allocation: WithContext is
	// inlined and its own copy stays on the stack.
	a := &accepted{ctx: clientCtx{Context: parent, client: client}}
	a.req = *r.WithContext(&a.ctx)
	g.next.ServeHTTP(w, &a.req)
}

// accepted is what the accept path allocates: the request passed on and
// the context it carries.
type accepted struct {
	req http.Request
	ctx clientCtx
}

func (m Middleware) reject(w http.ResponseWriter, r *http.Request, peer netip.Addr) {
	if m.OnReject != nil {
		m.OnReject(r, peer)
	}
	http.Error(w, http.StatusText(m.RejectStatus), m.RejectStatus)
}

// peerAddr parses a RemoteAddr ("192.0.2.1:1234", "[2001:db8::1]:1234").
func peerAddr(remote string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap().WithZone(""), true
}

// clientFromHeader reads the client address from m.Header (canonical), if
// it can be believed.
func (m Middleware) clientFromHeader(h http.Header, peer netip.Addr) (netip.Addr, bool) {
	switch m.Header {
	case PeerOnly:
		return netip.Addr{}, false
	case XForwardedFor:
		return m.forwardedFor(h[string(XForwardedFor)], peer)
	default:
		values := h[string(m.Header)]
		if len(values) != 1 {
			return netip.Addr{}, false // missing, or repeated: which one would be true?
		}
		return parseClientAddr(values[0])
	}
}

// parseClientAddr parses one address from a header, refusing zones and
// anything but an address.
func parseClientAddr(s string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

// forwardedFor walks the X-Forwarded-For chain (all header lines, in order,
// as one list) from the right. Each entry was written by the hop right of
// it, the rightmost by the peer. The walk steps over the entries written by
// the user's own proxies (TrustedProxyCount of them, or as long as the
// writer is in TrustedProxies) and returns the entry the edge wrote. Any
// malformed entry it has to read, or a chain too short, means nothing is
// believed: an entry further left was written by the client.
func (m Middleware) forwardedFor(lines []string, peer netip.Addr) (netip.Addr, bool) {
	skip := m.TrustedProxyCount
	writer := peer // who wrote the next entry to the left
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for end := len(line); end >= 0; {
			start := strings.LastIndexByte(line[:end], ',') + 1
			ip, ok := parseClientAddr(line[start:end])
			if !ok {
				return netip.Addr{}, false
			}
			if m.TrustedProxies != nil {
				if !m.TrustedProxies.Contains(writer) {
					return ip, true // written by the edge
				}
				writer = ip
			} else if skip == 0 {
				return ip, true
			} else {
				skip--
			}
			end = start - 1
		}
	}
	return netip.Addr{}, false
}
