// Command edgecheck shows the Cloudflare ranges that originguard embeds and
// checks addresses against them, the way an origin would judge its peers.
//
//	go run ./examples/edgecheck                        # embedded list, a few sample addresses
//	go run ./examples/edgecheck 104.16.0.1 192.0.2.7   # your addresses
//	go run ./examples/edgecheck -fetch                 # refresh from the Cloudflare API first
//
// With -fetch it asks the API for the live list, judges it with the
// allowlist Guard, and reports what changed against the embedded snapshot;
// if the API cannot be reached it says so and keeps the embedded list.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/originguard/originguard/allowlist"
)

// samples are checked when no address is given: two edge addresses, an
// IPv4-mapped edge address, and two that are not Cloudflare's.
var samples = []string{"173.245.48.1", "2606:4700::6810:84e5", "::ffff:104.16.132.229", "192.0.2.1", "2001:db8::1"}

func main() {
	fetch := flag.Bool("fetch", false, "refresh the list from the Cloudflare API before checking")
	baseURL := flag.String("api", allowlist.DefaultBaseURL, "Cloudflare API base URL (with -fetch)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: edgecheck [-fetch] [address ...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(os.Stdout, *fetch, *baseURL, flag.Args(), time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "edgecheck:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, fetch bool, baseURL string, args []string, now time.Time) error {
	clock := func() time.Time { return now }
	addrs := args
	if len(addrs) == 0 {
		addrs = samples
	}
	var probes []netip.Addr
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return err
		}
		probes = append(probes, ip)
	}

	r := &allowlist.Refresher{
		Fetcher: allowlist.NewFetcher(allowlist.WithBaseURL(baseURL), allowlist.WithTimeout(10*time.Second),
			allowlist.WithClock(clock)),
		Clock: clock,
	}
	if fetch {
		if err := r.Refresh(context.Background()); err != nil {
			fmt.Fprintf(w, "Refresh failed, keeping the embedded list: %v\n\n", err)
		} else if d := allowlist.Cloudflare().Diff(r.Set()); !d.IsEmpty() {
			fmt.Fprintf(w, "The live list differs from the embedded one:\n%s\n", d)
		}
	}

	st, set := r.Status(), r.Set()
	fmt.Fprintf(w, "Cloudflare edge ranges: %d IPv4, %d IPv6\n", set.Len4(), set.Len6())
	fmt.Fprintf(w, "source: %s\ntaken:  %s (%d days old)\n\n", st.Source, st.TakenAt.Format(time.DateOnly), int(st.Age.Hours()/24))
	for p := range set.All() {
		fmt.Fprintf(w, "  %s\n", p)
	}
	fmt.Fprintln(w)
	for _, ip := range probes {
		if p, ok := set.Lookup(ip); ok {
			fmt.Fprintf(w, "%-24s edge (%s)\n", ip, p)
		} else {
			fmt.Fprintf(w, "%-24s not an edge address\n", ip)
		}
	}
	return nil
}
