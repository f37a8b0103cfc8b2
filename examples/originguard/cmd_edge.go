package main

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/originguard/originguard/allowlist"
)

// edgeSamples are checked when no address is given: two edge addresses, an
// IPv4-mapped edge address, and two that are not Cloudflare's.
var edgeSamples = []string{"173.245.48.1", "2606:4700::6810:84e5", "::ffff:104.16.132.229", "192.0.2.1", "2001:db8::1"}

// edge shows the ranges originguard embeds, or with -fetch the live ones,
// and checks addresses against them, the way an origin judges its peers.
func (c *cli) edge(ctx context.Context, args []string) error {
	fs := c.flags("edge", "[-fetch] [-api url] [address ...]")
	fetch := fs.Bool("fetch", false, "ask the Cloudflare API for the live list first, and say what changed (the only network use)")
	api := fs.String("api", "", "Cloudflare API base URL (default $"+envAPI+", else "+allowlist.DefaultBaseURL+")")
	if err := parse(fs, args); err != nil {
		return err
	}
	addrs := fs.Args()
	if len(addrs) == 0 {
		addrs = edgeSamples
	}
	var probes []netip.Addr
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return fmt.Errorf("edge: %q is not an IP address", a)
		}
		probes = append(probes, ip)
	}
	r := &allowlist.Refresher{
		Fetcher: allowlist.NewFetcher(allowlist.WithBaseURL(c.baseURL(*api)), allowlist.WithTimeout(10*time.Second),
			allowlist.WithClock(c.clock)),
		Clock: c.clock,
	}
	w := c.stdout
	if *fetch {
		// The difference is computed here, not in a subscriber: subscribers
		// may run on goroutines of their own, after Refresh returns.
		if err := r.Refresh(ctx); err != nil {
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
