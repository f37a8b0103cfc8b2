package ingress

import (
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KongAPIVersion is the API version of Kong's KongPlugin and
// KongClusterPlugin.
const KongAPIVersion = "configuration.konghq.com/v1"

// The Kong Ingress Controller annotations this package emits.
const (
	AnnotationKongPlugins           = "konghq.com/plugins"
	AnnotationKongProtocols         = "konghq.com/protocols"
	AnnotationKongHTTPSRedirectCode = "konghq.com/https-redirect-status-code"
)

// KongPlugin configures a Kong plugin for the objects that name it in
// konghq.com/plugins; only ip-restriction's configuration is modelled, with
// the JSON names of Kong's CRD and plugin schema.
type KongPlugin struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Plugin            string              `json:"plugin"`
	Config            IPRestrictionConfig `json:"config"`
}

// IPRestrictionConfig is the ip-restriction plugin's configuration. Allow is
// an array: a comma-separated string is not a list (Kong#4570). The plugin
// checks the address nginx's realip module left in $remote_addr: the peer
// while Kong's trusted_ips is empty, the visitor once it trusts a proxy.
type IPRestrictionConfig struct {
	Allow []string `json:"allow,omitempty"`
}

// genKong emits an Ingress for Kong, HTTPS only (konghq.com/protocols: https
// with a 301 redirect), and either an ip-restriction KongPlugin admitting the
// edge (while Kong judges the peer) or Kong's real-IP settings (after which
// ip-restriction would judge the visitor, so the edge check goes to the
// Service). Authenticated Origin Pulls need the Enterprise mtls-auth plugin:
// Kong OSS cannot require a client certificate, and that is reported.
func genKong(s Spec, out *Output) {
	ann := map[string]string{
		AnnotationKongProtocols:         "https",
		AnnotationKongHTTPSRedirectCode: "301",
	}
	if s.ClientIPHeader == "" {
		plugin := &KongPlugin{
			TypeMeta:   metav1.TypeMeta{APIVersion: KongAPIVersion, Kind: "KongPlugin"},
			ObjectMeta: meta(s.Name+"-edge", s.Namespace),
			Plugin:     "ip-restriction",
			Config:     IPRestrictionConfig{Allow: s.edgeStrings()},
		}
		out.Objects = append(out.Objects, plugin)
		ann[AnnotationKongPlugins] = plugin.Name
		out.Caveats = append(out.Caveats, Caveat{NeedEdgeOnly,
			"ip-restriction judges the peer only while Kong's trusted_ips (KONG_TRUSTED_IPS) is unset: setting it makes the plugin judge the visitor"})
	} else {
		out.Settings = append(out.Settings,
			Setting{Env, "KONG_TRUSTED_IPS", strings.Join(s.edgeStrings(), ","), NeedClientIP},
			Setting{Env, "KONG_REAL_IP_HEADER", s.ClientIPHeader, NeedClientIP},
			Setting{Env, "KONG_REAL_IP_RECURSIVE", "off", NeedClientIP},
		)
		out.Caveats = append(out.Caveats, Caveat{NeedEdgeOnly,
			"with trusted_ips set, ip-restriction judges the visitor, so no edge allowlist is emitted in Kong: only the edge may connect is enforced at layer 3/4 (the controller Service's loadBalancerSourceRanges, a NetworkPolicy, the node firewall)"})
	}
	if s.OriginPullCA != nil {
		out.Caveats = append(out.Caveats, Caveat{NeedOriginPull,
			"Kong Gateway OSS cannot require a client certificate (mtls-auth is Enterprise-only): Authenticated Origin Pulls are not enforced; terminate them in front of Kong or use another controller"})
	} else {
		out.Caveats = append(out.Caveats, Caveat{NeedOriginPull,
			"Kong Gateway OSS cannot require a client certificate (mtls-auth is Enterprise-only)"})
	}
	m := meta(s.Name, s.Namespace)
	m.Annotations = ann
	ing := nginxStyleIngress(s, m)
	out.Objects = append(out.Objects, ing)
}

// nginxStyleIngress is an Ingress for the Spec's hosts with TLS from the
// TLS Secret and every path to the Backend.
func nginxStyleIngress(s Spec, m metav1.ObjectMeta) *networkingv1.Ingress {
	class := s.className()
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: m,
		Spec: networkingv1.IngressSpec{
			IngressClassName: &class,
			TLS:              []networkingv1.IngressTLS{{Hosts: append([]string(nil), s.Hosts...), SecretName: s.TLSSecret}},
		},
	}
	for _, h := range s.Hosts {
		ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{
			Host: h,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{
					Path:     "/",
					PathType: &prefix,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: s.Backend.Name,
						Port: networkingv1.ServiceBackendPort{Number: s.Backend.Port},
					}},
				}},
			}},
		})
	}
	return ing
}
