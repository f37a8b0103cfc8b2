// Package testbed runs the real components this library's output is meant
// for, so tests check it against them instead of against fakes: a
// kube-apiserver (with etcd) for Kubernetes objects, and Linux network
// namespaces for firewall rules and TLS peers.
//
// It is for this module's tests only. It is Linux-only and most of it needs
// root; it is not a general test framework (see controller-runtime's envtest
// for that).
//
// # Prerequisites
//
// `bash hack/provision.sh` installs the firewall tools from Debian and builds
// kube-apiserver and etcd from the Go module proxy (pinned by hack/kube), into
// a cache outside the repository. A test states what it needs with [Require]:
// run by hand without it, the test skips with one line saying how to
// provision; under CI=true it fails, so CI never passes by skipping.
//
// # Kubernetes
//
// One etcd and one kube-apiserver per test binary, on loopback with random
// ports, a throw-away CA, an admin client identity (group system:masters) and
// RBAC on. [APIServer] starts them on first use and returns a *rest.Config;
// [Main] tears them down. [Namespace] gives each test its own namespace;
// [InstallCRDs] applies CustomResourceDefinitions and waits until they are
// Established.
//
//	func TestMain(m *testing.M) { testbed.Main(m) }
//
//	func TestPolicy(t *testing.T) {
//		cfg := testbed.APIServer(t)
//		ns := testbed.Namespace(t, cfg)
//		// apply objects in ns with a client built from cfg
//	}
//
// # Network namespaces
//
// [NewNetns] makes a namespace that is deleted when the test ends; [Link]
// joins two with a veth pair and documentation-range addresses;
// [Netns.Run] and [Netns.RunInput] run tools inside one (iptables-restore,
// nft -f -, ipset restore); [Netns.Do] runs Go code inside one;
// [Netns.ServeTCP], [Netns.ServeUDP], [Netns.ProbeTCP] and [Netns.ProbeUDP]
// check reachability with short timeouts. Servers, probes and links accept
// only loopback and the documentation ranges 192.0.2.0/24, 198.51.100.0/24,
// 203.0.113.0/24 and 2001:db8::/32, so no test can send traffic elsewhere.
package testbed
