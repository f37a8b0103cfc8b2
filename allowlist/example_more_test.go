package allowlist_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/originguard/originguard/allowlist"
)

func ExampleMustSetFrom() {
	set := allowlist.MustSetFrom(netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("::ffff:198.51.100.0/120"))
	fmt.Println(set.Prefixes())
	// Output:
	// [192.0.2.0/24 198.51.100.0/24]
}

func ExampleSet_Equal() {
	a := allowlist.MustParse("192.0.2.0/24\n")
	b := allowlist.MustParse("192.0.2.0/25\n192.0.2.128/25\n")
	fmt.Println(a.Equal(b))
	// Output:
	// true
}

// A Set decodes from and encodes to text, so it can sit in a JSON or YAML
// configuration as one string.
func ExampleSet_MarshalText() {
	var config struct {
		Admins allowlist.Set `json:"admins"`
	}
	if err := json.Unmarshal([]byte(`{"admins": "203.0.113.0/24\n2001:db8::/32\n"}`), &config); err != nil {
		panic(err)
	}
	fmt.Println(config.Admins.Contains(netip.MustParseAddr("203.0.113.9")))
	out, _ := json.Marshal(config)
	fmt.Println(string(out))
	// Output:
	// true
	// {"admins":"203.0.113.0/24\n2001:db8::/32\n"}
}

// Decoding into a field that defaulted to Cloudflare() replaces the field's
// Set; the embedded one, shared by the whole process, stays as it was.
func ExampleSet_UnmarshalText() {
	config := struct {
		Trusted allowlist.Set `json:"trusted"`
	}{Trusted: allowlist.Cloudflare()}
	if err := json.Unmarshal([]byte(`{"trusted": "203.0.113.0/24\n"}`), &config); err != nil {
		panic(err)
	}
	fmt.Println(config.Trusted.Len(), allowlist.Cloudflare().Len())
	// Output:
	// 1 22
}

func ExampleRanges_Set() {
	r := allowlist.Ranges{
		IPv4:    []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")},
		JDCloud: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")},
	}
	set, err := r.Set()
	if err != nil {
		panic(err)
	}
	fmt.Print(set)
	// Output:
	// 198.51.100.0/24
	// 203.0.113.0/24
}

func ExampleFetcher_URL() {
	fmt.Println(allowlist.NewFetcher().URL())
	fmt.Println(allowlist.NewFetcher(allowlist.WithJDCloud()).URL())
	// Output:
	// https://api.cloudflare.com/client/v4/ips
	// https://api.cloudflare.com/client/v4/ips?networks=jdcloud
}

func ExampleAPIError() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"success":false,"errors":[{"code":971,"message":"Please wait and consider throttling your request speed"}],"messages":[],"result":null}`)
	}))
	defer api.Close()

	_, err := allowlist.NewFetcher(allowlist.WithBaseURL(api.URL)).Fetch(context.Background(), "")
	var apiErr *allowlist.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.RetryAfter, apiErr.Errors[0].Code)
	}
	// Output:
	// 429 1m0s 971
}

func ExampleRefresher_Force() {
	// The API now lists only two IPv4 ranges: a shrink the Guard refuses.
	api := cloudflareAPI("small", []string{"173.245.48.0/20", "104.16.0.0/13"}, texts(allowlist.Embedded().IPv6))
	defer api.Close()
	r := &allowlist.Refresher{Fetcher: allowlist.NewFetcher(allowlist.WithBaseURL(api.URL))}

	err := r.Refresh(context.Background())
	fmt.Println(errors.Is(err, allowlist.ErrShrink), r.Set().Len4())
	// An operator has checked the new list and forces it.
	err = r.Force(context.Background())
	fmt.Println(err, r.Set().Len4())
	// Output:
	// true 15
	// <nil> 2
}

func ExampleRefresher_Run() {
	v4 := append(texts(allowlist.Embedded().IPv4), "198.41.0.0/24")
	api := cloudflareAPI("e1", v4, texts(allowlist.Embedded().IPv6))
	defer api.Close()
	dir, _ := os.MkdirTemp("", "allowlist")
	defer os.RemoveAll(dir)

	r := &allowlist.Refresher{
		Fetcher:   allowlist.NewFetcher(allowlist.WithBaseURL(api.URL)),
		Interval:  time.Hour,
		CachePath: filepath.Join(dir, "cloudflare.json"), // survives restarts
	}
	ctx, cancel := context.WithCancel(context.Background())
	// Here the first change ends the run; a server would run it for its
	// lifetime (go r.Run(ctx)) and give r, a Matcher, to Middleware and
	// Listener.
	r.Subscribe(func(c allowlist.Change) {
		fmt.Print("changed:\n", c.Diff)
		cancel()
	})
	err := r.Run(ctx) // a stop through ctx is not a failure
	fmt.Println(err, r.Status().ETag, r.Status().Failures)
	// Output:
	// changed:
	// +198.41.0.0/24
	// <nil> e1 0
}

func ExampleRefresher_Ranges() {
	r := &allowlist.Refresher{}
	fmt.Println(r.Ranges().Source)
	// Output:
	// embedded: https://www.cloudflare.com/ips-v4 and https://www.cloudflare.com/ips-v6
}

func ExampleClientIP() {
	h := allowlist.Middleware{Trusted: allowlist.Cloudflare()}.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("client", allowlist.ClientIP(r))
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "[::ffff:173.245.48.1]:443" // an edge peer, as a dual-stack listener reports it
	req.Header.Set("CF-Connecting-IP", "2001:db8::42")
	h.ServeHTTP(httptest.NewRecorder(), req)
	// Output:
	// client 2001:db8::42
}

func ExampleNewFetcher() {
	f := allowlist.NewFetcher(
		allowlist.WithHTTPClient(&http.Client{Transport: http.DefaultTransport}),
		allowlist.WithBaseURL("https://api.cloudflare.com/client/v4/"),
		allowlist.WithTimeout(10*time.Second),
		allowlist.WithMaxBodySize(64<<10),
		allowlist.WithJDCloud(),
		allowlist.WithClock(time.Now),
	)
	fmt.Println(f.URL())
	// Output:
	// https://api.cloudflare.com/client/v4/ips?networks=jdcloud
}

// A health check that fails when the list in use has not been confirmed
// for a week.
func ExampleRefresher_Status() {
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	r := &allowlist.Refresher{Clock: func() time.Time { return now }}
	healthz := func() error {
		st := r.Status()
		if st.Age > 7*24*time.Hour {
			return fmt.Errorf("edge list is %d days old (last error: %v)", int(st.Age.Hours()/24), st.LastError)
		}
		return nil
	}
	fmt.Println(healthz())
	// Output:
	// edge list is 54 days old (last error: <nil>)
}

func ExampleRefresher_Subscribe() {
	v4 := texts(allowlist.Embedded().IPv4)[1:] // one range gone
	api := cloudflareAPI("e5", v4, texts(allowlist.Embedded().IPv6))
	defer api.Close()
	r := &allowlist.Refresher{Fetcher: allowlist.NewFetcher(allowlist.WithBaseURL(api.URL))}
	done := make(chan struct{})
	cancel := r.Subscribe(func(c allowlist.Change) {
		// e.g. re-render a firewall or NetworkPolicy from c.New; this runs
		// on a goroutine of its own, so a slow subscriber holds up no one.
		fmt.Printf("%d prefixes now; removed %v\n", c.New.Len(), c.Diff.Removed)
		close(done)
	})
	defer cancel()
	if err := r.Refresh(context.Background()); err != nil {
		fmt.Println(err)
	}
	<-done
	// Output:
	// 21 prefixes now; removed [173.245.48.0/20]
}

func ExampleMiddleware_Validate() {
	m := allowlist.Middleware{Trusted: allowlist.Cloudflare(), Header: "X Real IP", TrustedProxyCount: -1}
	fmt.Println(m.Validate())
	// Output:
	// allowlist: invalid Middleware: header name "X Real IP" is not an HTTP token
	// TrustedProxyCount -1 is negative
	// TrustedProxies and TrustedProxyCount apply to X-Forwarded-For, not to "X Real IP"
}

// Your own ingress (10.0.0.9) and load balancer (10.0.0.5) stand between
// Cloudflare and the server, and each appends to X-Forwarded-For.
func ExampleMiddleware_trustedProxies() {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(allowlist.ClientIP(r))
	})
	own := allowlist.MustParse("10.0.0.0/24\n")
	for _, m := range []allowlist.Middleware{
		{Trusted: own, Header: allowlist.XForwardedFor, TrustedProxies: own},
		{Trusted: own, Header: allowlist.XForwardedFor, TrustedProxyCount: 2},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = "10.0.0.9:8080"
		// Forged by the client, written by Cloudflare, by the load balancer
		// (the edge it saw), by the ingress (the load balancer).
		req.Header.Set("X-Forwarded-For", "192.0.2.1, 203.0.113.50, 173.245.48.1, 10.0.0.5")
		m.Wrap(app).ServeHTTP(httptest.NewRecorder(), req)
	}
	// Output:
	// 203.0.113.50
	// 203.0.113.50
}

// A Worker, or any other Cloudflare customer, reaches the origin from
// Cloudflare's ranges with an X-Forwarded-For of its choosing: only the
// entry Cloudflare appended is believed.
func ExampleXForwardedFor_worker() {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(allowlist.ClientIP(r))
	})
	h := allowlist.Middleware{Trusted: allowlist.Cloudflare(), Header: allowlist.XForwardedFor}.Wrap(app)
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "[2606:4700::1]:443"
	req.Header.Set("X-Forwarded-For", "173.245.48.7, 2a06:98c0:3600::103")
	h.ServeHTTP(httptest.NewRecorder(), req)
	// Output:
	// 2a06:98c0:3600::103
}

// proxyConn stands for a connection of a PROXY-protocol wrapper whose
// client never sends the header: its RemoteAddr reads until the header
// comes or the connection is closed.
type proxyConn struct{ net.Conn }

func (c proxyConn) RemoteAddr() net.Addr {
	c.Conn.Read(make([]byte, 1))
	return nil
}

// oneConnListener hands out one connection, then a plain one from
// 127.0.0.2, then blocks.
type oneConnListener struct {
	net.Listener
	conns chan net.Conn
}

func (l oneConnListener) Accept() (net.Conn, error) { return <-l.conns, nil }

// Above a PROXY-protocol wrapper (a misuse: the Listener belongs directly
// on the TCP listener), a connection whose remote address never arrives is
// rejected after PeerTimeout instead of holding up Accept for everyone.
func ExampleListener_peerTimeout() {
	c1, _ := net.Pipe()
	c2, _ := net.Pipe()
	conns := make(chan net.Conn, 2)
	conns <- proxyConn{c1}
	conns <- tcpAddrConn{c2, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 1}}
	ln := allowlist.Listener{
		Listener:    oneConnListener{conns: conns},
		Trusted:     allowlist.MustParse("127.0.0.2\n"),
		PeerTimeout: 10 * time.Millisecond,
		OnReject:    func(peer net.Addr) { fmt.Println("rejected", peer) },
	}
	c, _ := ln.Accept()
	fmt.Println("accepted", c.RemoteAddr())
	// Output:
	// rejected <nil>
	// accepted 127.0.0.2:1
}

// tcpAddrConn is a connection from a fixed TCP address.
type tcpAddrConn struct {
	net.Conn
	addr *net.TCPAddr
}

func (c tcpAddrConn) RemoteAddr() net.Addr { return c.addr }
