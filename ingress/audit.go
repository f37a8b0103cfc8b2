package ingress

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Finding is one deviation [Audit] found: the object, the field, which need
// it breaks and why that matters. It is a plain value.
type Finding struct {
	Kind      string
	Namespace string // empty for cluster-scoped objects
	Name      string
	Field     string // a JSON path, e.g. data[proxy-real-ip-cidr]
	Need      Need
	Message   string
}

// String is "Kind namespace/name field: message".
func (f Finding) String() string {
	obj := f.Name
	if f.Namespace != "" {
		obj = f.Namespace + "/" + f.Name
	}
	return fmt.Sprintf("%s %s %s: %s", f.Kind, obj, f.Field, f.Message)
}

// document is one object under audit: its identity and raw JSON.
type document struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	raw []byte
}

func (d *document) group() string {
	g, _, ok := strings.Cut(d.APIVersion, "/")
	if !ok {
		return ""
	}
	return g
}

// Audit checks existing objects (typed, as [Object]s, for instance from a
// client's List) for the mistakes that undo the edge, and returns every
// finding, sorted by object and field. It looks at ingress-nginx controller
// ConfigMaps and Ingresses, LoadBalancer Services, Gateways and HTTPRoutes,
// Envoy Gateway ClientTrafficPolicies and SecurityPolicies, Traefik
// Middlewares, TLSOptions and IngressRoutes, and Kong's Ingresses and
// ip-restriction plugins; other objects are ignored. Static controller
// configuration (flags, environment) is not visible to it.
// Objects are judged together: whether an ingress-nginx allowlist judges the
// peer or the visitor depends on the controller ConfigMap, so pass it too.
//
// When edge is not empty, lists of trusted proxies and admitted sources are
// also checked to lie within it.
func Audit(edge []netip.Prefix, objs ...Object) []Finding {
	docs := make([]*document, 0, len(objs))
	for _, o := range objs {
		data, err := json.Marshal(o)
		if err != nil {
			continue // not a Kubernetes object: nothing to audit
		}
		if d, err := parseDocument(data); err == nil {
			docs = append(docs, d)
		}
	}
	return audit(edge, docs)
}

// AuditYAML is [Audit] for a YAML (or JSON) stream of objects, such as the
// output of `kubectl get -o yaml` (a List's items are audited) or a
// directory of manifests joined with "---". It fails only on a stream that
// is not YAML, naming the document.
func AuditYAML(edge []netip.Prefix, data []byte) ([]Finding, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var docs []*document
	for n := 1; ; n++ {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("ingress: audit document %d: %w", n, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
			continue
		}
		d, err := parseDocument(raw)
		if err != nil {
			return nil, fmt.Errorf("ingress: audit document %d: %w", n, err)
		}
		if strings.HasSuffix(d.Kind, "List") {
			var list struct{ Items []json.RawMessage }
			if err := json.Unmarshal(raw, &list); err != nil {
				return nil, fmt.Errorf("ingress: audit document %d: %w", n, err)
			}
			for i, item := range list.Items {
				d, err := parseDocument(item)
				if err != nil {
					return nil, fmt.Errorf("ingress: audit document %d item %d: %w", n, i, err)
				}
				docs = append(docs, d)
			}
			continue
		}
		docs = append(docs, d)
	}
	return audit(edge, docs), nil
}

func parseDocument(raw []byte) (*document, error) {
	d := new(document)
	if err := json.Unmarshal(raw, d); err != nil {
		return nil, err
	}
	d.raw = raw
	return d, nil
}

// auditor holds what the checks learn about the whole set of objects.
type auditor struct {
	edge     []netip.Prefix
	findings []Finding
	// nginxRealIP names the ingress-nginx ConfigMaps that turn real IP on.
	nginxRealIP []string
	// ipChecks name the fields that compare an address with a list inside
	// the controller (an allowlist, or the peers whose header is believed),
	// which SNAT by externalTrafficPolicy: Cluster defeats.
	ipChecks []string
	// detecting are the namespaces with an Envoy Gateway ClientTrafficPolicy
	// that detects the client address from a header.
	detecting map[string]string
	// mtlsGateways are namespace/name of Gateways an Envoy Gateway
	// ClientTrafficPolicy requires client certificates on.
	mtlsGateways map[string]bool
	// listeners maps namespace/gateway to its plain-HTTP listener names.
	httpListeners map[string][]string
}

func (a *auditor) add(d *document, field string, need Need, format string, args ...any) {
	a.findings = append(a.findings, Finding{
		Kind: d.Kind, Namespace: d.Metadata.Namespace, Name: d.Metadata.Name,
		Field: field, Need: need, Message: fmt.Sprintf(format, args...),
	})
}

func ref(d *document) string {
	if d.Metadata.Namespace == "" {
		return d.Kind + " " + d.Metadata.Name
	}
	return d.Kind + " " + d.Metadata.Namespace + "/" + d.Metadata.Name
}

func audit(edge []netip.Prefix, docs []*document) []Finding {
	a := &auditor{detecting: map[string]string{}, mtlsGateways: map[string]bool{}, httpListeners: map[string][]string{}}
	for _, p := range edge {
		if p.IsValid() {
			a.edge = append(a.edge, p.Masked())
		}
	}
	// Context first: controller configuration that changes what other
	// objects mean.
	for _, d := range docs {
		switch {
		case d.group() == "" && d.Kind == "ConfigMap":
			a.nginxConfig(d)
		case d.group() == "gateway.envoyproxy.io" && d.Kind == "ClientTrafficPolicy":
			a.clientTrafficPolicy(d)
		case d.group() == gwapiv1.GroupName && d.Kind == "Gateway":
			a.collectListeners(d)
		}
	}
	for _, d := range docs {
		switch {
		case d.group() == "networking.k8s.io" && d.Kind == "Ingress":
			a.ingress(d)
		case d.group() == gwapiv1.GroupName && d.Kind == "Gateway":
			a.gateway(d)
		case d.group() == gwapiv1.GroupName && d.Kind == "HTTPRoute":
			a.httpRoute(d)
		case d.group() == "gateway.envoyproxy.io" && d.Kind == "SecurityPolicy":
			a.securityPolicy(d)
		case d.group() == "traefik.io" && d.Kind == "Middleware":
			a.middleware(d)
		case d.group() == "traefik.io" && d.Kind == "TLSOption":
			a.tlsOption(d)
		case d.group() == "traefik.io" && d.Kind == "IngressRoute":
			a.ingressRoute(d)
		case d.group() == "configuration.konghq.com" && (d.Kind == "KongPlugin" || d.Kind == "KongClusterPlugin"):
			a.kongPlugin(d)
		}
	}
	// Services last: whether Cluster matters depends on the checks behind.
	for _, d := range docs {
		if d.group() == "" && d.Kind == "Service" {
			a.service(d)
		}
	}
	slices.SortStableFunc(a.findings, func(x, y Finding) int {
		return cmp.Or(cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.Namespace, y.Namespace),
			cmp.Compare(x.Name, y.Name), cmp.Compare(x.Field, y.Field))
	})
	return a.findings
}

// prefixList parses a list of CIDRs or addresses; bad holds what did not
// parse.
func prefixList(items []string) (ps []netip.Prefix, bad []string) {
	for _, s := range items {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			ps = append(ps, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(s); err == nil {
			ps = append(ps, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		bad = append(bad, s)
	}
	return ps, bad
}

func splitComma(s string) []string { return strings.Split(s, ",") }

// checkTrusted reports a list of proxies or sources that admits everyone,
// does not parse, or reaches beyond the edge. what says what the list does.
func (a *auditor) checkTrusted(d *document, field string, need Need, items []string, what string) {
	ps, bad := prefixList(items)
	for _, b := range bad {
		a.add(d, field, need, "%q is not an address or CIDR, so %s is not what it says", b, what)
	}
	for _, p := range ps {
		if p.Bits() == 0 {
			a.add(d, field, need, "%s covers every address (%s): anyone who connects directly is treated as the edge", what, p)
			return
		}
	}
	if why := tooBroad(ps); why != "" {
		a.add(d, field, need, "%s %s", what, why)
		return
	}
	if len(a.edge) == 0 {
		return
	}
	for _, p := range ps {
		if !withinEdge(p, a.edge) {
			a.add(d, field, need, "%s includes %s, outside the edge", what, p)
		}
	}
}

func withinEdge(p netip.Prefix, edge []netip.Prefix) bool {
	for _, e := range edge {
		if e.Bits() <= p.Bits() && e.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

func isTrue(s string) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	return err == nil && b
}

// nginxConfigKeys mark a ConfigMap as ingress-nginx's controller ConfigMap.
var nginxConfigKeys = []string{ConfigEnableRealIP, ConfigUseForwardedHeaders, ConfigUseProxyProtocol, ConfigForwardedForHeader, ConfigProxyRealIPCIDR, "compute-full-forwarded-for"}

func (a *auditor) nginxConfig(d *document) {
	var cm corev1.ConfigMap
	if json.Unmarshal(d.raw, &cm) != nil {
		return
	}
	isNGINX := strings.Contains(cm.Name, "ingress-nginx") || strings.Contains(cm.Name, "nginx-ingress")
	for _, k := range nginxConfigKeys {
		if _, ok := cm.Data[k]; ok {
			isNGINX = true
		}
	}
	if !isNGINX {
		return
	}
	realIP := isTrue(cm.Data[ConfigEnableRealIP]) || isTrue(cm.Data[ConfigUseForwardedHeaders]) || isTrue(cm.Data[ConfigUseProxyProtocol])
	if !realIP {
		return
	}
	a.nginxRealIP = append(a.nginxRealIP, ref(d))
	// The template sets real_ip_header to the PROXY protocol when that is
	// on, else to forwarded-for-header (default X-Forwarded-For).
	header := cm.Data[ConfigForwardedForHeader]
	switch {
	case isTrue(cm.Data[ConfigUseProxyProtocol]):
		header = "a PROXY protocol header"
	case header == "":
		header = "X-Forwarded-For"
	}
	field := "data[" + ConfigProxyRealIPCIDR + "]"
	cidrs, ok := cm.Data[ConfigProxyRealIPCIDR]
	if !ok || strings.TrimSpace(cidrs) == "" {
		a.add(d, field, NeedClientIP, "real IP is on but %s is unset and defaults to 0.0.0.0/0: any client can claim any address by sending %s", ConfigProxyRealIPCIDR, header)
		return
	}
	a.checkTrusted(d, field, NeedClientIP, splitComma(cidrs), "the set of peers whose "+header+" is believed")
	a.ipChecks = append(a.ipChecks, ref(d)+" "+field)
}

func (a *auditor) ingress(d *document) {
	var ing networkingv1.Ingress
	if json.Unmarshal(d.raw, &ing) != nil {
		return
	}
	ann := ing.Annotations
	nginx := false
	for k := range ann {
		if strings.HasPrefix(k, nginxPrefix) {
			nginx = true
		}
	}
	if c := ing.Spec.IngressClassName; c != nil && strings.Contains(*c, "nginx") {
		nginx = true
	}
	if !nginx {
		a.kongIngress(d, &ing)
		return
	}
	for _, key := range []string{AnnotationAllowlist, AnnotationWhitelist} {
		v, ok := ann[key]
		if !ok {
			continue
		}
		field := "metadata.annotations[" + key + "]"
		if len(a.nginxRealIP) > 0 {
			a.add(d, field, NeedEdgeOnly, "real IP is on (%s), so this allowlist judges the visitor, not the peer: an allowlist of the edge blocks every visitor, and lets in a direct client whose header names an edge address; enforce the edge on the Service (loadBalancerSourceRanges) instead", strings.Join(a.nginxRealIP, ", "))
		} else {
			a.checkTrusted(d, field, NeedEdgeOnly, splitComma(v), "the allowlist")
		}
		a.ipChecks = append(a.ipChecks, ref(d)+" "+field)
	}
	if _, ok := ann[AnnotationAuthTLSSecret]; !ok {
		a.add(d, "metadata.annotations["+AnnotationAuthTLSSecret+"]", NeedOriginPull, "no client certificate is required: anything that reaches the controller, including any Cloudflare customer's Worker, is served (Authenticated Origin Pulls not enforced)")
	} else if v, ok := ann[AnnotationAuthTLSVerifyClient]; ok && strings.TrimSpace(v) != "on" {
		a.add(d, "metadata.annotations["+AnnotationAuthTLSVerifyClient+"]", NeedOriginPull, "%q lets clients without a valid certificate through: only \"on\" enforces Authenticated Origin Pulls", v)
	}
	if len(ing.Spec.TLS) == 0 {
		a.add(d, "spec.tls", NeedHTTPSOnly, "no TLS: the hosts are served over plain HTTP")
	} else if strings.TrimSpace(ann[AnnotationSSLRedirect]) == "false" && !isTrue(ann[AnnotationForceSSLRedirect]) {
		a.add(d, "metadata.annotations["+AnnotationSSLRedirect+"]", NeedHTTPSOnly, "\"false\" serves the hosts over plain HTTP as well")
	}
	covered := map[string]bool{}
	for _, t := range ing.Spec.TLS {
		for _, h := range t.Hosts {
			covered[h] = true
		}
	}
	for i, r := range ing.Spec.Rules {
		if len(ing.Spec.TLS) > 0 && r.Host != "" && !covered[r.Host] {
			a.add(d, fmt.Sprintf("spec.rules[%d].host", i), NeedHTTPSOnly, "%q is in no spec.tls entry: served over plain HTTP, without the client-certificate check", r.Host)
		}
	}
}

func (a *auditor) service(d *document) {
	var svc corev1.Service
	if json.Unmarshal(d.raw, &svc) != nil || svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return
	}
	ranges := svc.Spec.LoadBalancerSourceRanges
	field := "spec.loadBalancerSourceRanges"
	if len(ranges) == 0 {
		if v := svc.Annotations[corev1.AnnotationLoadBalancerSourceRangesKey]; v != "" {
			ranges = splitComma(v)
			field = "metadata.annotations[" + corev1.AnnotationLoadBalancerSourceRangesKey + "]"
		}
	}
	if len(ranges) == 0 {
		a.add(d, "spec.loadBalancerSourceRanges", NeedEdgeOnly, "a LoadBalancer with no source ranges is open to every address: anyone can reach the origin without passing Cloudflare")
	} else {
		a.checkTrusted(d, field, NeedEdgeOnly, ranges, "the load balancer's admitted sources")
	}
	if svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal && len(a.ipChecks) > 0 {
		etp := string(svc.Spec.ExternalTrafficPolicy)
		if etp == "" {
			etp = "Cluster (the default)"
		}
		a.add(d, "spec.externalTrafficPolicy", NeedEdgeOnly, "%s lets a node SNAT the packet, so the address checks behind it (%s) see a node's address, not the edge's: set Local", etp, strings.Join(a.ipChecks, ", "))
	}
}

func (a *auditor) collectListeners(d *document) {
	var gw gwapiv1.Gateway
	if json.Unmarshal(d.raw, &gw) != nil {
		return
	}
	key := gw.Namespace + "/" + gw.Name
	for _, l := range gw.Spec.Listeners {
		if l.Protocol == gwapiv1.HTTPProtocolType {
			a.httpListeners[key] = append(a.httpListeners[key], string(l.Name))
		}
	}
}

func (a *auditor) gateway(d *document) {
	var gw gwapiv1.Gateway
	if json.Unmarshal(d.raw, &gw) != nil {
		return
	}
	if a.mtlsGateways[gw.Namespace+"/"+gw.Name] {
		return // an Envoy Gateway ClientTrafficPolicy requires the certificate
	}
	var ports []gwapiv1.PortNumber
	for _, l := range gw.Spec.Listeners {
		if l.Protocol == gwapiv1.HTTPSProtocolType && !slices.Contains(ports, l.Port) {
			ports = append(ports, l.Port)
		}
	}
	var frontend *gwapiv1.FrontendTLSConfig
	if gw.Spec.TLS != nil {
		frontend = gw.Spec.TLS.Frontend
	}
	for _, port := range ports {
		field := "spec.tls.frontend.default.validation"
		var v *gwapiv1.FrontendTLSValidation
		if frontend != nil {
			v = frontend.Default.Validation
			for i, pp := range frontend.PerPort {
				if pp.Port == port {
					field = fmt.Sprintf("spec.tls.frontend.perPort[%d].tls.validation", i)
					v = pp.TLS.Validation
				}
			}
		}
		switch {
		case v == nil:
			a.add(d, field, NeedOriginPull, "HTTPS on port %d requires no client certificate: Authenticated Origin Pulls not enforced", port)
		case v.Mode == gwapiv1.AllowInsecureFallback:
			a.add(d, field+".mode", NeedOriginPull, "AllowInsecureFallback on port %d accepts connections without a valid client certificate", port)
		}
	}
}

func (a *auditor) httpRoute(d *document) {
	var r gwapiv1.HTTPRoute
	if json.Unmarshal(d.raw, &r) != nil {
		return
	}
	serves := false
	for _, rule := range r.Spec.Rules {
		redirect := slices.ContainsFunc(rule.Filters, func(f gwapiv1.HTTPRouteFilter) bool {
			return f.Type == gwapiv1.HTTPRouteFilterRequestRedirect && f.RequestRedirect != nil &&
				f.RequestRedirect.Scheme != nil && *f.RequestRedirect.Scheme == "https"
		})
		if len(rule.BackendRefs) > 0 && !redirect {
			serves = true
		}
	}
	if !serves {
		return
	}
	for i, p := range r.Spec.ParentRefs {
		if p.Kind != nil && *p.Kind != "Gateway" {
			continue
		}
		ns := r.Namespace
		if p.Namespace != nil {
			ns = string(*p.Namespace)
		}
		http := a.httpListeners[ns+"/"+string(p.Name)]
		if len(http) == 0 {
			continue
		}
		if p.SectionName == nil || slices.Contains(http, string(*p.SectionName)) {
			a.add(d, fmt.Sprintf("spec.parentRefs[%d]", i), NeedHTTPSOnly, "attaches to the plain-HTTP listener of Gateway %s/%s and forwards to backends: the application is served over HTTP (name the HTTPS listeners in sectionName, and only redirect on HTTP)", ns, p.Name)
		}
	}
}

func (a *auditor) clientTrafficPolicy(d *document) {
	var ctp ClientTrafficPolicy
	if json.Unmarshal(d.raw, &ctp) != nil {
		return
	}
	if det := ctp.Spec.ClientIPDetection; det != nil {
		a.detecting[ctp.Namespace] = ref(d)
		if det.CustomHeader != nil {
			a.add(d, "spec.clientIPDetection.customHeader", NeedClientIP, "%s is believed from any peer: a direct client names any address it likes; use xForwardedFor.trustedCIDRs with the edge", det.CustomHeader.Name)
		}
		if x := det.XForwardedFor; x != nil {
			if x.NumTrustedHops != nil {
				a.add(d, "spec.clientIPDetection.xForwardedFor.numTrustedHops", NeedClientIP, "counting hops checks no peer: a direct client's X-Forwarded-For is believed; use trustedCIDRs with the edge")
			}
			if len(x.TrustedCIDRs) > 0 {
				a.checkTrusted(d, "spec.clientIPDetection.xForwardedFor.trustedCIDRs", NeedClientIP, x.TrustedCIDRs, "the set of peers whose X-Forwarded-For is believed")
			}
		}
	}
	if ctp.Spec.TLS != nil && ctp.Spec.TLS.ClientValidation != nil {
		cv := ctp.Spec.TLS.ClientValidation
		switch {
		case cv.Optional:
			a.add(d, "spec.tls.clientValidation.optional", NeedOriginPull, "accepts connections without a client certificate: Authenticated Origin Pulls not enforced")
		case cv.Mode != "" && cv.Mode != "RequireAndVerify":
			a.add(d, "spec.tls.clientValidation.mode", NeedOriginPull, "%s does not require a valid client certificate: only RequireAndVerify enforces Authenticated Origin Pulls", cv.Mode)
		default:
			for _, t := range ctp.Spec.TargetRefs {
				if t.Kind == "Gateway" {
					a.mtlsGateways[ctp.Namespace+"/"+string(t.Name)] = true
				}
			}
		}
	}
}

func (a *auditor) securityPolicy(d *document) {
	var sp SecurityPolicy
	if json.Unmarshal(d.raw, &sp) != nil || sp.Spec.Authorization == nil {
		return
	}
	for i, r := range sp.Spec.Authorization.Rules {
		if len(r.Principal.ClientCIDRs) == 0 {
			continue
		}
		field := fmt.Sprintf("spec.authorization.rules[%d].principal.clientCIDRs", i)
		if ctp, ok := a.detecting[sp.Namespace]; ok {
			a.add(d, field, NeedEdgeOnly, "matches the client address %s detects, the visitor, not the peer: an allowlist of the edge here blocks every visitor; enforce the edge on the EnvoyProxy Service (loadBalancerSourceRanges)", ctp)
			continue
		}
		if r.Action == "Allow" {
			a.checkTrusted(d, field, NeedEdgeOnly, r.Principal.ClientCIDRs, "the allowlist")
			a.ipChecks = append(a.ipChecks, ref(d)+" "+field)
		}
	}
}

func (a *auditor) middleware(d *document) {
	var mw Middleware
	if json.Unmarshal(d.raw, &mw) != nil || mw.Spec.IPAllowList == nil {
		return
	}
	al := mw.Spec.IPAllowList
	if s := al.IPStrategy; s != nil && (s.Depth > 0 || len(s.ExcludedIPs) > 0) {
		a.add(d, "spec.ipAllowList.ipStrategy", NeedEdgeOnly, "takes the address from X-Forwarded-For, the visitor (or whatever a direct client writes there), not the peer: remove ipStrategy to admit only the edge")
		return
	}
	a.checkTrusted(d, "spec.ipAllowList.sourceRange", NeedEdgeOnly, al.SourceRange, "the allowlist")
	a.ipChecks = append(a.ipChecks, ref(d)+" spec.ipAllowList")
}

func (a *auditor) tlsOption(d *document) {
	var opt TLSOption
	if json.Unmarshal(d.raw, &opt) != nil || opt.Spec.ClientAuth == nil {
		return
	}
	if t := opt.Spec.ClientAuth.ClientAuthType; t != "RequireAndVerifyClientCert" {
		if t == "" {
			t = "NoClientCert (the default)"
		}
		a.add(d, "spec.clientAuth.clientAuthType", NeedOriginPull, "%s does not require a valid client certificate: only RequireAndVerifyClientCert enforces Authenticated Origin Pulls", t)
	}
}

func (a *auditor) kongPlugin(d *document) {
	var p struct {
		Plugin string `json:"plugin"`
		Config struct {
			Allow json.RawMessage `json:"allow"`
		} `json:"config"`
	}
	if json.Unmarshal(d.raw, &p) != nil || p.Plugin != "ip-restriction" || len(p.Config.Allow) == 0 {
		return
	}
	var allow []string
	if err := json.Unmarshal(p.Config.Allow, &allow); err != nil {
		var s string
		if json.Unmarshal(p.Config.Allow, &s) == nil {
			a.add(d, "config.allow", NeedEdgeOnly, "a string, not an array: Kong takes %q as one entry and rejects or misreads the list (Kong#4570); write one array item per range", s)
		} else {
			a.add(d, "config.allow", NeedEdgeOnly, "not an array of addresses and CIDRs")
		}
		return
	}
	a.checkTrusted(d, "config.allow", NeedEdgeOnly, allow, "the allowlist")
	a.ipChecks = append(a.ipChecks, ref(d)+" config.allow")
}

// kongIngress checks an Ingress served by Kong: Kong routes accept http and
// https unless konghq.com/protocols narrows them.
func (a *auditor) kongIngress(d *document, ing *networkingv1.Ingress) {
	kong := false
	for k := range ing.Annotations {
		if strings.HasPrefix(k, "konghq.com/") {
			kong = true
		}
	}
	if c := ing.Spec.IngressClassName; c != nil && strings.Contains(*c, "kong") {
		kong = true
	}
	if !kong {
		return
	}
	field := "metadata.annotations[" + AnnotationKongProtocols + "]"
	protocols, ok := ing.Annotations[AnnotationKongProtocols]
	if !ok {
		a.add(d, field, NeedHTTPSOnly, "unset: Kong routes accept http and https, so the hosts are served over plain HTTP; set https")
		return
	}
	for _, p := range splitComma(protocols) {
		if strings.TrimSpace(p) == "http" {
			a.add(d, field, NeedHTTPSOnly, "%q includes http: the hosts are served over plain HTTP", protocols)
		}
	}
}

// ingressRoute checks a Traefik IngressRoute: without tls it serves plain
// HTTP, and without entryPoints it listens on every entry point, web
// included.
func (a *auditor) ingressRoute(d *document) {
	var r IngressRoute
	if json.Unmarshal(d.raw, &r) != nil {
		return
	}
	if r.Spec.TLS == nil {
		a.add(d, "spec.tls", NeedHTTPSOnly, "no TLS: the routes are served over plain HTTP on their entry points")
		return
	}
	if len(r.Spec.EntryPoints) == 0 {
		a.add(d, "spec.entryPoints", NeedHTTPSOnly, "unset: the routes listen on every entry point, the plain-HTTP one included, unless that entry point redirects to HTTPS (static configuration); name websecure")
	}
	if r.Spec.TLS.Options == nil {
		a.add(d, "spec.tls.options", NeedOriginPull, "no TLSOption: the default one applies, which requires no client certificate unless you changed it")
	}
}
