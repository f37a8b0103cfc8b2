package ingress

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// EnvoyGatewayAPIVersion is the API version of Envoy Gateway's policies.
const EnvoyGatewayAPIVersion = "gateway.envoyproxy.io/v1alpha1"

// The minimal Envoy Gateway types below carry only the fields this package
// emits or audits, with the JSON names of Envoy Gateway's CRDs
// (github.com/envoyproxy/gateway api/v1alpha1); the library does not import
// Envoy Gateway's module.

// ClientTrafficPolicy is Envoy Gateway's policy for the client side of a
// Gateway: how the client address is detected and client certificates.
type ClientTrafficPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ClientTrafficPolicySpec `json:"spec"`
}

// ClientTrafficPolicySpec is the spec of a [ClientTrafficPolicy].
type ClientTrafficPolicySpec struct {
	TargetRefs        []gwapiv1.LocalPolicyTargetReferenceWithSectionName `json:"targetRefs,omitempty"`
	ClientIPDetection *ClientIPDetection                                  `json:"clientIPDetection,omitempty"`
	TLS               *ClientTLS                                          `json:"tls,omitempty"`
}

// ClientIPDetection chooses where the client address comes from. Only
// XForwardedFor with TrustedCIDRs checks the peer before believing a header.
type ClientIPDetection struct {
	XForwardedFor *XForwardedFor `json:"xForwardedFor,omitempty"`
	// CustomHeader believes the named header from any peer.
	CustomHeader *CustomHeader `json:"customHeader,omitempty"`
}

// XForwardedFor takes the client address from X-Forwarded-For: the
// rightmost entry not in TrustedCIDRs, believed only when the peer is in
// TrustedCIDRs. NumTrustedHops instead counts entries from the right and
// checks no peer.
type XForwardedFor struct {
	NumTrustedHops *uint32  `json:"numTrustedHops,omitempty"`
	TrustedCIDRs   []string `json:"trustedCIDRs,omitempty"`
}

// CustomHeader takes the client address from a header, from any peer.
type CustomHeader struct {
	Name       string `json:"name"`
	FailClosed *bool  `json:"failClosed,omitempty"`
}

// ClientTLS is the client-side TLS of a [ClientTrafficPolicy].
type ClientTLS struct {
	ClientValidation *ClientValidation `json:"clientValidation,omitempty"`
}

// ClientValidation verifies client certificates. Optional, or a Mode other
// than RequireAndVerify, admits connections without a valid one.
type ClientValidation struct {
	Optional          bool                            `json:"optional,omitempty"`
	Mode              string                          `json:"mode,omitempty"`
	CACertificateRefs []gwapiv1.SecretObjectReference `json:"caCertificateRefs,omitempty"`
}

// SecurityPolicy is Envoy Gateway's access-control policy; only its
// authorization is modelled.
type SecurityPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              SecurityPolicySpec `json:"spec"`
}

// SecurityPolicySpec is the spec of a [SecurityPolicy].
type SecurityPolicySpec struct {
	TargetRefs    []gwapiv1.LocalPolicyTargetReferenceWithSectionName `json:"targetRefs,omitempty"`
	Authorization *Authorization                                      `json:"authorization,omitempty"`
}

// Authorization is a list of rules and the action when none matches.
type Authorization struct {
	DefaultAction string              `json:"defaultAction"`
	Rules         []AuthorizationRule `json:"rules,omitempty"`
}

// AuthorizationRule allows or denies the principals it names.
type AuthorizationRule struct {
	Name      string    `json:"name,omitempty"`
	Action    string    `json:"action"`
	Principal Principal `json:"principal"`
}

// Principal names clients. ClientCIDRs match the client address Envoy
// Gateway detected (ClientTrafficPolicy clientIPDetection), which is the
// visitor, not the peer, once detection reads a header.
type Principal struct {
	ClientCIDRs []string `json:"clientCIDRs,omitempty"`
}

// EnvoyProxy configures the Envoy deployment and Service Envoy Gateway
// creates for a Gateway; only the Service fields are modelled.
type EnvoyProxy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              EnvoyProxySpec `json:"spec"`
}

// EnvoyProxySpec is the spec of an [EnvoyProxy].
type EnvoyProxySpec struct {
	Provider *EnvoyProxyProvider `json:"provider,omitempty"`
}

// EnvoyProxyProvider is the infrastructure provider, Kubernetes.
type EnvoyProxyProvider struct {
	Type       string                `json:"type"`
	Kubernetes *EnvoyProxyKubernetes `json:"kubernetes,omitempty"`
}

// EnvoyProxyKubernetes holds the Kubernetes resources' settings.
type EnvoyProxyKubernetes struct {
	EnvoyService *EnvoyService `json:"envoyService,omitempty"`
}

// EnvoyService is the LoadBalancer Service in front of Envoy.
type EnvoyService struct {
	ExternalTrafficPolicy    string   `json:"externalTrafficPolicy,omitempty"`
	LoadBalancerSourceRanges []string `json:"loadBalancerSourceRanges,omitempty"`
}

// genEnvoyGateway emits the Gateway API objects, an EnvoyProxy that shapes
// the Service (edge only, source address kept), a ClientTrafficPolicy
// (client address from X-Forwarded-For trusted only from the edge, and
// client certificates), and — only while no client address is detected, so
// that clientCIDRs match the peer — a SecurityPolicy admitting only the
// edge.
func genEnvoyGateway(s Spec, out *Output) {
	gw := gateway(s, false)
	gw.Spec.Infrastructure = &gwapiv1.GatewayInfrastructure{ParametersRef: &gwapiv1.LocalParametersReference{
		Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: s.Name,
	}}
	proxy := &EnvoyProxy{
		TypeMeta:   metav1.TypeMeta{APIVersion: EnvoyGatewayAPIVersion, Kind: "EnvoyProxy"},
		ObjectMeta: meta(s.Name, s.Namespace),
		Spec: EnvoyProxySpec{Provider: &EnvoyProxyProvider{Type: "Kubernetes", Kubernetes: &EnvoyProxyKubernetes{
			EnvoyService: &EnvoyService{ExternalTrafficPolicy: "Local", LoadBalancerSourceRanges: s.edgeStrings()},
		}}},
	}
	target := []gwapiv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gwapiv1.LocalPolicyTargetReference{
		Group: gwapiv1.GroupName, Kind: "Gateway", Name: gwapiv1.ObjectName(s.Name),
	}}}
	ctp := &ClientTrafficPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: EnvoyGatewayAPIVersion, Kind: "ClientTrafficPolicy"},
		ObjectMeta: meta(s.Name, s.Namespace),
		Spec:       ClientTrafficPolicySpec{TargetRefs: target},
	}
	if s.ClientIPHeader != "" {
		ctp.Spec.ClientIPDetection = &ClientIPDetection{XForwardedFor: &XForwardedFor{TrustedCIDRs: s.edgeStrings()}}
		out.Caveats = append(out.Caveats,
			Caveat{NeedClientIP, "Envoy Gateway takes the client address from X-Forwarded-For (to which Cloudflare appends the visitor), believed only from the edge (trustedCIDRs), not from " + s.ClientIPHeader + ": customHeader would believe that header from any peer"},
			Caveat{NeedEdgeOnly, "with client-address detection on, SecurityPolicy clientCIDRs match the visitor, so only the edge may connect is enforced by the EnvoyProxy Service's loadBalancerSourceRanges"},
		)
	}
	if ca := s.OriginPullCA; ca != nil {
		core := gwapiv1.Group("")
		kind := gwapiv1.Kind(ca.Kind)
		ctp.Spec.TLS = &ClientTLS{ClientValidation: &ClientValidation{
			Mode:              "RequireAndVerify",
			CACertificateRefs: []gwapiv1.SecretObjectReference{{Group: &core, Kind: &kind, Name: gwapiv1.ObjectName(ca.Name)}},
		}}
	}
	out.Objects = append(out.Objects, proxy, gw)
	out.Objects = append(out.Objects, httpRoutes(s)...)
	out.Objects = append(out.Objects, ctp)
	if s.ClientIPHeader == "" {
		out.Objects = append(out.Objects, &SecurityPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: EnvoyGatewayAPIVersion, Kind: "SecurityPolicy"},
			ObjectMeta: meta(s.Name, s.Namespace),
			Spec: SecurityPolicySpec{TargetRefs: target, Authorization: &Authorization{
				DefaultAction: "Deny",
				Rules:         []AuthorizationRule{{Name: "edge", Action: "Allow", Principal: Principal{ClientCIDRs: s.edgeStrings()}}},
			}},
		})
	}
}
