// Package bench compares package allowlist with what a user would use
// instead, in the same run. It is a module of its own so that importing the
// library never drags in a competitor.
//
// It holds no library code: everything is in its tests.
//
// # Lookups
//
// BenchmarkContains looks addresses up in an [allowlist.Set], in raw bart
// tables (Lite, Fast and Table), in a go4.org/netipx IPSet, by a linear scan
// of a []netip.Prefix and in a github.com/yl2chen/cidranger trie, on three
// data sets: Cloudflare's published ranges, 10k random prefixes and 1M
// prefixes shaped like a BGP table. Every structure holds the same prefixes
// (the Set's, after aggregation), so the figures compare lookups, not data.
//
// # Middleware
//
// BenchmarkAccept measures the accept path of [allowlist.Middleware]
// against a bare handler, against the common hand-rolled way (parse
// RemoteAddr, scan a []*net.IPNet, split X-Forwarded-For, store the client
// in the context) and against github.com/realclientip/realclientip-go
// v1.0.0's extraction (its SingleIPHeaderStrategy for CF-Connecting-IP,
// admission by the same Set, the client stored in the context as its
// README does).
//
// # Building
//
// BenchmarkBuild builds a Set of 1M BGP-shaped prefixes with SetFrom
// against inserting the same raw prefixes into a bart.Fast.
//
// # Targets
//
// TestContainsTarget, TestAcceptTarget and TestBuildTarget check the
// targets as ratios measured in the same run, best of several interleaved
// rounds, so that they hold on a noisy machine: Set.Contains within 1.1x
// of the fastest raw bart table with no allocation; the middleware's
// accept path at most two allocations over the bare handler (it takes
// one) and faster than both the hand-rolled way and realclientip; building
// 1M prefixes within 2x the time and 1.5x the memory of bart.Fast.
//
// Run the comparison with
//
//	go test -run='^$' -bench=. -count=6 | tee /tmp/bench.txt
//	benchstat -col /impl /tmp/bench.txt
//
// [allowlist.Set]: https://pkg.go.dev/github.com/originguard/originguard/allowlist#Set
// [allowlist.Middleware]: https://pkg.go.dev/github.com/originguard/originguard/allowlist#Middleware
package bench
