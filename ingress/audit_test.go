package ingress_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/originguard/originguard/ingress"
)

var auditEdge = []netip.Prefix{netip.MustParsePrefix("173.245.48.0/20"), netip.MustParsePrefix("103.21.244.0/22"), netip.MustParsePrefix("2400:cb00::/32")}

const nginxRealIPOn = `
apiVersion: v1
kind: ConfigMap
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
data: {enable-real-ip: "true", forwarded-for-header: CF-Connecting-IP, proxy-real-ip-cidr: "173.245.48.0/20,103.21.244.0/22"}
---
`

const goodIngress = `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: shop
  annotations:
    nginx.ingress.kubernetes.io/auth-tls-secret: shop/ca
spec:
  ingressClassName: nginx
  tls: [{hosts: [shop.example.com], secretName: tls}]
  rules: [{host: shop.example.com}]
`

// TestAuditFindings: each mistake the issue names is found, on the object
// and field that carry it, and a corrected object is not reported.
func TestAuditFindings(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		want  []string // "Kind ns/name field" of every finding, in order
		needs []ingress.Need
	}{
		{
			name: "allowlist on the visitor while real IP is on",
			yaml: nginxRealIPOn + strings.Replace(goodIngress, "annotations:", "annotations:\n    nginx.ingress.kubernetes.io/allowlist-source-range: 173.245.48.0/20", 1),
			want: []string{"Ingress shop/shop metadata.annotations[nginx.ingress.kubernetes.io/allowlist-source-range]"},
		},
		{
			name: "allowlist on the peer is fine",
			yaml: strings.Replace(goodIngress, "annotations:", "annotations:\n    nginx.ingress.kubernetes.io/allowlist-source-range: 173.245.48.0/20", 1),
		},
		{
			name: "peer allowlist reaching past the edge",
			yaml: strings.Replace(goodIngress, "annotations:", "annotations:\n    nginx.ingress.kubernetes.io/whitelist-source-range: 173.245.48.0/20,10.0.0.0/8", 1),
			want: []string{"Ingress shop/shop metadata.annotations[nginx.ingress.kubernetes.io/whitelist-source-range]"},
		},
		{
			name: "proxy-real-ip-cidr left at its 0.0.0.0/0 default",
			yaml: `
apiVersion: v1
kind: ConfigMap
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
data: {use-forwarded-headers: "true"}
`,
			want: []string{"ConfigMap ingress-nginx/ingress-nginx-controller data[proxy-real-ip-cidr]"},
		},
		{
			name: "proxy-real-ip-cidr written as 0.0.0.0/0",
			yaml: `
apiVersion: v1
kind: ConfigMap
metadata: {name: nginx-config, namespace: ingress-nginx}
data: {enable-real-ip: "true", proxy-real-ip-cidr: "173.245.48.0/20, 0.0.0.0/0"}
`,
			want: []string{"ConfigMap ingress-nginx/nginx-config data[proxy-real-ip-cidr]"},
		},
		{
			name: "proxy-real-ip-cidr as two halves of the Internet",
			yaml: `
apiVersion: v1
kind: ConfigMap
metadata: {name: nginx-config, namespace: ingress-nginx}
data: {enable-real-ip: "true", proxy-real-ip-cidr: "0.0.0.0/1,128.0.0.0/1"}
`,
			want: []string{"ConfigMap ingress-nginx/nginx-config data[proxy-real-ip-cidr]"},
		},
		{
			name: "real IP off: proxy-real-ip-cidr irrelevant",
			yaml: `
apiVersion: v1
kind: ConfigMap
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
data: {enable-real-ip: "false", use-forwarded-headers: "false"}
`,
		},
		{
			name: "AOP missing",
			yaml: strings.Replace(goodIngress, "nginx.ingress.kubernetes.io/auth-tls-secret: shop/ca", "nginx.ingress.kubernetes.io/force-ssl-redirect: \"true\"", 1),
			want: []string{"Ingress shop/shop metadata.annotations[nginx.ingress.kubernetes.io/auth-tls-secret]"},
		},
		{
			name: "AOP optional",
			yaml: strings.Replace(goodIngress, "annotations:", "annotations:\n    nginx.ingress.kubernetes.io/auth-tls-verify-client: optional", 1),
			want: []string{"Ingress shop/shop metadata.annotations[nginx.ingress.kubernetes.io/auth-tls-verify-client]"},
		},
		{
			name: "HTTP served: no TLS",
			yaml: strings.Replace(goodIngress, "tls: [{hosts: [shop.example.com], secretName: tls}]", "", 1),
			want: []string{"Ingress shop/shop spec.tls"},
		},
		{
			name: "Service open, Cluster in front of an IP check",
			yaml: strings.Replace(goodIngress, "annotations:", "annotations:\n    nginx.ingress.kubernetes.io/allowlist-source-range: 173.245.48.0/20", 1) + `
---
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: ingress-nginx}
spec: {type: LoadBalancer, ports: [{port: 443}]}
`,
			want: []string{"Service ingress-nginx/lb spec.externalTrafficPolicy", "Service ingress-nginx/lb spec.loadBalancerSourceRanges"},
		},
		{
			name: "Service ranges by annotation, Local, no IP check behind",
			yaml: `
apiVersion: v1
kind: Service
metadata:
  name: lb
  namespace: ingress-nginx
  annotations: {service.beta.kubernetes.io/load-balancer-source-ranges: "173.245.48.0/20,2400:cb00::/32"}
spec: {type: LoadBalancer, externalTrafficPolicy: Local, ports: [{port: 443}]}
`,
		},
		{
			name: "Service admitting everyone; ClusterIP ignored",
			yaml: `
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: edge}
spec: {type: LoadBalancer, externalTrafficPolicy: Local, loadBalancerSourceRanges: ["::/0"]}
---
apiVersion: v1
kind: Service
metadata: {name: internal, namespace: edge}
spec: {type: ClusterIP}
`,
			want: []string{"Service edge/lb spec.loadBalancerSourceRanges"},
		},
		{
			name: "Gateway without frontend validation, route on HTTP",
			yaml: `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: shop}
spec:
  gatewayClassName: x
  listeners:
  - {name: http, port: 80, protocol: HTTP}
  - {name: https, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: tls}]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: shop}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: app, port: 80}]}]
`,
			want: []string{"Gateway shop/gw spec.tls.frontend.default.validation", "HTTPRoute shop/app spec.parentRefs[0]"},
		},
		{
			name: "Gateway AllowInsecureFallback on a per-port override",
			yaml: `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: shop}
spec:
  gatewayClassName: x
  listeners:
  - {name: https, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: tls}]}}
  - {name: alt, port: 8443, protocol: HTTPS, tls: {certificateRefs: [{name: tls}]}}
  tls:
    frontend:
      default: {validation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]}}
      perPort:
      - port: 8443
        tls: {validation: {caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}], mode: AllowInsecureFallback}}
`,
			want: []string{"Gateway shop/gw spec.tls.frontend.perPort[0].tls.validation.mode"},
		},
		{
			name: "Envoy Gateway: customHeader, optional client certificate, clientCIDRs on the visitor",
			yaml: `
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: ctp, namespace: shop}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  clientIPDetection: {customHeader: {name: CF-Connecting-IP}}
  tls: {clientValidation: {optional: true, caCertificateRefs: [{name: ca}]}}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: sp, namespace: shop}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw}]
  authorization:
    defaultAction: Deny
    rules: [{action: Allow, principal: {clientCIDRs: [173.245.48.0/20]}}]
`,
			want: []string{
				"ClientTrafficPolicy shop/ctp spec.clientIPDetection.customHeader",
				"ClientTrafficPolicy shop/ctp spec.tls.clientValidation.optional",
				"SecurityPolicy shop/sp spec.authorization.rules[0].principal.clientCIDRs",
			},
		},
		{
			name: "Envoy Gateway: numTrustedHops",
			yaml: `
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: ctp, namespace: shop}
spec: {clientIPDetection: {xForwardedFor: {numTrustedHops: 1}}}
`,
			want: []string{"ClientTrafficPolicy shop/ctp spec.clientIPDetection.xForwardedFor.numTrustedHops"},
		},
		{
			name: "Traefik: ipStrategy and a loose TLSOption",
			yaml: `
apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata: {name: cf, namespace: shop}
spec: {ipAllowList: {sourceRange: [173.245.48.0/20], ipStrategy: {depth: 1}}}
---
apiVersion: traefik.io/v1alpha1
kind: TLSOption
metadata: {name: aop, namespace: shop}
spec: {clientAuth: {secretNames: [ca], clientAuthType: VerifyClientCertIfGiven}}
`,
			want: []string{"Middleware shop/cf spec.ipAllowList.ipStrategy", "TLSOption shop/aop spec.clientAuth.clientAuthType"},
		},
		{
			name: "Kong: allow as a string (Kong#4570) and allow everyone",
			yaml: `
apiVersion: configuration.konghq.com/v1
kind: KongPlugin
metadata: {name: cf, namespace: shop}
plugin: ip-restriction
config: {allow: "173.245.48.0/20, 103.21.244.0/22"}
---
apiVersion: configuration.konghq.com/v1
kind: KongClusterPlugin
metadata: {name: cf-global}
plugin: ip-restriction
config: {allow: [0.0.0.0/0]}
`,
			want: []string{"KongClusterPlugin cf-global config.allow", "KongPlugin shop/cf config.allow"},
		},
		{
			name: "Traefik IngressRoute without TLS; another on every entry point without a TLSOption",
			yaml: `
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: plain, namespace: shop}
spec: {entryPoints: [web], routes: [{match: Host(` + "`a`" + `), services: [{name: a, port: 80}]}]}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: everywhere, namespace: shop}
spec: {routes: [{match: Host(` + "`a`" + `), services: [{name: a, port: 80}]}], tls: {secretName: tls}}
`,
			want: []string{"IngressRoute shop/everywhere spec.entryPoints", "IngressRoute shop/everywhere spec.tls.options", "IngressRoute shop/plain spec.tls"},
		},
		{
			name: "Kong Ingress accepting http",
			yaml: `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: default-protocols, namespace: shop}
spec: {ingressClassName: kong}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: both
  namespace: shop
  annotations: {konghq.com/protocols: "http,https"}
spec: {ingressClassName: kong}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: https-only
  namespace: shop
  annotations: {konghq.com/protocols: https}
spec: {ingressClassName: kong}
`,
			want: []string{"Ingress shop/both metadata.annotations[konghq.com/protocols]", "Ingress shop/default-protocols metadata.annotations[konghq.com/protocols]"},
		},
		{
			name: "a List from kubectl get -o yaml",
			yaml: `
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: lb, namespace: edge}
  spec: {type: LoadBalancer, externalTrafficPolicy: Local}
`,
			want: []string{"Service edge/lb spec.loadBalancerSourceRanges"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			findings, err := ingress.AuditYAML(auditEdge, []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range findings {
				got = append(got, f.Kind+" "+strings.TrimPrefix(f.Namespace+"/", "/")+f.Name+" "+f.Field)
				if f.Message == "" || f.Need == "" {
					t.Errorf("finding without need or message: %+v", f)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s\n(full: %v)", strings.Join(got, "\n"), strings.Join(tt.want, "\n"), findings)
			}
		})
	}
}

func TestAuditYAMLRejectsGarbage(t *testing.T) {
	_, err := ingress.AuditYAML(nil, []byte("apiVersion: v1\nkind: Service\n---\n: : :\n  - ["))
	if err == nil || !strings.Contains(err.Error(), "document 2") {
		t.Errorf("err = %v, want one naming document 2", err)
	}
}

// FuzzAuditYAML: any input, findings or an error, never a panic; and the
// findings are sorted.
func FuzzAuditYAML(f *testing.F) {
	f.Add([]byte(nginxRealIPOn + goodIngress))
	f.Add([]byte("kind: List\nitems: [{kind: Service, spec: {type: LoadBalancer}}]"))
	f.Add([]byte(`{"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway","spec":{"tls":{"frontend":{"perPort":[{}]}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		findings, err := ingress.AuditYAML(auditEdge, data)
		if err != nil {
			return
		}
		for i := 1; i < len(findings); i++ {
			a, b := findings[i-1], findings[i]
			if a.Kind > b.Kind || (a.Kind == b.Kind && a.Namespace > b.Namespace) {
				t.Fatalf("findings not sorted: %v", findings)
			}
		}
	})
}
