package allowlist

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
)

// Header names where a trusted edge puts the real client's address.
type Header string

// The headers a [Middleware] can read the client address from.
const (
	// CFConnectingIP is Cloudflare's header: exactly one address, set by
	// the edge on every proxied request. The default.
	CFConnectingIP Header = "Cf-Connecting-Ip"
	// TrueClientIP is the header of Cloudflare's Enterprise
	// True-Client-IP setting (and of Akamai); one address.
	TrueClientIP Header = "True-Client-Ip"
	// XForwardedFor is the comma-separated proxy chain. The client is the
	// rightmost address that is not trusted: everything left of it was
	// written by the client and may be forged.
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
// A Middleware is a value: configure it, then call [Middleware.Wrap]. The
// zero value trusts no one (a nil Trusted rejects every request).
type Middleware struct {
	// Trusted holds the edge peers: a *Set, a *Refresher, or any Matcher.
	Trusted Matcher
	// Header is where the client address is read from; "" means
	// CFConnectingIP.
	Header Header
	// RejectStatus answers untrusted peers; zero means 403 Forbidden.
	RejectStatus int
	// OnReject, if set, is called for every rejected request (for logs or
	// metrics) before the answer is written.
	OnReject func(r *http.Request, peer netip.Addr)
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

// Wrap returns a handler that applies m in front of next.
//
// On the accept path it costs one allocation: instead of the copy
// Request.WithContext makes, the Client is stored by replacing the context
// of r in place, so a handler up the chain that kept r sees the new context
// too.
func (m Middleware) Wrap(next http.Handler) http.Handler {
	if m.Header == "" {
		m.Header = CFConnectingIP
	}
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
	if ip, ok := g.m.clientFromHeader(r.Header); ok {
		client.IP, client.FromHeader = ip, true
	}
	parent := r.Context()
	if c, ok := parent.(*clientCtx); ok {
		parent = c.Context // wrapped twice, or a reused request
	}
	// WithContext is inlined and its copy stays on the stack.
	*r = *r.WithContext(&clientCtx{Context: parent, client: client})
	g.next.ServeHTTP(w, r)
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

// clientFromHeader reads the client address from m.Header, if it can be
// believed.
func (m Middleware) clientFromHeader(h http.Header) (netip.Addr, bool) {
	switch m.Header {
	case PeerOnly:
		return netip.Addr{}, false
	case XForwardedFor:
		return m.rightmostUntrusted(h[string(XForwardedFor)])
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

// rightmostUntrusted walks the X-Forwarded-For chain (all header lines, in
// order, as one list) from the right. Entries the edge appended are trusted
// and skipped; the first untrusted one is the client. A malformed entry
// stops the walk: what lies left of it cannot be trusted, so the result is
// the last trusted hop seen, or nothing. If every entry is trusted, the
// leftmost is the client.
func (m Middleware) rightmostUntrusted(lines []string) (netip.Addr, bool) {
	var last netip.Addr
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for end := len(line); end >= 0; {
			start := strings.LastIndexByte(line[:end], ',') + 1
			ip, ok := parseClientAddr(line[start:end])
			if !ok {
				return last, last.IsValid()
			}
			if !m.Trusted.Contains(ip) {
				return ip, true
			}
			last = ip
			end = start - 1
		}
	}
	return last, last.IsValid()
}
