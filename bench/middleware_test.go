package bench

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/originguard/originguard/allowlist"
	"github.com/realclientip/realclientip-go"
)

// client is the visitor's address the edge reports, from a documentation
// range. The peers are Cloudflare edge addresses, used as data only: no
// traffic is sent anywhere.
const client = "203.0.113.7"

// peers are the trusted edge addresses a request comes from: one in the
// first range Cloudflare lists (the hand-rolled scan's best case) and one
// in the last IPv4 range (its worst).
var peers = []struct{ name, remoteAddr string }{
	{"first-range", "173.245.48.1:443"},
	{"last-range", "131.0.72.1:443"},
}

// newRequest returns the request an edge at remoteAddr forwards:
// CF-Connecting-IP and X-Forwarded-For both name the client.
func newRequest(remoteAddr string) *http.Request {
	r, err := http.NewRequest(http.MethodGet, "http://origin.example/", nil)
	if err != nil {
		panic(err)
	}
	r.RemoteAddr = remoteAddr
	r.Header.Set("CF-Connecting-IP", client)
	r.Header.Set("X-Forwarded-For", client)
	return r
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// served counts the requests that reached the application handler.
var served int

// app is the application handler every variant serves: it does as little
// as a handler can, so that what is timed is what lies in front of it.
var app = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served++ })

// handRolled is the common hand-rolled way: parse RemoteAddr, scan the
// trusted ranges, take the first X-Forwarded-For entry and store it in the
// request's context.
type handRolled struct {
	trusted []*net.IPNet
	next    http.Handler
}

type clientIPKey struct{}

func (h *handRolled) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	ip := net.ParseIP(host)
	trusted := false
	for _, n := range h.trusted {
		if n.Contains(ip) {
			trusted = true
			break
		}
	}
	if !trusted {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	clientIP := host
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		clientIP = strings.TrimSpace(strings.Split(xff, ",")[0])
	}
	h.next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientIPKey{}, clientIP)))
}

// cloudflareNets returns Cloudflare's ranges as []*net.IPNet, in the order
// Cloudflare lists them, as a hand-rolled program would hold them.
func cloudflareNets() []*net.IPNet {
	var out []*net.IPNet
	for _, p := range allowlist.Embedded().All() {
		_, n, err := net.ParseCIDR(p.String())
		if err != nil {
			panic(err)
		}
		out = append(out, n)
	}
	return out
}

// variant is one way of serving app; wrap puts it in front of next.
type variant struct {
	name string
	wrap func(next http.Handler) http.Handler
}

var (
	variantBare = variant{"bare", func(next http.Handler) http.Handler { return next }}
	variantMW   = variant{"allowlist", func(next http.Handler) http.Handler {
		return allowlist.Middleware{Trusted: allowlist.Cloudflare(), Header: allowlist.CFConnectingIP}.Wrap(next)
	}}
	variantHand = variant{"hand-rolled", func(next http.Handler) http.Handler {
		return &handRolled{trusted: cloudflareNets(), next: next}
	}}
	variantRCIP = variant{"realclientip", func(next http.Handler) http.Handler {
		return &withRealClientIP{
			trusted: allowlist.Cloudflare(),
			strat:   realclientip.Must(realclientip.NewSingleIPHeaderStrategy("CF-Connecting-IP")),
			next:    next,
		}
	}}
	variants = []variant{variantBare, variantMW, variantHand, variantRCIP}
)

// withRealClientIP extracts the client with
// github.com/realclientip/realclientip-go v1.0.0, the library's suggested
// way for a single-IP header, and stores it in the context as its README's
// middleware does. Admission uses the same allowlist.Set as the
// Middleware, so that the two differ in extraction only.
type withRealClientIP struct {
	trusted allowlist.Set
	strat   realclientip.Strategy
	next    http.Handler
}

func (h *withRealClientIP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !h.trusted.Contains(ap.Addr()) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	clientIP := h.strat.ClientIP(r.Header, r.RemoteAddr)
	if clientIP == "" {
		clientIP = ap.Addr().String()
	}
	h.next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientIPKey{}, clientIP)))
}

// serveLoop serves r n times. The request is reused: no variant modifies
// it (each passes a copy on), so every iteration does the same work.
func serveLoop(h http.Handler, w http.ResponseWriter, r *http.Request, n int) {
	for range n {
		h.ServeHTTP(w, r)
	}
}

// BenchmarkAccept serves one request from a trusted edge per operation.
func BenchmarkAccept(b *testing.B) {
	for _, p := range peers {
		for _, v := range variants {
			b.Run("peer="+p.name+"/impl="+v.name, func(b *testing.B) {
				h, w, r := v.wrap(app), &discard{h: http.Header{}}, newRequest(p.remoteAddr)
				b.ReportAllocs()
				before := served
				b.ResetTimer()
				serveLoop(h, w, r, b.N)
				b.StopTimer()
				if served-before != b.N {
					b.Fatalf("%d of %d requests reached the handler", served-before, b.N)
				}
			})
		}
	}
}

// TestVariantsServe checks that every variant admits the edge's request
// and that the wrapped ones hand the client address to the application,
// so that the benchmark times working code.
func TestVariantsServe(t *testing.T) {
	want := netip.MustParseAddr(client)
	for _, p := range peers {
		var got []string
		check := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ip := allowlist.ClientIP(r)
			if s, ok := r.Context().Value(clientIPKey{}).(string); ok {
				ip, _ = netip.ParseAddr(s)
			}
			got = append(got, ip.String())
		})
		for _, v := range variants[1:] {
			h, w, r := v.wrap(check), &discard{h: http.Header{}}, newRequest(p.remoteAddr)
			// Twice, as the benchmark reuses the request.
			h.ServeHTTP(w, r)
			h.ServeHTTP(w, r)
			if len(got) != 2 || got[0] != want.String() || got[1] != want.String() {
				t.Errorf("%s from %s: handler saw client %q, want %s twice", v.name, p.remoteAddr, got, want)
			}
			got = nil
		}
		// An untrusted peer with the same headers must not get through.
		for _, v := range variants[1:] {
			h, w, r := v.wrap(check), &discard{h: http.Header{}}, newRequest("192.0.2.1:443")
			h.ServeHTTP(w, r)
			if len(got) != 0 {
				t.Errorf("%s let untrusted peer 192.0.2.1 through as %q", v.name, got)
			}
			got = nil
		}
	}
}
