// Package allowlist decides whether a peer is a trusted edge — by default one
// of Cloudflare's published ranges — and recovers the real client address
// behind it without believing headers from anyone else.
//
// It is the application layer of originguard: the part that runs inside your
// Go server or controller. It imports only the standard library and
// github.com/gaissmai/bart. It is not a firewall (see the firewall package for
// the node) and it does not prove that a request came through your zone (see
// Authenticated Origin Pulls in the origincert package): any Cloudflare
// customer's traffic comes from the same ranges.
//
// # Sets
//
// A [Set] is an immutable set of prefixes, built from []netip.Prefix with
// [SetFrom] or from text with [Parse]. Input is validated, masked,
// de-duplicated and aggregated; [Set.Contains] and [Set.Lookup] treat an
// IPv4-mapped IPv6 address as the IPv4 address it maps, for every set, and
// ignore zones. Sets compare with [Set.Equal], combine with [Set.Union], and
// report what changed with [Set.Diff]. A Set is a value, like netip.Prefix,
// whose data never changes: decoding into one ([Set.UnmarshalText]) makes
// it refer to a new Set and leaves every copy alone.
//
// # Cloudflare's ranges
//
// [Cloudflare] returns the ranges embedded in this package, taken from
// Cloudflare's published list at the date [Embedded] reports, so a program
// works offline with no set-up. A [Fetcher] reads the live list from the
// Cloudflare API; a [Guard] refuses a list that looks wrong (an empty
// family, a prefix broader than Cloudflare's broadest, a special-purpose
// range of the IANA registries, a total far above Cloudflare's, or too
// much growth or shrink, both measured cumulatively against the embedded
// list so that a list once let in cannot lock the real one out); a
// [Refresher] keeps a current Set up to date, swapping it atomically for
// lock-free readers and keeping the last good list when anything fails. Readers never touch the
// disk or the network; subscribers run on goroutines of their own, so a
// slow one delays no refresh. The Fetcher refuses redirects to another host
// and JSON whose keys repeat or differ only in case; a server's Retry-After
// is capped at the refresh interval.
//
// The Refresher's cache file ([Refresher.CachePath]) is untrusted input:
// keep it in a private directory. It is read only if it is a regular file
// owned by the process's user, not writable by group or others, small,
// written for the same API URL, not dated in the future, and accepted by
// the Guard against the embedded list; its etag is never taken on trust.
//
// # Serving
//
// [Middleware] rejects HTTP requests from peers outside the trusted set and,
// for trusted peers, recovers the client address from CF-Connecting-IP (or
// True-Client-IP, or X-Forwarded-For); a handler reads it with [ClientIP].
// It passes a copy of the request on and never modifies the caller's.
// [Listener] closes connections from untrusted peers before a byte is read,
// a cheap first gate in front of TLS; it must wrap the TCP listener itself,
// under any PROXY-protocol wrapper, never above one.
//
//	trusted := allowlist.Cloudflare()
//	handler := allowlist.Middleware{Trusted: trusted}.Wrap(app)
//	ln = allowlist.Listener{Listener: ln, Trusted: trusted}
//
// Both take a [Matcher], which a Set and a *Refresher satisfy, so a live
// refresher can be dropped in where a fixed set was.
//
// # Threats behind Cloudflare
//
// Being in Cloudflare's ranges proves that traffic came through Cloudflare,
// not that it came through your zone, nor that Cloudflare wrote its headers.
// Every Cloudflare customer, a Worker's subrequest included, reaches your
// origin from those ranges and chooses the X-Forwarded-For it sends; so the
// set of peers that may connect ([Middleware.Trusted]) is never used to
// skip X-Forwarded-For entries. Cloudflare appends exactly one entry, what
// it saw, so the client is the rightmost entry; your own proxies in front
// are named separately ([Middleware.TrustedProxies] or
// [Middleware.TrustedProxyCount]). True-Client-IP is set by Cloudflare only
// with its Enterprise True-Client-IP setting: without it, a visitor's own
// True-Client-IP passes through and anyone can choose it. To know that a
// request came through your zone, use Authenticated Origin Pulls.
package allowlist
