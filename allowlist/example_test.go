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
	"time"

	"github.com/originguard/originguard/allowlist"
)

func ExampleSetFrom() {
	set, err := allowlist.SetFrom([]netip.Prefix{
		netip.MustParsePrefix("198.51.100.0/25"),
		netip.MustParsePrefix("198.51.100.128/25"), // merges with the half above
		netip.MustParsePrefix("198.51.100.7/32"),   // already covered
		netip.MustParsePrefix("2001:db8::1/32"),    // host bits cleared
	})
	if err != nil {
		panic(err)
	}
	fmt.Print(set)
	// Output:
	// 198.51.100.0/24
	// 2001:db8::/32
}

func ExampleSetFrom_invalid() {
	_, err := allowlist.SetFrom([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), {}})
	fmt.Println(err)
	// Output:
	// allowlist: prefix 1: "invalid Prefix" is not a valid prefix
}

func ExampleParse() {
	set, err := allowlist.Parse(`
		# office and VPN egress
		203.0.113.0/24
		2001:db8:1::/48   # IPv6 office
		198.51.100.9      # a single address
	`)
	if err != nil {
		panic(err)
	}
	fmt.Print(set)
	_, err = allowlist.Parse("203.0.113.0/24\n203.0.113.0/33\n")
	fmt.Println(err)
	// Output:
	// 198.51.100.9/32
	// 203.0.113.0/24
	// 2001:db8:1::/48
	// allowlist: line 2: netip.ParsePrefix("203.0.113.0/33"): prefix length out of range
}

func ExampleSet_Contains() {
	set := allowlist.MustParse("203.0.113.0/24\n2001:db8::/32\n")
	for _, s := range []string{"203.0.113.7", "::ffff:203.0.113.7", "fe80::1%eth0", "2001:db8::1%eth0", "192.0.2.1"} {
		fmt.Println(s, set.Contains(netip.MustParseAddr(s)))
	}
	// A mapped address is its IPv4 address, even for a set holding ::/0.
	fmt.Println(allowlist.MustParse("::/0").Contains(netip.MustParseAddr("::ffff:203.0.113.7")))
	// Output:
	// 203.0.113.7 true
	// ::ffff:203.0.113.7 true
	// fe80::1%eth0 false
	// 2001:db8::1%eth0 true
	// 192.0.2.1 false
	// false
}

func ExampleSet_Lookup() {
	set := allowlist.Cloudflare()
	p, ok := set.Lookup(netip.MustParseAddr("104.16.132.229"))
	fmt.Println(p, ok)
	// Output:
	// 104.16.0.0/13 true
}

func ExampleSet_Diff() {
	old := allowlist.MustParse("203.0.113.0/24\n198.51.100.0/24\n")
	next := allowlist.MustParse("203.0.113.0/25\n198.51.100.0/24\n192.0.2.0/24\n")
	fmt.Print(old.Diff(next))
	// Output:
	// +192.0.2.0/24
	// -203.0.113.128/25
}

func ExampleSet_Union() {
	a := allowlist.MustParse("192.0.2.0/25\n")
	b := allowlist.MustParse("192.0.2.128/25\n2001:db8::/32\n")
	u := a.Union(b)
	fmt.Print(u)
	fmt.Println(u.Len(), u.Len4(), u.Len6())
	// Output:
	// 192.0.2.0/24
	// 2001:db8::/32
	// 2 1 1
}

func ExampleSet_All() {
	for p := range allowlist.MustParse("2001:db8::/32\n198.51.100.0/24\n192.0.2.0/24\n").All() {
		fmt.Println(p)
	}
	// Output:
	// 192.0.2.0/24
	// 198.51.100.0/24
	// 2001:db8::/32
}

func ExampleCloudflare() {
	set := allowlist.Cloudflare()
	fmt.Println(set.Len4(), "IPv4 and", set.Len6(), "IPv6 prefixes")
	fmt.Println(set.Contains(netip.MustParseAddr("173.245.48.1")))
	fmt.Println(set.Contains(netip.MustParseAddr("2606:4700::6810:84e5")))
	fmt.Println(set.Contains(netip.MustParseAddr("192.0.2.1")))
	// Output:
	// 15 IPv4 and 7 IPv6 prefixes
	// true
	// true
	// false
}

func ExampleEmbedded() {
	r := allowlist.Embedded()
	fmt.Println(r.TakenAt.Format(time.DateOnly), len(r.IPv4), len(r.IPv6), r.IPv4[0])
	// Output:
	// 2026-09-29 15 7 173.245.48.0/20
}

// cloudflareAPI stands in for the Cloudflare API in examples.
func cloudflareAPI(etag string, v4, v6 []string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		v4json, _ := json.Marshal(v4)
		v6json, _ := json.Marshal(v6)
		fmt.Fprintf(w, `{"success":true,"errors":[],"messages":[],"result":{"etag":%q,"ipv4_cidrs":%s,"ipv6_cidrs":%s}}`,
			etag, v4json, v6json)
	}))
}

func ExampleFetcher_Fetch() {
	api := cloudflareAPI("e1", []string{"173.245.48.0/20"}, []string{"2400:cb00::/32"})
	defer api.Close()

	f := allowlist.NewFetcher(allowlist.WithBaseURL(api.URL), allowlist.WithTimeout(5*time.Second))
	r, err := f.Fetch(context.Background(), "")
	if err != nil {
		panic(err)
	}
	fmt.Println(r.ETag, r.IPv4, r.IPv6)

	_, err = f.Fetch(context.Background(), r.ETag)
	fmt.Println(errors.Is(err, allowlist.ErrNotModified))
	// Output:
	// e1 [173.245.48.0/20] [2400:cb00::/32]
	// true
}

func ExampleGuard_Check() {
	next := allowlist.MustParse("0.0.0.0/0\n10.0.0.0/8\n")
	err := allowlist.Guard{}.Check(next)
	fmt.Println(errors.Is(err, allowlist.ErrRejected))
	fmt.Println(err)
	// Output:
	// true
	// allowlist: list rejected: no IPv6 prefixes
	// 0.0.0.0/0 is broader than /13
	// 0.0.0.0/0 overlaps special-purpose range 0.0.0.0/8
	// IPv4 covers 4294967296 addresses, more than the ceiling of 2097152
	// IPv4 grows too much: 281586.0% more addresses than the reference (limit 25.0%)
	// IPv6 shrinks too much: 100.0% of the reference's addresses would go (limit 25.0%)
	// IPv6 shrinks too much: 7 of the reference's 7 prefixes would lose addresses (limit 25.0%)
}

// Cloudflare's list with 98 extra /8s (38% of IPv4) and 6to4 passes a
// guard that bounds only each prefix's breadth (here loosened to /8 and
// /16); totals and special-purpose ranges are bounded too.
func ExampleGuard_Check_totals() {
	list := allowlist.Cloudflare().String()
	for i := 1; i <= 104; i++ {
		if a := 2 * i; a != 10 && a != 100 && a != 104 && a != 172 && a != 192 && a != 198 {
			list += fmt.Sprintf("%d.0.0.0/8\n", a)
		}
	}
	list += "2002::/16\n" // 6to4 holds every IPv4 address
	err := allowlist.Guard{Broadest4: 8, Broadest6: 16}.Check(allowlist.MustParse(list))
	fmt.Println(err)
	// Output:
	// allowlist: list rejected: 2002::/16 overlaps special-purpose range 2002::/16
	// IPv4 covers 1645536256 addresses, more than the ceiling of 2097152
	// IPv4 grows too much: 107822.7% more addresses than the reference (limit 25.0%)
	// IPv6 covers 2^112.0 addresses, more than the ceiling of 2^100.0
	// IPv6 grows too much: 468114.3% more addresses than the reference (limit 25.0%)
}

func ExampleRefresher() {
	// The API now lists one more IPv4 range than the embedded snapshot.
	v4 := append(texts(allowlist.Embedded().IPv4), "198.41.0.0/24")
	api := cloudflareAPI("e2", v4, texts(allowlist.Embedded().IPv6))
	defer api.Close()

	r := &allowlist.Refresher{Fetcher: allowlist.NewFetcher(allowlist.WithBaseURL(api.URL))}
	done := make(chan struct{})
	r.Subscribe(func(c allowlist.Change) { fmt.Print("changed:\n", c.Diff); close(done) })

	probe := netip.MustParseAddr("198.41.0.1")
	fmt.Println(r.Contains(probe), r.Status().Source == allowlist.EmbeddedSource)
	if err := r.Refresh(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println(r.Contains(probe), r.Status().ETag)
	<-done // subscribers run on goroutines of their own
	// Output:
	// false true
	// true e2
	// changed:
	// +198.41.0.0/24
}

func texts(prefixes []netip.Prefix) []string {
	var out []string
	for _, p := range prefixes {
		out = append(out, p.String())
	}
	return out
}

func ExampleMiddleware_Wrap() {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello", allowlist.ClientIP(r))
	})
	h := allowlist.Middleware{Trusted: allowlist.Cloudflare()}.Wrap(app)

	for _, peer := range []string{"173.245.48.1:443", "198.51.100.66:443"} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = peer
		req.Header.Set("CF-Connecting-IP", "203.0.113.50")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		fmt.Print(w.Code, " ", w.Body.String())
	}
	// Output:
	// 200 hello 203.0.113.50
	// 403 Forbidden
}

func ExampleClientFrom() {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := allowlist.ClientFrom(r)
		fmt.Println(c.IP, c.Peer, c.FromHeader)
	})
	h := allowlist.Middleware{Trusted: allowlist.Cloudflare(), Header: allowlist.XForwardedFor}.Wrap(app)

	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "[2400:cb00::1]:443"
	// The client wrote the first entry itself; Cloudflare appended the real one.
	req.Header.Set("X-Forwarded-For", "192.0.2.1, 203.0.113.50")
	h.ServeHTTP(httptest.NewRecorder(), req)
	// Output:
	// 203.0.113.50 2400:cb00::1 true
}

func ExampleListener() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	// Only 127.0.0.2 is trusted: the dial from 127.0.0.1 below is refused.
	guarded := allowlist.Listener{Listener: ln, Trusted: allowlist.MustParse("127.0.0.2\n"),
		OnReject: func(peer net.Addr) { fmt.Println("rejected", peer.(*net.TCPAddr).IP) }}
	defer guarded.Close()
	go func() {
		c, err := guarded.Accept()
		if err == nil {
			c.Close()
		}
	}()

	// The connection is reset before a byte is read: the dial or the first
	// read fails, depending on timing.
	refused := true
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		_, err = c.Read(make([]byte, 1))
		refused = err != nil
		c.Close()
	}
	fmt.Println("refused:", refused)
	// Output:
	// rejected 127.0.0.1
	// refused: true
}
