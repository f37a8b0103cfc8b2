// Package originguard is defence in depth for Kubernetes clusters that sit
// behind Cloudflare. "Allowlist Cloudflare's IP ranges" is one layer; an
// attacker who finds the origin can try every other one. Each layer has its
// own small package, usable alone; they meet only at [net/netip.Prefix] and
// standard Kubernetes types, and none of them imports another.
//
// This root package holds no code: it is the map.
//
// # Layers of defence
//
// From the packet up, with the package that builds each layer:
//
//   - Node firewall — package firewall: iptables-restore (IPv4 and IPv6),
//     ipset and nftables rule sets that let NodePorts answer only the edge
//     (every new flow judged before any DNAT — kube-proxy's, a hostPort's,
//     Docker's — where the original port is still visible), keep the ports
//     a node needs open, and never touch chains that kube-proxy, Calico or
//     Docker own; an optional applier checks, applies, verifies and rolls
//     back.
//   - Cluster network policy — package netpol: Kubernetes NetworkPolicies
//     (default deny, DNS, the ingress controller reachable only from the
//     edge, egress allowlists, cloud metadata blocked) and Calico
//     GlobalNetworkSets, host-endpoint GlobalNetworkPolicies (Felix's
//     failsafes plus the kubelet's 10250 it misses, so a host deny locks
//     nobody out), a pre-DNAT policy for NodePorts from the edge only, and
//     HostEndpoints, as typed objects or YAML for projectcalico.org/v3 and
//     crd.projectcalico.org/v1, with an optional server-side apply; and an
//     evaluator that explains, for these or the user's own policies, which
//     rule lets a flow pass or stops it, lints for lockouts, and maps what
//     the cluster exposes beyond the edge.
//   - Transport — package origincert: Cloudflare Origin CA certificates as
//     kubernetes.io/tls Secrets (with the Origin CA root as ca.crt), renewal
//     decisions and a crash-safe renewal flow, the zone's TLS posture, and
//     Authenticated Origin Pulls with a crash-safe rotation of their client
//     certificates, so a connection proves it came through Cloudflare and,
//     with a per-zone certificate, through your zone. Its subpackage
//     origincert/cloudflaretest is a fake Cloudflare API for testing
//     programs that use it.
//   - Ingress controller — package ingress: for Gateway API, Envoy Gateway,
//     ingress-nginx, Traefik and Kong, and the controller's Service, the
//     objects and settings that admit only the edge, believe the client
//     address only from it, require Cloudflare's client certificate and serve
//     HTTPS only — knowing for every field whether it checks the peer or the
//     visitor — and an audit of existing objects for the same mistakes.
//   - Application — package allowlist: Cloudflare's published ranges
//     (embedded, and refreshed live with sanity guards), fast matching on
//     github.com/gaissmai/bart, an HTTP middleware and a net.Listener that
//     admit only edge peers and recover the real client IP without trusting
//     spoofed headers.
//
// The programs under examples/ compose these packages; run them with go run:
// originguard renders every layer of the defence from one spec, audits and
// explains a cluster's exposure, and shows the embedded ranges (edge);
// nodefirewall renders (or applies) a node's firewall with Cloudflare's
// ranges as the edge; originserver is a Go origin with the allowlist
// Listener, Authenticated Origin Pulls and the allowlist Middleware in front
// of its handler.
package originguard
