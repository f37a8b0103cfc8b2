package ingress

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Controller names the ingress controller a [Spec] is generated for.
type Controller string

// The controllers this package generates for.
const (
	// GatewayAPI is any Gateway API implementation: only the Standard
	// channel's portable fields (sigs.k8s.io/gateway-api v1) are emitted.
	GatewayAPI Controller = "gateway-api"
	// EnvoyGateway is Envoy Gateway: the Gateway API objects plus its
	// ClientTrafficPolicy, SecurityPolicy and EnvoyProxy.
	EnvoyGateway Controller = "envoy-gateway"
	// IngressNGINX is the kubernetes/ingress-nginx controller (retired in
	// March 2026, still widely run): Ingress annotations and the controller
	// ConfigMap.
	IngressNGINX Controller = "ingress-nginx"
	// TraefikNGINX is Traefik v3's kubernetesIngressNGINX provider, which
	// reads ingress-nginx's annotations but checks the allowlist against the
	// peer, and ignores ingress-nginx's ConfigMap.
	TraefikNGINX Controller = "traefik-nginx-provider"
	// Traefik is Traefik v3 with its own CRDs (traefik.io/v1alpha1).
	Traefik Controller = "traefik"
	// Kong is Kong Ingress Controller with Kong Gateway OSS.
	Kong Controller = "kong"
)

// Controllers lists every [Controller], in the order of the package's table.
var Controllers = []Controller{GatewayAPI, EnvoyGateway, IngressNGINX, TraefikNGINX, Traefik, Kong}

// CAKind is the kind of object holding the origin-pull CA certificate.
type CAKind string

// The kinds a CA reference may name. Both hold the PEM bundle under the key
// ca.crt.
const (
	CASecret    CAKind = "Secret"
	CAConfigMap CAKind = "ConfigMap"
)

// CAKey is the key under which the origin-pull CA bundle is stored, in a
// Secret or a ConfigMap: the key Gateway API, Envoy Gateway, ingress-nginx and
// Traefik all read.
const CAKey = "ca.crt"

// CARef names the Secret or ConfigMap, in the Spec's namespace, holding the
// CA that signs the client certificate Cloudflare presents on origin pulls
// (Authenticated Origin Pulls): Cloudflare's shared origin-pull CA, or the
// CA of a per-zone certificate.
type CARef struct {
	Kind CAKind
	Name string
}

// Backend is the Service in the Spec's namespace that receives the traffic.
type Backend struct {
	Name string
	Port int32
}

// DefaultClientIPHeader is the header Cloudflare sets to the visitor's
// address.
const DefaultClientIPHeader = "CF-Connecting-IP"

// Spec is what to enforce at the ingress layer, for one controller. The zero
// value is not valid: [Spec.Validate] says what is missing. A Spec is a plain
// value; [Generate] does not keep or modify it.
//
// The four needs it covers are those of an origin behind Cloudflare: only the
// edge may connect (Edge), the real client address is trusted only from the
// edge (ClientIPHeader), the edge authenticates with a client certificate
// (OriginPullCA), and only HTTPS is served (TLSSecret).
type Spec struct {
	// Controller is the ingress controller to generate for.
	Controller Controller
	// Name is the base name of every generated object (a DNS label).
	Name string
	// Namespace holds the generated routing objects, the TLS Secret, the CA
	// and the Backend.
	Namespace string
	// Hosts are the host names served (wildcards like *.example.com allowed).
	Hosts []string
	// Edge are the prefixes of the proxies that may connect and whose
	// client-address header is believed: Cloudflare's ranges, typically from
	// package allowlist. They are canonicalised (masked) on output.
	Edge []netip.Prefix
	// ClientIPHeader, when set, makes the controller replace the client
	// address with this header's value, trusted only from Edge (typically
	// [DefaultClientIPHeader]). Once it does, address checks inside the
	// controller judge the visitor, not the peer, so "only the edge may
	// connect" is then emitted at layer 4 (the controller's Service) instead.
	// Empty leaves the peer address alone.
	ClientIPHeader string
	// TLSSecret is the kubernetes.io/tls Secret with the origin certificate
	// (for example a Cloudflare Origin CA certificate).
	TLSSecret string
	// OriginPullCA, when set, requires a client certificate signed by it on
	// every TLS connection. Nil emits no client-certificate check and a
	// [Caveat] saying so.
	OriginPullCA *CARef
	// Backend is the application Service.
	Backend Backend
	// ClassName is the IngressClass (ingress-nginx, Traefik, Kong) or
	// GatewayClass (Gateway API, Envoy Gateway) name. Empty uses the
	// controller's usual default: "nginx", "traefik", "kong", "eg"; for
	// GatewayAPI, which has none, it is required.
	ClassName string
	// ControllerService, when set, is the controller's LoadBalancer Service;
	// a Service apply patch with externalTrafficPolicy: Local and
	// loadBalancerSourceRanges set to Edge is emitted for it. Envoy Gateway
	// creates its Service from the EnvoyProxy object instead and ignores it.
	ControllerService *types.NamespacedName
	// ControllerConfig is ingress-nginx's controller ConfigMap; the zero
	// value means ingress-nginx/ingress-nginx-controller, the Helm chart's.
	ControllerConfig types.NamespacedName
	// SourceRangeLimit, when positive, is how many loadBalancerSourceRanges
	// entries the cloud's load balancer accepts (for AWS,
	// [AWSSourceRangeLimit] divided by the Service's ports); Validate fails
	// when Edge needs more, rather than let the cloud controller fail to
	// program the load balancer while the Service looks applied.
	SourceRangeLimit int
}

// AWSSourceRangeLimit is AWS's default quota of inbound rules per security
// group (60, per address family; it can be raised). The in-tree cloud
// provider and the AWS Load Balancer Controller add a security-group rule
// per source range and port, so divide it by the number of ports the
// Service exposes: 30 for 80 and 443, which Cloudflare's 15 IPv4 and 7 IPv6
// ranges fit. Counting both families together, as Validate does, errs on
// the safe side.
const AWSSourceRangeLimit = 60

// className is ClassName, or the controller's default when it is empty.
func (s Spec) className() string {
	if s.ClassName != "" {
		return s.ClassName
	}
	switch s.Controller {
	case EnvoyGateway:
		return "eg"
	case IngressNGINX:
		return "nginx"
	case TraefikNGINX, Traefik:
		return "traefik"
	case Kong:
		return "kong"
	}
	return ""
}

// controllerConfig is ControllerConfig with its default.
func (s Spec) controllerConfig() types.NamespacedName {
	if s.ControllerConfig == (types.NamespacedName{}) {
		return types.NamespacedName{Namespace: "ingress-nginx", Name: "ingress-nginx-controller"}
	}
	return s.ControllerConfig
}

// edge returns Edge masked, sorted and without duplicates.
func (s Spec) edge() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(s.Edge))
	for _, p := range s.Edge {
		out = append(out, p.Masked())
	}
	slices.SortFunc(out, comparePrefix)
	return slices.Compact(out)
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// edgeStrings is edge() as CIDR strings, the output boundary.
func (s Spec) edgeStrings() []string {
	var out []string
	for _, p := range s.edge() {
		out = append(out, p.String())
	}
	return out
}

// ErrInvalidSpec is wrapped by every error [Spec.Validate] returns.
var ErrInvalidSpec = errors.New("ingress: invalid spec")

// FieldError is one problem [Spec.Validate] found, naming the field. It
// matches [ErrInvalidSpec] on its own too.
type FieldError struct {
	Field string // for example "Edge[2]" or "OriginPullCA.Kind"
	Value any    // the offending value
	Msg   string
}

// Error names the field, the offending value and what is wrong with it.
func (e *FieldError) Error() string { return fmt.Sprintf("%s %v: %s", e.Field, e.Value, e.Msg) }

// Unwrap makes every FieldError match [ErrInvalidSpec].
func (e *FieldError) Unwrap() error { return ErrInvalidSpec }

// Validate reports every problem with the Spec at once, or nil: the error
// matches [ErrInvalidSpec] and holds one [*FieldError] per problem (find
// them with errors.As, or read them one a line in its message). A Spec that
// validates always generates.
func (s Spec) Validate() error {
	var errs []error
	bad := func(field string, value any, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Value: value, Msg: fmt.Sprintf(format, args...)})
	}
	if !slices.Contains(Controllers, s.Controller) {
		bad("Controller", fmt.Sprintf("%q", s.Controller), "unknown controller, want one of %v", Controllers)
	}
	for _, m := range validation.IsDNS1123Label(s.Name) {
		bad("Name", fmt.Sprintf("%q", s.Name), "%s", m)
	}
	if len(s.Name) > 40 {
		bad("Name", fmt.Sprintf("%q", s.Name), "longer than 40 characters: generated names add suffixes")
	}
	for _, m := range validation.IsDNS1123Label(s.Namespace) {
		bad("Namespace", fmt.Sprintf("%q", s.Namespace), "%s", m)
	}
	if len(s.Hosts) == 0 {
		bad("Hosts", "[]", "at least one host is needed")
	}
	seen := map[string]bool{}
	for i, h := range s.Hosts {
		field := fmt.Sprintf("Hosts[%d]", i)
		var msgs []string
		if strings.HasPrefix(h, "*.") {
			msgs = validation.IsWildcardDNS1123Subdomain(h)
		} else {
			msgs = validation.IsDNS1123Subdomain(h)
		}
		for _, m := range msgs {
			bad(field, fmt.Sprintf("%q", h), "%s", m)
		}
		if seen[h] {
			bad(field, fmt.Sprintf("%q", h), "duplicate host")
		}
		seen[h] = true
	}
	if len(s.Edge) == 0 {
		bad("Edge", "[]", "at least one edge prefix is needed")
	}
	for i, p := range s.Edge {
		field := fmt.Sprintf("Edge[%d]", i)
		switch {
		case !p.IsValid():
			bad(field, p, "invalid prefix")
		case p.Addr().Is4In6():
			bad(field, p, "IPv4-mapped IPv6 prefix: write it as IPv4")
		case p.Bits() == 0:
			bad(field, p, "matches every address: the edge must be specific")
		case p.Addr().Zone() != "":
			bad(field, p, "prefix with a zone")
		}
	}
	specific := slices.DeleteFunc(slices.Clone(s.Edge), func(p netip.Prefix) bool { return p.Bits() == 0 })
	if why := tooBroad(specific); why != "" {
		bad("Edge", fmt.Sprintf("(%d prefixes)", len(s.Edge)), "%s", why)
	}
	if s.SourceRangeLimit > 0 && len(s.edge()) > s.SourceRangeLimit {
		bad("Edge", fmt.Sprintf("(%d prefixes)", len(s.edge())), "more than SourceRangeLimit %d: the cloud load balancer would reject loadBalancerSourceRanges", s.SourceRangeLimit)
	}
	if s.ClientIPHeader != "" {
		if !validHeaderName(s.ClientIPHeader) {
			bad("ClientIPHeader", fmt.Sprintf("%q", s.ClientIPHeader), "not an HTTP header name")
		}
		if http.CanonicalHeaderKey(s.ClientIPHeader) == "Host" {
			bad("ClientIPHeader", fmt.Sprintf("%q", s.ClientIPHeader), "not a client-address header")
		}
	}
	for _, m := range validation.IsDNS1123Subdomain(s.TLSSecret) {
		bad("TLSSecret", fmt.Sprintf("%q", s.TLSSecret), "%s", m)
	}
	if ca := s.OriginPullCA; ca != nil {
		switch ca.Kind {
		case CASecret, CAConfigMap:
		default:
			bad("OriginPullCA.Kind", fmt.Sprintf("%q", ca.Kind), "want %q or %q", CASecret, CAConfigMap)
		}
		for _, m := range validation.IsDNS1123Subdomain(ca.Name) {
			bad("OriginPullCA.Name", fmt.Sprintf("%q", ca.Name), "%s", m)
		}
		switch s.Controller {
		case IngressNGINX, TraefikNGINX, Traefik:
			if ca.Kind == CAConfigMap {
				bad("OriginPullCA.Kind", fmt.Sprintf("%q", ca.Kind), "%s reads the CA only from a Secret", s.Controller)
			}
		}
	}
	for _, m := range validation.IsDNS1035Label(s.Backend.Name) {
		bad("Backend.Name", fmt.Sprintf("%q", s.Backend.Name), "%s", m)
	}
	if s.Backend.Port < 1 || s.Backend.Port > 65535 {
		bad("Backend.Port", s.Backend.Port, "want 1-65535")
	}
	if s.ClassName == "" && s.Controller == GatewayAPI {
		bad("ClassName", `""`, "a Gateway API implementation has no default GatewayClass: name it")
	}
	if s.ClassName != "" {
		for _, m := range validation.IsDNS1123Subdomain(s.ClassName) {
			bad("ClassName", fmt.Sprintf("%q", s.ClassName), "%s", m)
		}
	}
	if svc := s.ControllerService; svc != nil {
		for _, m := range validation.IsDNS1123Label(svc.Namespace) {
			bad("ControllerService.Namespace", fmt.Sprintf("%q", svc.Namespace), "%s", m)
		}
		for _, m := range validation.IsDNS1035Label(svc.Name) {
			bad("ControllerService.Name", fmt.Sprintf("%q", svc.Name), "%s", m)
		}
	}
	if c := s.ControllerConfig; c != (types.NamespacedName{}) {
		for _, m := range validation.IsDNS1123Label(c.Namespace) {
			bad("ControllerConfig.Namespace", fmt.Sprintf("%q", c.Namespace), "%s", m)
		}
		for _, m := range validation.IsDNS1123Subdomain(c.Name) {
			bad("ControllerConfig.Name", fmt.Sprintf("%q", c.Name), "%s", m)
		}
	}
	if s.SourceRangeLimit < 0 {
		bad("SourceRangeLimit", s.SourceRangeLimit, "negative")
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n%w", ErrInvalidSpec, errors.Join(errs...))
}

// The most an edge may cover, in total: a /8 of IPv4 (2^24 addresses) and a
// /16 of IPv6 (counted in /64s). Cloudflare's edge is about 2^21 IPv4
// addresses and 2^36 /64s. A bound on each prefix alone would pass many
// /9s, so the bound is on the sum (overlaps count twice: it errs on the safe
// side).
const (
	maxEdge4     = 1 << 24
	maxEdge6Nets = 1 << 48
)

// tooBroad says why a list of prefixes covers too much to be an edge (or a
// set of trusted proxies), or "" when it does not.
func tooBroad(ps []netip.Prefix) string {
	var v4, v6 uint64
	for _, p := range ps {
		if !p.IsValid() {
			continue
		}
		switch {
		case p.Addr().Is4():
			v4 += 1 << (32 - p.Bits())
		case p.Bits() <= 16:
			v6 += maxEdge6Nets + 1
		case p.Bits() < 64:
			v6 += 1 << (64 - p.Bits())
		default:
			v6++
		}
	}
	switch {
	case v4 > maxEdge4:
		return fmt.Sprintf("covers %d IPv4 addresses, more than a /8: too broad to be an edge", v4)
	case v6 > maxEdge6Nets:
		return "covers more IPv6 space than a /16: too broad to be an edge"
	}
	return ""
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// Object is a generated Kubernetes object: a typed value with its TypeMeta
// set (apiVersion and kind), ready for [Render].
type Object interface {
	metav1.Object
	GetObjectKind() schema.ObjectKind
}

// Need is one of the four things an origin behind Cloudflare enforces.
type Need string

// The four needs.
const (
	// NeedEdgeOnly: only the edge may connect.
	NeedEdgeOnly Need = "edge-only"
	// NeedClientIP: the real client address, trusted only from the edge.
	NeedClientIP Need = "client-ip"
	// NeedOriginPull: the edge authenticates with a client certificate
	// (Authenticated Origin Pulls).
	NeedOriginPull Need = "origin-pull"
	// NeedHTTPSOnly: only HTTPS is served, with the origin certificate.
	NeedHTTPSOnly Need = "https-only"
)

// Caveat is a need the generated objects do not (fully) meet at this layer,
// and where it must be met instead.
type Caveat struct {
	Need    Need
	Message string
}

// SettingKind says where a [Setting] goes.
type SettingKind string

// The places a Setting can go.
const (
	// Flag is a command-line flag of the controller (or the equivalent Helm
	// value), static configuration no API object can change.
	Flag SettingKind = "flag"
	// Env is an environment variable of the controller's proxy.
	Env SettingKind = "env"
)

// Setting is static configuration outside the Kubernetes API objects that
// the generated objects rely on.
type Setting struct {
	Kind  SettingKind
	Name  string // "--entryPoints.websecure.forwardedHeaders.trustedIPs", "KONG_TRUSTED_IPS"
	Value string
	Need  Need
}

// String renders the setting as it is written: --name=value or NAME=value.
func (s Setting) String() string { return s.Name + "=" + s.Value }

// Output is what [Generate] produces for one controller. It is a fresh value
// the caller owns and may modify; nothing else refers to it.
type Output struct {
	// Objects are the Kubernetes objects to apply, in apply order.
	Objects []Object
	// Settings are static controller configuration the Objects rely on.
	Settings []Setting
	// Caveats are needs not met by Objects and Settings, and where to meet
	// them instead.
	Caveats []Caveat
}

// Generate validates the Spec and returns what enforces it on its
// Controller. It does no I/O; [Render] turns the objects into YAML.
func Generate(s Spec) (*Output, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	out := new(Output)
	switch s.Controller {
	case GatewayAPI:
		genGatewayAPI(s, out)
	case EnvoyGateway:
		genEnvoyGateway(s, out)
	case IngressNGINX, TraefikNGINX:
		genNGINX(s, out)
	case Traefik:
		genTraefik(s, out)
	case Kong:
		genKong(s, out)
	}
	if s.Controller != EnvoyGateway {
		genService(s, out)
	}
	if s.OriginPullCA == nil && s.Controller != Kong {
		out.Caveats = append(out.Caveats, Caveat{NeedOriginPull,
			"no OriginPullCA: no client certificate is required, so anything that can reach the controller (any Cloudflare customer's Worker, or anyone if the edge-only check is missing) is served"})
	}
	return out, nil
}

func meta(name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{ManagedByLabel: ManagedByValue}}
}

// ManagedByLabel and ManagedByValue label every generated object.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "originguard"
)
