package allowlist_test

// The spoofing corpus: the ideas of the client-address test tables of
// realclientip-go (v1.0.0, realclientip_test.go), echo (ip_test.go),
// gin (context_test.go, TestContextClientIP) and chi (middleware/realip_test.go),
// and cases of our own, expressed in this package's terms. Each case states
// what must happen and why. The rule behind every expectation: behind a
// trusted edge, the client is what the edge wrote, or the peer itself when
// the header cannot be believed; never an address the client chose.

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/originguard/originguard/allowlist"
)

// outcome runs one request and says what the handler saw: "reject",
// "peer" (the client is the peer: no header believed), or the client
// address read from the header.
func outcome(m allowlist.Middleware, remote string, h http.Header) string {
	got := "reject"
	handler := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := allowlist.ClientFrom(r)
		switch {
		case !ok:
			got = "no client"
		case !c.FromHeader && c.IP == c.Peer:
			got = "peer"
		case !c.FromHeader:
			got = fmt.Sprintf("bad: %v not from header, peer %v", c.IP, c.Peer)
		default:
			got = c.IP.String()
		}
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = remote
	r.Header = h
	handler.ServeHTTP(httptest.NewRecorder(), r)
	return got
}

type spoofCase struct {
	name   string
	remote string // Request.RemoteAddr
	header http.Header
	want   string // "reject", "peer" or the client address
	why    string
}

const (
	edge4  = "104.16.0.1:443"      // inside 104.16.0.0/13
	edge6  = "[2606:4700::1]:443"  // inside 2606:4700::/32
	worker = "2a06:98c0:3600::103" // a Worker subrequest's client address, inside 2a06:98c0::/29
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h[kv[i]] = append(h[kv[i]], kv[i+1])
	}
	return h
}

func runCorpus(t *testing.T, m allowlist.Middleware, cases []spoofCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := outcome(m, tc.remote, tc.header); got != tc.want {
				t.Errorf("RemoteAddr %q, header %q: got %s, want %s (%s)", tc.remote, tc.header, got, tc.want, tc.why)
			}
		})
	}
}

// singleAddressCases apply to every header that carries one address
// written (or overwritten) by the edge: CF-Connecting-IP, True-Client-IP
// (when the zone asks Cloudflare for it), X-Real-IP (behind a proxy that
// overwrites it).
func singleAddressCases(name string) []spoofCase {
	one := func(v string) http.Header { return hdr(name, v) }
	return []spoofCase{
		{"v4", edge4, one("203.0.113.7"), "203.0.113.7", "the edge's word"},
		{"v6", edge6, one("2001:db8::7"), "2001:db8::7", "the edge's word"},
		{"missing", edge4, hdr(), "peer", "nothing to believe"},
		{"other header only", edge4, hdr("X-Forwarded-For", "203.0.113.7", "Forwarded", "for=203.0.113.7"), "peer", "only the configured header counts"},
		{"repeated, same", edge4, hdr(name, "203.0.113.7", name, "203.0.113.7"), "peer", "a second line was added by someone other than the edge"},
		{"repeated, different", edge4, hdr(name, "192.0.2.66", name, "203.0.113.7"), "peer", "which one would be true?"},
		{"empty", edge4, one(""), "peer", "no address"},
		{"blank", edge4, one(" \t "), "peer", "no address"},
		{"spaces and tabs", edge4, one(" \t203.0.113.7\t "), "203.0.113.7", "optional whitespace around a value is not part of it"},
		{"inner space", edge4, one("203.0.113. 7"), "peer", "not an address"},
		{"v4 with port", edge4, one("203.0.113.7:80"), "peer", "the edge writes no port: someone else wrote this"},
		{"v6 with port", edge4, one("[2001:db8::1]:443"), "peer", "the edge writes no port"},
		{"v6 bracketed", edge4, one("[2001:db8::1]"), "peer", "the edge writes no brackets"},
		{"zone", edge6, one("fe80::1%eth0"), "peer", "a zone names an interface of another host"},
		{"zone on a global address", edge6, one("2001:db8::1%25eth0"), "peer", "no zone is believed"},
		{"mapped v4", edge6, one("::ffff:203.0.113.7"), "203.0.113.7", "a mapped address is the IPv4 address it maps"},
		{"mapped v4 in hex", edge6, one("::ffff:cb00:7107"), "203.0.113.7", "the same address, spelt in hex"},
		{"NAT64", edge6, one("64:ff9b::203.0.113.7"), "64:ff9b::cb00:7107", "an IPv6 address of its own (a NAT64 client), not unmapped"},
		{"6to4", edge6, one("2002:cb00:7107::1"), "2002:cb00:7107::1", "an IPv6 address of its own"},
		{"IPv4-compatible", edge6, one("::203.0.113.7"), "::cb00:7107", "deprecated, and not the IPv4 address: never turned into one"},
		{"leading zeros", edge4, one("010.0.0.1"), "peer", "ambiguous: octal for some parsers, decimal for others"},
		{"hex v4", edge4, one("0x7f.0.0.1"), "peer", "not the dotted-decimal form"},
		{"octal v4", edge4, one("0177.0.0.1"), "peer", "not the dotted-decimal form"},
		{"integer v4", edge4, one("2130706433"), "peer", "not the dotted-decimal form"},
		{"short v4", edge4, one("127.1"), "peer", "not the dotted-decimal form"},
		{"list", edge4, one("192.0.2.66, 203.0.113.7"), "peer", "one address expected"},
		{"quoted", edge4, one(`"203.0.113.7"`), "peer", "not an address"},
		{"quoted list", edge4, one(`"192.0.2.66, 203.0.113.7"`), "peer", "commas inside quotes are not a list"},
		{"RFC 7239 syntax", edge4, one("for=203.0.113.7"), "peer", "not an address"},
		{"unknown", edge4, one("unknown"), "peer", "not an address"},
		{"fullwidth digits", edge4, one("２０３.0.113.7"), "peer", "non-ASCII digits are not digits"},
		{"no-break space", edge4, one("203.0.113.7\u00a0"), "peer", "only spaces and tabs are optional whitespace"},
		{"next line", edge4, one("\u0085203.0.113.7"), "peer", "only spaces and tabs are optional whitespace"},
		{"trailing NUL", edge4, one("203.0.113.7\x00"), "peer", "not an address"},
		{"unspecified v4", edge4, one("0.0.0.0"), "peer", "no client connects from the unspecified address"},
		{"unspecified v6", edge6, one("::"), "peer", "no client connects from the unspecified address"},
		{"mapped unspecified", edge6, one("::ffff:0.0.0.0"), "peer", "no client connects from the unspecified address"},
		{"multicast v4", edge4, one("224.0.0.1"), "peer", "a multicast address is never a source"},
		{"multicast v6", edge6, one("ff02::1"), "peer", "a multicast address is never a source"},
		{"loopback", edge4, one("127.0.0.1"), "127.0.0.1", "a loopback client of the edge is the edge's word; never confused with the peer"},
		{"pseudo IPv4", edge4, one("240.16.0.1"), "240.16.0.1", "Cloudflare's Pseudo IPv4 (overwrite headers) writes class E addresses: the edge's word"},
		{"private", edge4, one("10.0.0.1"), "10.0.0.1", "the edge's word (a private network behind the edge)"},
		{"the peer itself", edge4, one("104.16.0.1"), "104.16.0.1", "the edge may name itself (a subrequest): still its word"},
		{"a Worker", edge4, one(worker), worker, "a Worker's subrequest: Cloudflare names the Worker, not the visitor behind it"},
		{"untrusted peer", "203.0.113.9:1", one("104.16.0.1"), "reject", "the peer decides admission, never a header"},
		{"untrusted peer naming the edge", "192.0.2.1:1", one(worker), "reject", "the peer decides admission"},
		{"mapped peer", "[::ffff:104.16.0.1]:443", one("203.0.113.7"), "203.0.113.7", "a dual-stack socket's mapped peer is its IPv4 address"},
		{"zoned peer", "[2606:4700::1%eth0]:443", one("203.0.113.7"), "203.0.113.7", "the zone of a peer is ignored"},
		{"peer without port", "104.16.0.1", one("203.0.113.7"), "reject", "not a RemoteAddr net/http writes"},
		{"RemoteAddr rewritten from a header", "2a06:98c0:3600::103", one("203.0.113.7"), "reject",
			"an outer middleware (chi's RealIP) put a header's address, without a port, in RemoteAddr"},
		{"empty RemoteAddr", "", one("203.0.113.7"), "reject", "no peer"},
		{"unix socket", "@", one("203.0.113.7"), "reject", "no IP peer"},
		{"unspecified peer", "0.0.0.0:1", one("203.0.113.7"), "reject", "not trusted"},
	}
}

func TestSpoofCorpusCFConnectingIP(t *testing.T) {
	for _, name := range []allowlist.Header{"", allowlist.CFConnectingIP, "cf-connecting-ip", "CF-CONNECTING-IP"} {
		t.Run(string(name), func(t *testing.T) {
			runCorpus(t, allowlist.Middleware{Trusted: allowlist.Cloudflare(), Header: name}, singleAddressCases("Cf-Connecting-Ip"))
		})
	}
}

// TestSpoofCorpusTrueClientIPAgainstCFConnectingIP: Cloudflare writes
// True-Client-IP with exactly CF-Connecting-IP's value ("there is no
// difference between the True-Client-IP and CF-Connecting-IP headers
// besides the name", Cloudflare's HTTP request headers reference). When the
// zone has not asked for it, a visitor's or a Worker's own True-Client-IP
// passes through while CF-Connecting-IP is Cloudflare's: a disagreement
// says the header was forged, and neither is believed.
func TestSpoofCorpusTrueClientIPAgainstCFConnectingIP(t *testing.T) {
	runCorpus(t, allowlist.Middleware{Trusted: allowlist.Cloudflare(), Header: allowlist.TrueClientIP}, []spoofCase{
		{"agree", edge4, hdr("True-Client-Ip", "203.0.113.7", "Cf-Connecting-Ip", "203.0.113.7"), "203.0.113.7", "Cloudflare wrote both"},
		{"agree, spelt differently", edge6, hdr("True-Client-Ip", "::ffff:203.0.113.7", "Cf-Connecting-Ip", "203.0.113.7"), "203.0.113.7", "the same address"},
		{"visitor forges True-Client-IP", edge4, hdr("True-Client-Ip", "192.0.2.66", "Cf-Connecting-Ip", "203.0.113.7"), "peer", "Cloudflare did not write it"},
		{"Worker forges True-Client-IP", edge6, hdr("True-Client-Ip", "10.0.0.1", "Cf-Connecting-Ip", worker), "peer", "Cloudflare did not write it"},
		{"CF-Connecting-IP repeated", edge4, hdr("True-Client-Ip", "203.0.113.7", "Cf-Connecting-Ip", "203.0.113.7", "Cf-Connecting-Ip", "192.0.2.66"), "peer", "nothing to check against"},
		{"CF-Connecting-IP malformed", edge4, hdr("True-Client-Ip", "203.0.113.7", "Cf-Connecting-Ip", "bogus"), "peer", "nothing to check against"},
		{"no CF-Connecting-IP (another edge, Akamai)", edge4, hdr("True-Client-Ip", "203.0.113.7"), "203.0.113.7", "no Cloudflare header to disagree with"},
	})
}

func TestSpoofCorpusTrueClientIP(t *testing.T) {
	// Believed only when the zone has Cloudflare add it ("Add True-Client-IP
	// header" Managed Transform, formerly an Enterprise setting),
	// which overwrites the header (see TrueClientIP's doc).
	runCorpus(t, allowlist.Middleware{Trusted: allowlist.Cloudflare(), Header: "true-client-ip"}, singleAddressCases("True-Client-Ip"))
}

func TestSpoofCorpusXRealIP(t *testing.T) {
	// Behind a proxy that overwrites X-Real-IP (nginx's
	// proxy_set_header X-Real-IP $remote_addr), at 104.16.0.1 here only so
	// that the shared cases apply. Behind Cloudflare itself X-Real-IP must
	// never be read: a Worker's subrequest sets it at will (Header's doc).
	runCorpus(t, allowlist.Middleware{Trusted: allowlist.MustParse("104.16.0.0/13\n2606:4700::/32\n"), Header: "x-real-ip"}, singleAddressCases("X-Real-Ip"))
}

// TestSpoofCorpusPeerOnly: no header of any spelling is believed.
func TestSpoofCorpusPeerOnly(t *testing.T) {
	forged := hdr("Cf-Connecting-Ip", "192.0.2.66", "True-Client-Ip", "192.0.2.66", "X-Forwarded-For", "192.0.2.66",
		"X-Real-Ip", "192.0.2.66", "Forwarded", "for=192.0.2.66", "-", "192.0.2.66")
	runCorpus(t, allowlist.Middleware{Trusted: allowlist.Cloudflare(), Header: allowlist.PeerOnly}, []spoofCase{
		{"every header forged", edge4, forged, "peer", "PeerOnly believes no header"},
		{"a Worker forging every header", edge6, forged, "peer", "PeerOnly believes no header"},
		{"mapped peer", "[::ffff:104.16.0.1]:1", forged, "peer", "the peer, unmapped"},
		{"untrusted", "192.0.2.66:1", forged, "reject", "the peer decides"},
	})
}

// TestSpoofCorpusXForwardedFor: behind Cloudflare alone, the client is the
// entry Cloudflare appended, the rightmost, whatever it is; everything left
// of it was written by the client (or a Worker) and is never returned.
func TestSpoofCorpusXForwardedFor(t *testing.T) {
	xff := func(lines ...string) http.Header { return http.Header{"X-Forwarded-For": lines} }
	long := strings.Repeat("192.0.2.66, ", 10000) + "203.0.113.7"
	cases := []spoofCase{
		{"one entry", edge4, xff("203.0.113.7"), "203.0.113.7", "the entry Cloudflare appended"},
		{"visitor's own entries", edge4, xff("192.0.2.66, 10.0.0.1, 203.0.113.7"), "203.0.113.7", "rightmost"},
		{"Worker hides behind documentation", edge6, xff("192.0.2.66, " + worker), worker, "rightmost; the Worker is the client"},
		{"Worker forges Cloudflare", edge6, xff("173.245.48.7, 104.16.0.1, " + worker), worker, "Cloudflare addresses in the chain are not skipped"},
		{"Worker forges the peer", edge4, xff("104.16.0.1, " + worker), worker, "the peer in the chain is not skipped"},
		{"the peer itself rightmost", edge4, xff("192.0.2.66, 104.16.0.1"), "104.16.0.1", "Cloudflare's entry, even if it names itself"},
		{"repeated lines", edge4, xff("192.0.2.66", "10.0.0.1, 203.0.113.7"), "203.0.113.7", "lines are one list, in order"},
		{"repeated lines, last empty", edge4, xff("203.0.113.7", ""), "peer", "the entry to read is empty"},
		{"repeated lines, last bad", edge4, xff("203.0.113.7", "bogus"), "peer", "the entry to read is bad"},
		{"missing", edge4, xff(), "peer", "no entry"},
		{"empty", edge4, xff(""), "peer", "no entry"},
		{"trailing comma", edge4, xff("203.0.113.7,"), "peer", "the rightmost entry is empty"},
		{"empty entry left", edge4, xff(",,203.0.113.7"), "203.0.113.7", "entries left of the edge's are never read"},
		{"spaces and tabs", edge4, xff("192.0.2.66 ,\t 203.0.113.7 \t"), "203.0.113.7", "optional whitespace"},
		{"garbage left", edge4, xff("!!!, <script>, 203.0.113.7"), "203.0.113.7", "never read"},
		{"rightmost with port", edge4, xff("203.0.113.7:80"), "peer", "the edge writes no port"},
		{"rightmost v6 with port", edge4, xff("[2001:db8::1]:443"), "peer", "the edge writes no port"},
		{"rightmost zone", edge6, xff("fe80::1%eth0"), "peer", "no zone"},
		{"rightmost mapped", edge6, xff("::ffff:203.0.113.7"), "203.0.113.7", "unmapped"},
		{"rightmost leading zeros", edge4, xff("010.0.0.1"), "peer", "ambiguous"},
		{"rightmost hex", edge4, xff("0x7f000001"), "peer", "not dotted decimal"},
		{"rightmost unspecified", edge4, xff("0.0.0.0"), "peer", "no client connects from it"},
		{"rightmost multicast", edge6, xff("ff05::2"), "peer", "never a source"},
		{"rightmost loopback", edge4, xff("127.0.0.1"), "127.0.0.1", "the edge's word"},
		{"comma in quotes", edge4, xff(`"192.0.2.66, 203.0.113.7"`), "peer", "quotes are not XFF syntax: the rightmost entry is `203.0.113.7\"`"},
		{"RFC 7239 in XFF", edge4, xff("for=203.0.113.7"), "peer", "not an address"},
		{"Forwarded only", edge4, hdr("Forwarded", "for=203.0.113.7"), "peer", "Forwarded is not read"},
		{"fullwidth", edge4, xff("192.0.2.66, ２０３.0.113.7"), "peer", "non-ASCII"},
		{"very long chain", edge4, xff(long), "203.0.113.7", "rightmost, and only it is parsed"},
		{"very long chain of lines", edge4, xff(append(make([]string, 5000), "203.0.113.7")...), "203.0.113.7", "rightmost line"},
		{"untrusted peer", "203.0.113.9:1", xff("104.16.0.1"), "reject", "the peer decides"},
		{"mapped peer", "[::ffff:104.16.0.1]:443", xff("203.0.113.7"), "203.0.113.7", "unmapped peer"},
	}
	for _, name := range []allowlist.Header{allowlist.XForwardedFor, "x-forwarded-for", "X-FORWARDED-FOR"} {
		t.Run(string(name), func(t *testing.T) {
			runCorpus(t, allowlist.Middleware{Trusted: allowlist.Cloudflare(), Header: name}, cases)
		})
	}
}

// TestSpoofCorpusXForwardedForOwnProxies: Cloudflare, then a load balancer
// (10.0.0.5), then an ingress (10.0.0.9, the peer), each appending what it
// saw. The client is the entry Cloudflare wrote, two left of the rightmost.
func TestSpoofCorpusXForwardedForOwnProxies(t *testing.T) {
	own := allowlist.MustParse("10.0.0.0/24\n")
	xff := func(lines ...string) http.Header { return http.Header{"X-Forwarded-For": lines} }
	const peer = "10.0.0.9:80"
	common := []spoofCase{
		{"through Cloudflare", peer, xff("192.0.2.66, 203.0.113.7, 104.16.0.1, 10.0.0.5"), "203.0.113.7", "Cloudflare's entry"},
		{"through a Worker", peer, xff("192.0.2.66, " + worker + ", 104.16.0.1, 10.0.0.5"), worker, "Cloudflare's entry names the Worker"},
		{"one line per hop", peer, xff("192.0.2.66", "203.0.113.7", "104.16.0.1", "10.0.0.5"), "203.0.113.7", "lines are one list"},
		{"chain too short", peer, xff("104.16.0.1, 10.0.0.5"), "peer", "nothing left of the edge"},
		{"empty entry to read", peer, xff(", 104.16.0.1, 10.0.0.5"), "peer", "bad entry"},
		{"bad skipped entry", peer, xff("203.0.113.7, bogus, 10.0.0.5"), "peer", "cannot tell who wrote what"},
		{"port in skipped entry", peer, xff("203.0.113.7, 104.16.0.1:443, 10.0.0.5"), "peer", "cannot tell who wrote what"},
		{"mapped entry", peer, xff("::ffff:203.0.113.7, 104.16.0.1, 10.0.0.5"), "203.0.113.7", "unmapped"},
		{"untrusted peer", "104.16.0.1:1", xff("192.0.2.66, 203.0.113.7, 104.16.0.1, 10.0.0.5"), "reject", "only the ingress may connect"},
	}
	t.Run("count", func(t *testing.T) {
		runCorpus(t, allowlist.Middleware{Trusted: own, Header: allowlist.XForwardedFor, TrustedProxyCount: 2}, common)
	})
	t.Run("set", func(t *testing.T) {
		runCorpus(t, allowlist.Middleware{Trusted: own, Header: allowlist.XForwardedFor, TrustedProxies: own}, append(common,
			spoofCase{"client claims an own proxy", peer, xff("10.0.0.7, 104.16.0.1, 10.0.0.5"), "10.0.0.7", "Cloudflare wrote it: the walk stops at the edge, not at the first own address"},
			spoofCase{"all own", peer, xff("10.0.0.1, 10.0.0.5"), "peer", "no edge found"},
			// Design limit (Middleware's doc, "What it cannot see"): the
			// Middleware judges its own peer only. A client that reaches
			// the load balancer directly (198.18.0.9) is recorded as the
			// edge, and the entry it wrote left of that is returned. Your
			// proxies must admit only the edge.
			spoofCase{"design limit: the load balancer reached directly", peer, xff("192.0.2.66, 198.18.0.9, 10.0.0.5"), "192.0.2.66",
				"the own proxies are believed to admit only the edge"},
		))
	})
}

// TestSpoofCorpusWorkerNeverChoosesTheClient: a Worker (or any Cloudflare
// customer) forges every header at once; the client is only ever what
// Cloudflare wrote (here, the Worker's own address) or the peer.
func TestSpoofCorpusWorkerNeverChoosesTheClient(t *testing.T) {
	forged := []string{"192.0.2.66", "127.0.0.1", "10.0.0.1", "104.16.0.1", "2606:4700::1", "::1", "173.245.48.7"}
	for _, f := range forged {
		for _, peer := range []string{edge4, edge6, "[2a06:98c0:3600::103]:443"} {
			h := hdr("True-Client-Ip", f, "X-Real-Ip", f, "Forwarded", "for="+f,
				"X-Forwarded-For", f+", "+f, "X-Forwarded-For", f+", "+worker, "Cf-Connecting-Ip", worker)
			for _, m := range []allowlist.Middleware{
				{Trusted: allowlist.Cloudflare()},
				{Trusted: allowlist.Cloudflare(), Header: allowlist.XForwardedFor},
				{Trusted: allowlist.Cloudflare(), Header: allowlist.PeerOnly},
			} {
				got := outcome(m, peer, h)
				if got != worker && got != "peer" {
					t.Errorf("header %q, peer %s, forged %s: client %s", m.Header, peer, f, got)
				}
			}
		}
	}
}

// TestListenerDualStack: a real dual-stack listener on [::]:0 sees a
// connection from 127.0.0.1 as ::ffff:127.0.0.1; the Listener judges the
// IPv4 address, whichever way the set spells it.
func TestListenerDualStack(t *testing.T) {
	for _, tc := range []struct {
		trusted string
		admit   bool
	}{
		{"127.0.0.1\n", true},
		{"::ffff:127.0.0.1\n", true},
		{"::ffff:127.0.0.0/104\n", true},
		{"::ffff:0:0/96\n", true}, // 0.0.0.0/0: every IPv4 address
		{"::1\n", false},
		{"::/0\n", false},
		{"::/1\n", false},
		{"127.0.0.2\n", false},
	} {
		inner, err := net.Listen("tcp", "[::]:0")
		if err != nil {
			t.Skipf("no dual-stack socket: %v", err)
		}
		rejected := make(chan net.Addr, 1)
		accepted := make(chan net.Addr, 1)
		ln := allowlist.Listener{Listener: inner, Trusted: allowlist.MustParse(tc.trusted),
			OnReject: func(a net.Addr) { rejected <- a }}
		go func() {
			if c, err := ln.Accept(); err == nil {
				accepted <- c.RemoteAddr()
				c.Close()
			}
		}()
		// A rejected connection may be reset before Dial returns.
		c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", inner.Addr().(*net.TCPAddr).Port), 2*time.Second)
		if err == nil {
			defer c.Close()
		}
		select {
		case a := <-accepted:
			if !tc.admit {
				t.Errorf("Trusted %q admitted %v", tc.trusted, a)
			}
			if ap := netip.MustParseAddrPort(a.String()); ap.Addr().Unmap() != netip.MustParseAddr("127.0.0.1") {
				t.Errorf("remote %v", a)
			}
		case a := <-rejected:
			if tc.admit {
				t.Errorf("Trusted %q rejected %v", tc.trusted, a)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Trusted %q: neither accepted nor rejected", tc.trusted)
		}
		inner.Close()
	}
}

// everything is a Matcher that contains every address: "trust all proxies",
// as gin's default does.
type everything struct{}

func (everything) Contains(netip.Addr) bool { return true }

// TestTrustedProxiesMustNotHoldTheEdge: a user coming from gin
// (SetTrustedProxies with Cloudflare's list) or realclientip-go (rightmost
// trusted range) puts Cloudflare's ranges in TrustedProxies. Then every
// Worker's entry, and every Cloudflare address a Worker forges, is skipped
// as an own proxy's, and the client is whatever the Worker wrote further
// left. Validate refuses it, so Wrap panics at start-up.
func TestTrustedProxiesMustNotHoldTheEdge(t *testing.T) {
	xff := http.Header{"X-Forwarded-For": {"198.51.100.9, 192.0.2.1, " + worker}}
	for name, tp := range map[string]allowlist.Matcher{
		"Cloudflare()":          allowlist.Cloudflare(),
		"a Refresher":           &allowlist.Refresher{},
		"own plus one edge /24": allowlist.MustParse("10.0.0.0/8\n104.16.5.0/24\n"),
		"the Workers' /48":      allowlist.MustParse("2a06:98c0:3600::/48\n"),
		"every address":         everything{},
	} {
		m := allowlist.Middleware{Trusted: allowlist.Cloudflare(), Header: allowlist.XForwardedFor, TrustedProxies: tp}
		if err := m.Validate(); err == nil {
			t.Errorf("%s: Validate accepts it; the client would be %s", name, outcome(m, edge6, xff))
		}
	}
	ok := allowlist.Middleware{Trusted: allowlist.MustParse("10.0.0.0/8\n"), Header: allowlist.XForwardedFor,
		TrustedProxies: allowlist.MustParse("10.0.0.0/8\n192.0.2.0/24\n")}
	if err := ok.Validate(); err != nil {
		t.Errorf("own proxies only: %v", err)
	}
}

// TestTrustedProxyCountWithEdgePeers: TrustedProxyCount counts your own
// proxies after the edge; a user who counts Cloudflare itself as "one
// proxy" (Trusted: Cloudflare(), TrustedProxyCount: 1) makes the walk skip
// Cloudflare's entry and return the one left of it, which the client
// wrote. A peer that may be the edge itself and a count of proxies after
// the edge cannot both hold, so Validate refuses the pair.
func TestTrustedProxyCountWithEdgePeers(t *testing.T) {
	xff := http.Header{"X-Forwarded-For": {"192.0.2.66, 203.0.113.7"}}
	for name, trusted := range map[string]allowlist.Matcher{
		"Cloudflare()":          allowlist.Cloudflare(),
		"a Refresher":           &allowlist.Refresher{},
		"own plus Cloudflare's": allowlist.MustParse("10.0.0.0/8\n").Union(allowlist.Cloudflare()),
	} {
		m := allowlist.Middleware{Trusted: trusted, Header: allowlist.XForwardedFor, TrustedProxyCount: 1}
		if err := m.Validate(); err == nil {
			t.Errorf("%s: Validate accepts it; the client would be %s", name, outcome(m, edge4, xff))
		}
	}
	// Trusted holding the edge with TrustedProxies is sound: an edge peer
	// is not an own proxy, so its entry is the client.
	m := allowlist.Middleware{Trusted: allowlist.MustParse("10.0.0.0/8\n").Union(allowlist.Cloudflare()),
		Header: allowlist.XForwardedFor, TrustedProxies: allowlist.MustParse("10.0.0.0/8\n")}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := outcome(m, edge4, xff); got != "203.0.113.7" {
		t.Errorf("edge peer with TrustedProxies: %s", got)
	}
}
