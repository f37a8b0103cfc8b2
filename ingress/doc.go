// Package ingress generates, and audits, what enforces the Cloudflare edge at
// the ingress layer, for the controllers people run in 2026: any Gateway API
// implementation, Envoy Gateway, ingress-nginx (and Traefik's NGINX
// provider, which reads its annotations), Traefik v3 and Kong, plus the
// controller's LoadBalancer Service.
//
// An origin behind Cloudflare needs four things, and every controller
// spells them differently:
//
//   - only the edge may connect;
//   - the real client address, believed only from the edge;
//   - Authenticated Origin Pulls: a client certificate from Cloudflare's CA
//     (or a per-zone CA) on every TLS connection;
//   - HTTPS only, with the origin certificate.
//
// The mistakes are in the semantics, not the syntax. Once a controller
// replaces the client address with a header's value, its address checks
// judge the visitor, not the peer: an allowlist of Cloudflare's ranges then
// blocks every visitor, or — with ingress-nginx's default
// proxy-real-ip-cidr of 0.0.0.0/0 — admits a direct client that sends
// "CF-Connecting-IP: 173.245.48.1". This package knows, for each field it
// emits, which of the two it checks, and puts "only the edge" where it
// checks the peer: in the controller when it does not rewrite the address,
// else on the Service (loadBalancerSourceRanges with externalTrafficPolicy:
// Local). A NetworkPolicy (package netpol) or the node firewall (package
// firewall) are the other layer-3/4 places.
//
// Remember that "from Cloudflare" is not "from my zone": any Cloudflare
// customer's Worker connects from the edge ranges. Only the client
// certificate of a per-zone CA tells your zone's traffic apart.
//
// It is not a controller and does not talk to the cluster: [Generate] is
// pure, [Render] writes YAML for `kubectl apply --server-side`, and applying
// is the caller's step.
//
// # Usage
//
//	s := ingress.Spec{
//		Controller:     ingress.IngressNGINX,
//		Name:           "shop",
//		Namespace:      "shop",
//		Hosts:          []string{"shop.example.com"},
//		Edge:           edge, // e.g. package allowlist's Cloudflare ranges
//		ClientIPHeader: ingress.DefaultClientIPHeader,
//		TLSSecret:      "shop-origin-cert",
//		OriginPullCA:   &ingress.CARef{Kind: ingress.CASecret, Name: "origin-pull-ca"},
//		Backend:        ingress.Backend{Name: "shop", Port: 8080},
//		ControllerService: &types.NamespacedName{Namespace: "ingress-nginx", Name: "ingress-nginx-controller"},
//	}
//	out, err := ingress.Generate(s) // Validate first: every problem, each naming its field
//	yaml, err := ingress.Render(out.Objects...)
//	// out.Settings: controller flags and environment; out.Caveats: what is left to other layers
//
// [Audit] and [AuditYAML] check existing objects for the same mistakes and
// name the object, the field and why it matters.
//
// # Controller by need
//
// For each need: the field that carries it, whether that field checks the
// peer (the TCP connection's source) or the visitor (an address taken from a
// header), and what [Generate] emits. "Header set" means Spec.ClientIPHeader
// is not empty.
//
//	controller / need    field                                              checks          emitted
//	-------------------  -------------------------------------------------  --------------  ------------------------------------------
//	Service
//	  edge only          spec.loadBalancerSourceRanges                      peer            the edge, when ControllerService is set
//	                     spec.externalTrafficPolicy                         (keeps peer)    Local: with Cluster a node may SNAT
//	Gateway API
//	  edge only          (none portable)                                    -               caveat; the Service
//	  client IP          (none portable)                                    -               caveat
//	  origin pulls       Gateway spec.tls.frontend.default.validation       certificate     caCertificateRefs (ConfigMap is Core),
//	                     (per port: HTTP/2 coalescing crosses hosts)                        mode AllowValidOnly
//	  HTTPS only         Listener tls.certificateRefs; HTTPRoute            -               HTTPS listener per host; app route bound
//	                     parentRefs[].sectionName                                           by sectionName; HTTP only redirects (301)
//	Envoy Gateway        (the Gateway API objects, without tls.frontend)
//	  edge only          SecurityPolicy authorization.rules[]               the detected    header unset only (it is then the peer)
//	                       .principal.clientCIDRs                           client
//	                     EnvoyProxy provider.kubernetes.envoyService        peer            loadBalancerSourceRanges, Local
//	  client IP          ClientTrafficPolicy clientIPDetection              -               xForwardedFor.trustedCIDRs = edge
//	                       xForwardedFor.trustedCIDRs                       peer, then XFF  (never customHeader or numTrustedHops,
//	                       customHeader, xForwardedFor.numTrustedHops       no peer check    which believe any peer)
//	  origin pulls       ClientTrafficPolicy tls.clientValidation           certificate     caCertificateRefs, mode RequireAndVerify
//	ingress-nginx
//	  edge only          annotation allowlist-source-range                  visitor once    header unset only (real IP off: peer)
//	                     (whitelist-source-range, deprecated)               real IP is on
//	  client IP          ConfigMap enable-real-ip, forwarded-for-header     -               true, the header
//	                     ConfigMap proxy-real-ip-cidr (default 0.0.0.0/0)   peer            the edge, never 0.0.0.0/0
//	                     ConfigMap use-forwarded-headers                    peer            false
//	  origin pulls       annotations auth-tls-secret,                       certificate     namespace/Secret (ca.crt), "on";
//	                     auth-tls-verify-client (per host: server block)                    applies to every Ingress of the host
//	  HTTPS only         spec.tls; annotation force-ssl-redirect            -               the TLS Secret; "true"
//	Traefik NGINX provider (same annotations, no ConfigMap)
//	  edge only          annotation allowlist-source-range                  peer (unless    the edge, always
//	                                                                        ipAllowListStrategy)
//	  client IP          entryPoints.*.forwardedHeaders.trustedIPs (flag)   peer            the edge
//	  origin pulls       auth-tls-secret, auth-tls-verify-client            certificate     as for ingress-nginx
//	Traefik v3
//	  edge only          Middleware ipAllowList.sourceRange                 peer (no        the edge, no ipStrategy
//	                     ipAllowList.ipStrategy                             ipStrategy)     (with it: X-Forwarded-For, the visitor)
//	  client IP          entryPoints.*.forwardedHeaders.trustedIPs (flag)   peer            the edge; the app reads the header
//	  origin pulls       TLSOption clientAuth (chosen by SNI)               certificate     secretNames, RequireAndVerifyClientCert
//	  HTTPS only         IngressRoute entryPoints, tls; web redirect flags  -               websecure only; web redirects to it
//	Kong (OSS)
//	  edge only          KongPlugin ip-restriction config.allow (an array)  peer while       header unset only
//	                                                                        trusted_ips
//	                                                                        is unset
//	  client IP          KONG_TRUSTED_IPS, KONG_REAL_IP_HEADER (env)        peer            the edge, the header
//	  origin pulls       (mtls-auth is Enterprise-only)                     -               not possible: caveat
//	  HTTPS only         annotations konghq.com/protocols,                  -               https, 301
//	                     konghq.com/https-redirect-status-code
//
// # Objects and proof
//
// Kinds outside client-go and Gateway API ([ClientTrafficPolicy],
// [SecurityPolicy], [EnvoyProxy], [Middleware], [TLSOption], [IngressRoute],
// [KongPlugin]) are minimal structs with the JSON names of the controllers'
// CRDs; the controllers' modules are not imported. The tests server-side
// apply every generated object with fieldValidation=Strict to a real
// kube-apiserver running the controllers' own CRDs (schemas and CEL rules),
// taken from their Go modules by hack/ingresscrd. Kong's modules are not on
// the Go module proxy, so KongPlugin is checked by golden files only. No
// controller runs in the tests (Envoy Gateway's translator is too slow to
// build in CI); for ingress-nginx a stand-in does: Debian's nginx runs the
// realip and allow directives ingress-nginx's template writes for the
// generated ConfigMap and annotations, in network namespaces, and shows with
// real packets that a forged CF-Connecting-IP is not believed and that the
// broken setup [AuditYAML] reports really lets it through.
package ingress
