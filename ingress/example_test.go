package ingress_test

import (
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/originguard/originguard/allowlist"
	"github.com/originguard/originguard/ingress"
	"github.com/originguard/originguard/origincert"
)

// cloudflareSpec is the Spec the examples share: the hosts of one shop,
// Cloudflare's edge from package allowlist's embedded snapshot, the visitor's
// address from CF-Connecting-IP, Authenticated Origin Pulls with
// Cloudflare's CA, and the Origin CA certificate's Secret.
func cloudflareSpec(controller ingress.Controller) ingress.Spec {
	r := allowlist.Embedded()
	return ingress.Spec{
		Controller:     controller,
		Name:           "shop",
		Namespace:      "shop",
		Hosts:          []string{"shop.example.com"},
		Edge:           slices.Concat(r.IPv4, r.IPv6),
		ClientIPHeader: ingress.DefaultClientIPHeader,
		TLSSecret:      "shop-origin-ca-cert",
		// A Secret (or ConfigMap) whose ca.crt is Cloudflare's origin-pull
		// CA, for example made by package origincert.
		OriginPullCA:      &ingress.CARef{Kind: ingress.CASecret, Name: "cloudflare-origin-pull-ca"},
		Backend:           ingress.Backend{Name: "shop", Port: 8080},
		ControllerService: &types.NamespacedName{Namespace: "ingress", Name: "controller"},
	}
}

// show prints the YAML of a generator's output, then its settings and
// caveats.
func show(out *ingress.Output) {
	data, err := ingress.Render(out.Objects...)
	if err != nil {
		log.Fatal(err)
	}
	os.Stdout.Write(data)
	for _, s := range out.Settings {
		fmt.Printf("# %s %s\n", s.Kind, s)
	}
	for _, c := range out.Caveats {
		fmt.Printf("# caveat (%s): %s\n", c.Need, c.Message)
	}
}

// Ingress-nginx with real IP from CF-Connecting-IP believed only from the
// edge: the allowlist annotation would then judge the visitor, so the edge is
// enforced on the controller's Service instead.
func ExampleGenerate_ingressNGINX() {
	s := cloudflareSpec(ingress.IngressNGINX)
	s.Edge = s.Edge[:2] // keep the example short; use them all
	out, err := ingress.Generate(s)
	if err != nil {
		log.Fatal(err)
	}
	show(out)
	// Output:
	// ---
	// apiVersion: v1
	// data:
	//   enable-real-ip: "true"
	//   forwarded-for-header: CF-Connecting-IP
	//   proxy-real-ip-cidr: 103.21.244.0/22,173.245.48.0/20
	//   use-forwarded-headers: "false"
	// kind: ConfigMap
	// metadata:
	//   name: ingress-nginx-controller
	//   namespace: ingress-nginx
	// ---
	// apiVersion: networking.k8s.io/v1
	// kind: Ingress
	// metadata:
	//   annotations:
	//     nginx.ingress.kubernetes.io/auth-tls-secret: shop/cloudflare-origin-pull-ca
	//     nginx.ingress.kubernetes.io/auth-tls-verify-client: "on"
	//     nginx.ingress.kubernetes.io/force-ssl-redirect: "true"
	//   labels:
	//     app.kubernetes.io/managed-by: originguard
	//   name: shop
	//   namespace: shop
	// spec:
	//   ingressClassName: nginx
	//   rules:
	//   - host: shop.example.com
	//     http:
	//       paths:
	//       - backend:
	//           service:
	//             name: shop
	//             port:
	//               number: 8080
	//         path: /
	//         pathType: Prefix
	//   tls:
	//   - hosts:
	//     - shop.example.com
	//     secretName: shop-origin-ca-cert
	// ---
	// apiVersion: v1
	// kind: Service
	// metadata:
	//   name: controller
	//   namespace: ingress
	// spec:
	//   externalTrafficPolicy: Local
	//   loadBalancerSourceRanges:
	//   - 103.21.244.0/22
	//   - 173.245.48.0/20
	//   type: LoadBalancer
	// # caveat (edge-only): real IP is on, so nginx.ingress.kubernetes.io/allowlist-source-range would judge the visitor, not the peer: it is not emitted, and only the edge may connect must be enforced at layer 3/4 (the controller Service's loadBalancerSourceRanges, a NetworkPolicy, the node firewall)
	// # caveat (origin-pull): auth-tls-* applies to the host's whole server block: every other Ingress for these hosts shares it, and a host served without the annotation is served without client certificates
}

// Without a client-address header ingress-nginx leaves $remote_addr alone,
// and the allowlist annotation admits only the edge: a peer check.
func ExampleGenerate_ingressNGINXPeer() {
	s := cloudflareSpec(ingress.IngressNGINX)
	s.Edge = s.Edge[:2]
	s.ClientIPHeader = ""
	s.ControllerService = nil
	out, err := ingress.Generate(s)
	if err != nil {
		log.Fatal(err)
	}
	show(out)
	// Output:
	// ---
	// apiVersion: v1
	// data:
	//   enable-real-ip: "false"
	//   use-forwarded-headers: "false"
	// kind: ConfigMap
	// metadata:
	//   name: ingress-nginx-controller
	//   namespace: ingress-nginx
	// ---
	// apiVersion: networking.k8s.io/v1
	// kind: Ingress
	// metadata:
	//   annotations:
	//     nginx.ingress.kubernetes.io/allowlist-source-range: 103.21.244.0/22,173.245.48.0/20
	//     nginx.ingress.kubernetes.io/auth-tls-secret: shop/cloudflare-origin-pull-ca
	//     nginx.ingress.kubernetes.io/auth-tls-verify-client: "on"
	//     nginx.ingress.kubernetes.io/force-ssl-redirect: "true"
	//   labels:
	//     app.kubernetes.io/managed-by: originguard
	//   name: shop
	//   namespace: shop
	// spec:
	//   ingressClassName: nginx
	//   rules:
	//   - host: shop.example.com
	//     http:
	//       paths:
	//       - backend:
	//           service:
	//             name: shop
	//             port:
	//               number: 8080
	//         path: /
	//         pathType: Prefix
	//   tls:
	//   - hosts:
	//     - shop.example.com
	//     secretName: shop-origin-ca-cert
	// # caveat (origin-pull): auth-tls-* applies to the host's whole server block: every other Ingress for these hosts shares it, and a host served without the annotation is served without client certificates
	// # caveat (edge-only): no ControllerService: set loadBalancerSourceRanges to the edge and externalTrafficPolicy: Local on the controller's Service yourself, or enforce the edge with a NetworkPolicy or the node firewall
}

// Traefik's NGINX provider reads the same annotations, but checks the
// allowlist against the peer: the edge stays on the Ingress even with a
// client-address header, and the header is left for the backend.
func ExampleGenerate_traefikNGINX() {
	s := cloudflareSpec(ingress.TraefikNGINX)
	s.Edge = s.Edge[:2]
	s.ControllerService = nil
	s.SourceRangeLimit = ingress.AWSSourceRangeLimit / 2 // ports 80 and 443
	out, err := ingress.Generate(s)
	if err != nil {
		log.Fatal(err)
	}
	show(out)
	// Output:
	// ---
	// apiVersion: networking.k8s.io/v1
	// kind: Ingress
	// metadata:
	//   annotations:
	//     nginx.ingress.kubernetes.io/allowlist-source-range: 103.21.244.0/22,173.245.48.0/20
	//     nginx.ingress.kubernetes.io/auth-tls-secret: shop/cloudflare-origin-pull-ca
	//     nginx.ingress.kubernetes.io/auth-tls-verify-client: "on"
	//     nginx.ingress.kubernetes.io/force-ssl-redirect: "true"
	//   labels:
	//     app.kubernetes.io/managed-by: originguard
	//   name: shop
	//   namespace: shop
	// spec:
	//   ingressClassName: traefik
	//   rules:
	//   - host: shop.example.com
	//     http:
	//       paths:
	//       - backend:
	//           service:
	//             name: shop
	//             port:
	//               number: 8080
	//         path: /
	//         pathType: Prefix
	//   tls:
	//   - hosts:
	//     - shop.example.com
	//     secretName: shop-origin-ca-cert
	// # flag --entryPoints.web.forwardedHeaders.trustedIPs=103.21.244.0/22,173.245.48.0/20
	// # flag --entryPoints.websecure.forwardedHeaders.trustedIPs=103.21.244.0/22,173.245.48.0/20
	// # caveat (edge-only): Traefik's NGINX provider checks nginx.ingress.kubernetes.io/allowlist-source-range against the peer only while --providers.kubernetesIngressNGINX.ipAllowListStrategy is unset: leave it unset
	// # caveat (client-ip): Traefik does not rewrite the client address: it passes CF-Connecting-IP to the backend, which may believe it because the allowlist admits only the edge
	// # caveat (edge-only): no ControllerService: set loadBalancerSourceRanges to the edge and externalTrafficPolicy: Local on the controller's Service yourself, or enforce the edge with a NetworkPolicy or the node firewall
}

// A Gateway API implementation: client certificates per port through
// tls.frontend (GEP-91), HTTPS listeners only for the application, a
// redirect on HTTP.
func ExampleGenerate_gatewayAPI() {
	s := cloudflareSpec(ingress.GatewayAPI)
	s.Edge = s.Edge[:2]
	s.ClassName = "example"
	s.OriginPullCA.Kind = ingress.CAConfigMap // Core support: ConfigMap with ca.crt
	out, err := ingress.Generate(s)
	if err != nil {
		log.Fatal(err)
	}
	show(out)
	// Output:
	// ---
	// apiVersion: gateway.networking.k8s.io/v1
	// kind: Gateway
	// metadata:
	//   labels:
	//     app.kubernetes.io/managed-by: originguard
	//   name: shop
	//   namespace: shop
	// spec:
	//   gatewayClassName: example
	//   listeners:
	//   - name: http
	//     port: 80
	//     protocol: HTTP
	//   - hostname: shop.example.com
	//     name: https-0
	//     port: 443
	//     protocol: HTTPS
	//     tls:
	//       certificateRefs:
	//       - group: ""
	//         kind: Secret
	//         name: shop-origin-ca-cert
	//       mode: Terminate
	//   tls:
	//     frontend:
	//       default:
	//         validation:
	//           caCertificateRefs:
	//           - group: ""
	//             kind: ConfigMap
	//             name: cloudflare-origin-pull-ca
	//           mode: AllowValidOnly
	// ---
	// apiVersion: gateway.networking.k8s.io/v1
	// kind: HTTPRoute
	// metadata:
	//   labels:
	//     app.kubernetes.io/managed-by: originguard
	//   name: shop-https-redirect
	//   namespace: shop
	// spec:
	//   hostnames:
	//   - shop.example.com
	//   parentRefs:
	//   - name: shop
	//     sectionName: http
	//   rules:
	//   - filters:
	//     - requestRedirect:
	//         scheme: https
	//         statusCode: 301
	//       type: RequestRedirect
	// ---
	// apiVersion: gateway.networking.k8s.io/v1
	// kind: HTTPRoute
	// metadata:
	//   labels:
	//     app.kubernetes.io/managed-by: originguard
	//   name: shop
	//   namespace: shop
	// spec:
	//   hostnames:
	//   - shop.example.com
	//   parentRefs:
	//   - name: shop
	//     sectionName: https-0
	//   rules:
	//   - backendRefs:
	//     - name: shop
	//       port: 8080
	// ---
	// apiVersion: v1
	// kind: Service
	// metadata:
	//   name: controller
	//   namespace: ingress
	// spec:
	//   externalTrafficPolicy: Local
	//   loadBalancerSourceRanges:
	//   - 103.21.244.0/22
	//   - 173.245.48.0/20
	//   type: LoadBalancer
	// # caveat (edge-only): Gateway API has no portable address allowlist: only the edge may connect is enforced by the controller Service's loadBalancerSourceRanges (or a NetworkPolicy, or the node firewall)
	// # caveat (client-ip): Gateway API has no portable client-address detection: configure the implementation's own (Envoy Gateway: Controller EnvoyGateway), trusting only the edge
}

// Envoy Gateway: the client address from X-Forwarded-For believed only from
// the edge, client certificates in ClientTrafficPolicy, and the edge on the
// Service through EnvoyProxy.
func ExampleGenerate_envoyGateway() {
	s := cloudflareSpec(ingress.EnvoyGateway)
	s.Edge = s.Edge[:2]
	out, err := ingress.Generate(s)
	if err != nil {
		log.Fatal(err)
	}
	show(out)
	// Output:
	// ---
	// apiVersion: gateway.envoyproxy.io/v1alpha1
	// kind: EnvoyProxy
	// metadata:
	//   labels:
	//     app.kubernetes.io/managed-by: originguard
	//   name: shop
	//   namespace: shop
	// spec:
	//   provider:
	//     kubernetes:
	//       envoyService:
	//         externalTrafficPolicy: Local
	//         loadBalancerSourceRanges:
	//         - 103.21.244.0/22
	//         - 173.245.48.0/20
	//     type: Kubernetes
	// ---
	// apiVersion: gateway.networking.k8s.io/v1
	// kind: Gateway
	// metadata:
	//   labels:
	//     app.kubernetes.io/managed-by: originguard
	//   name: shop
	//   namespace: shop
	// spec:
	//   gatewayClassName: eg
	//   infrastructure:
	//     parametersRef:
	//       group: gateway.envoyproxy.io
	//       kind: EnvoyProxy
	//       name: shop
	//   listeners:
	//   - name: http
	//     port: 80
	//     protocol: HTTP
	//   - hostname: shop.example.com
	//     name: https-0
	//     port: 443
	//     protocol: HTTPS
	//     tls:
	//       certificateRefs:
	//       - group: ""
	//         kind: Secret
	//         name: shop-origin-ca-cert
	//       mode: Terminate
	// ---
	// apiVersion: gateway.networking.k8s.io/v1
	// kind: HTTPRoute
	// metadata:
	//   labels:
	//     app.kubernetes.io/managed-by: originguard
	//   name: shop-https-redirect
	//   namespace: shop
	// spec:
	//   hostnames:
	//   - shop.example.com
	//   parentRefs:
	//   - name: shop
	//     sectionName: http
	//   rules:
	//   - filters:
	//     - requestRedirect:
	//         scheme: https
	//         statusCode: 301
	//       type: RequestRedirect
	// ---
	// apiVersion: gateway.networking.k8s.io/v1
	// kind: HTTPRoute
	// metadata:
	//   labels:
	//     app.kubernetes.io/managed-by: originguard
	//   name: shop
	//   namespace: shop
	// spec:
	//   hostnames:
	//   - shop.example.com
	//   parentRefs:
	//   - name: shop
	//     sectionName: https-0
	//   rules:
	//   - backendRefs:
	//     - name: shop
	//       port: 8080
	// ---
	// apiVersion: gateway.envoyproxy.io/v1alpha1
	// kind: ClientTrafficPolicy
	// metadata:
	//   labels:
	//     app.kubernetes.io/managed-by: originguard
	//   name: shop
	//   namespace: shop
	// spec:
	//   clientIPDetection:
	//     xForwardedFor:
	//       trustedCIDRs:
	//       - 103.21.244.0/22
	//       - 173.245.48.0/20
	//   targetRefs:
	//   - group: gateway.networking.k8s.io
	//     kind: Gateway
	//     name: shop
	//   tls:
	//     clientValidation:
	//       caCertificateRefs:
	//       - group: ""
	//         kind: Secret
	//         name: cloudflare-origin-pull-ca
	//       mode: RequireAndVerify
	// # caveat (client-ip): Envoy Gateway takes the client address from X-Forwarded-For (to which Cloudflare appends the visitor), believed only from the edge (trustedCIDRs), not from CF-Connecting-IP: customHeader would believe that header from any peer
	// # caveat (edge-only): with client-address detection on, SecurityPolicy clientCIDRs match the visitor, so only the edge may connect is enforced by the EnvoyProxy Service's loadBalancerSourceRanges
}

// Traefik v3: ipAllowList without ipStrategy judges the peer, a TLSOption
// requires the client certificate, and the entry points are static
// configuration.
func ExampleGenerate_traefik() {
	s := cloudflareSpec(ingress.Traefik)
	s.Edge = s.Edge[:2]
	out, err := ingress.Generate(s)
	if err != nil {
		log.Fatal(err)
	}
	show(out)
	// Output:
	// ---
	// apiVersion: traefik.io/v1alpha1
	// kind: Middleware
	// metadata:
	//   labels:
	//     app.kubernetes.io/managed-by: originguard
	//   name: shop-edge
	//   namespace: shop
	// spec:
	//   ipAllowList:
	//     sourceRange:
	//     - 103.21.244.0/22
	//     - 173.245.48.0/20
	// ---
	// apiVersion: traefik.io/v1alpha1
	// kind: TLSOption
	// metadata:
	//   labels:
	//     app.kubernetes.io/managed-by: originguard
	//   name: shop
	//   namespace: shop
	// spec:
	//   clientAuth:
	//     clientAuthType: RequireAndVerifyClientCert
	//     secretNames:
	//     - cloudflare-origin-pull-ca
	//   minVersion: VersionTLS12
	// ---
	// apiVersion: traefik.io/v1alpha1
	// kind: IngressRoute
	// metadata:
	//   labels:
	//     app.kubernetes.io/managed-by: originguard
	//   name: shop
	//   namespace: shop
	// spec:
	//   entryPoints:
	//   - websecure
	//   routes:
	//   - kind: Rule
	//     match: Host(`shop.example.com`)
	//     middlewares:
	//     - name: shop-edge
	//     services:
	//     - name: shop
	//       port: 8080
	//   tls:
	//     options:
	//       name: shop
	//     secretName: shop-origin-ca-cert
	// ---
	// apiVersion: v1
	// kind: Service
	// metadata:
	//   name: controller
	//   namespace: ingress
	// spec:
	//   externalTrafficPolicy: Local
	//   loadBalancerSourceRanges:
	//   - 103.21.244.0/22
	//   - 173.245.48.0/20
	//   type: LoadBalancer
	// # flag --entryPoints.web.http.redirections.entryPoint.to=websecure
	// # flag --entryPoints.web.http.redirections.entryPoint.scheme=https
	// # flag --entryPoints.web.forwardedHeaders.trustedIPs=103.21.244.0/22,173.245.48.0/20
	// # flag --entryPoints.websecure.forwardedHeaders.trustedIPs=103.21.244.0/22,173.245.48.0/20
	// # caveat (client-ip): Traefik does not rewrite the client address: it passes CF-Connecting-IP to the backend, which may believe it because the allowlist admits only the edge; forwardedHeaders.trustedIPs keeps X-Forwarded-For only from the edge
	// # caveat (origin-pull): Traefik picks the TLSOption by SNI from the router's Host rules: a HostRegexp (wildcard host), an unknown SNI or a handshake without SNI gets the TLSOption named default, so make that one require the client certificate too
}

// Kong OSS: ip-restriction with config.allow as an array while Kong judges
// the peer; Authenticated Origin Pulls cannot be enforced.
func ExampleGenerate_kong() {
	s := cloudflareSpec(ingress.Kong)
	s.Edge = s.Edge[:2]
	s.ClientIPHeader = ""
	out, err := ingress.Generate(s)
	if err != nil {
		log.Fatal(err)
	}
	show(out)
	// Output:
	// ---
	// apiVersion: configuration.konghq.com/v1
	// config:
	//   allow:
	//   - 103.21.244.0/22
	//   - 173.245.48.0/20
	// kind: KongPlugin
	// metadata:
	//   labels:
	//     app.kubernetes.io/managed-by: originguard
	//   name: shop-edge
	//   namespace: shop
	// plugin: ip-restriction
	// ---
	// apiVersion: networking.k8s.io/v1
	// kind: Ingress
	// metadata:
	//   annotations:
	//     konghq.com/https-redirect-status-code: "301"
	//     konghq.com/plugins: shop-edge
	//     konghq.com/protocols: https
	//   labels:
	//     app.kubernetes.io/managed-by: originguard
	//   name: shop
	//   namespace: shop
	// spec:
	//   ingressClassName: kong
	//   rules:
	//   - host: shop.example.com
	//     http:
	//       paths:
	//       - backend:
	//           service:
	//             name: shop
	//             port:
	//               number: 8080
	//         path: /
	//         pathType: Prefix
	//   tls:
	//   - hosts:
	//     - shop.example.com
	//     secretName: shop-origin-ca-cert
	// ---
	// apiVersion: v1
	// kind: Service
	// metadata:
	//   name: controller
	//   namespace: ingress
	// spec:
	//   externalTrafficPolicy: Local
	//   loadBalancerSourceRanges:
	//   - 103.21.244.0/22
	//   - 173.245.48.0/20
	//   type: LoadBalancer
	// # caveat (edge-only): ip-restriction judges the peer only while Kong's trusted_ips (KONG_TRUSTED_IPS) is unset: setting it makes the plugin judge the visitor
	// # caveat (origin-pull): Kong Gateway OSS cannot require a client certificate (mtls-auth is Enterprise-only): Authenticated Origin Pulls are not enforced; terminate them in front of Kong or use another controller
}

// Validate reports every problem at once, each naming its field.
func ExampleSpec_Validate() {
	s := ingress.Spec{
		Controller:   ingress.IngressNGINX,
		Name:         "shop",
		Namespace:    "shop",
		Hosts:        []string{"shop.example.com", "Shop_Example"},
		Edge:         []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")},
		TLSSecret:    "shop-tls",
		OriginPullCA: &ingress.CARef{Kind: ingress.CAConfigMap, Name: "origin-pull-ca"},
		Backend:      ingress.Backend{Name: "shop", Port: 8080},
	}
	err := s.Validate()
	fmt.Println(errors.Is(err, ingress.ErrInvalidSpec))
	var fe *ingress.FieldError
	if errors.As(err, &fe) {
		fmt.Println("first field:", fe.Field)
	}
	fmt.Println(err)
	// Output:
	// true
	// first field: Hosts[1]
	// ingress: invalid spec:
	// Hosts[1] "Shop_Example": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')
	// Edge[0] 0.0.0.0/0: matches every address: the edge must be specific
	// OriginPullCA.Kind "ConfigMap": ingress-nginx reads the CA only from a Secret
}

// Render writes any objects, generated or not, as deterministic YAML.
func ExampleRender() {
	s := cloudflareSpec(ingress.IngressNGINX)
	s.Edge = s.Edge[:1]
	out, err := ingress.Generate(s)
	if err != nil {
		log.Fatal(err)
	}
	data, err := ingress.Render(out.Objects[0])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(data))
	// Output:
	// ---
	// apiVersion: v1
	// data:
	//   enable-real-ip: "true"
	//   forwarded-for-header: CF-Connecting-IP
	//   proxy-real-ip-cidr: 173.245.48.0/20
	//   use-forwarded-headers: "false"
	// kind: ConfigMap
	// metadata:
	//   name: ingress-nginx-controller
	//   namespace: ingress-nginx
}

// A typical broken ingress-nginx setup behind Cloudflare: forwarded headers
// on with the default proxy-real-ip-cidr, the Cloudflare allowlist on the
// Ingress, no client certificates, HTTP served and an open LoadBalancer.
func ExampleAuditYAML_ingressNGINX() {
	manifests := `
apiVersion: v1
kind: ConfigMap
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
data:
  use-forwarded-headers: "true"
  forwarded-for-header: CF-Connecting-IP
---
apiVersion: v1
kind: Service
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Cluster
  ports: [{name: https, port: 443}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: shop
  annotations:
    nginx.ingress.kubernetes.io/whitelist-source-range: 173.245.48.0/20,103.21.244.0/22
    nginx.ingress.kubernetes.io/ssl-redirect: "false"
spec:
  ingressClassName: nginx
  tls: [{hosts: [shop.example.com], secretName: shop-tls}]
  rules:
  - host: shop.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: shop, port: {number: 8080}}}}]}
  - host: admin.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: admin, port: {number: 8080}}}}]}
`
	r := allowlist.Embedded()
	findings, err := ingress.AuditYAML(slices.Concat(r.IPv4, r.IPv6), []byte(manifests))
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range findings {
		fmt.Printf("[%s] %s\n", f.Need, f)
	}
	// Output:
	// [client-ip] ConfigMap ingress-nginx/ingress-nginx-controller data[proxy-real-ip-cidr]: real IP is on but proxy-real-ip-cidr is unset and defaults to 0.0.0.0/0: any client can claim any address by sending CF-Connecting-IP
	// [origin-pull] Ingress shop/shop metadata.annotations[nginx.ingress.kubernetes.io/auth-tls-secret]: no client certificate is required: anything that reaches the controller, including any Cloudflare customer's Worker, is served (Authenticated Origin Pulls not enforced)
	// [https-only] Ingress shop/shop metadata.annotations[nginx.ingress.kubernetes.io/ssl-redirect]: "false" serves the hosts over plain HTTP as well
	// [edge-only] Ingress shop/shop metadata.annotations[nginx.ingress.kubernetes.io/whitelist-source-range]: real IP is on (ConfigMap ingress-nginx/ingress-nginx-controller), so this allowlist judges the visitor, not the peer: an allowlist of the edge blocks every visitor, and lets in a direct client whose header names an edge address; enforce the edge on the Service (loadBalancerSourceRanges) instead
	// [https-only] Ingress shop/shop spec.rules[1].host: "admin.example.com" is in no spec.tls entry: served over plain HTTP, without the client-certificate check
	// [edge-only] Service ingress-nginx/ingress-nginx-controller spec.externalTrafficPolicy: Cluster lets a node SNAT the packet, so the address checks behind it (Ingress shop/shop metadata.annotations[nginx.ingress.kubernetes.io/whitelist-source-range]) see a node's address, not the edge's: set Local
	// [edge-only] Service ingress-nginx/ingress-nginx-controller spec.loadBalancerSourceRanges: a LoadBalancer with no source ranges is open to every address: anyone can reach the origin without passing Cloudflare
}

// Audit takes typed objects too, for example the output of Generate after
// an edit, or objects listed with client-go.
func ExampleAudit() {
	s := cloudflareSpec(ingress.Traefik)
	out, err := ingress.Generate(s)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(ingress.Audit(s.Edge, out.Objects...)), "findings in the generated objects")

	mw := out.Objects[0].(*ingress.Middleware)
	mw.Spec.IPAllowList.IPStrategy = &ingress.IPStrategy{Depth: 1}
	for _, f := range ingress.Audit(s.Edge, out.Objects...) {
		fmt.Println(f)
	}
	// Output:
	// 0 findings in the generated objects
	// Middleware shop/shop-edge spec.ipAllowList.ipStrategy: takes the address from X-Forwarded-For, the visitor (or whatever a direct client writes there), not the peer: remove ipStrategy to admit only the edge
}

// The packages compose at plain values: package origincert makes the Secret
// holding Cloudflare's origin-pull CA, package allowlist supplies the edge,
// and this package refers to both by name and prefix.
func Example_composed() {
	caSecret, err := origincert.CASecret("shop", "cloudflare-origin-pull-ca", origincert.OriginPullCAPEM())
	if err != nil {
		log.Fatal(err)
	}
	s := cloudflareSpec(ingress.IngressNGINX)
	s.OriginPullCA = &ingress.CARef{Kind: ingress.CASecret, Name: caSecret.Name}
	out, err := ingress.Generate(s)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Secret %s/%s holds %s: %t\n", caSecret.Namespace, caSecret.Name, ingress.CAKey, len(caSecret.Data[ingress.CAKey]) > 0)
	for _, o := range out.Objects {
		if ing, ok := o.(*networkingv1.Ingress); ok {
			fmt.Println(ing.Annotations[ingress.AnnotationAuthTLSSecret], ing.Annotations[ingress.AnnotationAuthTLSVerifyClient])
		}
		if svc, ok := o.(*corev1.Service); ok {
			fmt.Println(len(svc.Spec.LoadBalancerSourceRanges), "source ranges on", svc.Name)
		}
	}
	// Output:
	// Secret shop/cloudflare-origin-pull-ca holds ca.crt: true
	// shop/cloudflare-origin-pull-ca on
	// 22 source ranges on controller
}
