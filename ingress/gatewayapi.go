package ingress

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Listener names of the generated Gateway: one plain-HTTP listener that only
// redirects, and one HTTPS listener per host.
const (
	httpListener = "http"
	httpsPort    = 443
	httpPort     = 80
)

func httpsListener(i int) gwapiv1.SectionName {
	return gwapiv1.SectionName(fmt.Sprintf("https-%d", i))
}

// genGatewayAPI emits a Gateway, an HTTPRoute that redirects HTTP to HTTPS
// and an HTTPRoute that serves the hosts over HTTPS only. Gateway API's
// portable fields cover origin pulls (tls.frontend, GEP-91, Standard since
// v1.5) and HTTPS; they have no address allowlist and no client-address
// detection, so those two needs are left to the Service and to the
// implementation.
func genGatewayAPI(s Spec, out *Output) {
	gw := gateway(s, true)
	out.Objects = append(out.Objects, gw)
	out.Objects = append(out.Objects, httpRoutes(s)...)
	out.Caveats = append(out.Caveats,
		Caveat{NeedEdgeOnly, "Gateway API has no portable address allowlist: only the edge may connect is enforced by the controller Service's loadBalancerSourceRanges (or a NetworkPolicy, or the node firewall)"},
	)
	if s.ClientIPHeader != "" {
		out.Caveats = append(out.Caveats, Caveat{NeedClientIP,
			"Gateway API has no portable client-address detection: configure the implementation's own (Envoy Gateway: Controller EnvoyGateway), trusting only the edge"})
	}
}

// gateway is the Gateway of the Spec. frontendValidation adds tls.frontend
// client-certificate validation when the Spec has an OriginPullCA: it is
// per port, so every HTTPS listener on 443 requires the certificate, as it
// must: with HTTP/2 connection coalescing a request for one host may arrive
// on a connection set up for another.
func gateway(s Spec, frontendValidation bool) *gwapiv1.Gateway {
	http, https := gwapiv1.HTTPProtocolType, gwapiv1.HTTPSProtocolType
	terminate := gwapiv1.TLSModeTerminate
	secret := gwapiv1.Kind("Secret")
	core := gwapiv1.Group("")
	gw := &gwapiv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: "Gateway"},
		ObjectMeta: meta(s.Name, s.Namespace),
		Spec: gwapiv1.GatewaySpec{
			GatewayClassName: gwapiv1.ObjectName(s.className()),
			Listeners: []gwapiv1.Listener{{
				Name:     httpListener,
				Port:     httpPort,
				Protocol: http,
			}},
		},
	}
	for i, h := range s.Hosts {
		host := gwapiv1.Hostname(h)
		gw.Spec.Listeners = append(gw.Spec.Listeners, gwapiv1.Listener{
			Name:     httpsListener(i),
			Hostname: &host,
			Port:     httpsPort,
			Protocol: https,
			TLS: &gwapiv1.ListenerTLSConfig{
				Mode:            &terminate,
				CertificateRefs: []gwapiv1.SecretObjectReference{{Group: &core, Kind: &secret, Name: gwapiv1.ObjectName(s.TLSSecret)}},
			},
		})
	}
	if ca := s.OriginPullCA; ca != nil && frontendValidation {
		gw.Spec.TLS = &gwapiv1.GatewayTLSConfig{Frontend: &gwapiv1.FrontendTLSConfig{
			Default: gwapiv1.TLSConfig{Validation: &gwapiv1.FrontendTLSValidation{
				CACertificateRefs: []gwapiv1.ObjectReference{{Group: core, Kind: gwapiv1.Kind(ca.Kind), Name: gwapiv1.ObjectName(ca.Name)}},
				Mode:              gwapiv1.AllowValidOnly,
			}},
		}}
	}
	return gw
}

// httpRoutes are the redirect route, bound to the HTTP listener alone, and
// the application route, bound to the HTTPS listeners by section name: a
// parentRef without one would attach it to the HTTP listener too and serve
// the application over plain HTTP.
func httpRoutes(s Spec) []Object {
	hostnames := make([]gwapiv1.Hostname, len(s.Hosts))
	for i, h := range s.Hosts {
		hostnames[i] = gwapiv1.Hostname(h)
	}
	scheme := "https"
	moved := 301
	section := gwapiv1.SectionName(httpListener)
	redirect := &gwapiv1.HTTPRoute{
		TypeMeta:   metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: "HTTPRoute"},
		ObjectMeta: meta(s.Name+"-https-redirect", s.Namespace),
		Spec: gwapiv1.HTTPRouteSpec{
			CommonRouteSpec: gwapiv1.CommonRouteSpec{ParentRefs: []gwapiv1.ParentReference{{Name: gwapiv1.ObjectName(s.Name), SectionName: &section}}},
			Hostnames:       hostnames,
			Rules: []gwapiv1.HTTPRouteRule{{Filters: []gwapiv1.HTTPRouteFilter{{
				Type:            gwapiv1.HTTPRouteFilterRequestRedirect,
				RequestRedirect: &gwapiv1.HTTPRequestRedirectFilter{Scheme: &scheme, StatusCode: &moved},
			}}}},
		},
	}
	var parents []gwapiv1.ParentReference
	for i := range s.Hosts {
		sec := httpsListener(i)
		parents = append(parents, gwapiv1.ParentReference{Name: gwapiv1.ObjectName(s.Name), SectionName: &sec})
	}
	port := gwapiv1.PortNumber(s.Backend.Port)
	app := &gwapiv1.HTTPRoute{
		TypeMeta:   metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: "HTTPRoute"},
		ObjectMeta: meta(s.Name, s.Namespace),
		Spec: gwapiv1.HTTPRouteSpec{
			CommonRouteSpec: gwapiv1.CommonRouteSpec{ParentRefs: parents},
			Hostnames:       hostnames,
			Rules: []gwapiv1.HTTPRouteRule{{BackendRefs: []gwapiv1.HTTPBackendRef{{BackendRef: gwapiv1.BackendRef{
				BackendObjectReference: gwapiv1.BackendObjectReference{Name: gwapiv1.ObjectName(s.Backend.Name), Port: &port},
			}}}}},
		},
	}
	return []Object{redirect, app}
}
