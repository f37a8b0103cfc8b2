package ingress

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TraefikAPIVersion is the API version of Traefik v3's CRDs.
const TraefikAPIVersion = "traefik.io/v1alpha1"

// Traefik's entry points as its Helm chart names them.
const (
	traefikWeb       = "web"
	traefikWebsecure = "websecure"
)

// The minimal Traefik types below carry only the fields this package emits or
// audits, with the JSON names of Traefik's CRDs (github.com/traefik/traefik/v3
// pkg/provider/kubernetes/crd/traefikio/v1alpha1); the library does not
// import Traefik's module.

// Middleware is a Traefik HTTP middleware; only ipAllowList is modelled.
type Middleware struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              MiddlewareSpec `json:"spec"`
}

// MiddlewareSpec is the spec of a [Middleware].
type MiddlewareSpec struct {
	IPAllowList *IPAllowList `json:"ipAllowList,omitempty"`
}

// IPAllowList admits requests whose client address is in SourceRange.
// Without IPStrategy the client address is the peer; with one it comes from
// X-Forwarded-For, which is the visitor behind a proxy.
type IPAllowList struct {
	SourceRange []string    `json:"sourceRange,omitempty"`
	IPStrategy  *IPStrategy `json:"ipStrategy,omitempty"`
}

// IPStrategy picks the client address out of X-Forwarded-For.
type IPStrategy struct {
	Depth       int      `json:"depth,omitempty"`
	ExcludedIPs []string `json:"excludedIPs,omitempty"`
}

// TLSOption is a Traefik TLS configuration a router refers to.
type TLSOption struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              TLSOptionSpec `json:"spec"`
}

// TLSOptionSpec is the spec of a [TLSOption].
type TLSOptionSpec struct {
	MinVersion string      `json:"minVersion,omitempty"`
	ClientAuth *ClientAuth `json:"clientAuth,omitempty"`
}

// ClientAuth verifies client certificates with the CAs in the Secrets
// (key ca.crt or tls.ca). Only RequireAndVerifyClientCert requires a valid
// one.
type ClientAuth struct {
	SecretNames    []string `json:"secretNames,omitempty"`
	ClientAuthType string   `json:"clientAuthType,omitempty"`
}

// IngressRoute is Traefik's HTTP router.
type IngressRoute struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              IngressRouteSpec `json:"spec"`
}

// IngressRouteSpec is the spec of an [IngressRoute].
type IngressRouteSpec struct {
	EntryPoints []string         `json:"entryPoints,omitempty"`
	Routes      []Route          `json:"routes"`
	TLS         *IngressRouteTLS `json:"tls,omitempty"`
}

// Route is one rule of a Traefik [IngressRoute]: it matches requests and
// sends them through middlewares to services.
type Route struct {
	Match       string          `json:"match"`
	Kind        string          `json:"kind,omitempty"`
	Middlewares []MiddlewareRef `json:"middlewares,omitempty"`
	Services    []RouteService  `json:"services,omitempty"`
}

// MiddlewareRef names a [Middleware].
type MiddlewareRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// RouteService names the Kubernetes Service and port a Traefik [Route]
// sends to.
type RouteService struct {
	Name string             `json:"name"`
	Port intstr.IntOrString `json:"port,omitempty"`
}

// IngressRouteTLS terminates TLS with a Secret and a [TLSOption].
type IngressRouteTLS struct {
	SecretName string        `json:"secretName,omitempty"`
	Options    *TLSOptionRef `json:"options,omitempty"`
}

// TLSOptionRef names a [TLSOption].
type TLSOptionRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// genTraefik emits an ipAllowList Middleware without ipStrategy (it judges
// the peer), a TLSOption requiring Cloudflare's client certificate, and an
// IngressRoute on the websecure entry point only, plus the static entry-point
// configuration: forwardedHeaders.trustedIPs set to the edge and a redirect
// of web to websecure.
func genTraefik(s Spec, out *Output) {
	mw := &Middleware{
		TypeMeta:   metav1.TypeMeta{APIVersion: TraefikAPIVersion, Kind: "Middleware"},
		ObjectMeta: meta(s.Name+"-edge", s.Namespace),
		Spec:       MiddlewareSpec{IPAllowList: &IPAllowList{SourceRange: s.edgeStrings()}},
	}
	opt := &TLSOption{
		TypeMeta:   metav1.TypeMeta{APIVersion: TraefikAPIVersion, Kind: "TLSOption"},
		ObjectMeta: meta(s.Name, s.Namespace),
		Spec:       TLSOptionSpec{MinVersion: "VersionTLS12"},
	}
	if ca := s.OriginPullCA; ca != nil {
		opt.Spec.ClientAuth = &ClientAuth{SecretNames: []string{ca.Name}, ClientAuthType: "RequireAndVerifyClientCert"}
	}
	var match []string
	for _, h := range s.Hosts {
		if strings.HasPrefix(h, "*.") {
			// HostRegexp is Go regexp syntax in v3: one DNS label for the star.
			match = append(match, fmt.Sprintf("HostRegexp(`^[a-z0-9-]+%s$`)", strings.ReplaceAll(h[1:], ".", `\.`)))
			continue
		}
		match = append(match, fmt.Sprintf("Host(`%s`)", h))
	}
	route := &IngressRoute{
		TypeMeta:   metav1.TypeMeta{APIVersion: TraefikAPIVersion, Kind: "IngressRoute"},
		ObjectMeta: meta(s.Name, s.Namespace),
		Spec: IngressRouteSpec{
			EntryPoints: []string{traefikWebsecure},
			Routes: []Route{{
				Match:       strings.Join(match, " || "),
				Kind:        "Rule",
				Middlewares: []MiddlewareRef{{Name: mw.Name}},
				Services:    []RouteService{{Name: s.Backend.Name, Port: intstr.FromInt32(s.Backend.Port)}},
			}},
			TLS: &IngressRouteTLS{SecretName: s.TLSSecret, Options: &TLSOptionRef{Name: opt.Name}},
		},
	}
	out.Objects = append(out.Objects, mw, opt, route)
	out.Settings = append(out.Settings,
		Setting{Flag, "--entryPoints." + traefikWeb + ".http.redirections.entryPoint.to", traefikWebsecure, NeedHTTPSOnly},
		Setting{Flag, "--entryPoints." + traefikWeb + ".http.redirections.entryPoint.scheme", "https", NeedHTTPSOnly},
	)
	out.Settings = append(out.Settings, traefikTrustedIPs(s)...)
	if s.ClientIPHeader != "" {
		out.Caveats = append(out.Caveats, Caveat{NeedClientIP,
			"Traefik does not rewrite the client address: it passes " + s.ClientIPHeader + " to the backend, which may believe it because the allowlist admits only the edge; forwardedHeaders.trustedIPs keeps X-Forwarded-For only from the edge"})
	}
	out.Caveats = append(out.Caveats, Caveat{NeedOriginPull,
		"Traefik picks the TLSOption by SNI from the router's Host rules: a HostRegexp (wildcard host), an unknown SNI or a handshake without SNI gets the TLSOption named default, so make that one require the client certificate too"})
}

// traefikTrustedIPs is the entry-point static configuration that believes
// X-Forwarded-* only from the edge.
func traefikTrustedIPs(s Spec) []Setting {
	v := strings.Join(s.edgeStrings(), ",")
	return []Setting{
		{Flag, "--entryPoints." + traefikWeb + ".forwardedHeaders.trustedIPs", v, NeedClientIP},
		{Flag, "--entryPoints." + traefikWebsecure + ".forwardedHeaders.trustedIPs", v, NeedClientIP},
	}
}
