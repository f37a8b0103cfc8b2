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
// de-duplicated and aggregated; [Set.Contains] treats IPv4-mapped IPv6
// addresses as IPv4 and ignores zones. Sets compare with [Set.Equal], combine
// with [Set.Union], and report what changed with [Set.Diff].
//
// # Cloudflare's ranges
//
// [Cloudflare] returns the ranges embedded in this package, taken from
// Cloudflare's published list at the date [Embedded] reports, so a program
// works offline with no set-up. A [Fetcher] reads the live list from the
// Cloudflare API; a [Guard] refuses a list that looks wrong (an empty
// family, a /0, a private range, a sudden shrink); a [Refresher] keeps a
// current Set up to date, swapping it atomically for lock-free readers and
// keeping the last good list when anything fails.
//
// # Serving
//
// [Middleware] rejects HTTP requests from peers outside the trusted set and,
// for trusted peers, recovers the client address from CF-Connecting-IP (or
// True-Client-IP, or X-Forwarded-For by the rightmost-untrusted rule); a
// handler reads it with [ClientIP]. [Listener] closes connections from
// untrusted peers before a byte is read, a cheap first gate in front of TLS.
//
//	trusted := allowlist.Cloudflare()
//	handler := allowlist.Middleware{Trusted: trusted}.Wrap(app)
//	ln = allowlist.Listener{Listener: ln, Trusted: trusted}
//
// Both take a [Matcher], which a *Set and a *Refresher satisfy, so a live
// refresher can be dropped in where a fixed set was.
package allowlist
