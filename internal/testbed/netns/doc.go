// Package netns runs this module's firewall and TLS tests against real
// Linux network namespaces, real tools and real packets instead of fakes.
//
// It is for this module's tests only, needs root, and is Linux-only: every
// file but this one carries a linux build tag, and so must every test file
// that uses it. It imports only the standard library (and
// internal/testbed/testenv), so a test binary using it links no Kubernetes
// package; the kube-apiserver harness is package internal/testbed.
//
// [New] makes a namespace that is deleted when the test ends; [Link] joins
// two with a veth pair and documentation-range addresses;
// [Namespace.Run] and [Namespace.RunInput] run tools inside one
// (iptables-restore, nft -f -, ipset restore); [Namespace.Do] runs Go code
// inside one; [Namespace.ServeTCP], [Namespace.ServeUDP],
// [Namespace.ProbeTCP] and [Namespace.ProbeUDP] check reachability with
// short timeouts. Servers, probes and links accept only loopback and the
// documentation ranges 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and
// 2001:db8::/32, so no test can send traffic elsewhere.
//
//	func TestMain(m *testing.M) { netns.Main(m) }
//
//	func TestFilter(t *testing.T) {
//		testenv.Require(t, testenv.NeedNFT)
//		srv, peer := netns.New(t, "srv"), netns.New(t, "peer")
//		netns.Link(t, srv, []netip.Prefix{srvAddr}, peer, []netip.Prefix{peerAddr})
//		// load rules with srv.RunInput, probe with peer.ProbeTCP
//	}
//
// A test states the tools it needs with [testenv.Require]: by hand a
// missing one skips the test, under CI=true it fails it.
package netns
