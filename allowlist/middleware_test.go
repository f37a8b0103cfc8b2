package allowlist

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// echoClient answers with what the middleware recovered.
var echoClient = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := ClientFrom(r)
	fmt.Fprintf(w, "%v %v %v %v", c.IP, c.Peer, c.FromHeader, ok)
})

// dialFrom returns an HTTP client whose connections come from local, a
// loopback address.
func dialFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 2 * time.Second}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// rawRequest sends a request byte for byte, so headers the Go client would
// refuse or fold can be sent, and returns the status line and body.
func rawRequest(t *testing.T, local, server, head string) string {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", server)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n", head)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
}

// TestMiddlewareOverLoopback sends real requests from two loopback
// addresses: 127.0.0.2 is the trusted edge, 127.0.0.1 a stranger. 198.51.100.0/24
// stands for more edge addresses that appear in headers.
func TestMiddlewareOverLoopback(t *testing.T) {
	trusted := MustParse("127.0.0.2\n198.51.100.0/24\n")
	servers := map[Header]*httptest.Server{}
	for _, h := range []Header{CFConnectingIP, TrueClientIP, XForwardedFor, PeerOnly} {
		srv := httptest.NewServer(Middleware{Trusted: trusted, Header: h}.Wrap(echoClient))
		t.Cleanup(srv.Close)
		servers[h] = srv
	}
	edge, stranger := "127.0.0.2", "127.0.0.1"
	tests := []struct {
		name   string
		from   string
		header Header
		head   string // raw header lines, each ending in \r\n
		want   string
	}{
		{"stranger rejected", stranger, CFConnectingIP, "", "403 Forbidden"},
		{"stranger with spoofed header rejected", stranger, CFConnectingIP, "CF-Connecting-IP: 203.0.113.9\r\n", "403 Forbidden"},
		{"stranger spoofing XFF rejected", stranger, XForwardedFor, "X-Forwarded-For: 127.0.0.2\r\n", "403 Forbidden"},
		{"edge, client from header", edge, CFConnectingIP, "CF-Connecting-IP: 203.0.113.9\r\n", "200 203.0.113.9 127.0.0.2 true true"},
		{"edge, header case-insensitive", edge, CFConnectingIP, "cf-connecting-ip: 2001:db8::9\r\n", "200 2001:db8::9 127.0.0.2 true true"},
		{"edge, 4in6 in header", edge, CFConnectingIP, "CF-Connecting-IP: ::ffff:203.0.113.9\r\n", "200 203.0.113.9 127.0.0.2 true true"},
		{"edge, no header", edge, CFConnectingIP, "", "200 127.0.0.2 127.0.0.2 false true"},
		{"edge, repeated header", edge, CFConnectingIP, "CF-Connecting-IP: 203.0.113.9\r\nCF-Connecting-IP: 192.0.2.1\r\n", "200 127.0.0.2 127.0.0.2 false true"},
		{"edge, list in header", edge, CFConnectingIP, "CF-Connecting-IP: 203.0.113.9, 192.0.2.1\r\n", "200 127.0.0.2 127.0.0.2 false true"},
		{"edge, zone in header", edge, CFConnectingIP, "CF-Connecting-IP: fe80::1%eth0\r\n", "200 127.0.0.2 127.0.0.2 false true"},
		{"edge, port in header", edge, CFConnectingIP, "CF-Connecting-IP: 203.0.113.9:80\r\n", "200 127.0.0.2 127.0.0.2 false true"},
		{"edge, empty header", edge, CFConnectingIP, "CF-Connecting-IP: \r\n", "200 127.0.0.2 127.0.0.2 false true"},
		{"edge, padded header", edge, CFConnectingIP, "CF-Connecting-IP:    203.0.113.9   \r\n", "200 203.0.113.9 127.0.0.2 true true"},
		{"edge, other header ignored", edge, CFConnectingIP, "True-Client-IP: 192.0.2.1\r\nX-Forwarded-For: 192.0.2.2\r\n", "200 127.0.0.2 127.0.0.2 false true"},
		{"True-Client-IP", edge, TrueClientIP, "True-Client-IP: 203.0.113.9\r\nCF-Connecting-IP: 192.0.2.1\r\n", "200 203.0.113.9 127.0.0.2 true true"},
		{"XFF rightmost untrusted", edge, XForwardedFor, "X-Forwarded-For: 192.0.2.66, 203.0.113.9\r\n", "200 203.0.113.9 127.0.0.2 true true"},
		{"XFF edge addresses are not skipped", edge, XForwardedFor, "X-Forwarded-For: 192.0.2.66, 203.0.113.9, 198.51.100.1\r\n", "200 198.51.100.1 127.0.0.2 true true"},
		{"XFF client-injected trusted address", edge, XForwardedFor, "X-Forwarded-For: 198.51.100.1, 203.0.113.9\r\n", "200 203.0.113.9 127.0.0.2 true true"},
		{"XFF lower-case header name", edge, XForwardedFor, "x-forwarded-for: 192.0.2.66, 203.0.113.9\r\n", "200 203.0.113.9 127.0.0.2 true true"},
		{"XFF over several lines", edge, XForwardedFor, "X-Forwarded-For: 192.0.2.66, 198.51.100.1\r\nX-Forwarded-For: 203.0.113.9\r\n", "200 203.0.113.9 127.0.0.2 true true"},
		{"XFF malformed rightmost", edge, XForwardedFor, "X-Forwarded-For: 203.0.113.9, bogus\r\n", "200 127.0.0.2 127.0.0.2 false true"},
		{"XFF malformed left of the client", edge, XForwardedFor, "X-Forwarded-For: bogus, 198.51.100.1\r\n", "200 198.51.100.1 127.0.0.2 true true"},
		{"XFF trailing comma", edge, XForwardedFor, "X-Forwarded-For: 203.0.113.9,\r\n", "200 127.0.0.2 127.0.0.2 false true"},
		{"XFF all edge addresses", edge, XForwardedFor, "X-Forwarded-For: 198.51.100.1, 198.51.100.2\r\n", "200 198.51.100.2 127.0.0.2 true true"},
		{"PeerOnly ignores headers", edge, PeerOnly, "CF-Connecting-IP: 203.0.113.9\r\nX-Forwarded-For: 203.0.113.9\r\n", "200 127.0.0.2 127.0.0.2 false true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := servers[tt.header]
			if got := rawRequest(t, tt.from, srv.Listener.Addr().String(), tt.head); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	// The same through Go's own client, which canonicalises header names.
	req, _ := http.NewRequest("GET", servers[CFConnectingIP].URL, nil)
	req.Header.Set("CF-Connecting-IP", "203.0.113.10")
	resp, err := dialFrom(edge).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := string(body); got != "203.0.113.10 127.0.0.2 true true" {
		t.Errorf("Go client: %q", got)
	}
}

func TestMiddlewareIPv6Loopback(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: Middleware{Trusted: MustParse("::1\n")}.Wrap(echoClient)}}
	srv.Start()
	defer srv.Close()
	got := rawRequest(t, "::1", ln.Addr().String(), "CF-Connecting-IP: 2001:db8::7\r\n")
	if got != "200 2001:db8::7 ::1 true true" {
		t.Errorf("got %q", got)
	}
}

func TestMiddlewareRejectHookAndStatus(t *testing.T) {
	var rejected []netip.Addr
	h := Middleware{
		Trusted:      MustParse("198.51.100.0/24\n"),
		RejectStatus: http.StatusNotFound,
		OnReject:     func(r *http.Request, peer netip.Addr) { rejected = append(rejected, peer) },
	}.Wrap(echoClient)
	for _, remote := range []string{"203.0.113.1:1", "[::ffff:203.0.113.2]:1", "garbage", "", "[::ffff:198.51.100.7]:443"} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		h.ServeHTTP(w, r)
		wantCode := http.StatusNotFound
		if remote == "[::ffff:198.51.100.7]:443" {
			wantCode = http.StatusOK
			if got := w.Body.String(); got != "198.51.100.7 198.51.100.7 false true" {
				t.Errorf("4in6 peer: %q", got)
			}
		}
		if w.Code != wantCode {
			t.Errorf("RemoteAddr %q: status %d, want %d", remote, w.Code, wantCode)
		}
	}
	if fmt.Sprint(rejected) != "[203.0.113.1 203.0.113.2 invalid IP invalid IP]" {
		t.Errorf("OnReject saw %v", rejected)
	}

	var zero Middleware
	w := httptest.NewRecorder()
	zero.Wrap(echoClient).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != http.StatusForbidden {
		t.Errorf("zero Middleware let a request through: %d", w.Code)
	}
}

func TestClientFromWithoutMiddleware(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if c, ok := ClientFrom(r); ok || c.IP.IsValid() || ClientIP(r).IsValid() {
		t.Errorf("ClientFrom on a bare request = %v, %v", c, ok)
	}
}

func TestMiddlewareNestedAndContextIntact(t *testing.T) {
	type key struct{}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(key{}) != "kept" {
			t.Error("a value of the parent context was lost")
		}
		fmt.Fprint(w, ClientIP(r))
	})
	m := Middleware{Trusted: MustParse("198.51.100.0/24\n")}
	h := m.Wrap(m.Wrap(inner))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "198.51.100.1:1"
	r.Header.Set("CF-Connecting-IP", "203.0.113.5")
	r = r.WithContext(contextWith(r, key{}, "kept"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Body.String() != "203.0.113.5" {
		t.Errorf("nested: %q", w.Body.String())
	}
}

func TestMiddlewareAcceptPathAllocs(t *testing.T) {
	h := Middleware{Trusted: Cloudflare()}.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "[2606:4700::1]:443"
	r.Header.Set("CF-Connecting-IP", "2001:db8::1")
	w := httptest.NewRecorder()
	// One allocation holds the request copy and the context (the issue
	// allows two; the doc promises one).
	if n := testing.AllocsPerRun(200, func() { h.ServeHTTP(w, r) }); n > 1 {
		t.Errorf("accept path allocates %v times, want 1", n)
	}
}

// TestMiddlewareHTTP2Concurrent serves many concurrent HTTP/2 requests on
// one connection, where each handler runs on its own goroutine.
func TestMiddlewareHTTP2Concurrent(t *testing.T) {
	srv := httptest.NewUnstartedServer(Middleware{Trusted: MustParse("127.0.0.1\n")}.Wrap(echoClient))
	srv.EnableHTTP2 = true
	// Connections the client opens in parallel and then drops for the one
	// HTTP/2 connection end in handshake errors: expected, not logged.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	client := srv.Client()
	client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}
	client.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", srv.URL, nil)
			want := fmt.Sprintf("203.0.113.%d", i)
			req.Header.Set("CF-Connecting-IP", want)
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.ProtoMajor != 2 || !strings.HasPrefix(string(body), want+" 127.0.0.1 true") {
				t.Errorf("HTTP/%d %q, want client %s", resp.ProtoMajor, body, want)
			}
		}()
	}
	wg.Wait()
}

func FuzzClientFromHeader(f *testing.F) {
	f.Add("203.0.113.9", "192.0.2.1, 198.51.100.1", uint8(0))
	f.Add("::ffff:1.2.3.4", "bogus,198.51.100.1", uint8(1))
	f.Add("fe80::1%eth0", ",,", uint8(2))
	f.Add(" 2001:db8::1 ", "198.51.100.1 , 198.51.100.2", uint8(3))
	trusted := MustParse("198.51.100.0/24\n")
	peer := addr("198.51.100.200")
	f.Fuzz(func(t *testing.T, single, xff string, hops uint8) {
		hops %= 4
		for _, m := range []Middleware{
			{Trusted: trusted, Header: CFConnectingIP},
			{Trusted: trusted, Header: XForwardedFor},
			{Trusted: trusted, Header: XForwardedFor, TrustedProxyCount: int(hops)},
			{Trusted: trusted, Header: XForwardedFor, TrustedProxies: trusted},
		} {
			h := http.Header{"Cf-Connecting-Ip": {single}, "X-Forwarded-For": {xff, single}}
			ip, ok := m.clientFromHeader(h, peer)
			if !ok {
				if ip.IsValid() {
					t.Fatalf("not believed but returned %v", ip)
				}
				continue
			}
			if ip.Zone() != "" || ip.Is4In6() {
				t.Fatalf("non-canonical client %v", ip)
			}
			if m.Header != XForwardedFor {
				if a, err := netip.ParseAddr(strings.TrimSpace(single)); err != nil || a.Unmap() != ip {
					t.Fatalf("client %v is not the header's %q", ip, single)
				}
				continue
			}
			// The client is the entry written by the edge: the one just
			// left of the own proxies' entries, never one further left.
			entries := append(strings.Split(xff, ","), strings.Split(single, ",")...)
			var want int
			switch {
			case m.TrustedProxies != nil:
				writer := peer
				want = len(entries) - 1
				for m.TrustedProxies.Contains(writer) {
					writer = addr(strings.TrimSpace(entries[want]))
					want--
				}
			default:
				want = len(entries) - 1 - m.TrustedProxyCount
			}
			if a, err := netip.ParseAddr(strings.TrimSpace(entries[want])); err != nil || a.Unmap() != ip {
				t.Fatalf("client %v is not entry %d of %q (%+v)", ip, want, entries, m)
			}
		}
	})
}

func contextWith(r *http.Request, k, v any) context.Context {
	return context.WithValue(r.Context(), k, v)
}
