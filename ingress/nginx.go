package ingress

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The ingress-nginx annotations and ConfigMap keys this package emits or
// audits (kubernetes/ingress-nginx docs, user-guide/nginx-configuration).
const (
	nginxPrefix = "nginx.ingress.kubernetes.io/"

	// AnnotationAllowlist limits the location to source ranges; ingress-nginx
	// checks them against $remote_addr, which is the visitor once real IP is
	// on, and Traefik's NGINX provider against the peer (unless its
	// ipAllowListStrategy is set).
	AnnotationAllowlist = nginxPrefix + "allowlist-source-range"
	// AnnotationWhitelist is the deprecated spelling of AnnotationAllowlist,
	// still read by both controllers.
	AnnotationWhitelist = nginxPrefix + "whitelist-source-range"
	// AnnotationAuthTLSSecret is namespace/name of the Secret whose ca.crt
	// verifies client certificates (per host: the server block).
	AnnotationAuthTLSSecret = nginxPrefix + "auth-tls-secret"
	// AnnotationAuthTLSVerifyClient is on, off, optional or optional_no_ca;
	// only "on" requires a valid certificate.
	AnnotationAuthTLSVerifyClient = nginxPrefix + "auth-tls-verify-client"
	// AnnotationForceSSLRedirect redirects HTTP to HTTPS.
	AnnotationForceSSLRedirect = nginxPrefix + "force-ssl-redirect"
	// AnnotationSSLRedirect (default true when the Ingress has TLS) set to
	// "false" serves plain HTTP.
	AnnotationSSLRedirect = nginxPrefix + "ssl-redirect"

	// ConfigEnableRealIP turns on ngx_http_realip_module with
	// ConfigForwardedForHeader, trusted from ConfigProxyRealIPCIDR.
	ConfigEnableRealIP = "enable-real-ip"
	// ConfigUseForwardedHeaders trusts X-Forwarded-* (and sets the real IP
	// from X-Forwarded-For), again only from ConfigProxyRealIPCIDR.
	ConfigUseForwardedHeaders = "use-forwarded-headers"
	// ConfigUseProxyProtocol takes the client address from the PROXY
	// protocol header.
	ConfigUseProxyProtocol = "use-proxy-protocol"
	// ConfigForwardedForHeader is the header real IP reads (default
	// X-Forwarded-For).
	ConfigForwardedForHeader = "forwarded-for-header"
	// ConfigProxyRealIPCIDR are the peers whose header is believed (nginx's
	// set_real_ip_from). Its default is 0.0.0.0/0: every peer.
	ConfigProxyRealIPCIDR = "proxy-real-ip-cidr"
)

// genNGINX emits an Ingress with ingress-nginx annotations and, for
// ingress-nginx itself, the controller ConfigMap keys that decide what its
// allowlist sees.
//
// ingress-nginx with ClientIPHeader: real IP on, forwarded-for-header set to
// the header, proxy-real-ip-cidr set to the edge (never its 0.0.0.0/0
// default, which believes the header from anyone), and no allowlist
// annotation: it would judge the visitor, so the edge check goes to the
// Service. Without ClientIPHeader: real IP and forwarded headers off, and the
// allowlist annotation set to the edge, judging the peer.
//
// Traefik's NGINX provider ignores the ConfigMap and checks the allowlist
// annotation against the peer, so the annotation is always emitted.
func genNGINX(s Spec, out *Output) {
	ann := map[string]string{AnnotationForceSSLRedirect: "true"}
	peerAllowlist := s.Controller == TraefikNGINX || s.ClientIPHeader == ""
	if peerAllowlist {
		ann[AnnotationAllowlist] = strings.Join(s.edgeStrings(), ",")
	}
	if ca := s.OriginPullCA; ca != nil {
		ann[AnnotationAuthTLSSecret] = s.Namespace + "/" + ca.Name
		ann[AnnotationAuthTLSVerifyClient] = "on"
	}
	m := meta(s.Name, s.Namespace)
	m.Annotations = ann
	ing := nginxStyleIngress(s, m)

	switch s.Controller {
	case IngressNGINX:
		cfg := s.controllerConfig()
		data := map[string]string{
			ConfigUseForwardedHeaders: "false",
			ConfigEnableRealIP:        "false",
		}
		if s.ClientIPHeader != "" {
			data[ConfigEnableRealIP] = "true"
			data[ConfigForwardedForHeader] = s.ClientIPHeader
			data[ConfigProxyRealIPCIDR] = strings.Join(s.edgeStrings(), ",")
			out.Caveats = append(out.Caveats, Caveat{NeedEdgeOnly,
				"real IP is on, so " + AnnotationAllowlist + " would judge the visitor, not the peer: it is not emitted, and only the edge may connect must be enforced at layer 3/4 (the controller Service's loadBalancerSourceRanges, a NetworkPolicy, the node firewall)"})
		}
		out.Objects = append(out.Objects, &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: cfg.Name, Namespace: cfg.Namespace},
			Data:       data,
		})
		out.Caveats = append(out.Caveats, Caveat{NeedOriginPull,
			"auth-tls-* applies to the host's whole server block: every other Ingress for these hosts shares it, and a host served without the annotation is served without client certificates"})
	case TraefikNGINX:
		out.Settings = append(out.Settings, traefikTrustedIPs(s)...)
		out.Caveats = append(out.Caveats, Caveat{NeedEdgeOnly,
			"Traefik's NGINX provider checks " + AnnotationAllowlist + " against the peer only while --providers.kubernetesIngressNGINX.ipAllowListStrategy is unset: leave it unset"})
		if s.ClientIPHeader != "" {
			out.Caveats = append(out.Caveats, Caveat{NeedClientIP,
				"Traefik does not rewrite the client address: it passes " + s.ClientIPHeader + " to the backend, which may believe it because the allowlist admits only the edge"})
		}
	}
	out.Objects = append(out.Objects, ing)
}
