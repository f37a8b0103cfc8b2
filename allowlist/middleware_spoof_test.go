package allowlist

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve runs one request from peer with the given header lines through m
// and returns the client the handler saw ("-" if it was not reached).
func serve(m Middleware, peer string, header http.Header) string {
	got := "-"
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := ClientFrom(r)
		got = fmt.Sprintf("%v %v", c.IP, c.FromHeader)
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = peer
	r.Header = header
	h.ServeHTTP(httptest.NewRecorder(), r)
	return got
}

// TestXFFBehindCloudflare is the spoofing corpus for X-Forwarded-For behind
// Cloudflare. Cloudflare appends the address it saw; a Worker (or any other
// customer) sends requests through Cloudflare from inside Cloudflare's
// ranges with the X-Forwarded-For it likes, so an entry being a Cloudflare
// address says nothing about who wrote it.
func TestXFFBehindCloudflare(t *testing.T) {
	cf := Middleware{Trusted: Cloudflare(), Header: XForwardedFor}
	const edge = "[2606:4700::1]:443"
	worker := "2a06:98c0:3600::103" // a Worker subrequest's source, inside 2a06:98c0::/29
	tests := []struct {
		name, xff, want string
	}{
		{"worker hides behind a forged documentation address", "192.0.2.66, " + worker, worker + " true"},
		{"worker forges a Cloudflare address", "173.245.48.7, " + worker, worker + " true"},
		{"worker forges a chain of Cloudflare addresses", "104.16.0.1, 162.158.0.1, " + worker, worker + " true"},
		{"plain visitor", "203.0.113.9", "203.0.113.9 true"},
		{"visitor with its own header", "10.0.0.1, 203.0.113.9", "203.0.113.9 true"},
		{"rightmost malformed", "203.0.113.9, bogus", "2606:4700::1 false"},
		{"rightmost empty", "203.0.113.9,", "2606:4700::1 false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := serve(cf, edge, http.Header{"X-Forwarded-For": {tt.xff}}); got != tt.want {
				t.Errorf("X-Forwarded-For %q: client %q, want %q", tt.xff, got, tt.want)
			}
		})
	}
}

// TestXFFOwnProxies puts the user's own proxies between Cloudflare and the
// server: a load balancer (10.0.0.5) and an ingress (10.0.0.9, the peer).
// Cloudflare wrote the client; the load balancer wrote the edge address;
// the ingress wrote the load balancer's.
func TestXFFOwnProxies(t *testing.T) {
	own := MustParse("10.0.0.0/24\n")
	const peer = "10.0.0.9:80"
	chain := "192.0.2.66, 203.0.113.9, 173.245.48.1, 10.0.0.5" // forged, client, edge, LB
	tests := []struct {
		name string
		m    Middleware
		xff  string
		want string
	}{
		{"count", Middleware{TrustedProxyCount: 2}, chain, "203.0.113.9 true"},
		{"set", Middleware{TrustedProxies: own}, chain, "203.0.113.9 true"},
		{"count too large", Middleware{TrustedProxyCount: 5}, chain, "10.0.0.9 false"},
		{"set, chain all own proxies", Middleware{TrustedProxies: own}, "10.0.0.1, 10.0.0.5", "10.0.0.9 false"},
		{"count, malformed skipped entry", Middleware{TrustedProxyCount: 2}, "203.0.113.9, bogus, 10.0.0.5", "10.0.0.9 false"},
		{"set, malformed entry", Middleware{TrustedProxies: own}, "203.0.113.9, bogus, 10.0.0.5", "10.0.0.9 false"},
		{"set, peer not an own proxy", Middleware{TrustedProxies: MustParse("10.0.0.5\n")}, chain, "10.0.0.5 true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.m
			m.Trusted, m.Header = own, XForwardedFor
			if got := serve(m, peer, http.Header{"X-Forwarded-For": {tt.xff}}); got != tt.want {
				t.Errorf("X-Forwarded-For %q: client %q, want %q", tt.xff, got, tt.want)
			}
		})
	}
}

// TestMiddlewareHeaderSpelling: a header name in any spelling is read, and
// a lower-case X-Forwarded-For keeps its semantics.
func TestMiddlewareHeaderSpelling(t *testing.T) {
	trusted := MustParse("198.51.100.0/24\n")
	const peer = "198.51.100.1:1"
	tests := []struct {
		header Header
		h      http.Header
		want   string
	}{
		{"CF-Connecting-IP", http.Header{"Cf-Connecting-Ip": {"203.0.113.1"}}, "203.0.113.1 true"},
		{"cf-connecting-ip", http.Header{"Cf-Connecting-Ip": {"203.0.113.2"}}, "203.0.113.2 true"},
		{"X-Real-IP", http.Header{"X-Real-Ip": {"203.0.113.3"}}, "203.0.113.3 true"},
		{"x-forwarded-for", http.Header{"X-Forwarded-For": {"192.0.2.1, 203.0.113.4"}}, "203.0.113.4 true"},
		{"TRUE-CLIENT-IP", http.Header{"True-Client-Ip": {"203.0.113.5"}}, "203.0.113.5 true"},
	}
	for _, tt := range tests {
		if got := serve(Middleware{Trusted: trusted, Header: tt.header}, peer, tt.h); got != tt.want {
			t.Errorf("Header %q: client %q, want %q", tt.header, got, tt.want)
		}
	}
}

// TestMiddlewareInvalid: a configuration that cannot mean what its author
// wanted is refused by Validate, and Wrap panics with that error.
func TestMiddlewareInvalid(t *testing.T) {
	for _, m := range []Middleware{
		{Header: " "},
		{Header: "X Real IP"},
		{Header: "X-Real-IP:"},
		{Header: "X-Real-IP\n"},
		{Header: "Ünïcode"},
		{Header: XForwardedFor, TrustedProxyCount: -1},
		{Header: XForwardedFor, TrustedProxyCount: 1, TrustedProxies: Cloudflare()},
		{Header: CFConnectingIP, TrustedProxyCount: 1},
		{TrustedProxies: Cloudflare()},
		{RejectStatus: 200},
	} {
		err := m.Validate()
		if !errors.Is(err, ErrInvalidMiddleware) {
			t.Errorf("%+v: Validate() = %v, want ErrInvalidMiddleware", m, err)
			continue
		}
		func() {
			defer func() {
				if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), err.Error()) {
					t.Errorf("%+v: Wrap panicked with %v, want %v", m, p, err)
				}
			}()
			m.Wrap(http.NotFoundHandler())
		}()
	}
	for _, m := range []Middleware{{}, {Header: PeerOnly}, {Header: "x-real-ip"}, {Header: XForwardedFor, TrustedProxyCount: 2}} {
		if err := m.Validate(); err != nil {
			t.Errorf("%+v: %v", m, err)
		}
	}
}

// TestMiddlewareLeavesRequestAlone: the handler gets a copy carrying the
// client; the caller's request, its context included, is as it was.
func TestMiddlewareLeavesRequestAlone(t *testing.T) {
	var inner *http.Request
	h := Middleware{Trusted: MustParse("198.51.100.0/24\n")}.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner = r
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "198.51.100.1:1"
	r.Header.Set("CF-Connecting-IP", "203.0.113.5")
	ctx := r.Context()
	before := *r
	h.ServeHTTP(httptest.NewRecorder(), r)
	if inner == r || inner == nil {
		t.Fatal("the handler got the caller's request itself")
	}
	if r.Context() != ctx || before.Context() != ctx {
		t.Error("the caller's request has a new context")
	}
	if _, ok := ClientFrom(r); ok {
		t.Error("the caller's request carries the Client")
	}
	if ClientIP(inner) != addr("203.0.113.5") {
		t.Errorf("handler saw %v", ClientIP(inner))
	}
}

// TestMiddlewareOuterCompositionsRace runs the compositions of outer code
// that keeps the request (under -race): a slow-request logger reading r
// from a timer, context.AfterFunc on r's context, and a mirror serving the
// same request twice at once.
func TestMiddlewareOuterCompositionsRace(t *testing.T) {
	slow := make(chan struct{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-slow
		_ = ClientIP(r)
	})
	h := Middleware{Trusted: MustParse("198.51.100.0/24\n")}.Wrap(app)
	newReq := func() *http.Request {
		r := httptest.NewRequest("GET", "/x", nil)
		r.RemoteAddr = "198.51.100.1:1"
		r.Header.Set("CF-Connecting-IP", "203.0.113.5")
		return r
	}

	var wg sync.WaitGroup
	// A slow-request logger.
	logger := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			done := make(chan struct{})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-done:
						return
					case <-time.After(time.Millisecond):
						_ = r.URL.Path + r.RemoteAddr
						_ = r.Context().Value(clientKey{})
					}
				}
			}()
			next.ServeHTTP(w, r)
			close(done)
		})
	}
	// context.AfterFunc on the request's context.
	afterFunc := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithCancel(r.Context())
			wg.Add(1)
			context.AfterFunc(ctx, func() { defer wg.Done(); _ = r.Context(); _ = r.URL.Path })
			go func() { time.Sleep(time.Millisecond); cancel() }()
			next.ServeHTTP(w, r)
		})
	}
	// A mirror serving the same request to two handlers at once.
	mirror := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var mw sync.WaitGroup
			mw.Add(1)
			go func() { defer mw.Done(); next.ServeHTTP(httptest.NewRecorder(), r) }()
			next.ServeHTTP(w, r)
			mw.Wait()
		})
	}
	var served sync.WaitGroup
	for _, outer := range []func(http.Handler) http.Handler{logger, afterFunc, mirror} {
		served.Add(1)
		go func() {
			defer served.Done()
			outer(h).ServeHTTP(httptest.NewRecorder(), newReq())
		}()
	}
	time.Sleep(20 * time.Millisecond)
	close(slow)
	served.Wait()
	wg.Wait()
}

func TestClientIPNeverWritableByClient(t *testing.T) {
	// Whatever the chain, the result is the rightmost entry or the peer.
	m := Middleware{Trusted: Cloudflare(), Header: XForwardedFor}
	for _, xff := range []string{"2606:4700::2", "2606:4700::2, 2606:4700::3", "1.1.1.1, 2606:4700::3"} {
		entries := strings.Split(xff, ",")
		want := netip.MustParseAddr(strings.TrimSpace(entries[len(entries)-1])).String() + " true"
		if got := serve(m, "[2606:4700::1]:1", http.Header{"X-Forwarded-For": {xff}}); got != want {
			t.Errorf("%q: %q, want %q", xff, got, want)
		}
	}
}
